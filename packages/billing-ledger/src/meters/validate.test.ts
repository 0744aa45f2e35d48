import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  InvalidAmountError,
  InvalidArgumentError,
  type LedgerError,
  MeterDimensionDuplicateError,
  MeterPriceOverflowError,
  MeterPricesEmptyError,
} from '../errors.js';
import {
  amountMicroMax,
  meterTtlSecondsMax,
  perUnitsMax,
  unitPricesPerMeterMax,
  usageUnitsLimitMax,
  usageUnitsMaxDefault,
} from '../limits.js';
import { priceUsage } from './pricing.js';
import type { Meter, MeterInput, UnitPrice } from './types.js';
import { type NormalizedMeter, normalizeMeterInput } from './validate.js';

const numRuns = 500;

const outputTokens: UnitPrice = { dimension: 'output_tokens', priceMicro: 15_000_000n, perUnits: 1_000_000n };

function input(overrides: Partial<Record<keyof MeterInput, unknown>> = {}): MeterInput {
  return { id: 'chat', holdMicro: 20_000n, createdBy: 'alice', unitPrices: [outputTokens], ...overrides } as MeterInput;
}

function withPrices(...unitPrices: unknown[]): MeterInput {
  return input({ unitPrices });
}

function refusal<T extends LedgerError>(value: MeterInput, type: new (...args: never[]) => T, code: string): T {
  try {
    normalizeMeterInput(value);
  } catch (error) {
    expect(error).toBeInstanceOf(type);
    expect((error as T).code).toBe(code);
    expect((error as T).httpStatus).toBe(400);
    return error as T;
  }
  throw new Error(
    `normalizeMeterInput accepted ${JSON.stringify(value, (_key, v) => (typeof v === 'bigint' ? `${v}n` : v))}`,
  );
}

function meterOf(normalized: NormalizedMeter): Meter {
  return { ...normalized, version: 1, effectiveAt: new Date(0), createdAt: new Date(0) };
}

/** The usage with every dimension at its unitsMax: the dearest usage a meter allows (pricing is monotonic). */
function maxUsageOf(meter: Meter): Record<string, bigint> {
  return Object.fromEntries(meter.unitPrices.map((price) => [price.dimension, price.unitsMax]));
}

describe('normalizeMeterInput: defaults', () => {
  it('defaults pool general, mode live, unitsMax 10^9, no cap, no ttl, no effectiveAt', () => {
    expect(normalizeMeterInput(input())).toEqual({
      id: 'chat',
      poolId: 'general',
      billingMode: 'live',
      holdMicro: 20_000n,
      maxCostMicro: null,
      ttlSeconds: null,
      unitPrices: [{ ...outputTokens, unitsMax: 1_000_000_000n }],
      effectiveAt: null,
      createdBy: 'alice',
    });
    expect(usageUnitsMaxDefault).toBe(1_000_000_000n);
  });

  it('keeps every term given', () => {
    const effectiveAt = new Date('2027-01-01T00:00:00Z');
    const normalized = normalizeMeterInput(
      input({
        poolId: 'gpu',
        billingMode: 'soft',
        holdMicro: 1n,
        maxCostMicro: 1n,
        ttlSeconds: 600,
        effectiveAt,
        unitPrices: [{ dimension: 'request', priceMicro: 0n, perUnits: 1n, unitsMax: 1n }],
      }),
    );
    expect(normalized).toMatchObject({ poolId: 'gpu', billingMode: 'soft', holdMicro: 1n, maxCostMicro: 1n });
    expect(normalized).toMatchObject({ ttlSeconds: 600, effectiveAt });
    expect(normalized.unitPrices).toEqual([{ dimension: 'request', priceMicro: 0n, perUnits: 1n, unitsMax: 1n }]);
  });

  it('accepts every billing mode', () => {
    for (const billingMode of ['live', 'soft', 'shadow']) {
      expect(normalizeMeterInput(input({ billingMode })).billingMode).toBe(billingMode);
    }
  });
});

