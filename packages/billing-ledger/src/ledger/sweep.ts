/**
 * Sweepers. Safe to run from many processes at once: each batch locks the accounts it works on with
 * `FOR UPDATE SKIP LOCKED` (an account busy in a write or in another sweeper is skipped this round and picked up
 * by a later one), then the account's lots and holds — the same lock order as every write.
 */
import { and, asc, eq, inArray, lte, sql } from 'drizzle-orm';
import { execRows } from '../db/ledger-db.js';
import { accounts, idempotencyKeys, lots, reservationLots, reservations } from '../db/schema.js';
import {
  idempotencySweepBatchSizeDefault,
  idempotencySweepBatchSizeMax,
  sweepBatchSizeDefault,
  sweepBatchSizeMax,
} from '../limits.js';
import type { SweepResult } from '../types.js';
import { assert } from './assert.js';
import { type LedgerContext, runWrite, type Tx } from './context.js';
import { generalPoolId, lotExpired } from './lots.js';
import { assertCount, assertObject } from './validate.js';
import { openLockedAccountWork } from './work.js';

/** Journal entries one account's sweep writes in one statement; further due holds wait for the next call. */
export const sweepEntriesPerAccountMax = 3000;

function batchSizeOf(options: { batchSizeMax?: number }, fallback: number, max: number): number {
  assertObject('options', options);
  const size = options.batchSizeMax ?? fallback;
  assertCount('batchSizeMax', size, max);
  return size;
}

async function lockAccountsSkipLocked(tx: Tx, accountIds: string[]) {
  if (accountIds.length === 0) return [];
  return tx
    .select()
    .from(accounts)
    .where(inArray(accounts.id, accountIds))
    .orderBy(asc(accounts.id))
    .for('update', { skipLocked: true });
}

/**
 * Expires up to `batchSizeMax` (default 100, ≤ 1000) pending holds past their expiry: reserved → available on
 * their lots in reverse order (`expire_hold` entries), status `expired` with `resolvedAt` = `expiresAt`, and a
 * `reservation.expired` event each. Call again while `count` equals the batch size.
 *
 * @throws {InvalidArgumentError} when batchSizeMax breaks its rule.
 * @example
 * setInterval(() => void ledger.sweepExpiredHolds(), 5_000);
 */
export async function sweepExpiredHolds(
  ctx: LedgerContext,
  options: { batchSizeMax?: number } = {},
): Promise<SweepResult> {
  const batchSize = batchSizeOf(options, sweepBatchSizeDefault, sweepBatchSizeMax);
  return runWrite(ctx, { scope: 'sweepExpiredHolds', input: null, idempotencyKey: undefined }, async ({ tx, now }) => {
    const nowText = now.toISOString();
    const due = await tx
      .select({ id: reservations.id, accountId: reservations.accountId })
      .from(reservations)
      .where(and(eq(reservations.status, 'pending'), lte(reservations.expiresAt, now)))
      .orderBy(asc(reservations.expiresAt), asc(reservations.id))
      .limit(batchSize);
    const locked = await lockAccountsSkipLocked(tx, [...new Set(due.map((hold) => hold.accountId))]);
    let count = 0;
    let amountMicro = 0n;
    for (const account of locked) {
      const holdIds = due.filter((hold) => hold.accountId === account.id).map((hold) => hold.id);
      const rows = await tx
        .select({ reservation: reservations, part: reservationLots })
        .from(reservations)
        .innerJoin(reservationLots, eq(reservationLots.reservationId, reservations.id))
        .where(
          and(
            inArray(reservations.id, holdIds),
            eq(reservations.status, 'pending'),
            sql`${reservations.expiresAt} <= ${nowText}::timestamptz`,
          ),
        )
        .orderBy(asc(reservations.expiresAt), asc(reservations.id), asc(reservationLots.position))
        .for('update', { of: reservations });
      if (rows.length === 0) continue;
      const work = await openLockedAccountWork(ctx, tx, now, account, generalPoolId);
      const holds = new Map<string, { reservation: (typeof rows)[number]['reservation']; parts: typeof rows }>();
      for (const row of rows) {
        const hold = holds.get(row.reservation.id) ?? { reservation: row.reservation, parts: [] };
        hold.parts.push(row);
        holds.set(row.reservation.id, hold);
      }
      for (const { reservation, parts } of holds.values()) {
        if (work.entryCount > 0 && work.entryCount + parts.length > sweepEntriesPerAccountMax) break;
        let heldMicro = 0n;
        for (const { part } of [...parts].reverse()) {
          assert(work.has(part.lotId), 'a pending hold draws from live lots', { reservationId: reservation.id });
          work.move(work.lot(part.lotId), 'expire_hold', 'reserved', 'available', part.amountMicro, reservation.id);
          heldMicro += part.amountMicro;
        }
        assert(heldMicro === reservation.amountMicro, 'a hold lots add up to its amount', {
          reservationId: reservation.id,
        });
        work.resolveReservation({
          id: reservation.id,
          status: 'expired',
          resolvedAt: reservation.expiresAt,
          actualCostMicro: null,
          chargedMicro: null,
          overrunMicro: null,
          uncollectedMicro: null,
        });
        work.emit('reservation.expired', reservation.id, {
          reservationId: reservation.id,
          accountId: reservation.accountId,
          poolId: reservation.poolId,
          amountMicro: reservation.amountMicro.toString(),
          expiresAt: reservation.expiresAt.toISOString(),
        });
        count += 1;
        amountMicro += reservation.amountMicro;
      }
      work.offsetDebt();
      await work.flush('sweepExpiredHolds', null, null);
    }
    return { count, amountMicro };
  });
}

