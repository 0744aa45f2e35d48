/**
 * Property tests of the pricing rule (src/meters/pricing.ts) against an exact-rational reference computed here in
 * bigint: subtotal = ⌈Σ units × priceMicro / perUnits⌉, total = min(subtotal, maxCostMicro).
 *
 * Meters are built directly (not through normalizeMeterInput) so the arithmetic is exercised on every combination of
 * the bounded generators, including ones whose cost at unitsMax the price book would refuse; validate.test.ts checks
 * that an accepted meter never prices above 10^15.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { holdFor, priceUsage } from './pricing.js';
import type { Meter, MeterUnitPrice, Usage } from './types.js';

const numRuns = 500;

const dimensionsMax = 8;
const priceMicroMax = 1_000_000_000n;
const perUnitsMaxTested = 1_000_000_000n;
const unitsMaxTested = 1_000_000_000n;

const dimensionArb = fc.stringMatching(/^[a-z][a-z0-9_]{0,11}$/);
// Small prices and perUnits make equal fractional parts (ties between lines) common.
const priceMicroArb = fc.oneof(
  fc.constant(0n),
  fc.bigInt({ min: 1n, max: 3n }),
  fc.bigInt({ min: 0n, max: 1000n }),
  fc.bigInt({ min: 0n, max: priceMicroMax }),
);
const perUnitsArb = fc.oneof(
  fc.constantFrom(1n, 1000n, 1_000_000n, perUnitsMaxTested),
  fc.constantFrom(2n, 3n, 4n),
  fc.bigInt({ min: 1n, max: 1000n }),
  fc.bigInt({ min: 1n, max: perUnitsMaxTested }),
);
const unitsMaxArb = fc.oneof(fc.constant(unitsMaxTested), fc.bigInt({ min: 1n, max: unitsMaxTested }));

const unitPricesArb: fc.Arbitrary<MeterUnitPrice[]> = fc
  .uniqueArray(dimensionArb, { minLength: 1, maxLength: dimensionsMax })
  .chain((dimensions) =>
    fc.tuple(
      ...dimensions.map((dimension) =>
        fc
          .record({ priceMicro: priceMicroArb, perUnits: perUnitsArb, unitsMax: unitsMaxArb })
          .map((price) => ({ dimension, ...price })),
      ),
    ),
  );

const meterArb: fc.Arbitrary<Meter> = unitPricesArb.chain((unitPrices) =>
  fc
    .record({
      holdMicro: fc.oneof(fc.constant(1n), fc.bigInt({ min: 1n, max: 1_000_000_000_000n })),
      capMicro: fc.option(fc.oneof(fc.constant(0n), fc.bigInt({ min: 0n, max: 1_000_000_000_000_000n })), {
        nil: null,
      }),
    })
    .map(({ holdMicro, capMicro }) => ({
      id: 'm',
      version: 1,
      poolId: 'general',
      billingMode: 'live' as const,
      holdMicro,
      // maxCostMicro ≥ holdMicro, as normalizeMeterInput requires.
      maxCostMicro: capMicro === null ? null : holdMicro + capMicro,
      ttlSeconds: null,
      unitPrices,
      effectiveAt: new Date(0),
      createdBy: 'prop',
      createdAt: new Date(0),
    })),
);

function unitsArb(unitsMax: bigint): fc.Arbitrary<bigint> {
  return fc.oneof(
    fc.constantFrom(0n, 1n, unitsMax),
    fc.bigInt({ min: 0n, max: unitsMax < 3n ? unitsMax : 3n }),
    fc.bigInt({ min: 0n, max: unitsMax < 1000n ? unitsMax : 1000n }),
    fc.bigInt({ min: 0n, max: unitsMax }),
  );
}

/** Units per dimension, each dimension of the meter present or not; values as bigint or as safe-integer numbers. */
type UsageMap = Record<string, bigint>;

function usageArb(meter: Meter): fc.Arbitrary<UsageMap> {
  const model: Record<string, fc.Arbitrary<bigint>> = {};
  for (const price of meter.unitPrices) model[price.dimension] = unitsArb(price.unitsMax);
  return fc.record(model, { requiredKeys: [] }) as fc.Arbitrary<UsageMap>;
}

function asWire(usage: UsageMap, asNumber: boolean[]): Usage {
  const out: Record<string, bigint | number> = {};
  Object.keys(usage).forEach((dimension, index) => {
    const units = usage[dimension] as bigint;
    out[dimension] = asNumber[index % asNumber.length] ? Number(units) : units;
  });
  return out;
}

