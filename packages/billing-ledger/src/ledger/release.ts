import { ReservationNotPendingError } from '../errors.js';
import type { ReleaseResult, WriteOptions } from '../types.js';
import { type LedgerContext, runWrite } from './context.js';
import {
  lockAccountOfReservation,
  readReservation,
  type StoredReservation,
  toReservation,
} from './reservation-view.js';
import { assertId, assertObject } from './validate.js';
import { AccountWork, lockLiveLotsOfReservation } from './work.js';

/**
 * Releases a pending hold: reserved → available on its lots in reverse order (last drawn first). Idempotent: a
 * released hold answers the same outcome again (with the current balance and lots) and moves nothing. Emits
 * `reservation.released`.
 *
 * @throws {InvalidArgumentError} when reservationId breaks its rule.
 * @throws {ReservationNotFoundError}
 * @throws {ReservationNotPendingError} when the hold was finalized or has expired (status in details).
 * @throws {IdempotencyKeyReusedError}
 * @example
 * await ledger.release({ reservationId });
 */
export async function release(
  ctx: LedgerContext,
  input: { reservationId: string },
  options: WriteOptions = {},
): Promise<ReleaseResult> {
  assertObject('input', input);
  assertId('reservationId', input.reservationId);
  const normalized = { reservationId: input.reservationId };
  return runWrite(
    ctx,
    {
      scope: 'release',
      input: normalized,
      idempotencyKey: options.idempotencyKey,
      idempotencyScope: options.idempotencyScope,
    },
    async ({ tx, now, idempotency }) => {
      // Pipelined in this order: the account lock, then (after it is held) the hold and the account's live lots.
      const [account, stored, liveLots] = await Promise.all([
        lockAccountOfReservation(tx, normalized.reservationId),
        readReservation(tx, normalized.reservationId, { lock: true }),
        lockLiveLotsOfReservation(tx, normalized.reservationId),
      ]);
      const lotIds = stored.lots.map((part) => part.lotId);
      if (stored.status === 'released') {
        const work = new AccountWork(ctx, tx, now, account, liveLots);
        await work.lockLots(lotIds);
        const result: ReleaseResult = {
          reservation: toReservation(stored, now),
          releasedMicro: stored.amountMicro,
          balance: work.balance(),
          lots: work.snapshot(lotIds),
        };
        await work.flush('release', idempotency, result);
        return result;
      }
      const status = toReservation(stored, now).status;
      if (status !== 'pending') throw new ReservationNotPendingError(stored.id, status);
      const work = new AccountWork(ctx, tx, now, account, liveLots);
      await work.lockLots(lotIds);
      for (const part of [...stored.lots].reverse()) {
        work.move(work.lot(part.lotId), 'release', 'reserved', 'available', part.amountMicro, stored.id);
      }
      const released: StoredReservation = { ...stored, status: 'released', resolvedAt: now };
      work.resolveReservation({
        id: stored.id,
        status: 'released',
        resolvedAt: now,
        actualCostMicro: null,
        chargedMicro: null,
        overrunMicro: null,
        uncollectedMicro: null,
      });
      work.emit('reservation.released', stored.id, {
        reservationId: stored.id,
        accountId: stored.accountId,
        poolId: stored.poolId,
        amountMicro: stored.amountMicro.toString(),
      });
      work.offsetDebt();
      const result: ReleaseResult = {
        reservation: toReservation(released, now),
        releasedMicro: stored.amountMicro,
        balance: work.balance(),
        lots: work.snapshot(lotIds),
      };
      await work.flush('release', idempotency, result);
      return result;
    },
  );
}
