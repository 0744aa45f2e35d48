/**
 * Reading holds: the row plus its lots, and the read-time status (a pending hold at or past its expiry reads as
 * `expired`, with `resolvedAt` = `expiresAt`, whether or not the sweeper has run).
 */
import { eq, sql } from 'drizzle-orm';
import { accounts, reservationLots, reservations } from '../db/schema.js';
import { ReservationNotFoundError } from '../errors.js';
import type { Account, Reservation } from '../types.js';
import { assert } from './assert.js';
import type { Tx } from './context.js';

/** A reservation row as stored, with its lots in position order. */
export type StoredReservation = typeof reservations.$inferSelect & { lots: { lotId: string; amountMicro: bigint }[] };

/**
 * The public view of a stored hold at `now`.
 *
 * @example
 * toReservation(stored, new Date());
 */
export function toReservation(stored: StoredReservation, now: Date): Reservation {
  const due = stored.status === 'pending' && stored.expiresAt.getTime() <= now.getTime();
  return {
    id: stored.id,
    accountId: stored.accountId,
    poolId: stored.poolId,
    amountMicro: stored.amountMicro,
    status: due ? 'expired' : stored.status,
    billingMode: stored.billingMode,
    expiresAt: stored.expiresAt,
    createdAt: stored.createdAt,
    resolvedAt: due ? stored.expiresAt : stored.resolvedAt,
    actualCostMicro: stored.actualCostMicro,
    chargedMicro: stored.chargedMicro,
    overrunMicro: stored.overrunMicro,
    uncollectedMicro: stored.uncollectedMicro,
    lots: stored.lots.map((part) => ({ lotId: part.lotId, amountMicro: part.amountMicro })),
  };
}

/**
 * Reads a hold and its lots (one statement); `lock` takes the hold row `FOR UPDATE`.
 *
 * @throws {ReservationNotFoundError}
 * @example
 * const stored = await readReservation(tx, 'res_1', { lock: true });
 */
export async function readReservation(
  tx: Tx,
  reservationId: string,
  options: { lock: boolean },
): Promise<StoredReservation> {
  const query = tx
    .select({ reservation: reservations, part: reservationLots })
    .from(reservations)
    .innerJoin(reservationLots, eq(reservationLots.reservationId, reservations.id))
    .where(eq(reservations.id, reservationId))
    .orderBy(reservationLots.position);
  const rows = options.lock ? await query.for('update', { of: reservations }) : await query;
  const first = rows[0];
  if (first === undefined) throw new ReservationNotFoundError(reservationId);
  rows.forEach((row, index) => {
    assert(row.part.position === index, 'hold lots are numbered 0..n-1', { reservationId });
  });
  return {
    ...first.reservation,
    lots: rows.map((row) => ({ lotId: row.part.lotId, amountMicro: row.part.amountMicro })),
  };
}

/**
 * Locks (`FOR UPDATE`) the account that owns a hold — the first lock of a finalize or release.
 *
 * @throws {ReservationNotFoundError} when no hold has this id.
 * @example
 * const account = await lockAccountOfReservation(tx, 'res_1');
 */
export async function lockAccountOfReservation(tx: Tx, reservationId: string): Promise<Account> {
  const [account] = await tx
    .select()
    .from(accounts)
    .where(
      eq(
        accounts.id,
        sql`(select ${reservations.accountId} from ${reservations} where ${reservations.id} = ${reservationId})`,
      ),
    )
    .for('update');
  if (account === undefined) throw new ReservationNotFoundError(reservationId);
  return account;
}
