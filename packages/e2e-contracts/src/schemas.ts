import { z } from 'zod';

/** The three token audiences the gateway accepts: users, services, admins. */
export const gatewayAudiences = ['arrakis-api', 'arrakis-internal', 'arrakis-admin'] as const;

/** One of {@link gatewayAudiences}. */
export type GatewayAudience = (typeof gatewayAudiences)[number];

/**
 * The one JSON error shape of the gateway: `{ error, message, details? }`; a 500 also carries `requestId`.
 *
 * @example
 * ```ts
 * const body = errorBodySchema.parse(await response.json());
 * if (body.error === 'token_expired') refreshToken();
 * ```
 */
export const errorBodySchema = z.object({
  error: z.string().regex(/^[a-z][a-z0-9_]*$/, 'error codes are lower_snake_case'),
  message: z.string().min(1),
  details: z.unknown().optional(),
  requestId: z.string().optional(),
});

/** A parsed {@link errorBodySchema}. */
export type ErrorBody = z.infer<typeof errorBodySchema>;

/**
 * `GET /health` (liveness): answers 200 while the process serves requests.
 *
 * @example
 * ```ts
 * healthBodySchema.parse({ status: 'ok' });
 * ```
 */
export const healthBodySchema = z.object({ status: z.literal('ok') });

/** A parsed {@link healthBodySchema}. */
export type HealthBody = z.infer<typeof healthBodySchema>;

/**
 * One dependency in `GET /ready`: its state, how long the check took, and why it failed.
 *
 * @example
 * ```ts
 * dependencyStateSchema.parse({ name: 'counters', status: 'up', latencyMs: 1 });
 * ```
 */
export const dependencyStateSchema = z.object({
  name: z.string().min(1),
  status: z.enum(['up', 'down']),
  latencyMs: z.number().nonnegative(),
  error: z.string().optional(),
});

/** A parsed {@link dependencyStateSchema}. */
export type DependencyState = z.infer<typeof dependencyStateSchema>;

/**
 * `GET /ready` (readiness): 200 `ready` when every dependency is up, 503 `not_ready` when one is down.
 *
 * @example
 * ```ts
 * const ready = readyBodySchema.parse(await (await fetch(`${baseUrl}/ready`)).json());
 * const down = ready.dependencies.filter((d) => d.status === 'down');
 * ```
 */
export const readyBodySchema = z.object({
  status: z.enum(['ready', 'not_ready']),
  dependencies: z.array(dependencyStateSchema),
});

/** A parsed {@link readyBodySchema}. */
export type ReadyBody = z.infer<typeof readyBodySchema>;

/**
 * `GET /v1/whoami` and `GET /v1/admin/whoami`: the principal the bearer token proved.
 *
 * @example
 * ```ts
 * const me = whoamiBodySchema.parse(body);
 * console.log(me.sub, me.audience, me.scopes);
 * ```
 */
export const whoamiBodySchema = z.object({
  sub: z.string().min(1),
  audience: z.enum(gatewayAudiences),
  scopes: z.array(z.string()),
  issuer: z.string().min(1),
  expiresAt: z.iso.datetime(),
});

/** A parsed {@link whoamiBodySchema}. */
export type WhoamiBody = z.infer<typeof whoamiBodySchema>;

/**
 * The parts of an OpenAPI 3.1 document the contract relies on: the version, `info` and `paths`.
 *
 * @example
 * ```ts
 * const doc = openApiDocumentSchema.parse(await (await fetch(`${baseUrl}/openapi.json`)).json());
 * Object.keys(doc.paths); // ['/health', '/ready', ...]
 * ```
 */
export const openApiDocumentSchema = z.object({
  openapi: z.string().regex(/^3\.1\.\d+$/, 'expected an OpenAPI 3.1.x document'),
  info: z.object({ title: z.string().min(1), version: z.string().min(1) }).loose(),
  paths: z.record(z.string(), z.record(z.string(), z.unknown())),
  components: z.record(z.string(), z.unknown()).optional(),
});

/** A parsed {@link openApiDocumentSchema}. */
export type OpenApiDocument = z.infer<typeof openApiDocumentSchema>;

/**
 * A micro-USD amount on the wire: a canonical base-10 string (`"0"` or no leading zero, no sign, no exponent).
 *
 * @example
 * ```ts
 * microStringSchema.parse('1500000'); // ok
 * microStringSchema.safeParse('1e6').success; // false
 * ```
 */
export const microStringSchema = z.string().regex(/^(0|[1-9][0-9]{0,19})$/, 'expected a canonical micro-USD string');

