// Wire shapes of the ledger routes (accounts, reservations, events): request validation with the ledger's one
// amount parser, response schemas for the OpenAPI document, and the functions that turn ledger values into them.
import { createHash } from 'node:crypto';
import type {
  Account,
  Balance,
  Distribution,
  Entry,
  HoldLot,
  LedgerEvent,
  Lot,
  Pricing,
  Reservation,
  WriteOptions,
} from '@arrakis/billing-ledger';
import {
  billingModes,
  buckets,
  cursorLengthMax,
  dimensionPattern,
  distributionKinds,
  entryKinds,
  externalIdPattern,
  holdTtlMsMaxDefault,
  InvalidAmountError,
  idempotencyKeyLengthMax,
  idempotencyKeyPattern,
  idLengthMax,
  idPattern,
  nameLengthMax,
  namePattern,
  reservationStatuses,
  revenuePools,
  unitPricesPerMeterMax,
} from '@arrakis/billing-ledger';
import { amountMicroMax, formatMicro, parseMicro } from '@arrakis/billing-ledger/money';
import { z } from '@hono/zod-openapi';
import type { Principal } from '../context.js';
import { ForbiddenError } from '../errors.js';

// The rules below are the ledger's own, imported from its limits (`@arrakis/billing-ledger/limits`, also at the root)
// and checked at the edge so a bad value is a 400 `validation_failed` naming the field before the ledger is called.

/** Ids of accounts, lots and reservations: the ledger's `idPattern` (1–128 characters of `A-Z a-z 0-9 _ . : -`). */
export const ledgerIdPattern: RegExp = idPattern;
/** Pool ids and entity types: the ledger's `namePattern` (1–64 of `a-z 0-9 _ . : -`, a letter or digit first). */
export const ledgerNamePattern: RegExp = namePattern;
/** `entityId`: the ledger's `externalIdPattern` (1–255 visible ASCII characters: no spaces or control characters). */
export const entityIdPattern: RegExp = externalIdPattern;
/** The 400 message of an id that breaks {@link ledgerIdPattern}. */
export const ledgerIdMessage = `expected 1-${idLengthMax} characters of A-Z a-z 0-9 _ . : -`;
/** The 400 message of a name that breaks {@link ledgerNamePattern}. */
export const ledgerNameMessage = `expected 1-${nameLengthMax} characters of a-z 0-9 _ . : - starting with a letter or digit`;
/** Cursors are opaque base64url strings of at most the ledger's `cursorLengthMax` (64) characters. */
export const cursorPattern = new RegExp(`^[A-Za-z0-9_-]{1,${cursorLengthMax}}$`);
/** Longest grant `reason`: the gateway's own (the ledger's memo, `grant by <sub>: <reason>`, takes up to 1000). */
export const grantReasonLengthMax = 500;
/** Longest hold asked for with `ttlSeconds`: one day, the ledger's `holdTtlMsMaxDefault` (the gateway's ledger keeps it). */
export const holdTtlSecondsMax = holdTtlMsMaxDefault / 1000;

const microExample = '1500000';

/**
 * A micro-USD amount on the wire: a canonical base-10 string parsed by the ledger's one wire parser
 * (`parseMicro`), so the route and the ledger agree on every edge (`"007"`, `"1e6"`, `" 5"`, `"-5"`, `""`, 1.5 as a
 * number, more than 10^15 → 400). A failure is a validation issue with code `invalid_amount`.
 *
 * @example
 * ```ts
 * z.object({ amountMicro: amountMicroSchema('amountMicro') }).parse({ amountMicro: '1500000' }); // { amountMicro: 1500000n }
 * ```
 */
export function amountMicroSchema(field: string, bounds: { min?: bigint } = {}) {
  const minimum = bounds.min ?? 1n;
  return z
    .string()
    .openapi({
      description: `Micro-USD (1 USD = 1 000 000) as a canonical base-10 string, ${minimum} to ${amountMicroMax}.`,
      example: microExample,
      pattern: minimum === 0n ? '^(0|[1-9][0-9]{0,15})$' : '^[1-9][0-9]{0,15}$',
    })
    .transform((value, ctx) => {
      try {
        return parseMicro(value, field, bounds.min === undefined ? undefined : { min: bounds.min });
      } catch (error) {
        if (!(error instanceof InvalidAmountError)) throw error;
        ctx.addIssue({ code: 'custom', message: error.message, params: { code: error.code } });
        return z.NEVER;
      }
    });
}

