import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidAmountError, InvalidArgumentError } from '../errors.js';
import { splitPartsMax } from '../limits.js';
import { bpsTotal, splitBps } from './split.js';

const numRuns = 500;

/** 1..8 parts with integer bps summing to 10 000 (cut points on [0, 10 000]), and the index of the remainder part. */
const sharesArb = fc.array(fc.integer({ min: 0, max: bpsTotal }), { minLength: 0, maxLength: 7 }).chain((cuts) => {
  const points = [0, ...cuts.sort((a, b) => a - b), bpsTotal];
  const bps = points.slice(1).map((p, i) => p - (points[i] as number));
  const shares = Object.fromEntries(bps.map((b, i) => [`part${i}`, b]));
  return fc.record({ shares: fc.constant(shares), remainderTo: fc.constantFrom(...Object.keys(shares)) });
});

const amountArb = fc.oneof(fc.bigInt({ min: 0n, max: 10_000n }), fc.bigInt({ min: 0n, max: 10n ** 18n }));

describe('splitBps', () => {
  it('splits an example with the remainder to the named part', () => {
    expect(splitBps(1_000_001n, { commons: 3000, community: 2000, foundation: 5000 }, 'foundation')).toEqual({
      commons: 300_000n,
      community: 200_000n,
      foundation: 500_001n,
    });
    expect(splitBps(7n, { a: 3333, b: 3333, c: 3334 }, 'a')).toEqual({ a: 3n, b: 2n, c: 2n });
    expect(splitBps(0n, { a: 10_000 }, 'a')).toEqual({ a: 0n });
  });

  it('shares are ≥ 0, floor(amount × bps / 10 000) except the remainder, and sum exactly to the amount', () => {
    fc.assert(
      fc.property(amountArb, sharesArb, (amountMicro, { shares, remainderTo }) => {
        const parts = splitBps(amountMicro, shares, remainderTo);
        expect(Object.keys(parts)).toEqual(Object.keys(shares));
        let sum = 0n;
        for (const [name, part] of Object.entries(parts)) {
          expect(part >= 0n).toBe(true);
          sum += part;
          if (name !== remainderTo) {
            expect(part).toBe((amountMicro * BigInt(shares[name] as number)) / 10_000n);
          }
        }
        expect(sum).toBe(amountMicro);
      }),
      { numRuns },
    );
  });

  it('the remainder part exceeds its exact fraction by less than the number of other parts', () => {
    fc.assert(
      fc.property(amountArb, sharesArb, (amountMicro, { shares, remainderTo }) => {
        const parts = splitBps(amountMicro, shares, remainderTo);
        const others = BigInt(Object.keys(shares).length - 1);
        // excess = remainder − amount × bps / 10 000, compared in units of 1/10 000.
        const excessScaled =
          (parts[remainderTo] as bigint) * 10_000n - amountMicro * BigInt(shares[remainderTo] as number);
        expect(excessScaled >= 0n).toBe(true);
        if (others === 0n) expect(excessScaled).toBe(0n);
        else expect(excessScaled < others * 10_000n).toBe(true);
      }),
      { numRuns },
    );
  });

  it('refuses bad amounts', () => {
    expect(() => splitBps(-1n, { a: 10_000 }, 'a')).toThrow(InvalidAmountError);
    expect(() => splitBps(5 as unknown as bigint, { a: 10_000 }, 'a')).toThrow(InvalidAmountError);
  });

  it('refuses shares that do not sum to 10 000, bad bps, too many parts, or an unknown remainder part', () => {
    const bad: Array<[Record<string, number>, string]> = [
      [{ a: 5000, b: 4999 }, 'a'],
      [{ a: 5000, b: 5001 }, 'a'],
      [{ a: -1, b: 10_001 }, 'a'],
      [{ a: 5000.5, b: 4999.5 }, 'a'],
      [{ a: Number.NaN, b: 10_000 }, 'a'],
      [{ a: 10_000 }, 'b'],
      [{ a: 10_000 }, 'toString'],
      [{}, 'a'],
      [Object.fromEntries(Array.from({ length: splitPartsMax + 1 }, (_, i) => [`p${i}`, i === 0 ? 10_000 : 0])), 'p0'],
    ];
    for (const [shares, remainderTo] of bad) {
      expect(() => splitBps(100n, shares, remainderTo)).toThrow(InvalidArgumentError);
    }
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ minLength: 1, maxLength: 4 }), fc.integer({ min: 0, max: bpsTotal }), {
          minKeys: 1,
          maxKeys: 6,
        }),
        (shares) => {
          const sum = Object.values(shares).reduce((a, b) => a + b, 0);
          fc.pre(sum !== bpsTotal);
          expect(() => splitBps(100n, shares, Object.keys(shares)[0] as string)).toThrow(InvalidArgumentError);
        },
      ),
      { numRuns },
    );
  });
});
