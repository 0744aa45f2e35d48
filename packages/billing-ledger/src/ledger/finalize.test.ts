import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FinalizeConflictError, type ReservationNotPendingError } from '../errors.js';
import type { BillingMode } from '../types.js';
import { type LedgerKit, openLedgerKit, rejectsWithCode } from './test-kit.js';

let kit: LedgerKit;
beforeAll(async () => {
  kit = await openLedgerKit();
});
afterAll(() => kit.close());

/** An account with lot A = 60 (expiring, drawn first) and lot B = 100, and a hold of 100 = A 60 + B 40. */
async function holdOf100(billingMode: BillingMode) {
  const accountId = await kit.account();
  const a = await kit.ledger.mint({
    accountId,
    amountMicro: 60n,
    sourceType: 'grant',
    expiresAt: new Date(kit.clock.nowMs() + 3_600_000),
  });
  const b = await kit.ledger.mint({ accountId, amountMicro: 100n, sourceType: 'grant' });
  const { reservation } = await kit.ledger.reserve({ accountId, amountMicro: 100n, billingMode });
  expect(reservation.lots).toEqual([
    { lotId: a.lot.id, amountMicro: 60n },
    { lotId: b.lot.id, amountMicro: 40n },
  ]);
  return { accountId, reservationId: reservation.id, lotA: a.lot.id, lotB: b.lot.id };
}

interface Expected {
  charged: bigint;
  released: bigint;
  overrun: bigint;
  uncollected: bigint;
  available: bigint;
}

const table: [BillingMode, bigint, Expected][] = [
  ['live', 70n, { charged: 70n, released: 30n, overrun: 0n, uncollected: 0n, available: 90n }],
  ['live', 100n, { charged: 100n, released: 0n, overrun: 0n, uncollected: 0n, available: 60n }],
  ['live', 130n, { charged: 100n, released: 0n, overrun: 30n, uncollected: 30n, available: 60n }],
  ['soft', 70n, { charged: 70n, released: 30n, overrun: 0n, uncollected: 0n, available: 90n }],
  ['soft', 100n, { charged: 100n, released: 0n, overrun: 0n, uncollected: 0n, available: 60n }],
  ['soft', 130n, { charged: 130n, released: 0n, overrun: 30n, uncollected: 0n, available: 30n }],
  ['soft', 200n, { charged: 160n, released: 0n, overrun: 100n, uncollected: 40n, available: 0n }],
  ['shadow', 70n, { charged: 0n, released: 100n, overrun: 0n, uncollected: 0n, available: 160n }],
  ['shadow', 100n, { charged: 0n, released: 100n, overrun: 0n, uncollected: 0n, available: 160n }],
  ['shadow', 130n, { charged: 0n, released: 100n, overrun: 30n, uncollected: 0n, available: 160n }],
  ['live', 0n, { charged: 0n, released: 100n, overrun: 0n, uncollected: 0n, available: 160n }],
];