/**
 * An id path parameter or body field: 1–128 characters of `A-Z a-z 0-9 _ . : -`.
 *
 * @example
 * ```ts
 * z.object({ accountId: ledgerIdSchema('acc_01J0Z3') });
 * ```
 */
export function ledgerIdSchema(example: string) {
  return z.string().regex(ledgerIdPattern, ledgerIdMessage).openapi({ example, pattern: ledgerIdPattern.source });
}

/**
 * A pool id or entity type: 1–64 characters of lower-case `a-z 0-9 _ . : -`, starting with a letter or digit.
 *
 * @example
 * ```ts
 * z.object({ poolId: ledgerNameSchema('general').optional() });
 * ```
 */
export function ledgerNameSchema(example: string) {
  return z.string().regex(ledgerNamePattern, ledgerNameMessage).openapi({ example, pattern: ledgerNamePattern.source });
}

/**
 * `{ id }` path parameter (a ledger id).
 *
 * @example
 * ```ts
 * createRoute({ path: '/v1/accounts/{id}', request: { params: idParamSchema('acc_01J0Z3') }, ... });
 * ```
 */
export function idParamSchema(example: string) {
  return z.object({ id: ledgerIdSchema(example).openapi({ param: { name: 'id', in: 'path' } }) });
}

/**
 * The `Idempotency-Key` header every POST accepts: the ledger's rule, `idempotencyKeyPattern` (1–255 printable ASCII
 * characters, spaces included; 400 otherwise). HTTP trims a header value, so a key never starts or ends with a space
 * here.
 *
 * @example
 * ```ts
 * createRoute({ method: 'post', request: { headers: IdempotencyHeaderSchema, ... }, ... });
 * ```
 */
export const IdempotencyHeaderSchema = z.object({
  'idempotency-key': z
    .string()
    .regex(idempotencyKeyPattern, `expected 1-${idempotencyKeyLengthMax} printable ASCII characters`)
    .optional()
    .openapi({
      param: { name: 'idempotency-key', in: 'header' },
      description:
        'Optional. A repeat with the same key and the same body returns the first answer; the same key with another body is a 409 `idempotency_key_reused`. Kept at least 24 h.',
      example: '7f1c1f0e-5d3b-4a7e-9b55-0b9a1e3c6f10',
    }),
});

/** Longest idempotency scope the ledger takes: a scope follows the key rule (`idempotencyKeyPattern`). */
export const idempotencyScopeLengthMax = idempotencyKeyLengthMax;

/**
 * Whose idempotency keys a request's are: `<audience>:<sub>` of its token, so two callers using the same
 * `Idempotency-Key` never collide. A `sub` that would not fit the ledger's rule (non-ASCII, or a scope over 255
 * characters) is replaced by its SHA-256: `<audience>:sha256:<64 hex>`.
 *
 * @example
 * ```ts
 * idempotencyScopeOf({ audience: 'arrakis-api', sub: 'alice' }); // 'arrakis-api:alice'
 * ```
 */
export function idempotencyScopeOf(principal: Pick<Principal, 'audience' | 'sub'>): string {
  const scope = `${principal.audience}:${principal.sub}`;
  if (idempotencyKeyPattern.test(scope)) return scope;
  return `${principal.audience}:sha256:${createHash('sha256').update(principal.sub, 'utf8').digest('hex')}`;
}

/**
 * The ledger's write options of a request: the validated `Idempotency-Key` and the caller's scope
 * ({@link idempotencyScopeOf}).
 *
 * @example
 * ```ts
 * await ledger.mint(input, writeOptions(c.var.principal, c.req.valid('header')));
 * ```
 */
