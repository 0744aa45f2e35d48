import type { Clock } from '../ports/clock.js';
import { systemClock } from '../ports/clock.js';
import type { CounterBackend } from '../ports/counter-backend.js';
import type { RateLimitDecision, RateLimiter } from '../ports/rate-limiter.js';
import {
  assertBackend,
  assertClock,
  assertCost,
  assertOptionsObject,
  assertPositiveInteger,
  assertPrefix,
  counterKey,
  readClock,
  windowMsMax,
} from './options.js';

/** Options of {@link fixedWindow}. */
export interface FixedWindowOptions {
  /** Where the counts live; share it between instances for a global limit. */
  backend: CounterBackend;
  /** Most cost admitted per key and window; a positive safe integer. */
  limit: number;
  /** Window length; windows start at epoch multiples of it (UTC-aligned for whole seconds, minutes, hours, days). */
  windowMs: number;
  /** Key namespace, 1–64 printable ASCII characters. Default `rl:fw`. */
  prefix?: string;
  /** Time source; pass the same clock to the backend. Default: the wall clock. */
  clock?: Clock;
}

/**
 * A fixed-window rate limiter: at most `limit` cost per key in each window `[i·windowMs, (i+1)·windowMs)`.
 *
 * One atomic `advance` per call (`max = limit`), so a rejected call is never counted and no interleaving of
 * any number of callers admits more than `limit` in a window. The counter key is
 * `${prefix}:${key}:${windowIndex}` and expires at the window's end. A call whose write reaches the backend
 * only after its window ended is reported as rejected with `retryAfterMs: 0` (its write landed in an expired
 * window and counts for nothing).
 *
 * @throws {InvalidCounterInputError} `invalid_option` when an option is missing or out of range.
 * @example
 * const limiter = fixedWindow({ backend: memoryBackend(), limit: 100, windowMs: 60_000 });
 * const decision = await limiter.consume('user:alice');
 * if (!decision.allowed) console.log(`retry in ${decision.retryAfterMs} ms`);
 */
export function fixedWindow(options: FixedWindowOptions): RateLimiter {
  const fn = 'fixedWindow';
  assertOptionsObject(fn, options);
  assertBackend(fn, options.backend);
  assertPositiveInteger(fn, 'limit', options.limit);
  assertPositiveInteger(fn, 'windowMs', options.windowMs, windowMsMax);
  const prefix = options.prefix ?? 'rl:fw';
  assertPrefix(fn, prefix);
  const clock = options.clock ?? systemClock;
  assertClock(fn, clock);
  const { backend, limit, windowMs } = options;
  const limitCount = BigInt(limit);

  function windowAt(nowMs: number): { index: number; endMs: number } {
    const index = Math.floor(nowMs / windowMs);
    return { index, endMs: (index + 1) * windowMs };
  }

  return {
    algorithm: 'fixed-window',
    limit,
    async consume(key: string, cost = 1): Promise<RateLimitDecision> {
      assertCost(cost, limit);
      const nowMs = readClock(clock);
      const window = windowAt(nowMs);
      const windowKey = counterKey(prefix, key, String(window.index));
      // Every writer of this window's key passes the same absolute expiry (the window's end), so the
      // default 'extend' never slides the window, and the backend need not read the key's expiry back.
      const result = await backend.advance(windowKey, {
        by: cost === 1 ? 1n : BigInt(cost),
        max: limitCount,
        expiresAtMs: window.endMs,
      });
      const count = Number(result.value);
      const remaining = Math.max(0, limit - count);
      if (result.applied) {
        if (readClock(clock) >= window.endMs) {
          // The write reached the backend after the window ended: it counts for nothing, so neither does the call.
          return { allowed: false, limit, remaining: 0, resetAtMs: window.endMs, retryAfterMs: 0 };
        }
        return { allowed: true, limit, remaining, resetAtMs: window.endMs, retryAfterMs: 0 };
      }
      return { allowed: false, limit, remaining, resetAtMs: window.endMs, retryAfterMs: window.endMs - nowMs };
    },
    async reset(key: string): Promise<void> {
      counterKey(prefix, key, '0');
      await backend.reset(counterKey(prefix, key, String(windowAt(readClock(clock)).index)));
    },
  };
}
