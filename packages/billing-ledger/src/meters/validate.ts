/**
 * Input rules of the price book: a meter version's terms and prices are checked before any I/O.
 */
import {
  InvalidAmountError,
  InvalidArgumentError,
  MeterDimensionDuplicateError,
  MeterPriceOverflowError,
  MeterPricesEmptyError,
  quoteValue,
} from '../errors.js';
import { generalPoolId } from '../ledger/lots.js';
import { assertAmountMicro, assertBillingMode, assertName, assertObject } from '../ledger/validate.js';
import {
  amountMicroMax,
  dimensionPattern,
  meterTtlSecondsMax,
  perUnitsMax,
  unitPricesPerMeterMax,
  usageUnitsLimitMax,
  usageUnitsMaxDefault,
} from '../limits.js';
import { assertActor } from '../rules/validate.js';
import type { MeterInput, MeterUnitPrice } from './types.js';

/** A meter version as validated, before its version number and effective time are assigned. */
export interface NormalizedMeter {
  id: string;
  poolId: string;
  billingMode: MeterInput['billingMode'] & string;
  holdMicro: bigint;
  maxCostMicro: bigint | null;
  ttlSeconds: number | null;
  unitPrices: MeterUnitPrice[];
  effectiveAt: Date | null;
  createdBy: string;
}

function bigintIn(field: string, value: unknown, min: bigint, max: bigint): bigint {
  if (typeof value !== 'bigint' || value < min || value > max) {
    throw new InvalidArgumentError(`${field} ${quoteValue(value)} must be a bigint from ${min} to ${max}`, {
      details: { field, value: quoteValue(value) },
    });
  }
  return value;
}

function ceilDiv(a: bigint, b: bigint): bigint {
  return (a + b - 1n) / b;
}

function unitPriceOf(meterId: string, value: unknown, index: number): MeterUnitPrice {
  const field = `unitPrices[${index}]`;
  assertObject(field, value);
  const dimension = value.dimension;
  if (typeof dimension !== 'string' || !dimensionPattern.test(dimension)) {
    throw new InvalidArgumentError(
      `${field}.dimension ${quoteValue(dimension)} must be 1–64 of a–z 0–9 _ starting with a letter`,
      { details: { meterId, field: `${field}.dimension`, value: quoteValue(dimension) } },
    );
  }
  const priceMicro = value.priceMicro;
  if (typeof priceMicro !== 'bigint' || priceMicro < 0n || priceMicro > amountMicroMax) {
    throw new InvalidAmountError(
      `${field}.priceMicro ${quoteValue(priceMicro)} must be a bigint of micro-USD from 0 to ${amountMicroMax}`,
      { details: { meterId, field: `${field}.priceMicro`, value: quoteValue(priceMicro) } },
    );
  }
  const perUnits = bigintIn(`${field}.perUnits`, value.perUnits, 1n, perUnitsMax);
  const unitsMax =
    value.unitsMax === undefined
      ? usageUnitsMaxDefault
      : bigintIn(`${field}.unitsMax`, value.unitsMax, 1n, usageUnitsLimitMax);
  return { dimension, priceMicro, perUnits, unitsMax };
}