export function writeOptions(
  principal: Pick<Principal, 'audience' | 'sub'>,
  header: { 'idempotency-key'?: string | undefined },
): WriteOptions {
  const key = header['idempotency-key'];
  const idempotencyScope = idempotencyScopeOf(principal);
  return key === undefined ? { idempotencyScope } : { idempotencyKey: key, idempotencyScope };
}

/** Units as a digit string: canonical base-10, at most 20 digits (the ledger bounds each by its `unitsMax`). */
export const unitsDigitsPattern = /^(0|[1-9][0-9]{0,19})$/;

/**
 * Units of one dimension on the wire: a JSON integer (0 to 2^53-1) or a canonical digit string, as a bigint. The
 * meter's `unitsMax` is checked by the ledger (400 `invalid_usage`).
 *
 * @example
 * ```ts
 * UnitsSchema.parse('340'); // 340n
 * ```
 */
export const UnitsSchema = z
  .union([
    z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    z.string().regex(unitsDigitsPattern, 'expected canonical base-10 digits'),
  ])
  .openapi({ description: 'Units: a JSON integer or a canonical base-10 string.', example: 340 })
  .transform((value) => BigInt(value));

/**
 * A usage (or an estimate) on the wire: dimension → units, at most 32 dimensions. Dimensions the meter does not
 * price are refused by the ledger (400 `unknown_dimension`).
 *
 * @example
 * ```ts
 * usageSchema('The units used.').parse({ output_tokens: 340, request: '1' }); // { output_tokens: 340n, request: 1n }
 * ```
 */
export function usageSchema(description: string) {
  return z
    .record(
      z.string().regex(dimensionPattern, 'expected a dimension: 1-64 of a-z 0-9 _ starting with a letter'),
      UnitsSchema,
    )
    .refine((usage) => Object.keys(usage).length <= unitPricesPerMeterMax, {
      message: `at most ${unitPricesPerMeterMax} dimensions`,
    })
    .openapi({ description, example: { input_tokens: 1200, output_tokens: '340' } });
}

/**
 * `limit` query parameter: 1–`max`. Digits only (no sign, exponent, decimals or leading zero).
 *
 * @example
 * ```ts
 * z.object({ limit: pageLimitSchema(200, 50) });
 * ```
 */
export function pageLimitSchema(max: number, defaultLimit: number) {
  return z
    .string()
    .regex(/^[1-9][0-9]{0,5}$/, `expected an integer from 1 to ${max}`)
    .transform(Number)
    .pipe(z.number().int().min(1).max(max))
    .optional()
    .openapi({
      param: { name: 'limit', in: 'query' },
      example: String(defaultLimit),
      description: `1-${max}, default ${defaultLimit}.`,
    });
}

/**
 * A cursor query parameter (opaque base64url, issued by a previous page). A well-formed cursor the ledger did not
 * issue is refused by the ledger itself (400 `invalid_cursor`).
 *
 * @example
 * ```ts
 * z.object({ after: cursorSchema('after') });
 * ```
 */
export function cursorSchema(name: string) {
  return z
    .string()
    .regex(cursorPattern, `expected an opaque cursor of at most ${cursorLengthMax} characters`)
    .optional()
    .openapi({ param: { name, in: 'query' }, description: 'The `nextCursor` of the previous page.' });
}

/** An ISO 8601 UTC time (`2026-01-01T00:00:00Z`, fractional seconds allowed; no offset), as a `Date`. */
export const UtcTimeSchema = z.iso
  .datetime({ offset: false })
  .openapi({ example: '2026-12-31T23:59:59.000Z', description: 'ISO 8601 UTC.' })
  .transform((value) => new Date(value));

const time = () => z.iso.datetime().openapi({ example: '2026-01-01T00:00:00.000Z' });
const micro = (description?: string) =>
  z.string().openapi(description === undefined ? { example: microExample } : { example: microExample, description });

// Response schemas (the OpenAPI document and the handlers' return types). Amounts are micro-USD strings.

/** An account (OpenAPI component `Account`). */
export const AccountSchema = z
  .object({
    id: z.string().openapi({ example: 'acc_01J0Z3' }),
    entityType: z.string().openapi({ example: 'user' }),
    entityId: z.string().openapi({ example: 'alice' }),
    debtMicro: micro(
      "Spent credit whose lot was refunded, beyond what the account's other credit could pay: while above 0 every new hold is refused (402 `account_in_debt`); the next mints pay it first.",
    ),
    createdAt: time(),
  })
  .openapi('Account');