describe('finalize', () => {
  it.each(table)('%s hold of 100 finalized at %s', async (mode, actualCostMicro, expected) => {
    const { accountId, reservationId } = await holdOf100(mode);
    const result = await kit.ledger.finalize({ reservationId, actualCostMicro });
    expect({
      charged: result.chargedMicro,
      released: result.releasedMicro,
      overrun: result.overrunMicro,
      uncollected: result.uncollectedMicro,
      available: result.balance.availableMicro,
    }).toEqual(expected);
    expect(result.balance.reservedMicro).toBe(0n);
    expect(result.reservation).toMatchObject({
      status: 'finalized',
      actualCostMicro,
      chargedMicro: expected.charged,
      overrunMicro: expected.overrun,
      uncollectedMicro: expected.uncollected,
    });
    expect(result.reservation.resolvedAt).toEqual(new Date(kit.clock.nowMs()));
    expect(await kit.ledger.getBalance(accountId)).toEqual(result.balance);
    expect(await kit.ledger.getReservation(reservationId)).toEqual(result.reservation);
  });

  it('consumes in recorded order, then releases the rest last drawn first', async () => {
    const { accountId, reservationId, lotA, lotB } = await holdOf100('live');
    const result = await kit.ledger.finalize({ reservationId, actualCostMicro: 50n });
    const { items } = await kit.ledger.listEntries(accountId, { limit: 3 });
    expect(
      items.reverse().map((e) => [e.kind, e.lotId, e.fromBucket, e.toBucket, e.amountMicro, e.availableAfterMicro]),
    ).toEqual([
      ['consume', lotA, 'reserved', 'consumed', 50n, 60n],
      ['release', lotB, 'reserved', 'available', 40n, 100n],
      ['release', lotA, 'reserved', 'available', 10n, 110n],
    ]);
    expect(result.lots.map((l) => [l.id, l.availableMicro, l.reservedMicro, l.consumedMicro])).toEqual([
      [lotA, 10n, 0n, 50n],
      [lotB, 100n, 0n, 0n],
    ]);
  });

  it('charges a soft overrun from other usable lots only (not expired, not other pools)', async () => {
    const accountId = await kit.account();
    await kit.ledger.mint({ accountId, amountMicro: 10n, sourceType: 'grant' });
    await kit.ledger.mint({ accountId, amountMicro: 50n, sourceType: 'grant', poolId: 'cpu' });
    const { lot: soon } = await kit.ledger.mint({
      accountId,
      amountMicro: 50n,
      sourceType: 'grant',
      expiresAt: new Date(kit.clock.nowMs() + 2_000),
    });
    const { reservation } = await kit.ledger.reserve({
      accountId,
      amountMicro: 40n,
      billingMode: 'soft',
      ttlMs: 10_000,
    });
    expect(reservation.lots).toEqual([{ lotId: soon.id, amountMicro: 40n }]);
    kit.clock.advance(2_000); // the lot the hold drew from expires; the hold itself is still pending
    const result = await kit.ledger.finalize({ reservationId: reservation.id, actualCostMicro: 100n });
    // 40 from the hold; of the 60 excess only the 10 unexpired general credit can be charged.
    expect([result.chargedMicro, result.overrunMicro, result.uncollectedMicro]).toEqual([50n, 60n, 50n]);
    expect(result.balance.availableMicro).toBe(50n);
    expect(result.balance.pools).toEqual([{ poolId: 'cpu', availableMicro: 50n, reservedMicro: 0n }]);
  });

  it('answers a repeat with the same cost with the first outcome, and another cost with a conflict', async () => {
    const { reservationId } = await holdOf100('soft');
    const first = await kit.ledger.finalize({ reservationId, actualCostMicro: 130n });
    const before = await kit.counts();
    const again = await kit.ledger.finalize({ reservationId, actualCostMicro: 130n });
    expect(again).toEqual(first);
    expect(await kit.counts()).toEqual(before);
    const error = await rejectsWithCode(
      kit.ledger.finalize({ reservationId, actualCostMicro: 131n }),
      'finalize_conflict',
    );
    expect(error).toBeInstanceOf(FinalizeConflictError);
    expect((error as FinalizeConflictError).httpStatus).toBe(409);
    await rejectsWithCode(kit.ledger.release({ reservationId }), 'reservation_not_pending');
  });

  it('refuses released and expired holds', async () => {
    const released = await holdOf100('live');
    await kit.ledger.release({ reservationId: released.reservationId });
    const error = await rejectsWithCode(
      kit.ledger.finalize({ reservationId: released.reservationId, actualCostMicro: 1n }),
      'reservation_not_pending',
    );
    expect((error as ReservationNotPendingError).status).toBe('released');

    const expiring = await holdOf100('live');
    kit.clock.advance(300_000);
    const before = await kit.counts();
    const expired = await rejectsWithCode(
      kit.ledger.finalize({ reservationId: expiring.reservationId, actualCostMicro: 1n }),
      'reservation_not_pending',
    );
    expect((expired as ReservationNotPendingError).details).toMatchObject({ status: 'expired' });
    expect(await kit.counts()).toEqual(before);
  });

  it('rejects bad input and unknown holds', async () => {
    const { reservationId } = await holdOf100('live');
    await rejectsWithCode(kit.ledger.finalize({ reservationId, actualCostMicro: -1n }), 'invalid_amount');
    await rejectsWithCode(kit.ledger.finalize({ reservationId, actualCostMicro: 10n ** 15n + 1n }), 'invalid_amount');
    await rejectsWithCode(kit.ledger.finalize({ reservationId, actualCostMicro: 1 as never }), 'invalid_amount');
    await rejectsWithCode(kit.ledger.finalize({ reservationId: 'res/1', actualCostMicro: 1n }), 'invalid_argument');
    const missing = await rejectsWithCode(
      kit.ledger.finalize({ reservationId: 'res_missing', actualCostMicro: 1n }),
      'reservation_not_found',
    );
    expect((missing as { httpStatus?: number }).httpStatus).toBe(404);
    expect((await kit.ledger.getReservation(reservationId)).status).toBe('pending');
  });
});
