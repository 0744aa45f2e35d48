// Debt stops spending: a refund's debt is paid at once by the account's other credit, credit a hold gives back pays
// what is left, and an account that still owes is refused new holds until a mint pays it down.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountInDebtError } from '../errors.js';
import type { Ledger } from './ledger.js';
import { minMicro } from './lots.js';
import { type LedgerKit, openLedgerKit, rejectsWithCode } from './test-kit.js';

let kit: LedgerKit;
beforeAll(async () => {
  kit = await openLedgerKit();
});
afterAll(() => kit.close());

async function spend(ledger: Ledger, accountId: string, amountMicro: bigint, poolId?: string) {
  const { reservation } = await ledger.reserve({ accountId, amountMicro, ...(poolId === undefined ? {} : { poolId }) });
  await ledger.finalize({ reservationId: reservation.id, actualCostMicro: amountMicro });
}

describe('debt', () => {
  it('is offset at once by the account’s other lots, journaled, and announced', async () => {
    const accountId = await kit.account();
    const paid = await kit.ledger.mint({ accountId, amountMicro: 100n, sourceType: 'deposit', sourceId: 'debt-1' });
    const other = await kit.ledger.mint({ accountId, amountMicro: 50n, sourceType: 'grant', poolId: 'gpu' });
    await spend(kit.ledger, accountId, 80n);
    const refunded = await kit.ledger.refund({ lotId: paid.lot.id });
    expect(refunded).toMatchObject({ refundedMicro: 20n, debtAddedMicro: 80n, debtOffsetMicro: 50n });
    expect(refunded.balance).toMatchObject({ availableMicro: 0n, debtMicro: 30n });
    const [offset] = (await kit.ledger.listEntries(accountId, { limit: 1 })).items;
    expect(offset).toMatchObject({
      kind: 'adjust',
      lotId: other.lot.id,
      fromBucket: 'available',
      toBucket: 'consumed',
      amountMicro: 50n,
      memo: 'debt offset',
    });
    const { items: events } = await kit.ledger.listEvents({ limit: 1000 });
    const mine = events.filter((e) => e.subjectId === accountId || e.subjectId === paid.lot.id).map((e) => e.type);
    expect(mine.slice(-2)).toEqual(['lot.refunded', 'account.debt_offset']);
    expect(events.find((e) => e.type === 'account.debt_offset' && e.subjectId === accountId)?.payload).toEqual({
      accountId,
      offsetMicro: '50',
      debtMicro: '30',
    });
    expect((await kit.ledger.verify()).ok).toBe(true);
  });

  it('refuses every hold while owed, changes nothing, and lifts once a mint pays it', async () => {
    const accountId = await kit.account();
    const paid = await kit.ledger.mint({ accountId, amountMicro: 60n, sourceType: 'deposit', sourceId: 'debt-2' });
    await spend(kit.ledger, accountId, 60n);
    await kit.ledger.refund({ lotId: paid.lot.id });
    const before = await kit.counts();
    const error = await rejectsWithCode(kit.ledger.reserve({ accountId, amountMicro: 1n }), 'account_in_debt');
    expect(error).toBeInstanceOf(AccountInDebtError);
    expect(error).toMatchObject({ httpStatus: 402, debtMicro: 60n, details: { accountId, debtMicro: '60' } });
    expect(await kit.counts()).toEqual(before);
    const mint = await kit.ledger.mint({ accountId, amountMicro: 100n, sourceType: 'grant' });
    expect(mint).toMatchObject({ debtPaidMicro: 60n, balance: { availableMicro: 40n, debtMicro: 0n } });
    await spend(kit.ledger, accountId, 40n);
  });

  it('is paid first by credit a hold gives back (release, finalize below the hold, expiry)', async () => {
    const accountId = await kit.account();
    const paid = await kit.ledger.mint({ accountId, amountMicro: 100n, sourceType: 'deposit', sourceId: 'debt-3' });
    await kit.ledger.mint({ accountId, amountMicro: 90n, sourceType: 'grant' });
    await spend(kit.ledger, accountId, 100n); // neither lot expires: the older (the paid one) goes first
    const held = await kit.ledger.reserve({ accountId, amountMicro: 30n });
    const finalized = await kit.ledger.reserve({ accountId, amountMicro: 30n });
    await kit.ledger.reserve({ accountId, amountMicro: 30n, ttlMs: 1_000 }); // expires below
    const refunded = await kit.ledger.refund({ lotId: paid.lot.id });
    expect(refunded).toMatchObject({ debtAddedMicro: 100n, debtOffsetMicro: 0n, balance: { debtMicro: 100n } });
    const released = await kit.ledger.release({ reservationId: held.reservation.id });
    expect(released.balance).toMatchObject({ availableMicro: 0n, debtMicro: 70n });
    const charged = await kit.ledger.finalize({ reservationId: finalized.reservation.id, actualCostMicro: 10n });
    expect(charged.balance).toMatchObject({ availableMicro: 0n, debtMicro: 50n });
    kit.clock.advance(2_000);
    expect(await kit.ledger.sweepExpiredHolds()).toMatchObject({ count: 1 });
    expect(await kit.ledger.getBalance(accountId)).toMatchObject({ availableMicro: 0n, debtMicro: 20n });
    expect((await kit.ledger.verify()).ok).toBe(true);
  });

  it('property: money is conserved, debt never sits beside spendable credit, holds wait for it to be paid', async () => {
    const lotArb = fc.record({
      amountMicro: fc.bigInt({ min: 1n, max: 500n }),
      poolId: fc.constantFrom('general', 'gpu'),
      expires: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(lotArb, { minLength: 1, maxLength: 4 }),
        fc.bigInt({ min: 1n, max: 500n }),
        fc.bigInt({ min: 0n, max: 500n }),
        fc.bigInt({ min: 1n, max: 600n }),
        async (others, paidMicro, spentMicro, mintMicro) => {
          const { ledger, clock } = kit;
          const accountId = await kit.account();
          const paid = await ledger.mint({ accountId, amountMicro: paidMicro, sourceType: 'deposit' });
          for (const lot of others) {
            const expiresAt = lot.expires ? new Date(clock.nowMs() + 60_000) : undefined;
            await ledger.mint({
              accountId,
              amountMicro: lot.amountMicro,
              sourceType: 'grant',
              poolId: lot.poolId,
              ...(expiresAt === undefined ? {} : { expiresAt }),
            });
          }
          // Spend some general credit (the paid lot and expiring grants pay it, in consumption order).
          const spend = minMicro(spentMicro, paidMicro);
          if (spend > 0n) {
            const { reservation } = await ledger.reserve({ accountId, amountMicro: spend });
            await ledger.finalize({ reservationId: reservation.id, actualCostMicro: spend });
          }
          const lotsBefore = await ledger.listLots(accountId, { includeEmpty: true });
          const paidBefore = lotsBefore.find((l) => l.id === paid.lot.id)!;
          const othersAvailable = lotsBefore
            .filter((l) => l.id !== paid.lot.id)
            .reduce((sum, l) => sum + l.availableMicro, 0n);
          const refunded = await ledger.refund({ lotId: paid.lot.id });
          expect(refunded.debtAddedMicro).toBe(paidBefore.consumedMicro);
          const expectedOffset = minMicro(othersAvailable, refunded.debtAddedMicro);
          expect(refunded.debtOffsetMicro).toBe(expectedOffset);
          expect(refunded.balance.debtMicro).toBe(refunded.debtAddedMicro - expectedOffset);
          expect(refunded.balance.availableMicro).toBe(othersAvailable - expectedOffset);
          if (refunded.balance.debtMicro > 0n) {
            expect(refunded.balance.availableMicro).toBe(0n);
            await rejectsWithCode(ledger.reserve({ accountId, amountMicro: 1n }), 'account_in_debt');
          }
          const minted = await ledger.mint({ accountId, amountMicro: mintMicro, sourceType: 'grant' });
          const owed = refunded.balance.debtMicro;
          expect(minted.debtPaidMicro).toBe(minMicro(owed, mintMicro));
          // Conservation: every lot's buckets add up to what was minted on it.
          const lotsAfter = await ledger.listLots(accountId, { includeEmpty: true });
          for (const lot of lotsAfter) {
            const total = lot.availableMicro + lot.reservedMicro + lot.consumedMicro + lot.expiredMicro;
            expect(total + lot.refundedMicro).toBe(lot.originalMicro);
          }
          const mintedTotal = lotsAfter.reduce((sum, l) => sum + l.originalMicro, 0n);
          expect(mintedTotal).toBe(paidMicro + others.reduce((sum, l) => sum + l.amountMicro, 0n) + mintMicro);
        },
      ),
      { numRuns: 40 },
    );
    expect((await kit.ledger.verify()).ok).toBe(true);
  });
});