describe('normalizeMeterInput: unit prices', () => {
  it('an empty price list → meter_prices_empty', () => {
    const error = refusal(withPrices(), MeterPricesEmptyError, 'meter_prices_empty');
    expect(error.details).toEqual({ meterId: 'chat', field: 'unitPrices' });
  });

  it('unitPrices that are not an array → invalid_argument', () => {
    refusal(input({ unitPrices: undefined }), InvalidArgumentError, 'invalid_argument');
    refusal(input({ unitPrices: { output_tokens: outputTokens } }), InvalidArgumentError, 'invalid_argument');
  });

  it(`more than ${unitPricesPerMeterMax} unit prices → invalid_argument`, () => {
    const prices = (count: number) =>
      Array.from({ length: count }, (_, index) => ({ dimension: `d${index}`, priceMicro: 1n, perUnits: 1n }));
    expect(normalizeMeterInput(withPrices(...prices(unitPricesPerMeterMax))).unitPrices).toHaveLength(32);
    refusal(withPrices(...prices(unitPricesPerMeterMax + 1)), InvalidArgumentError, 'invalid_argument');
  });

  it('a dimension priced twice → meter_dimension_duplicate naming it', () => {
    const error = refusal(
      withPrices(
        outputTokens,
        { dimension: 'input_tokens', priceMicro: 1n, perUnits: 1n },
        { ...outputTokens, priceMicro: 1n },
      ),
      MeterDimensionDuplicateError,
      'meter_dimension_duplicate',
    );
    expect(error.details).toEqual({ meterId: 'chat', dimension: 'output_tokens' });
  });

  it('a unit price that is not an object → invalid_argument', () => {
    refusal(withPrices(null), InvalidArgumentError, 'invalid_argument');
    refusal(withPrices('output_tokens'), InvalidArgumentError, 'invalid_argument');
  });

  const badDimensions: [string, unknown][] = [
    ['empty', ''],
    ['upper-case', 'Output_tokens'],
    ['starting with a digit', '1tokens'],
    ['starting with _', '_tokens'],
    ['with a dash', 'output-tokens'],
    ['with a space', 'a b'],
    ['non-ASCII', 'é'],
    ['65 characters long', 'a'.repeat(65)],
    ['a number', 7],
    ['missing', undefined],
  ];
  for (const [what, dimension] of badDimensions) {
    it(`a dimension that is ${what} → invalid_argument`, () => {
      const error = refusal(withPrices({ ...outputTokens, dimension }), InvalidArgumentError, 'invalid_argument');
      expect(error.details).toMatchObject({ meterId: 'chat', field: 'unitPrices[0].dimension' });
    });
  }

  it('dimension names of 1 to 64 of a–z 0–9 _ starting with a letter are accepted', () => {
    for (const dimension of ['a', 'image', 'input_tokens', 'gpu_seconds_a100', `a${'_'.repeat(63)}`]) {
      expect(normalizeMeterInput(withPrices({ ...outputTokens, dimension })).unitPrices[0]?.dimension).toBe(dimension);
    }
  });

  it('priceMicro negative, above 10^15 or not a bigint → invalid_amount', () => {
    for (const priceMicro of [-1n, amountMicroMax + 1n, 15, '15000000', undefined]) {
      const error = refusal(withPrices({ ...outputTokens, priceMicro }), InvalidAmountError, 'invalid_amount');
      expect(error.details).toMatchObject({ meterId: 'chat', field: 'unitPrices[0].priceMicro' });
    }
  });

  it('priceMicro 0 (a free dimension) and 10^15 (with unitsMax 1) are accepted', () => {
    expect(normalizeMeterInput(withPrices({ ...outputTokens, priceMicro: 0n })).unitPrices[0]?.priceMicro).toBe(0n);
    const dearest = { dimension: 'request', priceMicro: amountMicroMax, perUnits: 1n, unitsMax: 1n };
    expect(normalizeMeterInput(withPrices(dearest)).unitPrices[0]?.priceMicro).toBe(amountMicroMax);
  });

  it('perUnits 0, negative, above 10^12 or not a bigint → invalid_argument', () => {
    for (const perUnits of [0n, -1n, perUnitsMax + 1n, 1, '1000000', undefined]) {
      const error = refusal(withPrices({ ...outputTokens, perUnits }), InvalidArgumentError, 'invalid_argument');
      expect(error.details).toMatchObject({ field: 'unitPrices[0].perUnits' });
    }
    expect(normalizeMeterInput(withPrices({ ...outputTokens, perUnits: perUnitsMax })).unitPrices[0]?.perUnits).toBe(
      perUnitsMax,
    );
  });

  it('unitsMax 0, above 10^15 or not a bigint → invalid_argument', () => {
    for (const unitsMax of [0n, -1n, usageUnitsLimitMax + 1n, 1000, null]) {
      const error = refusal(withPrices({ ...outputTokens, unitsMax }), InvalidArgumentError, 'invalid_argument');
      expect(error.details).toMatchObject({ field: 'unitPrices[0].unitsMax' });
    }
    const cheap = { dimension: 'input_tokens', priceMicro: 1n, perUnits: 1_000_000n, unitsMax: usageUnitsLimitMax };
    expect(normalizeMeterInput(withPrices(cheap)).unitPrices[0]?.unitsMax).toBe(usageUnitsLimitMax);
  });
});

