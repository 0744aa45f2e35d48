import { describe, expect, it } from 'vitest';
import { canonicalJson, decodeStored, encodeStored, requestHash } from './codec.js';
import { decodeCursor, encodeCursor } from './cursor.js';

describe('stored response codec', () => {
  it('round-trips bigints and dates inside objects and arrays', () => {
    const value = {
      a: 1n,
      b: [new Date('2026-01-01T00:00:00.123Z'), { c: 10n ** 15n, d: null, e: 'x', f: true, g: 1.5 }],
      skipped: undefined,
    };
    const stored = JSON.parse(JSON.stringify(encodeStored(value)));
    expect(decodeStored(stored)).toEqual({
      a: 1n,
      b: [new Date('2026-01-01T00:00:00.123Z'), { c: 10n ** 15n, d: null, e: 'x', f: true, g: 1.5 }],
    });
  });

  it('refuses what it cannot store losslessly', () => {
    expect(() => encodeStored({ $bigint: '1' })).toThrow(/must not start with \$/);
    expect(() => encodeStored(Number.NaN)).toThrow(/finite/);
    expect(() => encodeStored(() => 1)).toThrow(/cannot store/);
  });

  it('hashes the canonical form: key order does not matter, values do', () => {
    expect(canonicalJson({ b: 1n, a: 'x' })).toBe('{"a":"x","b":{"$bigint":"1"}}');
    expect(requestHash({ a: 1n, b: 'x' })).toBe(requestHash({ b: 'x', a: 1n }));
    expect(requestHash({ a: 1n })).not.toBe(requestHash({ a: 2n }));
    expect(requestHash({ a: 1n })).not.toBe(requestHash({ a: '1' }));
    expect(requestHash({ a: 1n })).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('cursors', () => {
  it('round-trips and rejects anything it did not issue', () => {
    expect(decodeCursor('e', encodeCursor('e', 42n))).toBe(42n);
    expect(decodeCursor('v', encodeCursor('v', 2n ** 63n - 1n))).toBe(2n ** 63n - 1n);
    expect(decodeCursor('e', undefined)).toBeNull();
    expect(decodeCursor('e', null)).toBeNull();
    const forged = [
      '',
      'not base64!',
      encodeCursor('v', 1n),
      Buffer.from('e1:0').toString('base64url'),
      Buffer.from('e1:01').toString('base64url'),
      Buffer.from('e1:-1').toString('base64url'),
      Buffer.from(`e1:${2n ** 63n}`).toString('base64url'),
      Buffer.from('e2:1').toString('base64url'),
      `${encodeCursor('e', 1n)}A`,
      42,
    ];
    for (const cursor of forged)
      expect(() => decodeCursor('e', cursor)).toThrow(expect.objectContaining({ code: 'invalid_cursor' }));
  });
});
