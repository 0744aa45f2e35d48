import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReservationNotPendingError } from '../errors.js';
import { type LedgerKit, openLedgerKit, rejectsWithCode } from './test-kit.js';

let kit: LedgerKit;
beforeAll(async () => {
  kit = await openLedgerKit();
});
afterAll(() => kit.close());

async function holdOverThreeLots() {
  const accountId = await kit.account();
  const ids: string[] = [];
  for (let i = 0; i < 3; i += 1) {
    ids.push((await kit.ledger.mint({ accountId, amountMicro: 10n, sourceType: 'grant' })).lot.id);
  }
  const { reservation } = await kit.ledger.reserve({ accountId, amountMicro: 25n });
  return { accountId, reservationId: reservation.id, ids };
}

describe('release', () => {
  it('returns the hold to available, last drawn lot first, and emits reservation.released', async () => {
    const { accountId, reservationId, ids } = await holdOverThreeLots();
    const result = await kit.ledger.release({ reservationId });
    expect(result.releasedMicro).toBe(25n);
    expect(result.reservation).toMatchObject({ status: 'released', resolvedAt: new Date(kit.clock.nowMs()) });
    expect(result.balance).toMatchObject({ availableMicro: 30n, reservedMicro: 0n });
    expect(result.lots.map((l) => [l.id, l.availableMicro, l.reservedMicro])).toEqual([
      [ids[0], 10n, 0n],
      [ids[1], 10n, 0n],
      [ids[2], 10n, 0n],
    ]);
    const { items } = await kit.ledger.listEntries(accountId, { limit: 3 });
    expect(items.reverse().map((e) => [e.kind, e.lotId, e.amountMicro, e.availableAfterMicro])).toEqual([
      ['release', ids[2], 5n, 10n],
      ['release', ids[1], 10n, 20n],
      ['release', ids[0], 10n, 30n],
    ]);
    const { items: events } = await kit.ledger.listEvents({ limit: 1000 });
    expect(events.filter((e) => e.subjectId === reservationId).map((e) => e.type)).toEqual([
      'reservation.created',
      'reservation.released',
    ]);
  });

  it('is idempotent: a second release answers the same and moves nothing', async () => {
    const { reservationId } = await holdOverThreeLots();
    const first = await kit.ledger.release({ reservationId });
    const before = await kit.counts();
    const again = await kit.ledger.release({ reservationId });
    expect(again).toEqual(first);
    expect(await kit.counts()).toEqual(before);
  });

  it('refuses finalized and expired holds', async () => {
    const finalized = await holdOverThreeLots();
    await kit.ledger.finalize({ reservationId: finalized.reservationId, actualCostMicro: 1n });
    const error = await rejectsWithCode(
      kit.ledger.release({ reservationId: finalized.reservationId }),
      'reservation_not_pending',
    );
    expect(error).toBeInstanceOf(ReservationNotPendingError);
    expect((error as ReservationNotPendingError).status).toBe('finalized');

    const expiring = await holdOverThreeLots();
    kit.clock.advance(300_000);
    const expired = await rejectsWithCode(
      kit.ledger.release({ reservationId: expiring.reservationId }),
      'reservation_not_pending',
    );
    expect((expired as ReservationNotPendingError).status).toBe('expired');
  });

  it('rejects bad ids and unknown holds', async () => {
    await rejectsWithCode(kit.ledger.release({ reservationId: '' }), 'invalid_argument');
    await rejectsWithCode(kit.ledger.release(null as never), 'invalid_argument');
    await rejectsWithCode(kit.ledger.release({ reservationId: 'res_nope' }), 'reservation_not_found');
  });
});