const isoTime = z.iso.datetime();

/**
 * `POST /v1/accounts` and `GET /v1/accounts/:id`: one account per `(entityType, entityId)`.
 *
 * @example
 * ```ts
 * const account = accountBodySchema.parse(body);
 * console.log(account.id, account.entityType, account.entityId);
 * ```
 */
export const accountBodySchema = z.object({
  id: z.string().min(1),
  entityType: z.string().min(1),
  entityId: z.string().min(1),
  debtMicro: microStringSchema,
  createdAt: isoTime,
});

/** A parsed {@link accountBodySchema}. */
export type AccountBody = z.infer<typeof accountBodySchema>;

/**
 * `GET /v1/accounts/:id/balance` (also inside write answers): available and reserved, total and per pool.
 *
 * @example
 * ```ts
 * const { availableMicro, pools } = balanceBodySchema.parse(body);
 * ```
 */
export const balanceBodySchema = z.object({
  accountId: z.string().min(1),
  availableMicro: microStringSchema,
  reservedMicro: microStringSchema,
  debtMicro: microStringSchema,
  pools: z.array(
    z.object({ poolId: z.string().min(1), availableMicro: microStringSchema, reservedMicro: microStringSchema }),
  ),
  asOf: isoTime,
});

/** A parsed {@link balanceBodySchema}. */
export type BalanceBody = z.infer<typeof balanceBodySchema>;

/**
 * A lot with its buckets (`available + reserved + consumed + expired + refunded = original`).
 *
 * @example
 * ```ts
 * const lot = lotBodySchema.parse(body.lot);
 * ```
 */
export const lotBodySchema = z.object({
  id: z.string().min(1),
  accountId: z.string().min(1),
  poolId: z.string().min(1),
  sourceType: z.string().min(1),
  sourceId: z.string().nullable(),
  originalMicro: microStringSchema,
  availableMicro: microStringSchema,
  reservedMicro: microStringSchema,
  consumedMicro: microStringSchema,
  expiredMicro: microStringSchema,
  refundedMicro: microStringSchema,
  expiresAt: isoTime.nullable(),
  seq: microStringSchema,
  createdAt: isoTime,
});

/** A parsed {@link lotBodySchema}. */
export type LotBody = z.infer<typeof lotBodySchema>;

/**
 * `GET /v1/accounts/:id/lots`.
 *
 * @example
 * ```ts
 * const { lots } = lotListBodySchema.parse(body);
 * ```
 */
export const lotListBodySchema = z.object({ lots: z.array(lotBodySchema) });

/** A parsed {@link lotListBodySchema}. */
export type LotListBody = z.infer<typeof lotListBodySchema>;

/** Journal entry kinds. */
export const entryKinds = [
  'mint',
  'reserve',
  'release',
  'consume',
  'expire_lot',
  'expire_hold',
  'refund',
  'distribute',
  'adjust',
] as const;

/** Buckets an entry moves value between (`external` = outside the ledger). */
export const entryBuckets = [
  'external',
  'available',
  'reserved',
  'consumed',
  'expired',
  'refunded',
  'revenue',
] as const;

/**
 * One journal entry: `amountMicro` moved from `fromBucket` to `toBucket` of one lot.
 *
 * @example
 * ```ts
 * const entry = entryBodySchema.parse(page.entries[0]);
 * ```
 */
export const entryBodySchema = z.object({
  id: microStringSchema,
  accountId: z.string().min(1),
  lotId: z.string().nullable(),
  reservationId: z.string().nullable(),
  kind: z.enum(entryKinds),
  amountMicro: microStringSchema,
  fromBucket: z.enum(entryBuckets),
  toBucket: z.enum(entryBuckets),
  availableAfterMicro: microStringSchema.nullable(),
  distributionId: z.string().nullable(),
  ruleId: z.string().nullable(),
  ruleVersion: z.number().int().nullable(),
  ruleSchemaVersion: z.number().int().nullable(),
  memo: z.string().nullable(),
  createdAt: isoTime,
});

/** A parsed {@link entryBodySchema}. */
export type EntryBody = z.infer<typeof entryBodySchema>;

/**
 * `GET /v1/accounts/:id/entries`: newest first; `nextCursor` is null at the end.
 *
 * @example
 * ```ts
 * const page = entryPageBodySchema.parse(body);
 * if (page.nextCursor !== null) await client.listEntries(id, { cursor: page.nextCursor });
 * ```
 */
