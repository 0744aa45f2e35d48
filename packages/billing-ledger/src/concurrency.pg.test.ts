/**
 * Concurrency on real Postgres: many clients on one account never overspend, races on one hold have one winner,
 * concurrent duplicates have one effect, and no serialization failure or deadlock leaks out of the ledger.
 * Three ledgers with their own pools (16 connections each) stand for three gateway processes.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgresLedgerDb, type PostgresLedgerDbHandle } from './db/postgres.js';
import { LedgerError } from './errors.js';
import { createLedger, type Ledger } from './index.js';
import { openTestLedgerDb, type TestLedgerDbHandle } from './testing/test-db.js';
import type { BillingMode, FinalizeResult, ReserveResult } from './types.js';

const databaseUrl = process.env.DATABASE_URL;
const poolSize = 16;
const ledgerCount = 3;

let handle: TestLedgerDbHandle;
const extraHandles: PostgresLedgerDbHandle[] = [];
/** One ledger per pool; operation `i` runs on `ledgers[i % ledgers.length]`. */
const ledgers: Ledger[] = [];
const on = (i: number): Ledger => ledgers[i % ledgers.length] as Ledger;
let accounts = 0;

async function fundedAccount(lots: { amountMicro: bigint; poolId?: string; expiresInMs?: number }[]): Promise<string> {
  const ledger = on(0);
  accounts += 1;
  const { account } = await ledger.createAccount({ entityType: 'concurrency', entityId: `acct-${accounts}` });
  for (const lot of lots) {
    await ledger.mint({
      accountId: account.id,
      amountMicro: lot.amountMicro,
      sourceType: 'grant',
      ...(lot.poolId === undefined ? {} : { poolId: lot.poolId }),
      ...(lot.expiresInMs === undefined ? {} : { expiresAt: new Date(Date.now() + lot.expiresInMs) }),
    });
  }
  return account.id;
}

/** Settles every promise; a rejection that is not a LedgerError (a leaked deadlock, a driver error) fails the test. */
async function settle<T>(
  promises: Promise<T>[],
): Promise<({ ok: true; value: T } | { ok: false; error: LedgerError })[]> {
  const results = await Promise.allSettled(promises);
  return results.map((r) => {
    if (r.status === 'fulfilled') return { ok: true, value: r.value };
    if (r.reason instanceof LedgerError) return { ok: false, error: r.reason };
    throw new Error(`a non-ledger error leaked out: ${String(r.reason)}`, { cause: r.reason });
  });
}

async function expectJournalReplays(): Promise<void> {
  const report = await on(0).verify();
  expect(report.violations).toEqual([]);
  expect(report.ok).toBe(true);
}

const sum = (values: bigint[]) => values.reduce((a, b) => a + b, 0n);

