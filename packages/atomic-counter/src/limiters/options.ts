import { InvalidCounterInputError } from '../errors.js';
import type { Clock } from '../ports/clock.js';
import type { CounterBackend } from '../ports/counter-backend.js';
import { assertKey, keyBytesMax, ttlMsMax } from '../validate.js';

/** Longest key prefix accepted, in bytes (printable ASCII only). */
export const prefixBytesMax = 64;
/** Longest window, period or refill interval accepted: the longest TTL (10 years). */
export const windowMsMax = ttlMsMax;

/**
 * The smallest `retryAfterMs` of a refusal, in ms. A stale decision (one a retry at once may overturn) says
 * 1 ms, never 0, so the middleware never answers `Retry-After: 0` with a 429.
 */
export const refusalRetryAfterMsMin = 1;

const prefixPattern = /^[\x21-\x7e]+$/;
const encoder = new TextEncoder();

/** Throws `invalid_option` unless `options` is a plain object. */
export function assertOptionsObject(fn: string, options: unknown): void {
  if (options === null || typeof options !== 'object') {
    throw new InvalidCounterInputError('invalid_option', `${fn}() needs an options object, got ${String(options)}`);
  }
}

/** Throws `invalid_option` unless `backend` implements the {@link CounterBackend} methods. */
export function assertBackend(fn: string, backend: unknown): asserts backend is CounterBackend {
  const b = backend as Partial<Record<keyof CounterBackend, unknown>> | null | undefined;
  const methods = ['increment', 'advance', 'get', 'reset', 'setIfAbsent'] as const;
  if (b === null || typeof b !== 'object' || methods.some((m) => typeof b[m] !== 'function')) {
    throw new InvalidCounterInputError('invalid_option', `${fn}(): backend must be a CounterBackend`);
  }
}

/** Throws `invalid_option` unless `clock` has a `nowMs()` method. */
export function assertClock(fn: string, clock: unknown): asserts clock is Clock {
  if (clock === null || typeof clock !== 'object' || typeof (clock as Clock).nowMs !== 'function') {
    throw new InvalidCounterInputError('invalid_option', `${fn}(): clock must have a nowMs() method`);
  }
}

/** Throws `invalid_option` unless `value` is an integer in [1, max]. */
export function assertPositiveInteger(
  fn: string,
  name: string,
  value: unknown,
  max: number = Number.MAX_SAFE_INTEGER,
): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > max) {
    throw new InvalidCounterInputError(
      'invalid_option',
      `${fn}(): ${name} must be an integer in [1, ${max}], got ${String(value)}`,
      {
        details: { [name]: String(value), max },
      },
    );
  }
}

/** Throws `invalid_option` unless `prefix` is 1 to {@link prefixBytesMax} printable ASCII characters. */
export function assertPrefix(fn: string, prefix: unknown): asserts prefix is string {
  if (typeof prefix !== 'string' || prefix.length > prefixBytesMax || !prefixPattern.test(prefix)) {
    throw new InvalidCounterInputError(
      'invalid_option',
      `${fn}(): prefix must be 1 to ${prefixBytesMax} printable ASCII characters without spaces, got ${JSON.stringify(prefix)}`,
    );
  }
}

/**
 * Validates a caller's key and returns `${prefix}:${key}:${suffix}`; throws `invalid_key` when the key is
 * empty, not a string, or too long once the prefix and suffix are added.
 */
export function counterKey(prefix: string, key: unknown, suffix: string): string {
  assertKey(key);
  const full = `${prefix}:${key}:${suffix}`;
  // A UTF-16 code unit is at most 3 UTF-8 bytes: short keys need no encoding (the hot path).
  if (full.length * 3 <= keyBytesMax) return full;
  const bytes = encoder.encode(full).length;
  if (bytes > keyBytesMax) {
    const overhead = bytes - encoder.encode(key).length;
    throw new InvalidCounterInputError(
      'invalid_key',
      `key is ${bytes - overhead} bytes; with the prefix "${prefix}" at most ${keyBytesMax - overhead} allowed`,
      { details: { bytes: bytes - overhead, keyBytesMax: keyBytesMax - overhead } },
    );
  }
  return full;
}

/** Throws `invalid_amount` unless `cost` is an integer in [1, limit]; a larger cost could never be admitted. */
export function assertCost(cost: unknown, limit: number): asserts cost is number {
  if (typeof cost !== 'number' || !Number.isSafeInteger(cost) || cost < 1) {
    throw new InvalidCounterInputError('invalid_amount', `cost must be a positive safe integer, got ${String(cost)}`, {
      details: { cost: String(cost) },
    });
  }
  if (cost > limit) {
    throw new InvalidCounterInputError(
      'invalid_amount',
      `cost ${cost} exceeds the limit ${limit}; it could never be admitted`,
      {
        details: { cost, limit },
      },
    );
  }
}

/** Reads the clock and asserts it returned a non-negative safe integer (epoch ms). */
export function readClock(clock: Clock): number {
  const nowMs = clock.nowMs();
  if (!Number.isSafeInteger(nowMs) || nowMs < 0) {
    throw new InvalidCounterInputError(
      'invalid_option',
      `clock.nowMs() must return a non-negative integer, got ${String(nowMs)}`,
    );
  }
  return nowMs;
}

/** Ceiling of a / b for non-negative bigints, b > 0. */
export function ceilDiv(a: bigint, b: bigint): bigint {
  return (a + b - 1n) / b;
}
