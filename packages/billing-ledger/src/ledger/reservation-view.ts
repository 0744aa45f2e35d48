/**
 * Reading holds: the row plus its lots, and the read-time status (a pending hold at or past its expiry reads as
 * `expired`, with `resolvedAt` = `expiresAt`, whether or not the sweeper has run).
 */
import { statementsOf, tableRows } from '../db/ledger-db.js';
import { reservations } from '../db/schema.js';
import { ReservationNotFoundError } from '../errors.js';
import type { Account, Reservation } from '../types.js';
import { assert } from './assert.js';
import type { Tx } from './context.js';
import { accountRows } from './work.js';

/** A reservation row as stored, with its lots in position order. */
export type StoredReservation = typeof reservations.$inferSelect & { lots: { lotId: string; amountMicro: bigint }[] };

/** A stored usage (`{dimension: "units"}`) as bigints; null when none was recorded. */
function usageOfStored(value: unknown): Record<string, bigint> | null {
  if (value === null || value === undefined) return null;
  const raw = typeof value === 'string' ? JSON.parse(value) : value;
  assert(raw !== null && typeof raw === 'object' && !Array.isArray(raw), 'a stored usage is an object');
  const usage: Record<string, bigint> = {};
  for (const [dimension, units] of Object.entries(raw as Record<string, unknown>)) {
    assert(typeof units === 'string', 'stored units are base-10 strings', { dimension });
    usage[dimension] = BigInt(units);
  }
  return usage;
}

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
    meterId: stored.meterId,
    meterVersion: stored.meterVersion,
    usage: usageOfStored(stored.usage),
    lots: stored.lots.map((part) => ({ lotId: part.lotId, amountMicro: part.amountMicro })),
  };
}

/** Rows of `reservations`, as drizzle selects them. */
const reservationRows = tableRows<typeof reservations.$inferSelect>(reservations);
const readReservationText = `select ${reservationRows.selectList('r')}, rl.lot_id as "partLotId",
    rl.amount_micro as "partAmountMicro", rl.position as "partPosition"
  from reservations r join reservation_lots rl on rl.reservation_id = r.id
  where r.id = $1 order by rl.position`;
const readReservationLockedText = `${readReservationText} for update of r`;
const lockAccountOfReservationText = `select ${accountRows.selectList('a')} from accounts a
  where a.id = (select r.account_id from reservations r where r.id = $1) for update`;

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
  const rows = await statementsOf(tx).rows<{ partLotId: string; partAmountMicro: bigint; partPosition: number }>(
    options.lock ? readReservationLockedText : readReservationText,
    [reservationId],
  );
  const first = rows[0];
  if (first === undefined) throw new ReservationNotFoundError(reservationId);
  rows.forEach((row, index) => {
    assert(Number(row.partPosition) === index, 'hold lots are numbered 0..n-1', { reservationId });
  });
  return {
    ...reservationRows.decode(first),
    lots: rows.map((row) => ({ lotId: row.partLotId, amountMicro: BigInt(row.partAmountMicro) })),
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
  const [row] = await statementsOf(tx).rows(lockAccountOfReservationText, [reservationId]);
  if (row === undefined) throw new ReservationNotFoundError(reservationId);
  return accountRows.decode(row);
}
