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

/**
 * Most attempts of one {@link fixedWindow} call. A call whose reply arrives after its window closed (so its write
 * may have landed in an expired key and counted for nothing) is decided again in the window of a fresh clock
 * reading. A call whose round trips take at most half a window is decided within 2 attempts.
 */
export const fixedWindowAttemptsMax = 3;

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
 * `${prefix}:${key}:${windowIndex}` and expires at the window's end.
 *
 * A call is counted in the window its write lands in: when the reply arrives after the window the call started
 * in has closed (its write may have landed in the expired key), the call is decided again in the current window,
 * up to {@link fixedWindowAttemptsMax} attempts, instead of being refused. The decision's `resetAtMs` is the end
 * of the window that counted it. A refusal always has `retryAfterMs ≥ 1`; a call whose every attempt outlasted
 * its window (round trips longer than the window) is refused with the time left in the current window.
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
      const by = cost === 1 ? 1n : BigInt(cost);
      let nowMs = readClock(clock);
      for (let attempt = 1; ; attempt++) {
        const window = windowAt(nowMs);
        const windowKey = counterKey(prefix, key, String(window.index));
        // Every writer of this window's key passes the same absolute expiry (the window's end), so the
        // default 'extend' never slides the window, and the backend need not read the key's expiry back.
        const result = await backend.advance(windowKey, { by, max: limitCount, expiresAtMs: window.endMs });
        const repliedAtMs = readClock(clock);
        if (repliedAtMs < window.endMs) {
          // The write reached the backend before the window closed: the count is live, the decision holds.
          const remaining = Math.max(0, limit - Number(result.value));
          if (result.applied) return { allowed: true, limit, remaining, resetAtMs: window.endMs, retryAfterMs: 0 };
          return {
            allowed: false,
            limit,
            remaining,
            resetAtMs: window.endMs,
            retryAfterMs: window.endMs - repliedAtMs,
          };
        }
        // The window closed before the reply came: the write may have landed in the expired key and count for
        // nothing. Decide again in the window the call is in now (a write that did land in time only over-counts
        // a window that is over).
        if (attempt >= fixedWindowAttemptsMax) {
          const current = windowAt(repliedAtMs);
          return {
            allowed: false,
            limit,
            remaining: 0,
            resetAtMs: current.endMs,
            retryAfterMs: current.endMs - repliedAtMs,
          };
        }
        nowMs = repliedAtMs;
      }
    },
    async reset(key: string): Promise<void> {
      counterKey(prefix, key, '0');
      await backend.reset(counterKey(prefix, key, String(windowAt(readClock(clock)).index)));
    },
  };
}