/**
 * Expires up to `batchSizeMax` (default 100, ≤ 1000) lots past their expiry that still have available credit:
 * available → expired (`expire_lot` entries, breakage) and a `lot.expired` event each. Reserved credit of an
 * expired lot stays with its hold; once released or swept it becomes available on the expired lot and a later
 * sweep expires it. Call again while `count` equals the batch size.
 *
 * @throws {InvalidArgumentError} when batchSizeMax breaks its rule.
 * @example
 * setInterval(() => void ledger.sweepExpiredLots(), 60_000);
 */
export async function sweepExpiredLots(
  ctx: LedgerContext,
  options: { batchSizeMax?: number } = {},
): Promise<SweepResult> {
  const batchSize = batchSizeOf(options, sweepBatchSizeDefault, sweepBatchSizeMax);
  return runWrite(ctx, { scope: 'sweepExpiredLots', input: null, idempotencyKey: undefined }, async ({ tx, now }) => {
    const due = await tx
      .select({ id: lots.id, accountId: lots.accountId })
      .from(lots)
      .where(and(lte(lots.expiresAt, now), sql`${lots.availableMicro} > 0`))
      .orderBy(asc(lots.expiresAt), asc(lots.seq))
      .limit(batchSize);
    const locked = await lockAccountsSkipLocked(tx, [...new Set(due.map((lot) => lot.accountId))]);
    let count = 0;
    let amountMicro = 0n;
    for (const account of locked) {
      const work = await openLockedAccountWork(ctx, tx, now, account, generalPoolId);
      for (const { id } of due.filter((lot) => lot.accountId === account.id)) {
        if (!work.has(id)) continue;
        const lot = work.lot(id);
        if (!lotExpired(lot, work.nowMs) || lot.availableMicro === 0n) continue;
        const expiredMicro = lot.availableMicro;
        work.move(lot, 'expire_lot', 'available', 'expired', expiredMicro, null);
        work.emit('lot.expired', lot.id, {
          lotId: lot.id,
          accountId: lot.accountId,
          poolId: lot.poolId,
          amountMicro: expiredMicro.toString(),
          expiresAt: lot.expiresAt?.toISOString() ?? null,
        });
        count += 1;
        amountMicro += expiredMicro;
      }
      await work.flush('sweepExpiredLots', null, null);
    }
    return { count, amountMicro };
  });
}

/**
 * Deletes up to `batchSizeMax` (default 1000, ≤ 10000) idempotency keys past their expiry (kept ≥ 24 h).
 * `amountMicro` is always 0. Call again while `count` equals the batch size.
 *
 * @throws {InvalidArgumentError} when batchSizeMax breaks its rule.
 * @example
 * setInterval(() => void ledger.sweepIdempotencyKeys(), 3_600_000);
 */
export async function sweepIdempotencyKeys(
  ctx: LedgerContext,
  options: { batchSizeMax?: number } = {},
): Promise<SweepResult> {
  const batchSize = batchSizeOf(options, idempotencySweepBatchSizeDefault, idempotencySweepBatchSizeMax);
  return runWrite(
    ctx,
    { scope: 'sweepIdempotencyKeys', input: null, idempotencyKey: undefined },
    async ({ tx, now }) => {
      const deleted = await execRows(
        tx,
        sql`delete from ${idempotencyKeys} where (scope, key) in (
              select scope, key from ${idempotencyKeys}
              where ${idempotencyKeys.expiresAt} <= ${now.toISOString()}::timestamptz
              order by ${idempotencyKeys.expiresAt}
              limit ${batchSize}
              for update skip locked)
            returning 1 as deleted`,
      );
      return { count: deleted.length, amountMicro: 0n };
    },
  );
}