/** Available and reserved credit of one pool. */
export const PoolBalanceSchema = z
  .object({ poolId: z.string().openapi({ example: 'general' }), availableMicro: micro(), reservedMicro: micro() })
  .openapi('PoolBalance');

/** A balance as of now: available (unexpired lots), reserved, debt, per pool. */
export const BalanceSchema = z
  .object({
    accountId: z.string(),
    availableMicro: micro('Spendable now: unexpired lots, all pools.'),
    reservedMicro: micro('Held by pending reservations.'),
    debtMicro: micro(),
    pools: z.array(PoolBalanceSchema),
    asOf: time(),
  })
  .openapi('Balance');

/** A lot with its buckets: available + reserved + consumed + expired + refunded = original. */
export const LotSchema = z
  .object({
    id: z.string().openapi({ example: 'lot_01J0Z3' }),
    accountId: z.string(),
    poolId: z.string().openapi({ example: 'general' }),
    sourceType: z.string().openapi({ example: 'grant' }),
    sourceId: z.string().nullable(),
    originalMicro: micro(),
    availableMicro: micro(),
    reservedMicro: micro(),
    consumedMicro: micro(),
    expiredMicro: micro(),
    refundedMicro: micro(),
    expiresAt: time().nullable(),
    seq: z.string().openapi({ description: 'Consumption-order tie-break (base-10).', example: '42' }),
    createdAt: time(),
  })
  .openapi('Lot');

/** `GET /v1/accounts/{id}/lots`. */
export const LotListSchema = z.object({ lots: z.array(LotSchema) }).openapi('LotList');

/** One journal entry: `amountMicro` moved between two buckets of one lot. */
export const EntrySchema = z
  .object({
    id: z.string().openapi({ example: '1024' }),
    accountId: z.string(),
    lotId: z.string().nullable(),
    reservationId: z.string().nullable(),
    kind: z.enum(entryKinds),
    amountMicro: micro('Moved from `fromBucket` to `toBucket` of the lot (> 0).'),
    fromBucket: z.enum(buckets),
    toBucket: z.enum(buckets),
    availableAfterMicro: micro(
      "The account's available balance after this entry; null on `distribute` entries (revenue, not credit).",
    ).nullable(),
    distributionId: z.string().nullable().openapi({ description: 'On `distribute` entries: the distribution.' }),
    ruleId: z.string().nullable(),
    ruleVersion: z.number().int().nullable(),
    ruleSchemaVersion: z.number().int().nullable(),
    memo: z.string().nullable(),
    createdAt: time(),
  })
  .openapi('Entry');

/** `GET /v1/accounts/{id}/entries`: newest first; `nextCursor` null at the end. */
export const EntryPageSchema = z
  .object({ entries: z.array(EntrySchema), nextCursor: z.string().nullable() })
  .openapi('EntryPage');

/** How much a hold drew from one lot. */
export const HoldLotSchema = z.object({ lotId: z.string(), amountMicro: micro() }).openapi('HoldLot');

const reservationFields = {
  id: z.string().openapi({ example: 'res_01J0Z3' }),
  accountId: z.string(),
  poolId: z.string(),
  status: z.enum(reservationStatuses),
  billingMode: z.enum(billingModes),
  amountMicro: micro('The amount held.'),
  expiresAt: time(),
  createdAt: time(),
  resolvedAt: time().nullable(),
  actualCostMicro: micro().nullable(),
  chargedMicro: micro().nullable(),
  overrunMicro: micro().nullable(),
  uncollectedMicro: micro().nullable(),
  meterId: z.string().nullable().openapi({ description: 'The meter whose terms the hold took; null for a raw hold.' }),
  meterVersion: z.number().int().nullable().openapi({ description: 'The meter version that prices its usage.' }),
  usage: z
    .record(z.string(), z.string())
    .nullable()
    .openapi({ description: 'Units per dimension reported at finalize by usage; null otherwise.' }),
  lots: z.array(HoldLotSchema).openapi({ description: 'The lots the hold drew from, in consumption order.' }),
};