/** The unit prices, checked: 1..32 of them, dimensions unique, each line and their sum ≤ 10^15 at `unitsMax`. */
function unitPricesOf(meterId: string, value: unknown): MeterUnitPrice[] {
  if (!Array.isArray(value)) {
    throw new InvalidArgumentError(`unitPrices ${quoteValue(value)} must be an array`, {
      details: { meterId, field: 'unitPrices' },
    });
  }
  if (value.length === 0) throw new MeterPricesEmptyError({ meterId });
  if (value.length > unitPricesPerMeterMax) {
    throw new InvalidArgumentError(`a meter has at most ${unitPricesPerMeterMax} unit prices, got ${value.length}`, {
      details: { meterId, field: 'unitPrices', count: value.length },
    });
  }
  const prices = value.map((item, index) => unitPriceOf(meterId, item, index));
  const seen = new Set<string>();
  // The cost of all dimensions at unitsMax, rounded up once like a charge: Σ exact values as numerator / denominator.
  let numerator = 0n;
  let denominator = 1n;
  for (const price of prices) {
    if (seen.has(price.dimension)) throw new MeterDimensionDuplicateError({ meterId, dimension: price.dimension });
    seen.add(price.dimension);
    const lineMicro = ceilDiv(price.unitsMax * price.priceMicro, price.perUnits);
    if (lineMicro > amountMicroMax) {
      throw new MeterPriceOverflowError({
        meterId,
        dimension: price.dimension,
        costMicro: lineMicro,
        maxMicro: amountMicroMax,
      });
    }
    numerator = numerator * price.perUnits + price.unitsMax * price.priceMicro * denominator;
    denominator *= price.perUnits;
  }
  const totalMicro = ceilDiv(numerator, denominator);
  if (totalMicro > amountMicroMax) {
    throw new MeterPriceOverflowError({ meterId, dimension: null, costMicro: totalMicro, maxMicro: amountMicroMax });
  }
  return prices;
}

/**
 * Checks a meter version's input and answers it with defaults applied (pool `general`, mode `live`).
 *
 * @throws {InvalidArgumentError} when an id, pool, mode, ttl, date or actor breaks its rule, or holdMicro > maxCostMicro.
 * @throws {InvalidAmountError} when holdMicro, maxCostMicro or a priceMicro is out of bounds.
 * @throws {MeterPricesEmptyError}
 * @throws {MeterDimensionDuplicateError}
 * @throws {MeterPriceOverflowError}
 * @example
 * const meter = normalizeMeterInput({ id: 'chat', holdMicro: 10_000n, createdBy: 'alice',
 *   unitPrices: [{ dimension: 'output_tokens', priceMicro: 15_000_000n, perUnits: 1_000_000n }] });
 */
export function normalizeMeterInput(input: MeterInput): NormalizedMeter {
  assertObject('input', input);
  assertName('id', input.id);
  if (input.poolId !== undefined) assertName('poolId', input.poolId);
  if (input.billingMode !== undefined) assertBillingMode(input.billingMode);
  assertAmountMicro('holdMicro', input.holdMicro);
  if (input.maxCostMicro !== undefined) {
    assertAmountMicro('maxCostMicro', input.maxCostMicro);
    if (input.holdMicro > input.maxCostMicro) {
      throw new InvalidArgumentError(
        `holdMicro ${input.holdMicro} must not exceed maxCostMicro ${input.maxCostMicro}`,
        { details: { meterId: input.id, field: 'holdMicro' } },
      );
    }
  }
  if (
    input.ttlSeconds !== undefined &&
    (typeof input.ttlSeconds !== 'number' ||
      !Number.isSafeInteger(input.ttlSeconds) ||
      input.ttlSeconds < 1 ||
      input.ttlSeconds > meterTtlSecondsMax)
  ) {
    throw new InvalidArgumentError(
      `ttlSeconds ${quoteValue(input.ttlSeconds)} must be an integer from 1 to ${meterTtlSecondsMax}`,
      {
        details: { meterId: input.id, field: 'ttlSeconds', value: quoteValue(input.ttlSeconds) },
      },
    );
  }
  if (
    input.effectiveAt !== undefined &&
    !(input.effectiveAt instanceof Date && Number.isFinite(input.effectiveAt.getTime()))
  ) {
    throw new InvalidArgumentError(`effectiveAt ${quoteValue(input.effectiveAt)} must be a valid Date`, {
      details: { meterId: input.id, field: 'effectiveAt' },
    });
  }
  assertActor(input.createdBy);
  return {
    id: input.id,
    poolId: input.poolId ?? generalPoolId,
    billingMode: input.billingMode ?? 'live',
    holdMicro: input.holdMicro,
    maxCostMicro: input.maxCostMicro ?? null,
    ttlSeconds: input.ttlSeconds ?? null,
    unitPrices: unitPricesOf(input.id, input.unitPrices),
    effectiveAt: input.effectiveAt ?? null,
    createdBy: input.createdBy,
  };
}
