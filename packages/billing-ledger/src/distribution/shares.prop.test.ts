import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { EffectiveRule } from '../rules/effective.js';
import type { PoolShares } from '../types.js';
import { poolOrder, reverseShares, sharesTotal, splitCharge, zeroShares } from './shares.js';

const numRuns = 500;
const chargeArb = fc.bigInt({ min: 0n, max: 10n ** 15n });

/** A valid rule: schema 1 (three pools) or 2 (five pools), bps summing to 10 000. */
const ruleArb: fc.Arbitrary<EffectiveRule> = fc
  .record({
    schemaVersion: fc.constantFrom(1 as const, 2 as const),
    cuts: fc.array(fc.integer({ min: 0, max: 10_000 }), { minLength: 4, maxLength: 4 }),
    version: fc.integer({ min: 1, max: 1000 }),
  })
  .map(({ schemaVersion, cuts, version }) => {
    const sorted = [0, ...cuts.slice(0, schemaVersion === 1 ? 2 : 4).sort((a, b) => a - b), 10_000];
    const parts = sorted.slice(1).map((edge, i) => edge - (sorted[i] as number));
    const [commonsBps, communityBps, foundationBps, referrerBps = 0, treasuryBps = 0] = parts as number[];
    return {
      id: `rule_${version}`,
      version,
      schemaVersion,
      commonsBps: commonsBps as number,
      communityBps: communityBps as number,
      foundationBps: foundationBps as number,
      referrerBps,
      treasuryBps,
    };
  });

describe('splitCharge', () => {
  it('gives non-negative shares that sum exactly to the charge; the foundation exceeds its exact fraction by less than the number of other pools', () => {
    fc.assert(
      fc.property(chargeArb, ruleArb, fc.boolean(), (chargeMicro, rule, hasReferrer) => {
        const shares = splitCharge(chargeMicro, rule, { hasReferrer });
        for (const pool of poolOrder) expect(shares[pool] >= 0n).toBe(true);
        expect(sharesTotal(shares)).toBe(chargeMicro);
        const usesReferrer = rule.schemaVersion === 2 && hasReferrer;
        const foundationBps =
          rule.foundationBps +
          (rule.schemaVersion === 1 ? 0 : usesReferrer ? 0 : rule.referrerBps) +
          (rule.schemaVersion === 1 ? rule.referrerBps + rule.treasuryBps : 0);
        const others = rule.schemaVersion === 1 ? 2n : usesReferrer ? 4n : 3n;
        // foundation − exact fraction, scaled by 10 000 to stay in integers: 0 ≤ excess < others × 10 000.
        const excessScaled = shares.foundation * 10_000n - chargeMicro * BigInt(foundationBps);
        expect(excessScaled >= 0n).toBe(true);
        expect(excessScaled < others * 10_000n).toBe(true);
        if (rule.schemaVersion === 1) expect(shares.referrer + shares.treasury).toBe(0n);
        if (!usesReferrer) expect(shares.referrer).toBe(0n);
      }),
      { numRuns },
    );
  });

  it('splits the seeded rule as DESIGN.md says (commons 500, community 7000, foundation 2500 bps)', () => {
    const rule: EffectiveRule = {
      id: 'rule_initial',
      version: 1,
      schemaVersion: 1,
      commonsBps: 500,
      communityBps: 7000,
      foundationBps: 2500,
      referrerBps: 0,
      treasuryBps: 0,
    };
    expect(splitCharge(1_000_001n, rule, { hasReferrer: true })).toEqual({
      commons: 50_000n,
      community: 700_000n,
      foundation: 250_001n,
      referrer: 0n,
      treasury: 0n,
    });
    expect(splitCharge(0n, rule, { hasReferrer: false })).toEqual(zeroShares());
  });
});

describe('reverseShares', () => {
  it('gives back non-negative shares summing to the amount, never more than a pool has left, and a full reversal in any number of parts nets every pool to zero', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 1n, max: 10n ** 15n }),
        ruleArb,
        fc.boolean(),
        fc.array(fc.integer({ min: 1, max: 1000 }), { minLength: 1, maxLength: 6 }),
        (chargeMicro, rule, hasReferrer, weights) => {
          const charge = splitCharge(chargeMicro, rule, { hasReferrer });
          // Cut the charge into parts (one per refunded lot) proportional to the weights.
          const weightSum = BigInt(weights.reduce((a, b) => a + b, 0));
          const parts: bigint[] = [];
          let rest = chargeMicro;
          for (const [i, weight] of weights.entries()) {
            const part = i === weights.length - 1 ? rest : (chargeMicro * BigInt(weight)) / weightSum;
            parts.push(part);
            rest -= part;
          }
          const reversed: PoolShares = zeroShares();
          for (const part of parts.filter((p) => p > 0n)) {
            const back = reverseShares(part, charge, reversed);
            expect(sharesTotal(back)).toBe(part);
            for (const pool of poolOrder) {
              expect(back[pool] >= 0n).toBe(true);
              reversed[pool] += back[pool];
              expect(reversed[pool] <= charge[pool]).toBe(true);
            }
          }
          expect(reversed).toEqual(charge);
        },
      ),
      { numRuns },
    );
  });

  it('refuses to give back more than is left of a charge', () => {
    const charge = { ...zeroShares(), commons: 10n, foundation: 90n };
    expect(() => reverseShares(101n, charge, zeroShares())).toThrow(/at most what is left/);
    expect(() => reverseShares(1n, charge, charge)).toThrow(/at most what is left/);
  });
});