/** A hold with its status and lots. */
export const ReservationSchema = z.object(reservationFields).openapi('Reservation');

/** `POST /v1/reservations` (201): the hold and the new balance. */
export const ReservationWithBalanceSchema = z
  .object({ ...reservationFields, balance: BalanceSchema })
  .openapi('ReservationWithBalance');

/** `POST /v1/reservations/{id}/release`: the hold, what was released, the new balance. */
export const ReleaseResultSchema = z
  .object({ ...reservationFields, releasedMicro: micro(), balance: BalanceSchema })
  .openapi('ReleaseResult');

/** A charge split by a revenue rule (or the reversal of part of one). */
export const DistributionSchema = z
  .object({
    id: z.string(),
    kind: z.enum(distributionKinds),
    reservationId: z.string(),
    accountId: z.string(),
    reversesId: z.string().nullable(),
    lotId: z.string().nullable(),
    amountMicro: micro('The charge (or the part given back).'),
    ruleId: z.string(),
    ruleVersion: z.number().int(),
    ruleSchemaVersion: z.number().int(),
    shares: z.object(
      Object.fromEntries(revenuePools.map((pool) => [pool, micro()])) as Record<
        (typeof revenuePools)[number],
        ReturnType<typeof micro>
      >,
    ),
    referrerAccountId: z.string().nullable(),
    createdAt: time(),
  })
  .openapi('Distribution');

/**
 * The wire form of a distribution.
 *
 * @example
 * ```ts
 * distribution: result.distribution === null ? null : distributionBody(result.distribution),
 * ```
 */
export function distributionBody(distribution: Distribution): z.infer<typeof DistributionSchema> {
  return {
    id: distribution.id,
    kind: distribution.kind,
    reservationId: distribution.reservationId,
    accountId: distribution.accountId,
    reversesId: distribution.reversesId,
    lotId: distribution.lotId,
    amountMicro: str(distribution.amountMicro),
    ruleId: distribution.ruleId,
    ruleVersion: distribution.ruleVersion,
    ruleSchemaVersion: distribution.ruleSchemaVersion,
    shares: Object.fromEntries(revenuePools.map((pool) => [pool, str(distribution.shares[pool])])) as Record<
      (typeof revenuePools)[number],
      string
    >,
    referrerAccountId: distribution.referrerAccountId,
    createdAt: iso(distribution.createdAt),
  };
}

/** One itemized line of a priced usage. */
export const PricingLineSchema = z
  .object({
    dimension: z.string().openapi({ example: 'output_tokens' }),
    units: z.string().openapi({ example: '340' }),
    priceMicro: micro('Micro-USD per `perUnits` units.'),
    perUnits: z.string().openapi({ example: '1000000' }),
    amountMicro: micro("This line's share of the subtotal (its exact value rounded down or up)."),
  })
  .openapi('PricingLine');

/** A usage priced under one meter version. */
export const PricingSchema = z
  .object({
    meterId: z.string().openapi({ example: 'chat' }),
    meterVersion: z.number().int().openapi({ example: 1 }),
    lines: z.array(PricingLineSchema),
    subtotalMicro: micro('Σ units × priceMicro / perUnits, rounded up once to a whole micro-USD.'),
    totalMicro: micro('The subtotal capped at the meter’s maxCostMicro: the cost.'),
    capped: z.boolean(),
  })
  .openapi('Pricing');

/**
 * The wire form of a priced usage.
 *
 * @example
 * ```ts
 * pricing: result.pricing === null ? null : pricingBody(result.pricing),
 * ```
 */
export function pricingBody(pricing: Pricing): z.infer<typeof PricingSchema> {
  return {
    meterId: pricing.meterId,
    meterVersion: pricing.meterVersion,
    lines: pricing.lines.map((line) => ({
      dimension: line.dimension,
      units: line.units.toString(),
      priceMicro: str(line.priceMicro),
      perUnits: line.perUnits.toString(),
      amountMicro: str(line.amountMicro),
    })),
    subtotalMicro: str(pricing.subtotalMicro),
    totalMicro: str(pricing.totalMicro),
    capped: pricing.capped,
  };
}

