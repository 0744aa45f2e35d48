/**
 * Pricing a usage under a meter version. The rule, owned here and nowhere else:
 *
 *   subtotal = ⌈ Σ_d units_d × priceMicro_d / perUnits_d ⌉      (exact rational sum, rounded UP once)
 *   total    = min(subtotal, maxCostMicro)                     (when the meter has a cap)
 *
 * Each itemized line gets its exact value rounded down, and the micro-USD the single round-up adds are given one each
 * to the lines with the largest fractional parts (ties: the meter's order), so the lines sum exactly to the subtotal
 * and every line is its exact value rounded down or up.
 */
import { InvalidUsageError, quoteValue, UnknownDimensionError } from '../errors.js';
import { assert } from '../ledger/assert.js';
import type { Meter, MeterUnitPrice, Pricing, PricingLine, Usage } from './types.js';

function gcd(a: bigint, b: bigint): bigint {
  let x = a;
  let y = b;
  while (y !== 0n) [x, y] = [y, x % y];
  return x;
}

/** Units of one dimension as a bigint, checked: a whole number in `0..unitsMax`. */
function unitsOf(meterId: string, price: MeterUnitPrice, value: unknown): bigint {
  let units: bigint | undefined;
  if (typeof value === 'bigint') units = value;
  else if (typeof value === 'number' && Number.isSafeInteger(value)) units = BigInt(value);
  if (units === undefined || units < 0n || units > price.unitsMax) {
    throw new InvalidUsageError(
      `usage ${price.dimension} ${quoteValue(value)} must be a whole number of units from 0 to ${price.unitsMax}`,
      { details: { meterId, dimension: price.dimension, unitsMax: price.unitsMax.toString() } },
    );
  }
  return units;
}

/**
 * Checks a usage's shape without its meter (before any I/O): a plain object of dimension → whole units ≥ 0 (a
 * safe-integer number or a bigint); answers it with bigint units. The meter's dimensions and `unitsMax` are checked
 * when it is priced.
 *
 * @throws {InvalidUsageError}
 * @example
 * normalizeUsage('usage', { output_tokens: 340 }); // { output_tokens: 340n }
 */
export function normalizeUsage(field: string, value: unknown): Record<string, bigint> {
  const prototype = value === null || typeof value !== 'object' ? undefined : Object.getPrototypeOf(value);
  // A plain object only: a Map, an array or a class instance would read as an empty usage.
  if (prototype !== Object.prototype && prototype !== null) {
    throw new InvalidUsageError(`${field} must be an object of dimension → units, got ${quoteValue(value)}`, {
      details: { field },
    });
  }
  const usage: Record<string, bigint> = {};
  for (const [dimension, units] of Object.entries(value as Record<string, unknown>)) {
    const ok =
      typeof units === 'bigint' ? units >= 0n : typeof units === 'number' && Number.isSafeInteger(units) && units >= 0;
    if (!ok) {
      throw new InvalidUsageError(`${field} ${dimension} ${quoteValue(units)} must be a whole number of units ≥ 0`, {
        details: { field: `${field}.${dimension}`, dimension },
      });
    }
    usage[dimension] = BigInt(units as bigint | number);
  }
  return usage;
}

/**
 * Checks a usage against a meter: an object whose keys are dimensions the meter prices, each a whole number of units
 * (a safe-integer number or a bigint) in `0..unitsMax`. Answers the units per priced dimension named, in the meter's
 * order.
 *
 * @throws {InvalidUsageError} when the usage is not such an object or a value is out of bounds.
 * @throws {UnknownDimensionError} when it names a dimension the meter does not price.
 * @example
 * const units = parseUsage(meter, { output_tokens: 340 }); // [[price, 340n]]
 */
