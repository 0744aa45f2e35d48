/**
 * Lossless JSON for stored idempotent responses, and the canonical request hash.
 *
 * `bigint` and `Date` do not survive `JSON.stringify`; the stored form tags them (`{"$bigint":"12"}`,
 * `{"$date":"2026-01-01T00:00:00.000Z"}`) and {@link decodeStored} turns them back, so a replayed result is
 * deep-equal to the first one.
 */
import { createHash } from 'node:crypto';
import { assert } from './assert.js';

/** Nesting depth the codec walks before it refuses (results are a few levels deep). */
export const storedDepthMax = 32;

/**
 * Encodes a result into JSON-safe values, tagging bigints and dates.
 *
 * @example
 * encodeStored({ amountMicro: 5n }); // { amountMicro: { $bigint: '5' } }
 */
export function encodeStored(value: unknown, depth = 0): unknown {
  assert(depth <= storedDepthMax, 'stored value nests too deep');
  if (typeof value === 'bigint') return { $bigint: value.toString() };
  if (value instanceof Date) return { $date: value.toISOString() };
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    assert(Number.isFinite(value), 'stored numbers must be finite');
    return value;
  }
  if (Array.isArray(value)) return value.map((item) => encodeStored(item, depth + 1));
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
      if (item === undefined) continue;
      assert(!key.startsWith('$'), 'stored object keys must not start with $', { key });
      out[key] = encodeStored(item, depth + 1);
    }
    return out;
  }
  assert(false, `cannot store a ${typeof value}`);
}

/**
 * Decodes what {@link encodeStored} produced.
 *
 * @example
 * decodeStored({ amountMicro: { $bigint: '5' } }); // { amountMicro: 5n }
 */
export function decodeStored(value: unknown, depth = 0): unknown {
  assert(depth <= storedDepthMax, 'stored value nests too deep');
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item) => decodeStored(item, depth + 1));
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  if (keys.length === 1 && typeof record.$bigint === 'string') return BigInt(record.$bigint);
  if (keys.length === 1 && typeof record.$date === 'string') return new Date(record.$date);
  const out: Record<string, unknown> = {};
  for (const key of keys) out[key] = decodeStored(record[key], depth + 1);
  return out;
}

/**
 * Canonical JSON: object keys sorted, `undefined` members left out, bigints as `"123n"`-free base-10 strings
 * tagged by type, dates as ISO strings. Two inputs that mean the same request give the same text.
 *
 * @example
 * canonicalJson({ b: 1n, a: 'x' }); // '{"a":"x","b":{"$bigint":"1"}}'
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(encodeStored(value)));
}

function sortKeys(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(sortKeys);
  const record = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(record).sort()) out[key] = sortKeys(record[key]);
  return out;
}

/**
 * The request hash of an idempotent operation: sha256 (hex) of the canonical JSON of its normalized input.
 *
 * @example
 * requestHash({ accountId: 'acc_1', amountMicro: 5n });
 */
export function requestHash(input: unknown): string {
  return createHash('sha256').update(canonicalJson(input)).digest('hex');
}