export const entryPageBodySchema = z.object({ entries: z.array(entryBodySchema), nextCursor: z.string().nullable() });

/** A parsed {@link entryPageBodySchema}. */
export type EntryPageBody = z.infer<typeof entryPageBodySchema>;

/** Reservation statuses. */
export const reservationStatuses = ['pending', 'finalized', 'released', 'expired'] as const;

const reservationShape = {
  id: z.string().min(1),
  accountId: z.string().min(1),
  poolId: z.string().min(1),
  status: z.enum(reservationStatuses),
  billingMode: z.enum(['live', 'soft', 'shadow']),
  amountMicro: microStringSchema,
  expiresAt: isoTime,
  createdAt: isoTime,
  resolvedAt: isoTime.nullable(),
  actualCostMicro: microStringSchema.nullable(),
  chargedMicro: microStringSchema.nullable(),
  overrunMicro: microStringSchema.nullable(),
  uncollectedMicro: microStringSchema.nullable(),
  /** The meter whose terms the hold took; null for a hold with caller-set terms. */
  meterId: z.string().min(1).nullable(),
  /** The meter version that prices its usage; null exactly when `meterId` is. */
  meterVersion: z.number().int().positive().nullable(),
  /** The usage a finalize by usage reported (dimension → units as base-10 strings); null otherwise. */
  usage: z.record(z.string(), z.string().regex(/^(0|[1-9][0-9]{0,19})$/)).nullable(),
  lots: z.array(z.object({ lotId: z.string().min(1), amountMicro: microStringSchema })),
};

/**
 * `GET /v1/reservations/:id`: a hold with its status and the lots it drew from, in order.
 *
 * @example
 * ```ts
 * const hold = reservationBodySchema.parse(body);
 * ```
 */
export const reservationBodySchema = z.object(reservationShape);

/** A parsed {@link reservationBodySchema}. */
export type ReservationBody = z.infer<typeof reservationBodySchema>;

/**
 * `POST /v1/reservations` (201): the hold and the new balance.
 *
 * @example
 * ```ts
 * const { id, lots, balance } = reserveBodySchema.parse(body);
 * ```
 */
export const reserveBodySchema = z.object({ ...reservationShape, balance: balanceBodySchema });

/** A parsed {@link reserveBodySchema}. */
export type ReserveBody = z.infer<typeof reserveBodySchema>;

/**
 * `POST /v1/reservations/:id/release`: the released hold, what was released, the new balance.
 *
 * @example
 * ```ts
 * const { status, releasedMicro } = releaseBodySchema.parse(body);
 * ```
 */
export const releaseBodySchema = z.object({
  ...reservationShape,
  releasedMicro: microStringSchema,
  balance: balanceBodySchema,
});

/** A parsed {@link releaseBodySchema}. */
export type ReleaseBody = z.infer<typeof releaseBodySchema>;

/** Revenue pools a charge is split into (the foundation takes the remainder). */
export const revenuePools = ['commons', 'community', 'foundation', 'referrer', 'treasury'] as const;

/**
 * A charge split by a revenue rule, or the reversal of part of one; the shares sum to `amountMicro`.
 *
 * @example
 * ```ts
 * const distribution = distributionBodySchema.parse(body.distribution);
 * ```
 */
export const distributionBodySchema = z
  .object({
    id: z.string().min(1),
    kind: z.enum(['charge', 'reversal']),
    reservationId: z.string().min(1),
    accountId: z.string().min(1),
    reversesId: z.string().nullable(),
    lotId: z.string().nullable(),
    amountMicro: microStringSchema,
    ruleId: z.string().min(1),
    ruleVersion: z.number().int().positive(),
    ruleSchemaVersion: z.union([z.literal(1), z.literal(2)]),
    shares: z.object({
      commons: microStringSchema,
      community: microStringSchema,
      foundation: microStringSchema,
      referrer: microStringSchema,
      treasury: microStringSchema,
    }),
    referrerAccountId: z.string().nullable(),
    createdAt: isoTime,
  })
  .refine(
    (d) => revenuePools.reduce((sum, pool) => sum + BigInt(d.shares[pool]), 0n) === BigInt(d.amountMicro),
    'the shares must sum to amountMicro',
  );

/** A parsed {@link distributionBodySchema}. */
export type DistributionBody = z.infer<typeof distributionBodySchema>;

/** Units of a usage dimension on the wire: canonical base-10 digits. */
export const unitsStringSchema = z.string().regex(/^(0|[1-9][0-9]{0,19})$/, 'expected canonical base-10 units');

