/**
 * Pure rules about lots: bucket access, read-time expiry, consumption order, balances.
 */
import type { LotBucket } from '../db/schema.js';
import type { Balance, Lot, PoolBalance } from '../types.js';
import { assert } from './assert.js';

/** The pool every reserve may fall back to after its own pool. */
export const generalPoolId = 'general';

/** The lot field that holds each bucket (`external` is outside the ledger and has none). */
export const bucketField = {
  available: 'availableMicro',
  reserved: 'reservedMicro',
  consumed: 'consumedMicro',
  expired: 'expiredMicro',
  refunded: 'refundedMicro',
} as const satisfies Record<LotBucket, keyof Lot>;

/**
 * True when the lot is past its expiry at `nowMs` (a lot expires at `expiresAt` itself), swept or not.
 *
 * @example
 * lotExpired(lot, clock.nowMs());
 */
export function lotExpired(lot: Pick<Lot, 'expiresAt'>, nowMs: number): boolean {
  return lot.expiresAt !== null && lot.expiresAt.getTime() <= nowMs;
}

/**
 * Orders lots for consumption from `poolId`: the exact pool before `general`; lots that expire before lots that
 * do not; soonest expiry first; then lowest `seq`.
 *
 * @example
 * candidates.sort(consumptionOrder('gpu'));
 */
export function consumptionOrder(poolId: string): (a: Lot, b: Lot) => number {
  const rank = (lot: Lot) => (lot.poolId === poolId ? 0 : lot.poolId === generalPoolId ? 1 : 2);
  return (a, b) => {
    if (rank(a) !== rank(b)) return rank(a) - rank(b);
    if ((a.expiresAt === null) !== (b.expiresAt === null)) return a.expiresAt === null ? 1 : -1;
    if (a.expiresAt !== null && b.expiresAt !== null && a.expiresAt.getTime() !== b.expiresAt.getTime()) {
      return a.expiresAt.getTime() - b.expiresAt.getTime();
    }
    return a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : 0;
  };
}

/**
 * The lots a reserve (or a soft overrun) in `poolId` may draw from at `nowMs`, in consumption order: lots of the
 * pool or of `general`, unexpired, with available credit.
 *
 * @example
 * const candidates = usableLots(work.lots, 'general', now.getTime());
 */
export function usableLots(lots: readonly Lot[], poolId: string, nowMs: number): Lot[] {
  return lots
    .filter(
      (lot) =>
        (lot.poolId === poolId || lot.poolId === generalPoolId) && lot.availableMicro > 0n && !lotExpired(lot, nowMs),
    )
    .sort(consumptionOrder(poolId));
}

/**
 * Asserts a lot's bucket identity (available + reserved + consumed + expired + refunded = original) and that no
 * bucket is negative.
 *
 * @example
 * assertLotBuckets(lot);
 */
export function assertLotBuckets(lot: Lot): void {
  const details = { lotId: lot.id };
  assert(lot.originalMicro > 0n, 'a lot original must be positive', details);
  for (const field of Object.values(bucketField)) assert(lot[field] >= 0n, `${field} must not be negative`, details);
  assert(
    lot.availableMicro + lot.reservedMicro + lot.consumedMicro + lot.expiredMicro + lot.refundedMicro ===
      lot.originalMicro,
    'a lot buckets must add up to its original',
    details,
  );
}

/**
 * The account's available balance at `nowMs`: the available credit of its unexpired lots.
 *
 * @example
 * availableOf(lots, now.getTime());
 */
export function availableOf(lots: readonly Lot[], nowMs: number): bigint {
  let total = 0n;
  for (const lot of lots) if (!lotExpired(lot, nowMs)) total += lot.availableMicro;
  return total;
}

/**
 * The balance of an account from its lots at `now`: available counts unexpired lots only (expired lots count as
 * expired whether or not a sweeper has run); reserved counts every lot's reserved bucket (holds stay reserved until
 * finalized, released or swept). Pools with nothing available or reserved are left out; pools are sorted by id.
 *
 * @example
 * const balance = balanceOf({ id: 'acc_1', debtMicro: 0n }, lots, new Date());
 */
export function balanceOf(account: { id: string; debtMicro: bigint }, lots: readonly Lot[], now: Date): Balance {
  const nowMs = now.getTime();
  const pools = new Map<string, PoolBalance>();
  let availableMicro = 0n;
  let reservedMicro = 0n;
  for (const lot of lots) {
    assert(lot.accountId === account.id, 'a balance counts only the account lots', { lotId: lot.id });
    const pool = pools.get(lot.poolId) ?? { poolId: lot.poolId, availableMicro: 0n, reservedMicro: 0n };
    pools.set(lot.poolId, pool);
    if (!lotExpired(lot, nowMs)) {
      pool.availableMicro += lot.availableMicro;
      availableMicro += lot.availableMicro;
    }
    pool.reservedMicro += lot.reservedMicro;
    reservedMicro += lot.reservedMicro;
  }
  assert(availableMicro >= 0n && reservedMicro >= 0n, 'a balance must not be negative', { accountId: account.id });
  return {
    accountId: account.id,
    availableMicro,
    reservedMicro,
    debtMicro: account.debtMicro,
    pools: [...pools.values()]
      .filter((pool) => pool.availableMicro > 0n || pool.reservedMicro > 0n)
      .sort((a, b) => (a.poolId < b.poolId ? -1 : a.poolId > b.poolId ? 1 : 0)),
    asOf: now,
  };
}

/**
 * A copy of a lot (results must not alias the objects a write mutates).
 *
 * @example
 * const snapshot = copyLot(lot);
 */
export function copyLot(lot: Lot): Lot {
  return { ...lot };
}

/**
 * The smaller of two bigint amounts (`Math.min` does not take bigints).
 *
 * @example
 * minMicro(5n, 3n); // 3n
 */
export function minMicro(a: bigint, b: bigint): bigint {
  return a <= b ? a : b;
}
