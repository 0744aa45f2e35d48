/**
 * Two-phase payments on real Postgres, three ledgers with their own pools standing for three gateway processes:
 * concurrent credits of one payment mint once, concurrent claims have one owner, concurrent reconcilers take
 * disjoint due records that cover them all.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgresLedgerDb, type PostgresLedgerDbHandle } from '../db/postgres.js';
import { LedgerError } from '../errors.js';
import { createLedger, type Ledger } from '../ledger/ledger.js';
import { ManualClock } from '../ports/clock.js';
import { openTestLedgerDb, type TestLedgerDbHandle } from '../testing/test-db.js';
import type { PackPaymentClaimInput, PaymentView } from '../types.js';

const databaseUrl = process.env.DATABASE_URL;
const poolSize = 8;
const ledgerCount = 3;

let handle: TestLedgerDbHandle;
const extraHandles: PostgresLedgerDbHandle[] = [];
const ledgers: Ledger[] = [];
const clock = new ManualClock();
const on = (i: number): Ledger => ledgers[i % ledgers.length] as Ledger;
let nextRef = 0;

async function claimInput(): Promise<PackPaymentClaimInput> {
  nextRef += 1;
  const { account } = await on(0).createAccount({ entityType: 'user', entityId: `pg-${nextRef}` });
  return {
    accountId: account.id,
    packId: 'starter',
    payment: { reference: `eip155:1:0xusdc:0xpayer:0x${nextRef}`, payer: '0xpayer', amountMicro: 5_000_000n },
  };
}

async function lotsOf(accountId: string): Promise<number> {
  return (await on(0).listLots(accountId, { includeEmpty: true })).length;
}

describe.skipIf(!databaseUrl)('two-phase payments on Postgres (needs DATABASE_URL)', () => {
  beforeAll(async () => {
    handle = await openTestLedgerDb({ max: poolSize });
    ledgers.push(createLedger({ db: handle.db, clock }));
    for (let i = 1; i < ledgerCount; i += 1) {
      const extra = openPostgresLedgerDb({ url: handle.databaseUrl as string, max: poolSize });
      extraHandles.push(extra);
      ledgers.push(createLedger({ db: extra.db, clock }));
    }
  });
  afterAll(async () => {
    for (const extra of extraHandles) await extra.close();
    await handle?.close();
  });

  it('16 concurrent credits of one payment from 3 pools mint one lot; the others replay it', async () => {
    for (let round = 0; round < 4; round += 1) {
      const input = await claimInput();
      await on(0).claimPayment(input);
      const results = await Promise.all(
        Array.from({ length: 16 }, (_, i) => on(i).creditPayment(input.payment.reference, { transaction: `0xtx${i}` })),
      );
      expect(results.filter((r) => !r.replayed)).toHaveLength(1);
      expect(new Set(results.map((r) => r.lot.id)).size).toBe(1);
      const first = results.find((r) => !r.replayed);
      for (const result of results) expect(result).toEqual({ ...first, replayed: result.replayed });
      expect(await lotsOf(input.accountId)).toBe(1);
      expect((await on(0).getBalance(input.accountId)).availableMicro).toBe(5_000_000n);
      expect(await on(1).getPayment(input.payment.reference)).toMatchObject({
        status: 'credited',
        lotId: first?.lot.id,
        transaction: first?.payment.settlement?.transaction,
      });
    }
    expect((await on(2).verify()).violations).toEqual([]);
  });

  it('16 concurrent claims of one new payment from 3 pools: one owner, the others busy', async () => {
    const input = await claimInput();
    const claims = await Promise.all(Array.from({ length: 16 }, (_, i) => on(i).claimPayment(input)));
    expect(claims.filter((c) => c.kind === 'owner')).toHaveLength(1);
    expect(claims.filter((c) => c.kind === 'busy')).toHaveLength(15);
    expect(new Set(claims.map((c) => c.payment.id)).size).toBe(1);
  });

  it('concurrent purchases of one payment with settle() from 3 pools settle once and mint once', async () => {
    const input = await claimInput();
    let settles = 0;
    const settle = async () => {
      settles += 1;
      await new Promise((resolve) => setTimeout(resolve, 50));
      return { transaction: '0xonce' };
    };
    const outcomes = await Promise.allSettled(
      Array.from({ length: 12 }, (_, i) => on(i).purchasePack(input, { settle })),
    );
    for (const outcome of outcomes) {
      if (outcome.status === 'rejected') {
        expect(outcome.reason).toBeInstanceOf(LedgerError);
        expect((outcome.reason as LedgerError).code).toBe('payment_pending');
      }
    }
    expect(outcomes.filter((o) => o.status === 'fulfilled' && !o.value.replayed)).toHaveLength(1);
    expect(settles).toBe(1);
    expect(await lotsOf(input.accountId)).toBe(1);
  });

  it('concurrent claims and credits of one plain-credit payment from 3 pools mint exactly creditMicro once', async () => {
    const { accountId, payment } = await claimInput();
    const input = { accountId, creditMicro: 1_234_567n, payment };
    const claims = await Promise.all(Array.from({ length: 12 }, (_, i) => on(i).claimPayment(input)));
    expect(claims.filter((c) => c.kind === 'owner')).toHaveLength(1);
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => on(i).creditPayment(payment.reference, { transaction: `0xc${i}` })),
    );
    expect(results.filter((r) => !r.replayed)).toHaveLength(1);
    expect(new Set(results.map((r) => r.lot.id)).size).toBe(1);
    expect(results[0]).toMatchObject({ pack: null, lot: { originalMicro: 1_234_567n }, payment: { kind: 'credit' } });
    expect(await lotsOf(accountId)).toBe(1);
    expect((await on(2).getBalance(accountId)).availableMicro).toBe(1_234_567n);
    expect((await on(1).verify()).violations).toEqual([]);
  });

  it('3 pools taking due payments at once take disjoint sets that cover all 50 due records', async () => {
    const references = new Set<string>();
    for (let i = 0; i < 50; i += 1) {
      const input = await claimInput();
      await on(i).claimPayment(input, { leaseMs: 1_000 });
      references.add(input.payment.reference);
    }
    clock.advance(1_000);
    const takenBy: PaymentView[][] = [[], [], []];
    await Promise.all(
      takenBy.map(async (taken, i) => {
        for (let batch = 0; batch < 100; batch += 1) {
          const due = await on(i).takeDuePayments({ limit: 4, leaseMs: 60_000 });
          if (due.length === 0) return;
          taken.push(...due);
        }
      }),
    );
    const all = takenBy.flat().map((p) => p.reference);
    expect(all).toHaveLength(new Set(all).size);
    expect(new Set(all)).toEqual(references);
    for (const payment of takenBy.flat()) expect(payment.reconcileAfter).toEqual(new Date(clock.nowMs() + 60_000));
    expect(await on(0).takeDuePayments({ limit: 500, leaseMs: 1_000 })).toEqual([]);
  });
});