/**
 * The itemized price of a usage under one meter version (`pricing` of a finalize by usage): the lines sum to
 * `subtotalMicro` (Σ units × priceMicro / perUnits rounded up once); `totalMicro` is the subtotal capped at the
 * meter's `maxCostMicro`, and `capped` says whether the cap lowered it.
 *
 * @example
 * ```ts
 * const { lines, totalMicro } = pricingBodySchema.parse(body.pricing);
 * ```
 */
export const pricingBodySchema = z
  .object({
    meterId: z.string().min(1),
    meterVersion: z.number().int().positive(),
    lines: z.array(
      z.object({
        dimension: z.string().min(1),
        units: unitsStringSchema,
        priceMicro: microStringSchema,
        perUnits: unitsStringSchema,
        amountMicro: microStringSchema,
      }),
    ),
    subtotalMicro: microStringSchema,
    totalMicro: microStringSchema,
    capped: z.boolean(),
  })
  .refine(
    (p) => p.lines.reduce((sum, line) => sum + BigInt(line.amountMicro), 0n) === BigInt(p.subtotalMicro),
    'the lines must sum to subtotalMicro',
  )
  .refine(
    (p) =>
      BigInt(p.totalMicro) <= BigInt(p.subtotalMicro) && p.capped === BigInt(p.totalMicro) < BigInt(p.subtotalMicro),
    'totalMicro is the subtotal, or below it exactly when capped',
  );

/** A parsed {@link pricingBodySchema}. */
export type PricingBody = z.infer<typeof pricingBodySchema>;

/**
 * `POST /v1/reservations/:id/finalize`: what was charged, released, overrun and left uncollected, and the
 * charge's split by the revenue rule in force (`distribution`, null when nothing was charged).
 *
 * @example
 * ```ts
 * const { chargedMicro, releasedMicro } = finalizeBodySchema.parse(body);
 * ```
 */
export const finalizeBodySchema = z.object({
  id: z.string().min(1),
  status: z.enum(reservationStatuses),
  actualCostMicro: microStringSchema,
  chargedMicro: microStringSchema,
  releasedMicro: microStringSchema,
  overrunMicro: microStringSchema,
  uncollectedMicro: microStringSchema,
  distribution: distributionBodySchema.nullable(),
  pricing: pricingBodySchema.nullable(),
  reservation: reservationBodySchema,
  balance: balanceBodySchema,
});

/** A parsed {@link finalizeBodySchema}. */
export type FinalizeBody = z.infer<typeof finalizeBodySchema>;

/**
 * `POST /v1/accounts/:id/grants` (201): the minted lot and the new balance.
 *
 * @example
 * ```ts
 * const { lot, balance } = grantBodySchema.parse(body);
 * ```
 */
export const grantBodySchema = z.object({ lot: lotBodySchema, balance: balanceBodySchema });

/** A parsed {@link grantBodySchema}. */
export type GrantBody = z.infer<typeof grantBodySchema>;

/**
 * One outbox event (`lot.minted`, `reservation.created`, `reservation.finalized`, …).
 *
 * @example
 * ```ts
 * const event = ledgerEventBodySchema.parse(page.events[0]);
 * ```
 */
export const ledgerEventBodySchema = z.object({
  id: microStringSchema,
  type: z.string().min(1),
  accountId: z.string().nullable(),
  subjectId: z.string().min(1),
  payload: z.record(z.string(), z.unknown()),
  createdAt: isoTime,
});

/** A parsed {@link ledgerEventBodySchema}. */
export type LedgerEventBody = z.infer<typeof ledgerEventBodySchema>;

/**
 * `GET /v1/events`: oldest first after `after`; `nextCursor` is where to read on (on an empty page, the `after` given).
 *
 * @example
 * ```ts
 * const page = eventPageBodySchema.parse(body);
 * ```
 */
export const eventPageBodySchema = z.object({
  events: z.array(ledgerEventBodySchema),
  nextCursor: z.string().nullable(),
});

/** A parsed {@link eventPageBodySchema}. */
export type EventPageBody = z.infer<typeof eventPageBodySchema>;

/** The states of a payment record (`GET /v1/payments`). */
export const paymentStatusValues = ['verified', 'settling', 'settled', 'credited', 'failed'] as const;

/**
 * One payment record (`GET /v1/payments/{id}`): a two-phase x402 purchase, its state, transaction and minted lot.
 *
 * @example
 * ```ts
 * const payment = paymentBodySchema.parse(body);
 * ```
 */