/** `POST /v1/reservations/{id}/finalize`: what was charged, released, overrun, left uncollected. */
export const FinalizeResultSchema = z
  .object({
    id: z.string(),
    status: z.enum(reservationStatuses),
    actualCostMicro: micro(),
    chargedMicro: micro('Consumed from the account.'),
    releasedMicro: micro('Returned to available.'),
    overrunMicro: micro('Cost above the hold.'),
    uncollectedMicro: micro('Overrun that could not be charged (soft mode: not enough credit; shadow: everything).'),
    distribution: DistributionSchema.nullable().openapi({
      description: 'The split of the charge by the revenue rule in force; null when nothing was charged.',
    }),
    pricing: PricingSchema.nullable().openapi({
      description: 'The itemized cost of a finalize by usage (under the version the hold recorded); null otherwise.',
    }),
    reservation: ReservationSchema,
    balance: BalanceSchema,
  })
  .openapi('FinalizeResult');

/** `POST /v1/accounts/{id}/grants` (201): the minted lot and the new balance. */
export const GrantResultSchema = z.object({ lot: LotSchema, balance: BalanceSchema }).openapi('GrantResult');

/** One outbox event. */
export const LedgerEventSchema = z
  .object({
    id: z.string().openapi({ example: '77' }),
    type: z.string().openapi({ example: 'reservation.finalized' }),
    accountId: z.string().nullable(),
    subjectId: z.string(),
    payload: z.record(z.string(), z.unknown()),
    createdAt: time(),
  })
  .openapi('LedgerEvent');

/** `GET /v1/events`: oldest first after `after`. */
export const EventPageSchema = z
  .object({
    events: z.array(LedgerEventSchema),
    nextCursor: z
      .string()
      .nullable()
      .openapi({ description: 'Pass as `after` to read on; on an empty page, the `after` given.' }),
  })
  .openapi('EventPage');

// Ledger values → wire bodies: amounts through the ledger's `formatMicro`, times as ISO 8601 UTC.

const iso = (date: Date) => date.toISOString();
const isoOrNull = (date: Date | null) => (date === null ? null : date.toISOString());
const str = (value: bigint) => formatMicro(value);
const strOrNull = (value: bigint | null) => (value === null ? null : formatMicro(value));

/**
 * The wire body of an account.
 *
 * @example
 * ```ts
 * return c.json(accountBody(value), 200);
 * ```
 */
export function accountBody(account: Account): z.infer<typeof AccountSchema> {
  return {
    id: account.id,
    entityType: account.entityType,
    entityId: account.entityId,
    debtMicro: str(account.debtMicro),
    createdAt: iso(account.createdAt),
  };
}

/**
 * The wire body of a balance.
 *
 * @example
 * ```ts
 * return c.json(balanceBody(value), 200);
 * ```
 */
export function balanceBody(balance: Balance): z.infer<typeof BalanceSchema> {
  return {
    accountId: balance.accountId,
    availableMicro: str(balance.availableMicro),
    reservedMicro: str(balance.reservedMicro),
    debtMicro: str(balance.debtMicro),
    pools: balance.pools.map((pool) => ({
      poolId: pool.poolId,
      availableMicro: str(pool.availableMicro),
      reservedMicro: str(pool.reservedMicro),
    })),
    asOf: iso(balance.asOf),
  };
}

/**
 * The wire body of a lot.
 *
 * @example
 * ```ts
 * return c.json(lotBody(value), 200);
 * ```
 */
export function lotBody(lot: Lot): z.infer<typeof LotSchema> {
  return {
    id: lot.id,
    accountId: lot.accountId,
    poolId: lot.poolId,
    sourceType: lot.sourceType,
    sourceId: lot.sourceId,
    originalMicro: str(lot.originalMicro),
    availableMicro: str(lot.availableMicro),
    reservedMicro: str(lot.reservedMicro),
    consumedMicro: str(lot.consumedMicro),
    expiredMicro: str(lot.expiredMicro),
    refundedMicro: str(lot.refundedMicro),
    expiresAt: isoOrNull(lot.expiresAt),
    seq: str(lot.seq),
    createdAt: iso(lot.createdAt),
  };
}

