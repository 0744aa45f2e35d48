/**
 * The reference model's own pricing of a usage (issue 11), written from the rule and not from `meters/pricing.ts`:
 * exact rationals (reduced fractions of bigints), so that a difference with the ledger points at one of the two.
 *
 *   cost = min(⌈ Σ_d units_d × priceMicro_d / perUnits_d ⌉, maxCostMicro)
 *
 * The itemized lines are each line's exact value rounded down, plus one micro to the lines with the largest
 * fractional parts (ties: the meter's order) until they sum to the rounded-up subtotal. Not exported from the package.
 */

/** A unit price as the model keeps it (`unitsMax` resolved). */
export interface ModelUnitPrice {
  dimension: string;
  priceMicro: bigint;
  perUnits: bigint;
  unitsMax: bigint;
}

/** One itemized line, the shape the ledger answers. */
export interface ModelPricingLine {
  dimension: string;
  units: bigint;
  priceMicro: bigint;
  perUnits: bigint;
  amountMicro: bigint;
}

/** A priced usage, the shape the ledger answers (`Pricing`). */
export interface ModelPricing {
  meterId: string;
  meterVersion: number;
  lines: ModelPricingLine[];
  subtotalMicro: bigint;
  totalMicro: bigint;
  capped: boolean;
}

/** Why a usage does not price: the code the ledger must answer with. */
export type ModelPricingRefusal =
  | { code: 'unknown_dimension'; dimension: string }
  | { code: 'invalid_usage'; dimension: string };

/** A non-negative rational `num / den` in lowest terms (den > 0). */
interface Ratio {
  num: bigint;
  den: bigint;
}

const gcd = (a: bigint, b: bigint): bigint => {
  let x = a;
  let y = b;
  while (y !== 0n) [x, y] = [y, x % y];
  return x;
};
const ratio = (num: bigint, den: bigint): Ratio => {
  const g = gcd(num, den);
  return g === 0n ? { num: 0n, den: 1n } : { num: num / g, den: den / g };
};
const add = (a: Ratio, b: Ratio): Ratio => ratio(a.num * b.den + b.num * a.den, a.den * b.den);
const floorOf = (r: Ratio): bigint => r.num / r.den;
const ceilOf = (r: Ratio): bigint => (r.num % r.den === 0n ? r.num / r.den : r.num / r.den + 1n);
/** The part after the decimal point: r − ⌊r⌋. */
const fractionOf = (r: Ratio): Ratio => ratio(r.num % r.den, r.den);
/** a > b for rationals (cross-multiplied; denominators are positive). */
const greater = (a: Ratio, b: Ratio): boolean => a.num * b.den > b.num * a.den;

/** Largest amount the ledger stores (10^15 micro-USD). */
export const modelAmountMicroMax = 10n ** 15n;

/**
 * Why the ledger refuses these unit prices for a meter, read in its order: none; then, price by price, a dimension
 * named twice or a line whose cost at `unitsMax` passes 10^15 micro; then all lines at `unitsMax` together passing it.
 *
 * @example
 * modelUnitPricesRefusal([{ dimension: 'image', priceMicro: 10n ** 15n, perUnits: 1n, unitsMax: 2n }]); // 'meter_price_overflow'
 */
export function modelUnitPricesRefusal(
  prices: readonly ModelUnitPrice[],
): 'meter_prices_empty' | 'meter_dimension_duplicate' | 'meter_price_overflow' | null {
  if (prices.length === 0) return 'meter_prices_empty';
  const seen = new Set<string>();
  let total: Ratio = { num: 0n, den: 1n };
  for (const price of prices) {
    if (seen.has(price.dimension)) return 'meter_dimension_duplicate';
    seen.add(price.dimension);
    const line = ratio(price.unitsMax * price.priceMicro, price.perUnits);
    if (ceilOf(line) > modelAmountMicroMax) return 'meter_price_overflow';
    total = add(total, line);
  }
  return ceilOf(total) > modelAmountMicroMax ? 'meter_price_overflow' : null;
}

/** The meter version a usage is priced under (only what pricing needs). */
export interface ModelPricedMeter {
  id: string;
  version: number;
  maxCostMicro: bigint | null;
  unitPrices: readonly ModelUnitPrice[];
}

/** The dimensions a usage names that the meter does not price, or units outside 0..unitsMax. */
function refusalOf(meter: ModelPricedMeter, usage: Readonly<Record<string, bigint>>): ModelPricingRefusal | null {
  const known = new Set(meter.unitPrices.map((p) => p.dimension));
  for (const dimension of Object.keys(usage)) {
    if (!known.has(dimension)) return { code: 'unknown_dimension', dimension };
  }
  for (const price of meter.unitPrices) {
    const units = usage[price.dimension];
    if (units !== undefined && (units < 0n || units > price.unitsMax)) {
      return { code: 'invalid_usage', dimension: price.dimension };
    }
  }
  return null;
}

/**
 * Prices a usage under a meter version, or answers why it cannot. Lines come in the meter's order, one per
 * dimension the usage names (0 units included).
 *
 * @example
 * const priced = modelPriceUsage(meter, { output_tokens: 340n });
 * if ('code' in priced) throw new Error(priced.code);
 */
export function modelPriceUsage(
  meter: ModelPricedMeter,
  usage: Readonly<Record<string, bigint>>,
): ModelPricing | ModelPricingRefusal {
  const refusal = refusalOf(meter, usage);
  if (refusal !== null) return refusal;
  const named = meter.unitPrices.flatMap((price) => {
    const units = usage[price.dimension];
    return units === undefined ? [] : [{ price, units, exact: ratio(units * price.priceMicro, price.perUnits) }];
  });
  let sum: Ratio = { num: 0n, den: 1n };
  for (const line of named) sum = add(sum, line.exact);
  const subtotalMicro = ceilOf(sum);
  let restMicro = subtotalMicro;
  for (const line of named) restMicro -= floorOf(line.exact);
  // Largest fractional part first; a stable sort keeps the meter's order among equal ones.
  const bumped = named
    .map((line, index) => ({ index, fraction: fractionOf(line.exact) }))
    .filter((draft) => draft.fraction.num > 0n)
    .sort((a, b) => (greater(a.fraction, b.fraction) ? -1 : greater(b.fraction, a.fraction) ? 1 : 0))
    .slice(0, Number(restMicro))
    .map((draft) => draft.index);
  if (bumped.length !== Number(restMicro)) throw new Error(`model pricing: ${restMicro} to give, ${bumped.length}`);
  const capped = meter.maxCostMicro !== null && subtotalMicro > meter.maxCostMicro;
  return {
    meterId: meter.id,
    meterVersion: meter.version,
    lines: named.map((line, index) => ({
      dimension: line.price.dimension,
      units: line.units,
      priceMicro: line.price.priceMicro,
      perUnits: line.price.perUnits,
      amountMicro: floorOf(line.exact) + (bumped.includes(index) ? 1n : 0n),
    })),
    subtotalMicro,
    totalMicro: capped ? (meter.maxCostMicro as bigint) : subtotalMicro,
    capped,
  };
}
