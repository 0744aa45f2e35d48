import { InvalidCounterInputError } from '../errors.js';
import type { Clock } from '../ports/clock.js';
import { systemClock } from '../ports/clock.js';
import type { CounterBackend } from '../ports/counter-backend.js';
import type { RateLimitDecision, RateLimiter } from '../ports/rate-limiter.js';
import { counterValueMax } from '../validate.js';
import {
  assertBackend,
  assertClock,
  assertCost,
  assertOptionsObject,
  assertPositiveInteger,
  assertPrefix,
  counterKey,
  readClock,
  refusalRetryAfterMsMin,
  windowMsMax,
} from './options.js';

/** Most sub-buckets one window may span (each call reads all of them). */
export const bucketsPerWindowMax = 100;
/** Sub-buckets per window when `bucketMs` is not given. */
export const bucketsPerWindowDefault = 10;
/**
 * Added once to a finished sub-bucket to seal it: a sealed bucket refuses every later write, because a write's
 * bound (`max ≤ limit`) is below the marker. Its count is `value − sealMarker`.
 */
export const sealMarker = 2n ** 52n;
/** Largest `limit` a sliding window accepts: counts must stay below {@link sealMarker}. */
export const slidingWindowLimitMax = Number(sealMarker - 1n);

/** Options of {@link slidingWindow}. */
export interface SlidingWindowOptions {
  /** Where the sub-bucket counts live; share it between instances for a global limit. */
  backend: CounterBackend;
  /** Most cost admitted per key in any `windowMs` consecutive milliseconds; 1 to 2^52 − 1. */
  limit: number;
  /** The sliding window length. */
  windowMs: number;
  /**
   * Sub-bucket length: usage admitted in a sub-bucket is released between `windowMs` and
   * `windowMs + bucketMs − 1` ms later. 1 to `windowMs`, at most 100 per window.
   * Default `ceil(windowMs / 10)`.
   */
  bucketMs?: number;
  /** Key namespace, 1–64 printable ASCII characters. Default `rl:sw`. */
  prefix?: string;
  /** Time source; pass the same clock to the backend. Default: the wall clock. */
  clock?: Clock;
}

/**
 * An exact sliding-window rate limiter built from sub-buckets.
 *
 * **Guarantee**: for every key and every `windowMs` consecutive milliseconds, the total cost of the calls
 * admitted whose clock reading (taken when `consume` starts) falls in them is at most `limit` — under any
 * interleaving of any number of callers sharing the backend and its clock. Not an estimate: unlike the
 * weighted two-window approximation, it never admits a burst above `limit`.
 *
 * How: time is cut into sub-buckets of `bucketMs`; a call at time `t` counts its cost in the bucket of `t`,
 * admitted only when the sum of every bucket overlapping `(t − windowMs, t]` stays ≤ `limit`. Finished buckets
 * are read and **sealed** (a large marker is added once, atomically), so a late write to a finished bucket is
 * refused instead of slipping under a sum someone already read; the current bucket takes one bounded `advance`
 * with `max = limit − (sum of finished buckets)`. A rejected call is never counted. Each call costs one read per
 * bucket in the window (parallel), one seal per newly finished bucket, and one write. A call whose backend
 * round trips take `windowMs` or longer, or whose bucket a later caller sealed first, is reported as rejected
 * (its write, if applied, is conservative) with `retryAfterMs` ≥ 1: the time until its clock leaves that bucket.
 *
 * The price of exactness: usage is released per sub-bucket, between `windowMs` and `windowMs + bucketMs − 1`
 * ms after it was admitted, and `retryAfterMs` says exactly when enough is released for the same cost.
 *
 * @throws {InvalidCounterInputError} `invalid_option` when an option is missing or out of range.
 * @example
 * // At most 100 requests in any 60 s, released in 1 s steps.
 * const limiter = slidingWindow({ backend: memoryBackend(), limit: 100, windowMs: 60_000, bucketMs: 1_000 });
 * const decision = await limiter.consume('user:alice');
 */