describe('normalizeMeterInput: meter_price_overflow (cost at unitsMax above 10^15 micro)', () => {
  it('one line at exactly 10^15 at unitsMax is accepted: 10^6 micro per unit × 10^9 units', () => {
    const line = { dimension: 'request', priceMicro: 1_000_000n, perUnits: 1n };
    expect(normalizeMeterInput(withPrices(line)).unitPrices).toHaveLength(1);
  });

  it('one line above 10^15 at unitsMax → meter_price_overflow naming the dimension and the cost', () => {
    const line = { dimension: 'request', priceMicro: 1_000_001n, perUnits: 1n };
    const error = refusal(withPrices(line), MeterPriceOverflowError, 'meter_price_overflow');
    expect(error.details).toEqual({
      meterId: 'chat',
      dimension: 'request',
      costMicro: '1000001000000000',
      maxMicro: '1000000000000000',
    });
  });

  it('one line above 10^15 by a fraction of a micro is refused (the line rounds up): 29 × 103448275862069 / 3', () => {
    // 29 × 103_448_275_862_069 = 3 × 10^15 + 1, so the line at unitsMax is 10^15 + 1/3 micro, charged 10^15 + 1.
    const line = { dimension: 'request', priceMicro: 103_448_275_862_069n, perUnits: 3n, unitsMax: 29n };
    const error = refusal(withPrices(line), MeterPriceOverflowError, 'meter_price_overflow');
    expect(error.details).toMatchObject({ dimension: 'request', costMicro: '1000000000000001' });
    // One unit fewer: 28 × 103448275862069 / 3 ≈ 9.66 × 10^14, accepted.
    expect(normalizeMeterInput(withPrices({ ...line, unitsMax: 28n })).unitPrices).toHaveLength(1);
  });

  it('lines each under 10^15 whose sum at unitsMax passes it → meter_price_overflow for all dimensions', () => {
    const a = { dimension: 'input_tokens', priceMicro: 600_000n, perUnits: 1n };
    const b = { dimension: 'output_tokens', priceMicro: 400_001n, perUnits: 1n };
    const error = refusal(withPrices(a, b), MeterPriceOverflowError, 'meter_price_overflow');
    expect(error.details).toEqual({
      meterId: 'chat',
      dimension: null,
      costMicro: '1000001000000000',
      maxMicro: '1000000000000000',
    });
    expect(normalizeMeterInput(withPrices(a, { ...b, priceMicro: 400_000n })).unitPrices).toHaveLength(2);
  });

  it('the sum is rounded up once, like a charge: (10^15 − 1) + 1/2 + 1/2 micro = 10^15 is accepted', () => {
    const big = { dimension: 'a', priceMicro: 1n, perUnits: 1n, unitsMax: amountMicroMax - 1n };
    const half = (dimension: string) => ({ dimension, priceMicro: 1n, perUnits: 2n, unitsMax: 1n });
    const normalized = normalizeMeterInput(withPrices(big, half('b'), half('c')));
    const meter = meterOf(normalized);
    expect(priceUsage(meter, maxUsageOf(meter)).subtotalMicro).toBe(amountMicroMax);
  });

  it('… and (10^15 − 1) + 3 × 1/2 micro = 10^15 + 1 is refused with that cost', () => {
    const big = { dimension: 'a', priceMicro: 1n, perUnits: 1n, unitsMax: amountMicroMax - 1n };
    const half = (dimension: string) => ({ dimension, priceMicro: 1n, perUnits: 2n, unitsMax: 1n });
    const error = refusal(
      withPrices(big, half('b'), half('c'), half('d')),
      MeterPriceOverflowError,
      'meter_price_overflow',
    );
    expect(error.details).toMatchObject({ dimension: null, costMicro: '1000000000000001' });
  });
});

