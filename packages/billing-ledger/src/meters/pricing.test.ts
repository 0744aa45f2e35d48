import { describe, expect, it } from 'vitest';
import { InvalidUsageError, type LedgerError, UnknownDimensionError } from '../errors.js';
import { usageUnitsMaxDefault } from '../limits.js';
import { holdFor, parseUsage, priceUsage } from './pricing.js';
import type { Meter, MeterUnitPrice, Usage } from './types.js';

const perMillion = 1_000_000n;

function price(
  dimension: string,
  priceMicro: bigint,
  perUnits: bigint,
  unitsMax = usageUnitsMaxDefault,
): MeterUnitPrice {
  return { dimension, priceMicro, perUnits, unitsMax };
}

function meterOf(
  unitPrices: MeterUnitPrice[],
  terms: { holdMicro?: bigint; maxCostMicro?: bigint | null } = {},
): Meter {
  return {
    id: 'chat',
    version: 3,
    poolId: 'general',
    billingMode: 'live',
    holdMicro: terms.holdMicro ?? 20_000n,
    maxCostMicro: terms.maxCostMicro ?? null,
    ttlSeconds: null,
    unitPrices,
    effectiveAt: new Date('2026-12-01T00:00:00Z'),
    createdBy: 'alice',
    createdAt: new Date('2026-12-01T00:00:00Z'),
  };
}

/** $3 per million input tokens, $15 per million output tokens, 2000 micro per request, images free. */
const chat = meterOf([
  price('input_tokens', 3_000_000n, perMillion),
  price('output_tokens', 15_000_000n, perMillion),
  price('request', 2_000n, 1n, 1n),
  price('image', 0n, 1n, 16n),
]);

function refusal<T extends LedgerError>(run: () => unknown, type: new (...args: never[]) => T): T {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(type);
    return error as T;
  }
  throw new Error('expected a refusal, the call succeeded');
}

