// Wire shapes of the price book (meters): the request body of `POST /v1/meters` (also the items of the `METERS`
// config), the meter version answered by every meter route, and the functions between them and the ledger's types.
import {
  billingModes,
  dimensionPattern,
  type Meter,
  type MeterInput,
  meterTtlSecondsMax,
  perUnitsMax,
  unitPricesPerMeterMax,
  usageUnitsLimitMax,
} from '@arrakis/billing-ledger';
import { formatMicro } from '@arrakis/billing-ledger/money';
import { z } from '@hono/zod-openapi';
import { amountMicroSchema, ledgerNameSchema, UtcTimeSchema } from './ledger-schemas.js';

/** A positive bigint as a canonical digit string (no sign, leading zero, exponent or decimals). */
const positiveDigitsPattern = /^[1-9][0-9]{0,15}$/;

/**
 * A positive count on the wire (`perUnits`, `unitsMax`): a canonical digit string from 1 to `max`, as a bigint.
 *
 * @example
 * ```ts
 * countSchema('perUnits', perUnitsMax).parse('1000000'); // 1000000n
 * ```
 */
export function countSchema(field: string, max: bigint) {
  return z
    .string()
    .openapi({
      description: `A base-10 string from 1 to ${max}.`,
      example: '1000000',
      pattern: positiveDigitsPattern.source,
    })
    .transform((value, ctx) => {
      if (positiveDigitsPattern.test(value) && BigInt(value) <= max) return BigInt(value);
      ctx.addIssue({
        code: 'custom',
        message: `${field} ${JSON.stringify(value)} must be canonical base-10 digits from 1 to ${max}`,
        params: { code: 'invalid_count' },
      });
      return z.NEVER;
    });
}

/** One unit price in a request: `priceMicro` micro-USD per `perUnits` units of `dimension`. */
export const UnitPriceBodySchema = z
  .object({
    dimension: z
      .string()
      .regex(dimensionPattern, 'expected 1-64 of a-z 0-9 _ starting with a letter')
      .openapi({ example: 'output_tokens', pattern: dimensionPattern.source }),
    priceMicro: amountMicroSchema('priceMicro', { min: 0n }),
    perUnits: countSchema('perUnits', perUnitsMax),
    unitsMax: countSchema('unitsMax', usageUnitsLimitMax)
      .optional()
      .openapi({ description: 'Most units one usage may report (default 1 000 000 000).' }),
  })
  .strict()
  .openapi('UnitPriceRequest');

/**
 * The body of `POST /v1/meters` (and one item of `METERS`). Empty price lists, duplicate dimensions and prices that
 * overflow 10^15 micro-USD at `unitsMax` are refused by the ledger with their own codes (`meter_prices_empty`,
 * `meter_dimension_duplicate`, `meter_price_overflow`).
 */
export const MeterBodySchema = z
  .object({
    id: ledgerNameSchema('chat').openapi({ description: 'Meter id: 1-64 of a-z 0-9 _ . : -.' }),
    poolId: ledgerNameSchema('general').optional().openapi({ description: 'Pool its holds draw from first.' }),
    billingMode: z.enum(billingModes).optional().openapi({ description: 'Billing mode of its holds (default live).' }),
    holdMicro: amountMicroSchema('holdMicro'),
    maxCostMicro: amountMicroSchema('maxCostMicro').optional(),
    ttlSeconds: z
      .number()
      .int()
      .min(1)
      .max(meterTtlSecondsMax)
      .optional()
      .openapi({ example: 300, description: `Hold lifetime, 1-${meterTtlSecondsMax} s (default the ledger's).` }),
    unitPrices: z.array(UnitPriceBodySchema).max(unitPricesPerMeterMax),
    effectiveAt: UtcTimeSchema.optional().openapi({
      description: "When the version takes force (default now; never before now or the previous version's).",
    }),
  })
  .strict()
  .openapi('MeterRequest');

/** A validated {@link MeterBodySchema}. */
export type MeterBody = z.infer<typeof MeterBodySchema>;

/**
 * The ledger's `createMeter` input of a validated body.
 *
 * @example
 * ```ts
 * await ledger.createMeter(meterInputOf(body, principal.sub));
 * ```
 */
export function meterInputOf(body: MeterBody, createdBy: string): MeterInput {
  return {
    id: body.id,
    holdMicro: body.holdMicro,
    unitPrices: body.unitPrices.map((price) => ({
      dimension: price.dimension,
      priceMicro: price.priceMicro,
      perUnits: price.perUnits,
      ...(price.unitsMax === undefined ? {} : { unitsMax: price.unitsMax }),
    })),
    createdBy,
    ...(body.poolId === undefined ? {} : { poolId: body.poolId }),
    ...(body.billingMode === undefined ? {} : { billingMode: body.billingMode }),
    ...(body.maxCostMicro === undefined ? {} : { maxCostMicro: body.maxCostMicro }),
    ...(body.ttlSeconds === undefined ? {} : { ttlSeconds: body.ttlSeconds }),
    ...(body.effectiveAt === undefined ? {} : { effectiveAt: body.effectiveAt }),
  };
}

const time = () => z.iso.datetime().openapi({ example: '2026-01-01T00:00:00.000Z' });
const digits = (example: string) => z.string().openapi({ example });

/** One unit price of a stored meter version (`unitsMax` resolved). */
export const MeterUnitPriceSchema = z
  .object({
    dimension: z.string().openapi({ example: 'output_tokens' }),
    priceMicro: digits('15000000'),
    perUnits: digits('1000000'),
    unitsMax: digits('1000000000'),
  })
  .openapi('MeterUnitPrice');

/** One version of a meter (immutable). */
export const MeterSchema = z
  .object({
    id: z.string().openapi({ example: 'chat' }),
    version: z.number().int().openapi({ example: 1 }),
    poolId: z.string().openapi({ example: 'general' }),
    billingMode: z.enum(billingModes),
    holdMicro: digits('10000'),
    maxCostMicro: digits('5000000').nullable(),
    ttlSeconds: z.number().int().nullable(),
    unitPrices: z.array(MeterUnitPriceSchema),
    effectiveAt: time(),
    createdBy: z.string().openapi({ example: 'root', description: 'The admin, or `config` for METERS.' }),
    createdAt: time(),
  })
  .openapi('Meter');

/** `GET /v1/meters`: every meter's version in force. */
export const MeterListSchema = z.object({ meters: z.array(MeterSchema) }).openapi('MeterList');

/** `GET /v1/meters/{id}/versions`: newest first. */
export const MeterVersionListSchema = z.object({ versions: z.array(MeterSchema) }).openapi('MeterVersionList');

/**
 * The wire body of a meter version.
 *
 * @example
 * ```ts
 * return c.json(meterBody(await ledger.getMeter('chat')), 200);
 * ```
 */
export function meterBody(meter: Meter): z.infer<typeof MeterSchema> {
  return {
    id: meter.id,
    version: meter.version,
    poolId: meter.poolId,
    billingMode: meter.billingMode,
    holdMicro: formatMicro(meter.holdMicro),
    maxCostMicro: meter.maxCostMicro === null ? null : formatMicro(meter.maxCostMicro),
    ttlSeconds: meter.ttlSeconds,
    unitPrices: meter.unitPrices.map((price) => ({
      dimension: price.dimension,
      priceMicro: formatMicro(price.priceMicro),
      perUnits: price.perUnits.toString(),
      unitsMax: price.unitsMax.toString(),
    })),
    effectiveAt: meter.effectiveAt.toISOString(),
    createdBy: meter.createdBy,
    createdAt: meter.createdAt.toISOString(),
  };
}