export function slidingWindow(options: SlidingWindowOptions): RateLimiter {
  const fn = 'slidingWindow';
  assertOptionsObject(fn, options);
  assertBackend(fn, options.backend);
  assertPositiveInteger(fn, 'limit', options.limit, slidingWindowLimitMax);
  assertPositiveInteger(fn, 'windowMs', options.windowMs, windowMsMax);
  const windowMs = options.windowMs;
  const bucketMs = options.bucketMs ?? Math.ceil(windowMs / bucketsPerWindowDefault);
  assertPositiveInteger(fn, 'bucketMs', bucketMs, windowMs);
  if (Math.ceil(windowMs / bucketMs) > bucketsPerWindowMax) {
    throw new InvalidCounterInputError(
      'invalid_option',
      `${fn}(): bucketMs ${bucketMs} cuts windowMs ${windowMs} into more than ${bucketsPerWindowMax} buckets`,
      { details: { bucketMs, windowMs, bucketsPerWindowMax } },
    );
  }
  const prefix = options.prefix ?? 'rl:sw';
  assertPrefix(fn, prefix);
  const clock = options.clock ?? systemClock;
  assertClock(fn, clock);
  const { backend, limit } = options;

  const bucketEndMs = (index: number) => (index + 1) * bucketMs;
  // A bucket lives two windows past its end: longer than any call that is not refused as stale reads it.
  const bucketExpiresAtMs = (index: number) => bucketEndMs(index) + 2 * windowMs;
  // At `bucketEndMs(j) + windowMs − 1` bucket j stops overlapping the window (t − windowMs, t].
  const releaseAtMs = (index: number) => bucketEndMs(index) + windowMs - 1;

  /** Buckets overlapping (nowMs − windowMs, nowMs]: [first, current]. */
  function bucketsAt(nowMs: number): { first: number; current: number } {
    return { first: Math.max(0, Math.floor((nowMs - windowMs + 1) / bucketMs)), current: Math.floor(nowMs / bucketMs) };
  }

  async function sealedCount(key: string, index: number, value: bigint | undefined): Promise<bigint> {
    if (value !== undefined && value >= sealMarker) return value - sealMarker;
    const sealed = await backend.advance(key, {
      by: sealMarker,
      max: counterValueMax,
      expiresAtMs: bucketExpiresAtMs(index),
      expiry: 'keep',
    });
    return sealed.value - sealMarker;
  }

  return {
    algorithm: 'sliding-window',
    limit,
    async consume(key: string, cost = 1): Promise<RateLimitDecision> {
      counterKey(prefix, key, '0');
      assertCost(cost, limit);
      const nowMs = readClock(clock);
      const { first, current } = bucketsAt(nowMs);
      const keys: string[] = [];
      for (let index = first; index <= current; index++) keys.push(counterKey(prefix, key, String(index)));
      const snapshots = await Promise.all(keys.map((k) => backend.get(k)));
      const finished = await Promise.all(
        keys.slice(0, -1).map((k, i) => sealedCount(k, first + i, snapshots[i]?.value)),
      );
      const finishedSum = finished.reduce((sum, count) => sum + count, 0n);
      const currentKey = keys[keys.length - 1] as string;
      let currentValue = snapshots[snapshots.length - 1]?.value ?? 0n;
      let applied = false;
      const room = BigInt(limit) - finishedSum;
      if (room >= BigInt(cost) && currentValue < sealMarker) {
        const result = await backend.advance(currentKey, {
          by: BigInt(cost),
          max: room,
          expiresAtMs: bucketExpiresAtMs(current),
          expiry: 'keep',
        });
        applied = result.applied;
        currentValue = result.value;
      }
      const repliedAtMs = readClock(clock);
      if (currentValue >= sealMarker || repliedAtMs - nowMs >= windowMs) {
        // A later caller already sealed this bucket, or the round trips took a whole window: stale, refuse. A
        // retry lands in a later bucket once this clock has left the current one.
        return {
          allowed: false,
          limit,
          remaining: 0,
          resetAtMs: releaseAtMs(current),
          retryAfterMs: Math.max(refusalRetryAfterMsMin, bucketEndMs(current) - repliedAtMs),
        };
      }
      const counts = [...finished, currentValue];
      const total = finishedSum + currentValue;
      const remaining = Number(total >= BigInt(limit) ? 0n : BigInt(limit) - total);
      let newest = -1;
      counts.forEach((count, i) => {
        if (count > 0n) newest = first + i;
      });
      const resetAtMs = newest < 0 ? nowMs : releaseAtMs(newest);
      if (applied) return { allowed: true, limit, remaining, resetAtMs, retryAfterMs: 0 };
      // The earliest release after which `cost` fits, assuming no other traffic.
      let released = 0n;
      let retryAtMs = releaseAtMs(current);
      for (let i = 0; i < counts.length; i++) {
        released += counts[i] as bigint;
        if (total - released + BigInt(cost) <= BigInt(limit)) {
          retryAtMs = releaseAtMs(first + i);
          break;
        }
      }
      return {
        allowed: false,
        limit,
        remaining,
        resetAtMs,
        retryAfterMs: Math.max(refusalRetryAfterMsMin, retryAtMs - nowMs),
      };
    },
    async reset(key: string): Promise<void> {
      counterKey(prefix, key, '0');
      const { first, current } = bucketsAt(readClock(clock));
      const keys: string[] = [];
      for (let index = first; index <= current; index++) keys.push(counterKey(prefix, key, String(index)));
      await Promise.all(keys.map((k) => backend.reset(k)));
    },
  };
}
