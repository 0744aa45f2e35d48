import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LedgerKit, openLedgerKit } from './test-kit.js';

let kit: LedgerKit;
beforeAll(async () => {
  kit = await openLedgerKit();
});
afterAll(() => kit.close());

describe('verify', () => {
  it('is clean after every kind of operation', async () => {
    const { ledger, clock } = kit;
    const accountId = await kit.account();
    const other = await kit.account();
    expect(await ledger.verify()).toMatchObject({ ok: true, violations: [] });
    const expiring = await ledger.mint({
      accountId,
      amountMicro: 500n,
      sourceType: 'grant',
      expiresAt: new Date(clock.nowMs() + 10_000),
    });
    const paid = await ledger.mint({ accountId, amountMicro: 2_000n, sourceType: 'purchase', sourceId: 'v-1' });
    await ledger.mint({
      accountId,
      amountMicro: 40n,
      sourceType: 'grant',
      poolId: 'audio',
      expiresAt: new Date(clock.nowMs() + 5_000),
    });
    await ledger.mint({ accountId, amountMicro: 300n, sourceType: 'grant', poolId: 'gpu' });
    await ledger.mint({ accountId: other, amountMicro: 50n, sourceType: 'grant' });
    for (const [mode, cost] of [
      ['live', 50n],
      ['live', 700n],
      ['soft', 900n],
      ['shadow', 100n],
    ] as const) {
      const { reservation } = await ledger.reserve({ accountId, amountMicro: 600n, billingMode: mode, poolId: 'gpu' });
      await ledger.finalize({ reservationId: reservation.id, actualCostMicro: cost });
    }
    const released = await ledger.reserve({ accountId, amountMicro: 10n });
    await ledger.release({ reservationId: released.reservation.id });
    await ledger.reserve({ accountId, amountMicro: 10n, ttlMs: 1_000 });
    await ledger.reserve({ accountId: other, amountMicro: 20n, ttlMs: 60_000 });
    clock.advance(10_000);
    expect(await ledger.sweepExpiredHolds()).toEqual({ count: 1, amountMicro: 10n });
    expect(await ledger.sweepExpiredLots()).toEqual({ count: 1, amountMicro: 40n });
    expect(await ledger.refund({ lotId: paid.lot.id })).toMatchObject({ refundedMicro: 1_250n, debtAddedMicro: 750n });
    expect((await ledger.mint({ accountId, amountMicro: 5n, sourceType: 'grant' })).balance.debtMicro).toBe(745n);
    const report = await ledger.verify();
    expect(report.violations).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.counts).toMatchObject({ lots: 6, reservations: 7 });
    expect(report.counts.accounts).toBeGreaterThanOrEqual(6);
    expect(report.counts.entries).toBeGreaterThan(20);
    expect(report.checkedAt).toEqual(new Date(clock.nowMs()));
    expect(
      (await ledger.listLots(accountId, { includeEmpty: true })).find((l) => l.id === expiring.lot.id),
    ).toMatchObject({ availableMicro: 0n });
  });

  it('detects a lot whose buckets do not match its entries, and a hand-edited lot', async () => {
    const accountId = await kit.account();
    // A row that passes every CHECK but has no journal behind it.
    await kit.handle.db.execute(sql`insert into lots (id, account_id, pool_id, source_type, original_micro, available_micro, created_at)
      values ('lot_forged', ${accountId}, 'general', 'grant', 1000, 1000, now())`);
    const forged = await kit.ledger.verify();
    expect(forged.ok).toBe(false);
    expect(forged.violations.map((v) => [v.rule, v.subjectId])).toEqual(
      expect.arrayContaining([
        ['lot_replay_mismatch', 'lot_forged'],
        ['lot_mint_mismatch', 'lot_forged'],
      ]),
    );
    const { lot } = await kit.ledger.mint({ accountId, amountMicro: 100n, sourceType: 'grant' });
    // Moving credit between buckets without an entry keeps the bucket identity (CHECK passes) but breaks the replay.
    await kit.handle.db.execute(sql`update lots set available_micro = 90, consumed_micro = 10 where id = ${lot.id}`);
    const edited = await kit.ledger.verify();
    expect(edited.violations).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          rule: 'lot_replay_mismatch',
          subjectId: lot.id,
          details: { bucket: 'available', storedMicro: '90', replayedMicro: '100' },
        }),
      ]),
    );
    await kit.handle.db.execute(sql`update accounts set debt_micro = 7 where id = ${accountId}`);
    const indebted = await kit.ledger.verify();
    expect(indebted.violations.map((v) => [v.rule, v.subjectId])).toContainEqual(['account_debt_mismatch', accountId]);
  });
});
