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
  ceilDiv,
  counterKey,
  readClock,
  refusalRetryAfterMsMin,
  windowMsMax,
} from './options.js';

/** Latest clock reading a token bucket must be able to represent: 2200-01-01T00:00:00Z. */
export const tokenBucketClockMsMax = Date.UTC(2200, 0, 1);

/** Options of {@link tokenBucket}. */
export interface TokenBucketOptions {
  /** Where the bucket state lives; share it between instances for a global limit. */
  backend: CounterBackend;
  /** Most tokens the bucket holds (the burst); also the decision's `limit`. A positive safe integer. */
  capacity: number;
  /** `refillTokens` tokens come back every `refillIntervalMs`, continuously (one every interval / refillTokens). */
  refillIntervalMs: number;
  /** Tokens per `refillIntervalMs`; a positive safe integer. Default 1. */
  refillTokens?: number;
  /** Key namespace, 1–64 printable ASCII characters. Default `rl:tb`. */
  prefix?: string;
  /** Time source; pass the same clock to the backend. Default: the wall clock. */
  clock?: Clock;
}

function gcd(a: bigint, b: bigint): bigint {
  let x = a;
  let y = b;
  while (y !== 0n) [x, y] = [y, x % y];
  return x;
}

/**
 * A token bucket rate limiter, implemented as GCRA (generic cell rate algorithm) over one counter per key.
 *
 * The counter holds the theoretical arrival time (TAT) in ticks of `g / refillTokens` ms, where
 * `g = gcd(refillIntervalMs, refillTokens)`, so one token's emission interval is a whole number of ticks and
 * refill is exact: after waiting `k · refillIntervalMs` exactly `k · refillTokens` tokens are back (up to
 * `capacity`). A call is one atomic `advance` with `floor = now`, `by = cost · emission`,
 * `max = now + capacity · emission`: a rejected call is never counted, and over any interval of `d` ms at most
 * `capacity + floor(d · refillTokens / refillIntervalMs)` tokens are admitted under any interleaving.
 * Arithmetic is bigint; the options are rejected when ticks up to {@link tokenBucketClockMsMax} would not fit
 * in 2^53 − 1. A call whose backend round trip outlasts a full refill of the bucket is reported as rejected
 * (its write, if applied, only makes the bucket stricter), with `retryAfterMs` 1: a retry decides afresh.
 *
 * @throws {InvalidCounterInputError} `invalid_option` when an option is missing or out of range.
 * @example
 * // 10 requests of burst, then 5 per second.
 * const limiter = tokenBucket({ backend: memoryBackend(), capacity: 10, refillIntervalMs: 1_000, refillTokens: 5 });
 * const decision = await limiter.consume('ip:203.0.113.7');
 */
export function tokenBucket(options: TokenBucketOptions): RateLimiter {
  const fn = 'tokenBucket';
  assertOptionsObject(fn, options);
  assertBackend(fn, options.backend);
  assertPositiveInteger(fn, 'capacity', options.capacity);
  assertPositiveInteger(fn, 'refillIntervalMs', options.refillIntervalMs, windowMsMax);
  const refillTokens = options.refillTokens ?? 1;
  assertPositiveInteger(fn, 'refillTokens', refillTokens);
  const prefix = options.prefix ?? 'rl:tb';
  assertPrefix(fn, prefix);
  const clock = options.clock ?? systemClock;
  assertClock(fn, clock);
  const { backend, capacity } = options;

  const g = gcd(BigInt(options.refillIntervalMs), BigInt(refillTokens));
  const ticksPerMs = BigInt(refillTokens) / g;
  const emissionTicks = BigInt(options.refillIntervalMs) / g;
  const burstTicks = BigInt(capacity) * emissionTicks;
  // The key keeps living one full burst past the TAT bound, so a slow call never reads a lost TAT.
  if (BigInt(tokenBucketClockMsMax) * ticksPerMs + 2n * burstTicks > counterValueMax) {
    throw new InvalidCounterInputError(
      'invalid_option',
      `${fn}(): capacity ${capacity} with ${refillTokens} tokens per ${options.refillIntervalMs} ms needs more than 53 bits; ` +
        'use a smaller capacity or a refillIntervalMs divisible by more of refillTokens',
      { details: { capacity, refillTokens, refillIntervalMs: options.refillIntervalMs } },
    );
  }

  return {
    algorithm: 'token-bucket',
    limit: capacity,
    async consume(key: string, cost = 1): Promise<RateLimitDecision> {
      const bucketKey = counterKey(prefix, key, 'tat');
      assertCost(cost, capacity);
      const nowMs = readClock(clock);
      const nowTicks = BigInt(nowMs) * ticksPerMs;
      if (nowTicks + 2n * burstTicks > counterValueMax) {
        throw new InvalidCounterInputError(
          'invalid_option',
          `${fn}(): clock reading ${nowMs} is past the supported range`,
        );
      }
      const costTicks = BigInt(cost) * emissionTicks;
      const maxTicks = nowTicks + burstTicks;
      const expiresAtMs = Number(ceilDiv(maxTicks + burstTicks, ticksPerMs));
      const result = await backend.advance(bucketKey, {
        by: costTicks,
        floor: nowTicks,
        max: maxTicks,
        expiresAtMs,
        expiry: 'extend',
      });
      const tat = result.value > nowTicks ? result.value : nowTicks;
      const remaining = Number((maxTicks > tat ? maxTicks - tat : 0n) / emissionTicks);
      const resetAtMs = Number(ceilDiv(tat, ticksPerMs));
      if (result.applied) {
        if (BigInt(readClock(clock)) * ticksPerMs >= maxTicks) {
          // The round trip outlasted a full refill: the decision is stale, refuse it (a retry decides afresh).
          return { allowed: false, limit: capacity, remaining: 0, resetAtMs, retryAfterMs: refusalRetryAfterMsMin };
        }
        return { allowed: true, limit: capacity, remaining, resetAtMs, retryAfterMs: 0 };
      }
      const retryAtMs = Number(ceilDiv(tat + costTicks - burstTicks, ticksPerMs));
      return {
        allowed: false,
        limit: capacity,
        remaining,
        resetAtMs,
        retryAfterMs: Math.max(refusalRetryAfterMsMin, retryAtMs - nowMs),
      };
    },
    async reset(key: string): Promise<void> {
      await backend.reset(counterKey(prefix, key, 'tat'));
    },
  };
}