describe('normalizeMeterInput: terms', () => {
  it('holdMicro 0, above 10^15 or not a bigint → invalid_amount', () => {
    for (const holdMicro of [0n, -1n, amountMicroMax + 1n, 20_000, '20000', undefined, null]) {
      const error = refusal(input({ holdMicro }), InvalidAmountError, 'invalid_amount');
      expect(error.details).toMatchObject({ field: 'holdMicro' });
    }
    expect(normalizeMeterInput(input({ holdMicro: 1n })).holdMicro).toBe(1n);
    expect(normalizeMeterInput(input({ holdMicro: amountMicroMax })).holdMicro).toBe(amountMicroMax);
  });

  it('maxCostMicro 0, above 10^15 or not a bigint → invalid_amount', () => {
    for (const maxCostMicro of [0n, amountMicroMax + 1n, 100_000, '100000', null]) {
      const error = refusal(input({ maxCostMicro }), InvalidAmountError, 'invalid_amount');
      expect(error.details).toMatchObject({ field: 'maxCostMicro' });
    }
  });

  it('holdMicro above maxCostMicro → invalid_argument; equal is accepted', () => {
    const error = refusal(
      input({ holdMicro: 20_001n, maxCostMicro: 20_000n }),
      InvalidArgumentError,
      'invalid_argument',
    );
    expect(error.details).toEqual({ meterId: 'chat', field: 'holdMicro' });
    expect(normalizeMeterInput(input({ holdMicro: 20_000n, maxCostMicro: 20_000n })).maxCostMicro).toBe(20_000n);
  });

  it('a bad id → invalid_argument', () => {
    for (const id of ['', 'Chat', 'chat v2', '-chat', 'c'.repeat(65), 7, undefined]) {
      const error = refusal(input({ id }), InvalidArgumentError, 'invalid_argument');
      expect(error.details).toMatchObject({ field: 'id' });
    }
    for (const id of ['chat', 'gpt-4o:chat.v2', '0', 'c'.repeat(64)])
      expect(normalizeMeterInput(input({ id })).id).toBe(id);
  });

  it('a bad poolId or billingMode → invalid_argument', () => {
    for (const poolId of ['', 'GPU', 'gpu pool', null]) {
      expect(refusal(input({ poolId }), InvalidArgumentError, 'invalid_argument').details).toMatchObject({
        field: 'poolId',
      });
    }
    for (const billingMode of ['free', 'LIVE', '', null]) {
      expect(refusal(input({ billingMode }), InvalidArgumentError, 'invalid_argument').details).toMatchObject({
        field: 'billingMode',
      });
    }
  });

  it(`ttlSeconds outside 1..${meterTtlSecondsMax} or not an integer → invalid_argument; the bounds are accepted`, () => {
    for (const ttlSeconds of [
      0,
      -1,
      1.5,
      meterTtlSecondsMax + 1,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      '60',
      60n,
      null,
    ]) {
      const error = refusal(input({ ttlSeconds }), InvalidArgumentError, 'invalid_argument');
      expect(error.details).toMatchObject({ meterId: 'chat', field: 'ttlSeconds' });
    }
    expect(normalizeMeterInput(input({ ttlSeconds: 1 })).ttlSeconds).toBe(1);
    expect(normalizeMeterInput(input({ ttlSeconds: meterTtlSecondsMax })).ttlSeconds).toBe(meterTtlSecondsMax);
  });

  it('a bad createdBy → invalid_argument', () => {
    for (const createdBy of [
      '',
      ' alice',
      'alice ',
      'al\nice',
      'al\u0000ice',
      'system',
      'a'.repeat(257),
      7,
      undefined,
    ]) {
      refusal(input({ createdBy }), InvalidArgumentError, 'invalid_argument');
    }
    expect(normalizeMeterInput(input({ createdBy: 'a'.repeat(256) })).createdBy).toHaveLength(256);
    expect(normalizeMeterInput(input({ createdBy: 'admin@example.com' })).createdBy).toBe('admin@example.com');
  });

  it('an invalid effectiveAt → invalid_argument', () => {
    for (const effectiveAt of [new Date('not a date'), '2027-01-01T00:00:00Z', 1_798_761_600_000, null]) {
      const error = refusal(input({ effectiveAt }), InvalidArgumentError, 'invalid_argument');
      expect(error.details).toEqual({ meterId: 'chat', field: 'effectiveAt' });
    }
  });

  it('an input that is not an object → invalid_argument', () => {
    for (const value of [null, undefined, 'chat', [input()]]) {
      refusal(value as unknown as MeterInput, InvalidArgumentError, 'invalid_argument');
    }
  });
});