describe('priceUsage: worked examples', () => {
  it('$15 per million output tokens: 340 tokens cost 5100 micro', () => {
    const pricing = priceUsage(chat, { output_tokens: 340 });
    expect(pricing).toEqual({
      meterId: 'chat',
      meterVersion: 3,
      lines: [
        { dimension: 'output_tokens', units: 340n, priceMicro: 15_000_000n, perUnits: perMillion, amountMicro: 5100n },
      ],
      subtotalMicro: 5100n,
      totalMicro: 5100n,
      capped: false,
    });
  });

  it('itemizes every named dimension in the meter order, whatever the usage order: 1200 in + 340 out + 1 request = 3600 + 5100 + 2000', () => {
    const pricing = priceUsage(chat, { request: 1, output_tokens: 340n, input_tokens: 1200 });
    expect(pricing.lines.map((line) => [line.dimension, line.units, line.amountMicro])).toEqual([
      ['input_tokens', 1200n, 3600n],
      ['output_tokens', 340n, 5100n],
      ['request', 1n, 2000n],
    ]);
    expect(pricing.subtotalMicro).toBe(10_700n);
    expect(pricing.totalMicro).toBe(10_700n);
  });

  it('rounds a fraction of a micro-USD up: 1201 tokens at $0.25 per million are 300.25 micro, charged 301', () => {
    const meter = meterOf([price('input_tokens', 250_000n, perMillion)]);
    const pricing = priceUsage(meter, { input_tokens: 1201 });
    expect(pricing.subtotalMicro).toBe(301n);
    expect(pricing.totalMicro).toBe(301n);
    expect(pricing.lines[0]?.amountMicro).toBe(301n);
  });

  it('rounds up once over the sum, not per line: 0.5 + 0.5 micro is 1 micro (rounding each line would charge 2)', () => {
    const meter = meterOf([price('input_tokens', 1n, 2n), price('output_tokens', 1n, 2n)]);
    const pricing = priceUsage(meter, { input_tokens: 1, output_tokens: 1 });
    expect(pricing.subtotalMicro).toBe(1n);
    // Equal fractions: the micro the round-up adds goes to the first line in the meter's order.
    expect(pricing.lines.map((line) => line.amountMicro)).toEqual([1n, 0n]);
  });

  it('gives the round-up micro to the line with the largest fractional part: 0.3 + 0.6 micro → lines 0 and 1', () => {
    const meter = meterOf([price('input_tokens', 3n, 10n), price('output_tokens', 6n, 10n)]);
    const pricing = priceUsage(meter, { input_tokens: 1, output_tokens: 1 });
    expect(pricing.subtotalMicro).toBe(1n);
    expect(pricing.lines.map((line) => line.amountMicro)).toEqual([0n, 1n]);
  });

  it('lines sum exactly to the subtotal across different perUnits: 1/3 + 1/7 + 5/1000 + 2 micro → 3 micro', () => {
    const meter = meterOf([price('a', 1n, 3n), price('b', 1n, 7n), price('c', 5n, 1000n), price('d', 2n, 1n)]);
    const pricing = priceUsage(meter, { a: 1, b: 1, c: 1, d: 1 });
    expect(pricing.subtotalMicro).toBe(3n);
    expect(pricing.lines.map((line) => line.amountMicro)).toEqual([1n, 0n, 0n, 2n]);
  });

  it('caps the total at maxCostMicro: 1M output tokens ($15) under a $0.01 cap cost 10000 micro, subtotal kept', () => {
    const meter = meterOf([price('output_tokens', 15_000_000n, perMillion)], {
      holdMicro: 5_000n,
      maxCostMicro: 10_000n,
    });
    const pricing = priceUsage(meter, { output_tokens: 1_000_000 });
    expect(pricing.subtotalMicro).toBe(15_000_000n);
    expect(pricing.totalMicro).toBe(10_000n);
    expect(pricing.capped).toBe(true);
    // The lines itemize the subtotal (what the usage is worth), the total is what it costs.
    expect(pricing.lines[0]?.amountMicro).toBe(15_000_000n);
  });

  it('a cost exactly at maxCostMicro is not capped', () => {
    const meter = meterOf([price('output_tokens', 15_000_000n, perMillion)], { holdMicro: 1n, maxCostMicro: 5_100n });
    const pricing = priceUsage(meter, { output_tokens: 340 });
    expect(pricing.totalMicro).toBe(5_100n);
    expect(pricing.capped).toBe(false);
  });

  it('zero units cost nothing and still get a line', () => {
    const pricing = priceUsage(chat, { output_tokens: 0, input_tokens: 0n });
    expect(pricing.lines.map((line) => [line.dimension, line.units, line.amountMicro])).toEqual([
      ['input_tokens', 0n, 0n],
      ['output_tokens', 0n, 0n],
    ]);
    expect(pricing.subtotalMicro).toBe(0n);
    expect(pricing.totalMicro).toBe(0n);
  });

  it('an empty usage costs nothing and has no lines', () => {
    expect(priceUsage(chat, {})).toMatchObject({ lines: [], subtotalMicro: 0n, totalMicro: 0n, capped: false });
  });

  it('a free dimension (priceMicro 0) is itemized at 0 micro: 16 images + 340 output tokens cost 5100', () => {
    const pricing = priceUsage(chat, { image: 16, output_tokens: 340 });
    expect(pricing.lines.map((line) => [line.dimension, line.amountMicro])).toEqual([
      ['output_tokens', 5100n],
      ['image', 0n],
    ]);
    expect(pricing.totalMicro).toBe(5100n);
  });

  it('accepts units up to unitsMax inclusive, as numbers or bigints', () => {
    expect(priceUsage(chat, { request: 1 }).totalMicro).toBe(2000n);
    expect(priceUsage(chat, { input_tokens: usageUnitsMaxDefault }).totalMicro).toBe(3_000_000_000n);
    expect(priceUsage(chat, { input_tokens: Number(usageUnitsMaxDefault) }).totalMicro).toBe(3_000_000_000n);
  });
});