/** Exact Σ units × priceMicro / perUnits as numerator / denominator (denominator the product of the perUnits). */
function exactOf(meter: Meter, usage: UsageMap): { numerator: bigint; denominator: bigint } {
  let denominator = 1n;
  for (const price of meter.unitPrices) denominator *= price.perUnits;
  let numerator = 0n;
  for (const price of meter.unitPrices) {
    const units = usage[price.dimension] ?? 0n;
    numerator += units * price.priceMicro * (denominator / price.perUnits);
  }
  return { numerator, denominator };
}

function ceilOf({ numerator, denominator }: { numerator: bigint; denominator: bigint }): bigint {
  return (numerator + denominator - 1n) / denominator;
}

function costOf(meter: Meter, usage: UsageMap): bigint {
  const subtotal = ceilOf(exactOf(meter, usage));
  return meter.maxCostMicro !== null && subtotal > meter.maxCostMicro ? meter.maxCostMicro : subtotal;
}

const meterAndUsage = meterArb.chain((meter) => fc.tuple(fc.constant(meter), usageArb(meter)));

describe('priceUsage properties (exact rational reference, bounded generators)', () => {
  it('never negative: total, subtotal and every line are ≥ 0', () => {
    fc.assert(
      fc.property(meterAndUsage, ([meter, usage]) => {
        const pricing = priceUsage(meter, usage);
        expect(pricing.totalMicro >= 0n).toBe(true);
        expect(pricing.subtotalMicro >= 0n).toBe(true);
        for (const line of pricing.lines) expect(line.amountMicro >= 0n).toBe(true);
      }),
      { numRuns },
    );
  });

  it('rounds up once: subtotal − exact value ∈ [0, 1) micro (subtotal × D ≥ N and (subtotal − 1) × D < N)', () => {
    fc.assert(
      fc.property(meterAndUsage, ([meter, usage]) => {
        const { subtotalMicro } = priceUsage(meter, usage);
        const { numerator, denominator } = exactOf(meter, usage);
        expect(subtotalMicro * denominator >= numerator).toBe(true);
        expect((subtotalMicro - 1n) * denominator < numerator).toBe(true);
      }),
      { numRuns },
    );
  });

  it('total = min(subtotal, maxCostMicro) and capped says whether the cap lowered it', () => {
    fc.assert(
      fc.property(meterAndUsage, ([meter, usage]) => {
        const pricing = priceUsage(meter, usage);
        const capped = meter.maxCostMicro !== null && pricing.subtotalMicro > meter.maxCostMicro;
        expect(pricing.capped).toBe(capped);
        expect(pricing.totalMicro).toBe(capped ? meter.maxCostMicro : pricing.subtotalMicro);
        expect(pricing.totalMicro).toBe(costOf(meter, usage));
      }),
      { numRuns },
    );
  });

  it('lines sum exactly to the subtotal, each its exact value floored or ceiled, in the meter order', () => {
    fc.assert(
      fc.property(meterAndUsage, ([meter, usage]) => {
        const pricing = priceUsage(meter, usage);
        const named = meter.unitPrices.filter((price) => Object.hasOwn(usage, price.dimension));
        expect(pricing.lines.map((line) => line.dimension)).toEqual(named.map((price) => price.dimension));
        let sum = 0n;
        for (const line of pricing.lines) {
          const price = named.find((p) => p.dimension === line.dimension) as MeterUnitPrice;
          expect(line.units).toBe(usage[line.dimension]);
          expect(line.priceMicro).toBe(price.priceMicro);
          expect(line.perUnits).toBe(price.perUnits);
          const exact = line.units * line.priceMicro;
          const floor = exact / line.perUnits;
          const ceil = (exact + line.perUnits - 1n) / line.perUnits;
          expect(line.amountMicro === floor || line.amountMicro === ceil).toBe(true);
          sum += line.amountMicro;
        }
        expect(sum).toBe(pricing.subtotalMicro);
      }),
      { numRuns },
    );
  });

  it('the round-up micros go to the largest fractional parts (ties: the meter order)', () => {
    fc.assert(
      fc.property(meterAndUsage, ([meter, usage]) => {
        const lines = priceUsage(meter, usage).lines.map((line, index) => {
          const exact = line.units * line.priceMicro;
          return {
            index,
            remainder: exact % line.perUnits,
            perUnits: line.perUnits,
            up: line.amountMicro > exact / line.perUnits,
          };
        });
        for (const up of lines.filter((line) => line.up)) {
          expect(up.remainder > 0n).toBe(true);
          for (const down of lines.filter((line) => !line.up && line.remainder > 0n)) {
            // up.remainder / up.perUnits ≥ down.remainder / down.perUnits, and on a tie the earlier line goes up.
            const upSide = up.remainder * down.perUnits;
            const downSide = down.remainder * up.perUnits;
            expect(upSide > downSide || (upSide === downSide && up.index < down.index)).toBe(true);
          }
        }
      }),
      { numRuns },
    );
  });

  it('monotonic in every dimension: adding units to any one dimension never lowers subtotal or total', () => {
    const arb = meterAndUsage.chain(([meter, usage]) =>
      fc
        .nat({ max: meter.unitPrices.length - 1 })
        .chain((index) => {
          const price = meter.unitPrices[index] as MeterUnitPrice;
          const room = price.unitsMax - (usage[price.dimension] ?? 0n);
          return fc.tuple(fc.constant(price.dimension), fc.bigInt({ min: 0n, max: room }));
        })
        .map(([dimension, extra]) => ({ meter, usage, dimension, extra })),
    );
    fc.assert(
      fc.property(arb, ({ meter, usage, dimension, extra }) => {
        const before = priceUsage(meter, usage);
        const after = priceUsage(meter, { ...usage, [dimension]: (usage[dimension] ?? 0n) + extra });
        expect(after.subtotalMicro >= before.subtotalMicro).toBe(true);
        expect(after.totalMicro >= before.totalMicro).toBe(true);
      }),
      { numRuns },
    );
  });

  it('a usage split a + b: subtotal(a+b) ≤ subtotal(a) + subtotal(b) ≤ subtotal(a+b) + 1 (rounding once vs twice)', () => {
    const arb = meterArb.chain((meter) =>
      usageArb(meter).chain((whole) => {
        const parts: Record<string, fc.Arbitrary<bigint>> = {};
        for (const dimension of Object.keys(whole)) parts[dimension] = fc.bigInt({ min: 0n, max: whole[dimension] });
        return fc.record(parts).map((a) => {
          const b: UsageMap = {};
          for (const dimension of Object.keys(whole)) {
            b[dimension] = (whole[dimension] as bigint) - (a[dimension] as bigint);
          }
          return { meter, whole, a: a as UsageMap, b };
        });
      }),
    );
    fc.assert(
      fc.property(arb, ({ meter, whole, a, b }) => {
        const once = priceUsage(meter, whole).subtotalMicro;
        const twice = priceUsage(meter, a).subtotalMicro + priceUsage(meter, b).subtotalMicro;
        expect(once <= twice).toBe(true);
        expect(twice <= once + 1n).toBe(true);
      }),
      { numRuns },
    );
  });

  it('the order of the usage object and number vs bigint units do not change the result', () => {
    const arb = meterAndUsage.chain(([meter, usage]) =>
      fc
        .tuple(
          fc.shuffledSubarray(Object.keys(usage), { minLength: Object.keys(usage).length }),
          fc.array(fc.boolean(), { minLength: 1, maxLength: dimensionsMax }),
        )
        .map(([order, asNumber]) => ({ meter, usage, order, asNumber })),
    );
    fc.assert(
      fc.property(arb, ({ meter, usage, order, asNumber }) => {
        const reordered: UsageMap = {};
        for (const dimension of order) reordered[dimension] = usage[dimension] as bigint;
        expect(Object.keys(reordered)).toEqual(order);
        const expected = priceUsage(meter, usage);
        expect(priceUsage(meter, reordered)).toEqual(expected);
        expect(priceUsage(meter, asWire(reordered, asNumber))).toEqual(expected);
      }),
      { numRuns },
    );
  });
});

describe('holdFor properties', () => {
  it('holdFor = min(max(holdMicro, cost(estimate)), maxCostMicro) and ≥ 1', () => {
    const arb = meterArb.chain((meter) => fc.tuple(fc.constant(meter), fc.option(usageArb(meter), { nil: undefined })));
    fc.assert(
      fc.property(arb, ([meter, estimate]) => {
        const costMicro = estimate === undefined ? 0n : costOf(meter, estimate);
        const larger = costMicro > meter.holdMicro ? costMicro : meter.holdMicro;
        const expected = meter.maxCostMicro !== null && larger > meter.maxCostMicro ? meter.maxCostMicro : larger;
        const holdMicro = holdFor(meter, estimate);
        expect(holdMicro).toBe(expected);
        expect(holdMicro >= 1n).toBe(true);
        expect(holdMicro >= meter.holdMicro).toBe(true);
        if (meter.maxCostMicro !== null) expect(holdMicro <= meter.maxCostMicro).toBe(true);
      }),
      { numRuns },
    );
  });
});