describe('normalizeMeterInput: property', () => {
  const priceArb = fc.record({
    priceMicro: fc.oneof(
      fc.bigInt({ min: 0n, max: 1000n }),
      fc.bigInt({ min: 0n, max: 1_000_000_000n }),
      fc.bigInt({ min: 0n, max: amountMicroMax }),
    ),
    perUnits: fc.oneof(fc.constantFrom(1n, 1000n, 1_000_000n), fc.bigInt({ min: 1n, max: perUnitsMax })),
    unitsMax: fc.option(
      fc.oneof(
        fc.bigInt({ min: 1n, max: 1000n }),
        fc.bigInt({ min: 1n, max: usageUnitsMaxDefault }),
        fc.bigInt({ min: 1n, max: usageUnitsLimitMax }),
      ),
      { nil: undefined },
    ),
  });
  const unitPricesArb = fc
    .uniqueArray(fc.stringMatching(/^[a-z][a-z0-9_]{0,9}$/), { minLength: 1, maxLength: 8 })
    .chain((dimensions) =>
      fc.tuple(
        ...dimensions.map((dimension) =>
          priceArb.map(({ unitsMax, ...price }) =>
            unitsMax === undefined ? { dimension, ...price } : { dimension, ...price, unitsMax },
          ),
        ),
      ),
    );

  /** Meters at the edge: one line at 10^15 − k micro and a few fractional lines, so rounding decides the outcome. */
  const nearLimitPricesArb = fc
    .tuple(
      fc.bigInt({ min: 0n, max: 8n }),
      fc.array(fc.record({ priceMicro: fc.bigInt({ min: 1n, max: 3n }), perUnits: fc.bigInt({ min: 2n, max: 7n }) }), {
        minLength: 1,
        maxLength: 7,
      }),
    )
    .map(([k, fractions]): UnitPrice[] => [
      { dimension: 'bulk', priceMicro: 1n, perUnits: 1n, unitsMax: amountMicroMax - k },
      ...fractions.map((price, index) => ({ dimension: `f${index}`, ...price, unitsMax: 1n })),
    ]);

  it('a meter it accepts never prices an allowed usage above 10^15; it refuses exactly those whose max usage would', () => {
    let accepted = 0;
    let refused = 0;
    fc.assert(
      fc.property(
        fc.oneof(unitPricesArb, nearLimitPricesArb),
        fc.infiniteStream(fc.double({ min: 0, max: 1, noNaN: true })),
        (unitPrices, ratios) => {
          // The dearest usage (every dimension at its unitsMax) priced without the price book's checks.
          const unchecked = meterOf({ ...normalizeMeterInput(input()), unitPrices: resolved(unitPrices) });
          const maxSubtotal = priceUsage(unchecked, maxUsageOf(unchecked)).subtotalMicro;
          let normalized: NormalizedMeter;
          try {
            normalized = normalizeMeterInput(input({ unitPrices }));
          } catch (error) {
            expect(error).toBeInstanceOf(MeterPriceOverflowError);
            expect(maxSubtotal > amountMicroMax).toBe(true);
            refused += 1;
            return;
          }
          accepted += 1;
          const meter = meterOf(normalized);
          expect(maxSubtotal <= amountMicroMax).toBe(true);
          const iterator = ratios[Symbol.iterator]();
          const usage = Object.fromEntries(
            meter.unitPrices.map((price) => {
              const ratio = iterator.next().value as number;
              return [price.dimension, (price.unitsMax * BigInt(Math.round(ratio * 1_000_000))) / 1_000_000n];
            }),
          );
          const pricing = priceUsage(meter, usage);
          expect(pricing.subtotalMicro <= amountMicroMax).toBe(true);
          expect(pricing.subtotalMicro <= maxSubtotal).toBe(true);
        },
      ),
      { numRuns },
    );
    expect(accepted).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(0);
  });
});

function resolved(unitPrices: UnitPrice[]): Meter['unitPrices'] {
  return unitPrices.map((price) => ({ ...price, unitsMax: price.unitsMax ?? usageUnitsMaxDefault }));
}