describe('priceUsage: refusals', () => {
  it('a dimension the meter does not price → UnknownDimensionError naming it and the known ones', () => {
    const error = refusal(() => priceUsage(chat, { output_tokens: 340, video_seconds: 1 }), UnknownDimensionError);
    expect(error.code).toBe('unknown_dimension');
    expect(error.httpStatus).toBe(400);
    expect(error.dimension).toBe('video_seconds');
    expect(error.details).toEqual({
      meterId: 'chat',
      dimension: 'video_seconds',
      knownDimensions: ['input_tokens', 'output_tokens', 'request', 'image'],
    });
    expect(error.message).toContain('"video_seconds"');
  });

  it('an unknown dimension is refused even with 0 units', () => {
    refusal(() => priceUsage(chat, { video_seconds: 0 }), UnknownDimensionError);
  });

  const badUnits: [string, unknown][] = [
    ['negative number', -1],
    ['negative bigint', -1n],
    ['fractional', 1.5],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['an unsafe integer', 2 ** 53],
    ['a digit string', '340'],
    ['null', null],
    ['undefined', undefined],
    ['a boolean', true],
    ['an object', { units: 1 }],
    ['a bigint inside an object', { units: 1n }],
  ];
  for (const [what, units] of badUnits) {
    it(`units that are ${what} → InvalidUsageError`, () => {
      const error = refusal(() => priceUsage(chat, { output_tokens: units } as unknown as Usage), InvalidUsageError);
      expect(error.code).toBe('invalid_usage');
      expect(error.httpStatus).toBe(400);
      expect(error.details).toEqual({ meterId: 'chat', dimension: 'output_tokens', unitsMax: '1000000000' });
    });
  }

  it('units above unitsMax → InvalidUsageError quoting the value and the bound', () => {
    const error = refusal(() => priceUsage(chat, { request: 2 }), InvalidUsageError);
    expect(error.details).toEqual({ meterId: 'chat', dimension: 'request', unitsMax: '1' });
    expect(error.message).toContain('request 2 ');
    expect(error.message).toContain('from 0 to 1');
    const big = refusal(() => priceUsage(chat, { input_tokens: usageUnitsMaxDefault + 1n }), InvalidUsageError);
    expect(big.message).toContain('1000000001n');
  });

  it('a circular value is refused as invalid usage, not a TypeError from quoting it', () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    refusal(() => priceUsage(chat, { output_tokens: circular } as unknown as Usage), InvalidUsageError);
  });

  const notObjects: [string, unknown][] = [
    ['null', null],
    ['undefined', undefined],
    ['an array', [['output_tokens', 340]]],
    ['a string', 'output_tokens=340'],
    ['a number', 340],
    ['a bigint', 340n],
    ['a boolean', false],
  ];
  for (const [what, usage] of notObjects) {
    it(`a usage that is ${what} → InvalidUsageError`, () => {
      const error = refusal(() => priceUsage(chat, usage as Usage), InvalidUsageError);
      expect(error.code).toBe('invalid_usage');
      expect(error.details).toEqual({ meterId: 'chat' });
    });
  }
});

describe('parseUsage', () => {
  it('answers the named dimensions as bigints in the meter order', () => {
    const named = parseUsage(chat, { request: 1, input_tokens: 7 });
    expect(named.map(([unitPrice, units]) => [unitPrice.dimension, units])).toEqual([
      ['input_tokens', 7n],
      ['request', 1n],
    ]);
  });
});

describe('holdFor: max(holdMicro, cost(estimate)) capped at maxCostMicro', () => {
  const capped = meterOf([price('output_tokens', 15_000_000n, perMillion)], {
    holdMicro: 20_000n,
    maxCostMicro: 100_000n,
  });

  it('no estimate: the meter holdMicro', () => {
    expect(holdFor(capped, undefined)).toBe(20_000n);
    expect(holdFor(capped, {})).toBe(20_000n);
  });

  it('an estimate cheaper than holdMicro: holdMicro (340 tokens cost 5100 < 20000)', () => {
    expect(holdFor(capped, { output_tokens: 340 })).toBe(20_000n);
  });

  it('an estimate dearer than holdMicro: its cost (4000 tokens cost 60000)', () => {
    expect(holdFor(capped, { output_tokens: 4000 })).toBe(60_000n);
  });

  it('an estimate above the cap: maxCostMicro (10000 tokens cost 150000 > 100000)', () => {
    expect(holdFor(capped, { output_tokens: 10_000 })).toBe(100_000n);
  });

  it('an uncapped meter holds the whole estimate', () => {
    expect(holdFor(meterOf(capped.unitPrices, { holdMicro: 1n }), { output_tokens: 1_000_000 })).toBe(15_000_000n);
  });

  it('an estimate rounds up like a charge: 1 token at $0.25 per million holds 1 micro', () => {
    expect(
      holdFor(meterOf([price('input_tokens', 250_000n, perMillion)], { holdMicro: 1n }), { input_tokens: 1 }),
    ).toBe(1n);
  });

  it('a bad estimate is refused like a bad usage', () => {
    refusal(() => holdFor(capped, { images: 1 }), UnknownDimensionError);
    refusal(() => holdFor(capped, { output_tokens: -1 }), InvalidUsageError);
  });
});
