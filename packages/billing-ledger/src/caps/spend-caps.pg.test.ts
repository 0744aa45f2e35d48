/**
 * Spend caps under concurrency on real Postgres: 64 reserves from three ledgers (three pools, like three gateway
 * processes) on one capped account never pass the cap, and every refusal is `spend_cap_exceeded` or
 * `insufficient_credits` with nothing written.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgresLedgerDb, type PostgresLedgerDbHandle } from '../db/postgres.js';
import { LedgerError } from '../errors.js';
import { createLedger, type Ledger } from '../index.js';
import { openTestLedgerDb, type TestLedgerDbHandle } from '../testing/test-db.js';

const databaseUrl = process.env.DATABASE_URL;
const poolSize = 12;
let handle: TestLedgerDbHandle;
const extra: PostgresLedgerDbHandle[] = [];
const ledgers: Ledger[] = [];
let accounts = 0;

const sum = (values: bigint[]) => values.reduce((a, b) => a + b, 0n);

describe.skipIf(!databaseUrl)('spend caps under 64 concurrent reserves on Postgres (needs DATABASE_URL)', () => {
  beforeAll(async () => {
    handle = await openTestLedgerDb({ max: poolSize });
    ledgers.push(createLedger({ db: handle.db }));
    for (let i = 1; i < 3; i += 1) {
      const more = openPostgresLedgerDb({ url: handle.databaseUrl as string, max: poolSize });
      extra.push(more);
      ledgers.push(createLedger({ db: more.db }));
    }
  });
  afterAll(async () => {
    for (const more of extra) await more.close();
    await handle?.close();
  });

  it('never passes the daily cap; holds stop exactly where the next one would pass it', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.bigInt({ min: 1_000n, max: 5_000n }), { minLength: 64, maxLength: 64 }),
        fc.bigInt({ min: 10_000n, max: 100_000n }),
        async (amounts, capMicro) => {
          const ledger = ledgers[0] as Ledger;
          accounts += 1;
          const { account } = await ledger.createAccount({
            entityType: 'caps',
            entityId: `caps-${accounts}-${capMicro}`,
          });
          await ledger.mint({ accountId: account.id, amountMicro: 10_000_000n, sourceType: 'grant' });
          await ledger.setSpendCaps({
            accountId: account.id,
            dailyCapMicro: capMicro,
            monthlyCapMicro: null,
            actor: 'admin',
          });
          const outcomes = await Promise.allSettled(
            amounts.map((amountMicro, i) =>
              (ledgers[i % ledgers.length] as Ledger).reserve({ accountId: account.id, amountMicro }),
            ),
          );
          let heldMicro = 0n;
          const refused: bigint[] = [];
          outcomes.forEach((outcome, i) => {
            if (outcome.status === 'fulfilled') heldMicro += outcome.value.reservation.amountMicro;
            else {
              expect(outcome.reason).toBeInstanceOf(LedgerError);
              expect((outcome.reason as LedgerError).code).toBe('spend_cap_exceeded');
              refused.push(amounts[i] as bigint);
            }
          });
          expect(heldMicro).toBeLessThanOrEqual(capMicro);
          // No false refusal: every refused hold would have passed the cap given what was held in the end.
          for (const amount of refused) expect(heldMicro + amount).toBeGreaterThan(capMicro);
          const caps = await ledger.getSpendCaps(account.id);
          expect(caps.daily.spentMicro).toBe(heldMicro);
          expect((await ledger.getBalance(account.id)).reservedMicro).toBe(heldMicro);
          expect(sum(amounts)).toBeGreaterThan(0n);
        },
      ),
      { numRuns: 5 },
    );
    const report = await (ledgers[0] as Ledger).verify();
    expect(report.violations).toEqual([]);
  }, 120_000);
});