/**
 * The wire body of a journal entry.
 *
 * @example
 * ```ts
 * return c.json(entryBody(value), 200);
 * ```
 */
export function entryBody(entry: Entry): z.infer<typeof EntrySchema> {
  return {
    id: str(entry.id),
    accountId: entry.accountId,
    lotId: entry.lotId,
    reservationId: entry.reservationId,
    kind: entry.kind,
    amountMicro: str(entry.amountMicro),
    fromBucket: entry.fromBucket,
    toBucket: entry.toBucket,
    availableAfterMicro: entry.availableAfterMicro === null ? null : str(entry.availableAfterMicro),
    distributionId: entry.distributionId,
    ruleId: entry.ruleId,
    ruleVersion: entry.ruleVersion,
    ruleSchemaVersion: entry.ruleSchemaVersion,
    memo: entry.memo,
    createdAt: iso(entry.createdAt),
  };
}

function holdLotBody(lot: HoldLot): z.infer<typeof HoldLotSchema> {
  return { lotId: lot.lotId, amountMicro: str(lot.amountMicro) };
}

/**
 * The wire body of a hold.
 *
 * @example
 * ```ts
 * return c.json(reservationBody(value), 200);
 * ```
 */
export function reservationBody(reservation: Reservation): z.infer<typeof ReservationSchema> {
  return {
    id: reservation.id,
    accountId: reservation.accountId,
    poolId: reservation.poolId,
    status: reservation.status,
    billingMode: reservation.billingMode,
    amountMicro: str(reservation.amountMicro),
    expiresAt: iso(reservation.expiresAt),
    createdAt: iso(reservation.createdAt),
    resolvedAt: isoOrNull(reservation.resolvedAt),
    actualCostMicro: strOrNull(reservation.actualCostMicro),
    chargedMicro: strOrNull(reservation.chargedMicro),
    overrunMicro: strOrNull(reservation.overrunMicro),
    uncollectedMicro: strOrNull(reservation.uncollectedMicro),
    meterId: reservation.meterId,
    meterVersion: reservation.meterVersion,
    usage:
      reservation.usage === null
        ? null
        : Object.fromEntries(
            Object.entries(reservation.usage).map(([dimension, units]) => [dimension, units.toString()]),
          ),
    lots: reservation.lots.map(holdLotBody),
  };
}

/**
 * The wire body of an outbox event.
 *
 * @example
 * ```ts
 * return c.json(eventBody(value), 200);
 * ```
 */
export function eventBody(event: LedgerEvent): z.infer<typeof LedgerEventSchema> {
  return {
    id: str(event.id),
    type: event.type,
    accountId: event.accountId,
    subjectId: event.subjectId,
    payload: event.payload,
    createdAt: iso(event.createdAt),
  };
}

// Who may touch which account.

/**
 * True when a user principal owns the account: `entityType` is `user` and `entityId` is the token's `sub`.
 *
 * @example
 * ```ts
 * ownsAccount(principal, { entityType: 'user', entityId: principal.sub }); // true
 * ```
 */
export function ownsAccount(principal: Principal, account: Pick<Account, 'entityType' | 'entityId'>): boolean {
  return account.entityType === 'user' && account.entityId === principal.sub;
}

/**
 * Services and admins may act on any account; a user (audience `arrakis-api`) only on the account they own.
 * Anything else is a 403 `forbidden`, whether or not the account exists, so a user cannot probe for ids.
 *
 * @throws {ForbiddenError}
 * @example
 * ```ts
 * assertMayUseAccount(c.var.principal, account, accountId);
 * ```
 */
export function assertMayUseAccount(principal: Principal, account: Account | undefined, accountId: string): void {
  if (principal.audience !== 'arrakis-api') return;
  if (account !== undefined && ownsAccount(principal, account)) return;
  throw new ForbiddenError(`account ${JSON.stringify(accountId)} does not belong to the caller`, {
    details: { accountId },
  });
}