export function parseUsage(meter: Meter, usage: unknown): [MeterUnitPrice, bigint][] {
  const prototype = usage === null || typeof usage !== 'object' ? undefined : Object.getPrototypeOf(usage);
  // A plain object only: a Map, an array or a class instance would price as an empty usage.
  if (prototype !== Object.prototype && prototype !== null) {
    throw new InvalidUsageError(`usage must be an object of dimension → units, got ${quoteValue(usage)}`, {
      details: { meterId: meter.id },
    });
  }
  const record = usage as Record<string, unknown>;
  const known = new Map(meter.unitPrices.map((price) => [price.dimension, price]));
  for (const dimension of Object.keys(record)) {
    if (!known.has(dimension)) {
      throw new UnknownDimensionError({ meterId: meter.id, dimension, knownDimensions: [...known.keys()] });
    }
  }
  const named: [MeterUnitPrice, bigint][] = [];
  for (const price of meter.unitPrices) {
    if (Object.hasOwn(record, price.dimension)) named.push([price, unitsOf(meter.id, price, record[price.dimension])]);
  }
  return named;
}

/**
 * Prices a usage under a meter version (see the module comment for the rounding): never negative, monotonic in every
 * dimension, above the exact value by less than 1 micro-USD before the cap, lines summing exactly to the subtotal.
 *
 * @throws {InvalidUsageError}
 * @throws {UnknownDimensionError}
 * @example
 * const { totalMicro, lines } = priceUsage(meter, { input_tokens: 1200, output_tokens: 340 });
 */
export function priceUsage(meter: Meter, usage: Usage): Pricing {
  const named = parseUsage(meter, usage);
  // Exact sum as numerator / denominator, the denominator the lcm of the named dimensions' perUnits.
  let denominator = 1n;
  for (const [price] of named) denominator = (denominator / gcd(denominator, price.perUnits)) * price.perUnits;
  let numerator = 0n;
  const drafts = named.map(([price, units], index) => {
    const exact = units * price.priceMicro;
    const floorMicro = exact / price.perUnits;
    const fraction = (exact % price.perUnits) * (denominator / price.perUnits);
    numerator += exact * (denominator / price.perUnits);
    return { price, units, floorMicro, fraction, index };
  });
  const subtotalMicro = (numerator + denominator - 1n) / denominator;
  let restMicro = subtotalMicro;
  for (const draft of drafts) restMicro -= draft.floorMicro;
  assert(restMicro >= 0n && restMicro <= BigInt(drafts.length), 'rounding up once adds at most one micro per line', {
    meterId: meter.id,
  });
  const bump = new Set(
    drafts
      .filter((draft) => draft.fraction > 0n)
      .sort((a, b) => (a.fraction === b.fraction ? a.index - b.index : a.fraction > b.fraction ? -1 : 1))
      .slice(0, Number(restMicro))
      .map((draft) => draft.index),
  );
  assert(bump.size === Number(restMicro), 'only lines with a fraction are rounded up', { meterId: meter.id });
  const lines: PricingLine[] = drafts.map((draft) => ({
    dimension: draft.price.dimension,
    units: draft.units,
    priceMicro: draft.price.priceMicro,
    perUnits: draft.price.perUnits,
    amountMicro: draft.floorMicro + (bump.has(draft.index) ? 1n : 0n),
  }));
  const capped = meter.maxCostMicro !== null && subtotalMicro > meter.maxCostMicro;
  const totalMicro = capped && meter.maxCostMicro !== null ? meter.maxCostMicro : subtotalMicro;
  return { meterId: meter.id, meterVersion: meter.version, lines, subtotalMicro, totalMicro, capped };
}

/**
 * The hold a reserve through this meter places: the larger of the meter's `holdMicro` and the estimate's cost,
 * capped at `maxCostMicro`.
 *
 * @throws {InvalidUsageError}
 * @throws {UnknownDimensionError}
 * @example
 * const holdMicro = holdFor(meter, { output_tokens: 4000 });
 */
export function holdFor(meter: Meter, estimate: Usage | undefined): bigint {
  const estimateMicro = estimate === undefined ? 0n : priceUsage(meter, estimate).totalMicro;
  const holdMicro = estimateMicro > meter.holdMicro ? estimateMicro : meter.holdMicro;
  return meter.maxCostMicro !== null && holdMicro > meter.maxCostMicro ? meter.maxCostMicro : holdMicro;
}
