import { InvalidCounterInputError } from './errors.js';
import type { AdvanceOptions, ExpiryOptions } from './ports/counter-backend.js';

/** Longest key accepted, in UTF-8 bytes. */
export const keyBytesMax = 512;
/** Largest counter value (2^53 − 1): exact on every backend, Redis Lua included. */
export const counterValueMax = BigInt(Number.MAX_SAFE_INTEGER);
/** Longest TTL accepted: 10 years. */
export const ttlMsMax = 10 * 365 * 24 * 3600 * 1000;

const encoder = new TextEncoder();

/** Throws `invalid_key` unless `key` is a non-empty string of at most {@link keyBytesMax} bytes. */
export function assertKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || key.length === 0) {
    throw new InvalidCounterInputError('invalid_key', `key must be a non-empty string, got ${JSON.stringify(key)}`);
  }
  // A UTF-16 code unit is at most 3 UTF-8 bytes, so a short key needs no encoding (the hot path of every call).
  if (key.length * 3 <= keyBytesMax) return;
  const bytes = encoder.encode(key).length;
  if (bytes > keyBytesMax) {
    throw new InvalidCounterInputError('invalid_key', `key is ${bytes} bytes; at most ${keyBytesMax} allowed`, {
      details: { bytes, keyBytesMax },
    });
  }
}

/** Throws `invalid_amount` unless `value` is a bigint in [min, counterValueMax]. */
export function assertAmount(name: string, value: unknown, min = 0n): asserts value is bigint {
  if (typeof value !== 'bigint') {
    throw new InvalidCounterInputError(
      'invalid_amount',
      `${name} must be a bigint, got ${typeof value} ${String(value)}`,
    );
  }
  if (value < min || value > counterValueMax) {
    throw new InvalidCounterInputError(
      'invalid_amount',
      `${name} must be in [${min}, ${counterValueMax}], got ${value}`,
      {
        details: { [name]: value.toString() },
      },
    );
  }
}

/** Throws `invalid_expiry` unless exactly one of ttlMs (integer in [1, ttlMsMax]) or expiresAtMs (safe integer) is given. */
export function assertExpiry(options: unknown): asserts options is ExpiryOptions {
  const o = options as Partial<{ ttlMs: unknown; expiresAtMs: unknown }> | undefined;
  const hasTtl = o?.ttlMs !== undefined;
  const hasAt = o?.expiresAtMs !== undefined;
  if (hasTtl === hasAt) {
    throw new InvalidCounterInputError('invalid_expiry', 'exactly one of ttlMs or expiresAtMs is required');
  }
  if (hasTtl) {
    const t = o?.ttlMs;
    if (typeof t !== 'number' || !Number.isInteger(t) || t <= 0 || t > ttlMsMax) {
      throw new InvalidCounterInputError(
        'invalid_expiry',
        `ttlMs must be an integer in [1, ${ttlMsMax}], got ${String(t)}`,
      );
    }
  } else {
    const at = o?.expiresAtMs;
    if (typeof at !== 'number' || !Number.isSafeInteger(at) || at <= 0) {
      throw new InvalidCounterInputError(
        'invalid_expiry',
        `expiresAtMs must be a positive integer epoch ms, got ${String(at)}`,
      );
    }
  }
}

/** Validates {@link AdvanceOptions}: by > 0, floor ≥ 0, max ≥ 0, expiry, expiry mode. */
export function assertAdvanceOptions(options: unknown): asserts options is AdvanceOptions {
  const o = options as Partial<AdvanceOptions> | undefined;
  if (o === undefined || o === null || typeof o !== 'object') {
    throw new InvalidCounterInputError('invalid_option', 'advance options are required');
  }
  assertAmount('by', o.by, 1n);
  if (o.floor !== undefined) assertAmount('floor', o.floor);
  assertAmount('max', o.max);
  if (o.expiry !== undefined && o.expiry !== 'extend' && o.expiry !== 'keep') {
    throw new InvalidCounterInputError(
      'invalid_option',
      `expiry must be "extend" or "keep", got ${JSON.stringify(o.expiry)}`,
    );
  }
  assertExpiry(o);
}

/** Absolute expiry (epoch ms) from options at `nowMs`. */
export function expiryAtMs(options: ExpiryOptions, nowMs: number): number {
  return options.ttlMs !== undefined ? nowMs + options.ttlMs : (options.expiresAtMs as number);
}
