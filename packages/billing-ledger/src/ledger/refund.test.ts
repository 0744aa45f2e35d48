import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlreadyRefundedError, LotHasPendingHoldsError } from '../errors.js';
import { type LedgerKit, openLedgerKit, rejectsWithCode } from './test-kit.js';

let kit: LedgerKit;
beforeAll(async () => {
  kit = await openLedgerKit();
});
afterAll(() => kit.close());

async function spend(accountId: string, amountMicro: bigint) {
  const { reservation } = await kit.ledger.reserve({ accountId, amountMicro });
  await kit.ledger.finalize({ reservationId: reservation.id, actualCostMicro: amountMicro });
}

describe('refund', () => {
  it('claws back the unspent part, records the consumed part as debt, and later mints pay it first', async () => {
    const accountId = await kit.account();
    const { lot } = await kit.ledger.mint({ accountId, amountMicro: 100n, sourceType: 'purchase', sourceId: 'pay-1' });
    await spend(accountId, 30n);
    const refunded = await kit.ledger.refund({ lotId: lot.id });
    expect(refunded.refundedMicro).toBe(70n);
    expect(refunded.debtAddedMicro).toBe(30n);
    expect(refunded.lot).toMatchObject({
      availableMicro: 0n,
      consumedMicro: 30n,
      refundedMicro: 70n,
      originalMicro: 100n,
    });
    expect(refunded.balance).toMatchObject({ availableMicro: 0n, reservedMicro: 0n, debtMicro: 30n });
    expect((await kit.ledger.getAccount(accountId)).debtMicro).toBe(30n);
    const [refundEntry] = (await kit.ledger.listEntries(accountId, { limit: 1 })).items;
    expect(refundEntry).toMatchObject({
      kind: 'refund',
      fromBucket: 'available',
      toBucket: 'refunded',
      amountMicro: 70n,
    });

    // A smaller mint pays part of the debt; the next one the rest.
    const small = await kit.ledger.mint({ accountId, amountMicro: 10n, sourceType: 'grant' });
    expect(small.debtPaidMicro).toBe(10n);
    expect(small.lot).toMatchObject({ availableMicro: 0n, consumedMicro: 10n });
    expect(small.balance).toMatchObject({ availableMicro: 0n, debtMicro: 20n });
    const big = await kit.ledger.mint({ accountId, amountMicro: 50n, sourceType: 'grant' });
    expect(big.debtPaidMicro).toBe(20n);
    expect(big.lot).toMatchObject({ availableMicro: 30n, consumedMicro: 20n });
    expect(big.balance).toMatchObject({ availableMicro: 30n, debtMicro: 0n });
    const entries = (await kit.ledger.listEntries(accountId, { limit: 2 })).items.reverse();
    expect(entries.map((e) => [e.kind, e.fromBucket, e.toBucket, e.amountMicro, e.availableAfterMicro])).toEqual([
      ['mint', 'external', 'available', 50n, 50n],
      ['adjust', 'available', 'consumed', 20n, 30n],
    ]);
    const after = await kit.ledger.mint({ accountId, amountMicro: 5n, sourceType: 'grant' });
    expect(after.debtPaidMicro).toBe(0n);
    const { items: events } = await kit.ledger.listEvents({ limit: 1000 });
    expect(events.find((e) => e.type === 'lot.refunded' && e.subjectId === lot.id)?.payload).toMatchObject({
      refundedMicro: '70',
      debtAddedMicro: '30',
    });
  });

  it('finds the lot by its source and refunds once, even a fully spent lot', async () => {
    const accountId = await kit.account();
    await kit.ledger.mint({ accountId, amountMicro: 40n, sourceType: 'purchase', sourceId: 'pay-2' });
    await spend(accountId, 40n);
    const result = await kit.ledger.refund({ sourceType: 'purchase', sourceId: 'pay-2' });
    expect([result.refundedMicro, result.debtAddedMicro]).toEqual([0n, 40n]);
    const before = await kit.counts();
    const error = await rejectsWithCode(kit.ledger.refund({ lotId: result.lot.id }), 'already_refunded');
    expect(error).toBeInstanceOf(AlreadyRefundedError);
    expect((error as AlreadyRefundedError).httpStatus).toBe(409);
    await rejectsWithCode(kit.ledger.refund({ sourceType: 'purchase', sourceId: 'pay-2' }), 'already_refunded');
    expect(await kit.counts()).toEqual(before);
  });

  it('refuses a lot with credit held by a pending hold', async () => {
    const accountId = await kit.account();
    const { lot } = await kit.ledger.mint({ accountId, amountMicro: 40n, sourceType: 'grant' });
    const { reservation } = await kit.ledger.reserve({ accountId, amountMicro: 15n });
    const error = await rejectsWithCode(kit.ledger.refund({ lotId: lot.id }), 'lot_has_pending_holds');
    expect(error).toBeInstanceOf(LotHasPendingHoldsError);
    expect((error as LotHasPendingHoldsError).reservedMicro).toBe(15n);
    await kit.ledger.release({ reservationId: reservation.id });
    expect((await kit.ledger.refund({ lotId: lot.id })).refundedMicro).toBe(40n);
  });

  it('rejects bad targets and unknown lots', async () => {
    await rejectsWithCode(kit.ledger.refund({} as never), 'invalid_argument');
    await rejectsWithCode(
      kit.ledger.refund({ lotId: 'lot_1', sourceType: 'x', sourceId: 'y' } as never),
      'invalid_argument',
    );
    await rejectsWithCode(kit.ledger.refund({ lotId: 'lot 1' }), 'invalid_argument');
    await rejectsWithCode(kit.ledger.refund({ sourceType: 'purchase' } as never), 'invalid_argument');
    await rejectsWithCode(kit.ledger.refund({ lotId: 'lot_missing' }), 'lot_not_found');
    await rejectsWithCode(kit.ledger.refund({ sourceType: 'purchase', sourceId: 'nope' }), 'lot_not_found');
  });
});