describe.skipIf(!databaseUrl)('ledger concurrency on Postgres (needs DATABASE_URL)', () => {
  beforeAll(async () => {
    handle = await openTestLedgerDb({ max: poolSize });
    ledgers.push(createLedger({ db: handle.db }));
    for (let i = 1; i < ledgerCount; i += 1) {
      const extra = openPostgresLedgerDb({ url: handle.databaseUrl as string, max: poolSize });
      extraHandles.push(extra);
      ledgers.push(createLedger({ db: extra.db }));
    }
  });
  afterAll(async () => {
    for (const extra of extraHandles) await extra.close();
    await handle?.close();
  });

  it('64 concurrent reserves against one account: never more than the balance, no false refusal, the journal replays', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.bigInt({ min: 1_000n, max: 5_000n }), { minLength: 64, maxLength: 64 }),
        async (amounts) => {
          // B = half of what is asked, in four general lots with different expiries, so only some reserves fit
          // and holds span lots in consumption order.
          const balanceMicro = sum(amounts) / 2n;
          const parts = [(balanceMicro * 4n) / 10n, (balanceMicro * 3n) / 10n, (balanceMicro * 2n) / 10n];
          const accountId = await fundedAccount([
            { amountMicro: parts[0] as bigint },
            { amountMicro: parts[1] as bigint, expiresInMs: 3_600_000 },
            { amountMicro: parts[2] as bigint, expiresInMs: 600_000 },
            { amountMicro: balanceMicro - sum(parts), expiresInMs: 600_000 },
          ]);
          const outcomes = await settle(
            amounts.map((amountMicro, i) => on(i).reserve({ accountId, amountMicro, ttlMs: 600_000 })),
          );
          const reserved: ReserveResult[] = [];
          const refused: bigint[] = [];
          outcomes.forEach((o, i) => {
            if (o.ok) reserved.push(o.value);
            else {
              expect(o.error.code, `reserve ${i} of ${amounts[i]}`).toBe('insufficient_credits');
              refused.push(amounts[i] as bigint);
            }
          });
          const reservedMicro = sum(reserved.map((r) => r.reservation.amountMicro));
          expect(reservedMicro).toBeLessThanOrEqual(balanceMicro);
          expect(reserved.length).toBeGreaterThan(0);
          expect(refused.length).toBeGreaterThan(0);
          for (const r of reserved) {
            expect(sum(r.reservation.lots.map((p) => p.amountMicro))).toBe(r.reservation.amountMicro);
          }
          const balance = await on(0).getBalance(accountId);
          expect(balance.availableMicro).toBe(balanceMicro - reservedMicro);
          expect(balance.reservedMicro).toBe(reservedMicro);
          // Available only shrinks during the storm: every refused amount exceeds what is left at the end.
          for (const amountMicro of refused) expect(amountMicro).toBeGreaterThan(balance.availableMicro);
          const lots = await on(0).listLots(accountId, { includeEmpty: true });
          expect(sum(lots.map((l) => l.reservedMicro))).toBe(reservedMicro);
          await expectJournalReplays();
        },
      ),
      { numRuns: 5 },
    );
  }, 120_000);

  it('concurrent finalize and release of one hold: one wins, repeats agree, the loser is not pending', async () => {
    const accountId = await fundedAccount([{ amountMicro: 1_000_000n }]);
    const rounds = 24;
    let chargedMicro = 0n;
    for (let round = 0; round < rounds; round += 1) {
      const billingMode: BillingMode = (['live', 'soft', 'shadow'] as const)[round % 3] as BillingMode;
      const { reservation } = await on(round).reserve({ accountId, amountMicro: 1_000n, billingMode });
      const reservationId = reservation.id;
      const costMicro = BigInt(500 + round * 30); // under, equal and over the hold across rounds
      const costs = [costMicro, costMicro, costMicro + 1n];
      const outcomes = await settle<unknown>([
        on(round).finalize({ reservationId, actualCostMicro: costs[0] as bigint }),
        on(round + 1).release({ reservationId }),
        on(round + 2).finalize({ reservationId, actualCostMicro: costs[1] as bigint }),
        on(round + 3).release({ reservationId }),
        on(round + 4).finalize({ reservationId, actualCostMicro: costs[2] as bigint }),
      ]);
      const finalizes = [outcomes[0], outcomes[2], outcomes[4]];
      const releases = [outcomes[1], outcomes[3]];
      const codeOf = (o: (typeof outcomes)[number] | undefined) => (o?.ok ? 'success' : o?.error.code);
      const final = await on(0).getReservation(reservationId);
      if (final.status === 'finalized') {
        // The finalizes with the winning cost all answer the first result; another cost is a conflict.
        const winning = finalizes.filter((_, i) => costs[i] === final.actualCostMicro);
        const results = winning.map((o) => (o?.ok ? (o.value as FinalizeResult) : codeOf(o)));
        expect(results.length, `round ${round}: the winner's cost is one of those sent`).toBeGreaterThan(0);
        for (const r of results) {
          expect(typeof r === 'object' && r.chargedMicro, `round ${round}: repeat answers`).toBe(
            (results[0] as FinalizeResult).chargedMicro,
          );
        }
        chargedMicro += (results[0] as FinalizeResult).chargedMicro;
        finalizes.forEach((o, i) => {
          if (costs[i] !== final.actualCostMicro) expect(codeOf(o), `round ${round}`).toBe('finalize_conflict');
        });
        for (const r of releases)
          expect(codeOf(r), `round ${round}: release after finalize`).toBe('reservation_not_pending');
      } else if (final.status === 'released') {
        for (const r of releases) expect(codeOf(r), `round ${round}: release is idempotent`).toBe('success');
        for (const f of finalizes)
          expect(codeOf(f), `round ${round}: finalize after release`).toBe('reservation_not_pending');
      } else {
        throw new Error(`round ${round}: hold ended ${final.status}`);
      }
    }
    const balance = await on(0).getBalance(accountId);
    expect(balance.reservedMicro).toBe(0n);
    expect(balance.availableMicro).toBe(1_000_000n - chargedMicro);
    await expectJournalReplays();
  }, 120_000);

  it('concurrent duplicates have one effect: idempotent mints, one source, idempotent reserves', async () => {
    const accountId = await fundedAccount([]);
    const copies = 16;

    const mintInput = { accountId, amountMicro: 7_000n, sourceType: 'grant', memo: 'same body' };
    const mints = await settle(
      Array.from({ length: copies }, (_, i) => on(i).mint(mintInput, { idempotencyKey: `mint-${accountId}` })),
    );
    const first = mints[0];
    expect(first?.ok).toBe(true);
    for (const m of mints) expect(m.ok && first?.ok ? m.value : m).toEqual(first?.ok ? first.value : undefined);

    const sources = await settle(
      Array.from({ length: copies }, (_, i) =>
        on(i).mint({ accountId, amountMicro: 3_000n, sourceType: 'deposit', sourceId: `pay-${accountId}` }),
      ),
    );
    const winners = sources.filter((s) => s.ok);
    expect(winners).toHaveLength(1);
    const winnerLotId = winners[0]?.ok ? winners[0].value.lot.id : '';
    for (const s of sources.filter((x) => !x.ok)) {
      expect(s.ok ? 'success' : s.error.code).toBe('duplicate_source');
      expect(s.ok ? undefined : s.error.details.lotId).toBe(winnerLotId);
    }

    const reserves = await settle(
      Array.from({ length: copies }, (_, i) =>
        on(i).reserve({ accountId, amountMicro: 2_500n }, { idempotencyKey: `reserve-${accountId}` }),
      ),
    );
    const reservationIds = new Set(reserves.map((r) => (r.ok ? r.value.reservation.id : r.error.code)));
    expect([...reservationIds]).toHaveLength(1);
    expect(reserves.every((r) => r.ok)).toBe(true);

    const lots = await on(0).listLots(accountId, { includeEmpty: true });
    expect(lots).toHaveLength(2);
    const balance = await on(0).getBalance(accountId);
    expect(balance.availableMicro).toBe(7_000n + 3_000n - 2_500n);
    expect(balance.reservedMicro).toBe(2_500n);
    await expectJournalReplays();
  }, 120_000);

  it('a mixed storm over four accounts: every outcome is expected, charges equal consumption, the journal replays', async () => {
    const accountIds: string[] = [];
    const mintedMicro = new Map<string, bigint>();
    for (let a = 0; a < 4; a += 1) {
      const id = await fundedAccount([
        { amountMicro: 30_000n },
        { amountMicro: 20_000n, poolId: 'p1' },
        { amountMicro: 10_000n, expiresInMs: 3_600_000 },
      ]);
      accountIds.push(id);
      mintedMicro.set(id, 60_000n);
    }
    const chargedMicro = new Map<string, bigint>(accountIds.map((id) => [id, 0n]));
    const workers = 48;
    const opsPerWorker = 12;
    const unexpected: string[] = [];
    const random = (n: number) => Math.floor(Math.random() * n);

    const worker = async (w: number) => {
      for (let op = 0; op < opsPerWorker; op += 1) {
        const accountId = accountIds[random(accountIds.length)] as string;
        const ledger = on(w + op);
        const kind = random(10);
        try {
          if (kind === 0) {
            const amountMicro = BigInt(1 + random(2_000));
            await ledger.mint({ accountId, amountMicro, sourceType: 'grant', poolId: random(2) ? 'p1' : 'general' });
            mintedMicro.set(accountId, (mintedMicro.get(accountId) as bigint) + amountMicro);
            continue;
          }
          const billingMode = (['live', 'soft', 'shadow'] as const)[random(3)] as BillingMode;
          const amountMicro = BigInt(1 + random(3_000));
          const { reservation } = await ledger.reserve({
            accountId,
            amountMicro,
            poolId: random(2) ? 'p1' : 'general',
            billingMode,
          });
          const reservationId = reservation.id;
          const costMicro = BigInt(random(Number(amountMicro) * 2));
          if (kind < 4) {
            await ledger.release({ reservationId });
          } else if (kind < 8) {
            const r = await ledger.finalize({ reservationId, actualCostMicro: costMicro });
            chargedMicro.set(accountId, (chargedMicro.get(accountId) as bigint) + r.chargedMicro);
          } else {
            // Race a finalize against a release on another pool.
            const [f, r] = await settle<unknown>([
              ledger.finalize({ reservationId, actualCostMicro: costMicro }),
              on(w + op + 1).release({ reservationId }),
            ]);
            if (f?.ok === r?.ok) unexpected.push(`race on ${reservationId}: finalize ${f?.ok}, release ${r?.ok}`);
            if (f?.ok) {
              const charged = (f.value as FinalizeResult).chargedMicro;
              chargedMicro.set(accountId, (chargedMicro.get(accountId) as bigint) + charged);
            }
            for (const x of [f, r]) {
              if (x && !x.ok && x.error.code !== 'reservation_not_pending') unexpected.push(x.error.code);
            }
          }
        } catch (error) {
          if (error instanceof LedgerError && error.code === 'insufficient_credits') continue;
          unexpected.push(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
        }
      }
    };
    await Promise.all(Array.from({ length: workers }, (_, w) => worker(w)));
    expect(unexpected).toEqual([]);

    for (const accountId of accountIds) {
      const lots = await on(0).listLots(accountId, { includeEmpty: true });
      const balance = await on(0).getBalance(accountId);
      expect(balance.reservedMicro, 'every hold was resolved').toBe(0n);
      expect(sum(lots.map((l) => l.consumedMicro)), 'consumed = Σ charged').toBe(chargedMicro.get(accountId));
      expect(sum(lots.map((l) => l.originalMicro))).toBe(mintedMicro.get(accountId));
      expect(balance.availableMicro).toBe(
        (mintedMicro.get(accountId) as bigint) - (chargedMicro.get(accountId) as bigint),
      );
    }
    await expectJournalReplays();
  }, 180_000);
});