export const paymentBodySchema = z.object({
  id: z.string(),
  reference: z.string(),
  status: z.enum(paymentStatusValues),
  kind: z.enum(['pack', 'credit']),
  accountId: z.string(),
  packId: z.string().nullable(),
  payer: z.string(),
  payTo: z.string().nullable(),
  amountMicro: z.string().regex(/^[0-9]+$/),
  network: z.string().nullable(),
  asset: z.string().nullable(),
  nonce: z.string().nullable(),
  validBefore: z.string().nullable(),
  transaction: z.string().nullable(),
  lotId: z.string().nullable(),
  failure: z.object({ code: z.string(), message: z.string() }).nullable(),
  attempts: z.number().int().nonnegative(),
  reconcileAfter: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
  creditedAt: z.string().nullable(),
});

/** A parsed {@link paymentBodySchema}. */
export type PaymentBody = z.infer<typeof paymentBodySchema>;

/**
 * `GET /v1/payments`: newest first; `nextCursor` is the next page's `cursor` (null at the end).
 *
 * @example
 * ```ts
 * const page = paymentPageBodySchema.parse(body);
 * ```
 */
export const paymentPageBodySchema = z.object({
  payments: z.array(paymentBodySchema),
  nextCursor: z.string().nullable(),
});

/** A parsed {@link paymentPageBodySchema}. */
export type PaymentPageBody = z.infer<typeof paymentPageBodySchema>;

/**
 * One version of a meter (`POST /v1/meters` 201, `GET /v1/meters/{id}`): operator-owned charge terms and unit prices.
 *
 * @example
 * ```ts
 * const meter = meterBodySchema.parse(body);
 * console.log(meter.id, meter.version, meter.unitPrices.map((p) => p.dimension));
 * ```
 */
export const meterBodySchema = z.object({
  id: z.string().min(1),
  version: z.number().int().positive(),
  poolId: z.string().min(1),
  billingMode: z.enum(['live', 'soft', 'shadow']),
  holdMicro: microStringSchema,
  maxCostMicro: microStringSchema.nullable(),
  ttlSeconds: z.number().int().positive().nullable(),
  unitPrices: z
    .array(
      z.object({
        dimension: z.string().min(1),
        priceMicro: microStringSchema,
        perUnits: unitsStringSchema,
        unitsMax: unitsStringSchema,
      }),
    )
    .min(1),
  effectiveAt: isoTime,
  createdBy: z.string().min(1),
  createdAt: isoTime,
});

/** A parsed {@link meterBodySchema}. */
export type MeterBody = z.infer<typeof meterBodySchema>;

/**
 * `GET /v1/meters`: every meter's version in force.
 *
 * @example
 * ```ts
 * const { meters } = meterListBodySchema.parse(body);
 * ```
 */
export const meterListBodySchema = z.object({ meters: z.array(meterBodySchema) });

/** A parsed {@link meterListBodySchema}. */
export type MeterListBody = z.infer<typeof meterListBodySchema>;

/**
 * `GET /v1/meters/{id}/versions`: every version of a meter, newest first.
 *
 * @example
 * ```ts
 * const { versions } = meterVersionsBodySchema.parse(body);
 * ```
 */
export const meterVersionsBodySchema = z.object({ versions: z.array(meterBodySchema) });

/** A parsed {@link meterVersionsBodySchema}. */
export type MeterVersionsBody = z.infer<typeof meterVersionsBodySchema>;

const spendPeriodSchema = (period: 'daily' | 'monthly') =>
  z.object({
    period: z.literal(period),
    periodStart: isoTime,
    spentMicro: microStringSchema,
    capMicro: microStringSchema.nullable(),
  });

/**
 * `PUT` and `GET /v1/accounts/{id}/spend-caps`: the caps (null: none) and the spend of the current UTC day and month.
 *
 * @example
 * ```ts
 * const { daily } = spendCapsBodySchema.parse(body);
 * console.log(daily.spentMicro, daily.capMicro);
 * ```
 */
export const spendCapsBodySchema = z.object({
  accountId: z.string().min(1),
  dailyCapMicro: microStringSchema.nullable(),
  monthlyCapMicro: microStringSchema.nullable(),
  updatedBy: z.string().min(1).nullable(),
  updatedAt: isoTime.nullable(),
  daily: spendPeriodSchema('daily'),
  monthly: spendPeriodSchema('monthly'),
});

/** A parsed {@link spendCapsBodySchema}. */
export type SpendCapsBody = z.infer<typeof spendCapsBodySchema>;
