import {
  billingModes,
  type FinalizeInput,
  type FinalizeResult,
  holdFor,
  holdTtlMsDefault,
  type Ledger,
  priceUsage,
  type Reservation,
  type ReserveInput,
} from '@arrakis/billing-ledger';
import { formatMicro } from '@arrakis/billing-ledger/money';
import { createRoute, z } from '@hono/zod-openapi';
import type { Principal } from '../context.js';
import type { GatewayApp, RouteContext } from '../deps.js';
import { RequestValidationError, TermsNotAllowedError } from '../errors.js';
import { enforceFinalizeAnchor, enforceFinalizeTrust, enforceTrust, trustMayRefuse } from '../identity/trust-guard.js';
import { inOrder } from '../in-order.js';
import { accountFor } from './accounts.js';
import { paymentRequiredForShortfall } from './credit-pack-purchase.js';
import {
  amountMicroSchema,
  balanceBody,
  distributionBody,
  FinalizeResultSchema,
  holdTtlSecondsMax,
  IdempotencyHeaderSchema,
  idParamSchema,
  ledgerIdSchema,
  ledgerNameSchema,
  pricingBody,
  ReleaseResultSchema,
  ReservationSchema,
  ReservationWithBalanceSchema,
  reservationBody,
  usageSchema,
  writeOptions,
} from './ledger-schemas.js';
import { authErrorResponses, ErrorBodySchema, validationErrorResponse } from './schemas.js';

const json = (description: string) => ({ description, content: { 'application/json': { schema: ErrorBodySchema } } });

const ReserveBodySchema = z
  .object({
    accountId: ledgerIdSchema('acc_01J0Z3'),
    amountMicro: amountMicroSchema('amountMicro')
      .optional()
      .openapi({ description: 'Raw hold (services and admins): the amount held. Exactly one of this and meterId.' }),
    poolId: ledgerNameSchema('general')
      .optional()
      .openapi({ description: 'Raw hold: draw from this pool first, then `general` (default `general`).' }),
    ttlSeconds: z
      .number()
      .int()
      .min(1)
      .max(holdTtlSecondsMax)
      .optional()
      .openapi({
        example: 300,
        description: `Raw hold: lifetime, 1-${holdTtlSecondsMax} s (default ${holdTtlMsDefault / 1000}).`,
      }),
    billingMode: z.enum(billingModes).optional().openapi({
      description:
        'Raw hold: what finalize does with a cost above the hold: `live` (default) charges the hold and records the overrun; `soft` also charges the excess from other credit; `shadow` charges nothing and records what would have been charged.',
    }),
    meterId: ledgerNameSchema('chat').optional().openapi({
      description: 'Hold on the terms of this meter’s version in force (pool, billing mode, ttl, amount).',
    }),
    estimate: usageSchema(
      'With meterId: the expected usage; the hold is max(holdMicro, cost(estimate)) capped at maxCostMicro.',
    ).optional(),
  })
  .strict()
  .openapi('ReserveRequest', {
    description:
      'Raw `{accountId, amountMicro, poolId?, ttlSeconds?, billingMode?}` (services and admins) or metered `{accountId, meterId, estimate?}` (everyone; the only form a user token may use).',
  });

const FinalizeBodySchema = z
  .object({
    actualCostMicro: amountMicroSchema('actualCostMicro', { min: 0n })
      .optional()
      .openapi({ description: 'The cost, computed by the caller. Exactly one of this and usage.' }),
    usage: usageSchema(
      'The units used: priced under the meter version the hold recorded (metered holds only).',
    ).optional(),
  })
  .strict()
  .openapi('FinalizeRequest');

type ReserveBody = z.infer<typeof ReserveBodySchema>;
type FinalizeBody = z.infer<typeof FinalizeBodySchema>;

/** Fields of a reserve that set charge terms: a user token may send none of them (403 `terms_not_allowed`). */
export const rawTermFields = ['amountMicro', 'billingMode', 'poolId', 'ttlSeconds'] as const;

/** A 400 `validation_failed` on the body's form (which fields go together), with a stable issue code. */
function formError(code: string, path: string, message: string): RequestValidationError {
  return new RequestValidationError('body', [{ path, message, code }]);
}

/**
 * The ledger's reserve input of a validated body: a user token may not set terms; exactly one of `amountMicro` and
 * `meterId`; a metered hold takes no terms; an estimate needs a meter.
 *
 * @throws {TermsNotAllowedError} `terms_not_allowed` (403) for a user token setting terms.
 * @throws {RequestValidationError} `validation_failed` (400) for a body of no form or of both.
 */
function reserveInputOf(principal: Principal, body: ReserveBody): ReserveInput {
  const terms = rawTermFields.filter((field) => body[field] !== undefined);
  if (principal.audience === 'arrakis-api' && terms.length > 0) throw new TermsNotAllowedError(terms);
  if (body.meterId !== undefined) {
    if (body.amountMicro !== undefined) {
      throw formError('amount_and_meter_exclusive', 'amountMicro', 'give amountMicro (raw hold) or meterId, not both');
    }
    if (terms.length > 0) {
      throw formError(
        'meter_terms_excluded',
        terms[0] ?? '',
        `a hold through a meter takes its terms from the meter: leave ${terms.join(', ')} out`,
      );
    }
    return {
      accountId: body.accountId,
      meterId: body.meterId,
      ...(body.estimate === undefined ? {} : { estimate: body.estimate }),
    };
  }
  if (body.amountMicro === undefined) {
    throw formError('amount_or_meter_required', '', 'give amountMicro (raw hold) or meterId (hold on a meter’s terms)');
  }
  if (body.estimate !== undefined) throw formError('estimate_needs_meter', 'estimate', 'estimate needs meterId');
  return {
    accountId: body.accountId,
    amountMicro: body.amountMicro,
    ...(body.poolId === undefined ? {} : { poolId: body.poolId }),
    ...(body.ttlSeconds === undefined ? {} : { ttlMs: body.ttlSeconds * 1000 }),
    ...(body.billingMode === undefined ? {} : { billingMode: body.billingMode }),
  };
}

/**
 * What a reserve will hold, for the trust check: the raw amount, or `holdFor(meter in force, estimate)`. (The ledger
 * reads the meter in force again inside its transaction; a version created in between can only change the hold by
 * what that version changed.)
 */
async function holdMicroOf(ledger: Ledger, input: ReserveInput): Promise<bigint> {
  if (input.meterId === undefined) return input.amountMicro;
  return holdFor(await ledger.getMeter(input.meterId), input.estimate);
}

/**
 * The ledger's finalize input of a validated body: exactly one of `actualCostMicro` and `usage`.
 *
 * @throws {RequestValidationError} `validation_failed` (400) otherwise.
 */
function finalizeInputOf(reservationId: string, body: FinalizeBody): FinalizeInput {
  if (body.actualCostMicro !== undefined && body.usage !== undefined) {
    throw formError('cost_and_usage_exclusive', 'usage', 'give actualCostMicro or usage, not both');
  }
  if (body.usage !== undefined) return { reservationId, usage: body.usage };
  if (body.actualCostMicro === undefined) {
    throw formError('cost_or_usage_required', 'actualCostMicro', 'give actualCostMicro or usage');
  }
  return { reservationId, actualCostMicro: body.actualCostMicro };
}

/**
 * The cost a finalize will charge, for the trust check: the given cost, or the usage priced under the version the
 * hold recorded. Null for a usage on a raw hold (the ledger answers 409 `reservation_not_metered`).
 */
async function finalizeCostMicro(ledger: Ledger, hold: Reservation, input: FinalizeInput): Promise<bigint | null> {
  if (input.usage === undefined) return input.actualCostMicro;
  if (hold.meterId === null || hold.meterVersion === null) return null;
  return priceUsage(await ledger.getMeter(hold.meterId, { version: hold.meterVersion }), input.usage).totalMicro;
}

function finalizeAnswer(result: FinalizeResult, input: FinalizeInput) {
  const costMicro = result.reservation.actualCostMicro ?? result.pricing?.totalMicro ?? input.actualCostMicro ?? 0n;
  return {
    id: result.reservation.id,
    status: result.reservation.status,
    actualCostMicro: formatMicro(costMicro),
    chargedMicro: formatMicro(result.chargedMicro),
    releasedMicro: formatMicro(result.releasedMicro),
    overrunMicro: formatMicro(result.overrunMicro),
    uncollectedMicro: formatMicro(result.uncollectedMicro),
    distribution: result.distribution === null ? null : distributionBody(result.distribution),
    pricing: result.pricing === null ? null : pricingBody(result.pricing),
    reservation: reservationBody(result.reservation),
    balance: balanceBody(result.balance),
  };
}

/**
 * Registers the hold routes: `POST /v1/reservations` (users on their own account through a meter, services and
 * admins on any, raw or metered), `POST /v1/reservations/{id}/finalize`, `POST /v1/reservations/{id}/release` and
 * `GET /v1/reservations/{id}` (services).
 *
 * @example
 * ```ts
 * registerReservationRoutes(app, routeContext);
 * ```
 */
export function registerReservationRoutes(app: GatewayApp, ctx: RouteContext): void {
  registerReserveRoute(app, ctx);
  registerFinalizeRoute(app, ctx);
  registerReleaseAndReadRoutes(app, ctx);
}

function registerReserveRoute(app: GatewayApp, ctx: RouteContext): void {
  const { ledger } = ctx.deps;
  const reserveRoute = createRoute({
    method: 'post',
    path: '/v1/reservations',
    tags: ['reservations'],
    summary: 'Hold credit (reserve)',
    description:
      'Moves the hold from available to reserved across lots in consumption order (the pool before `general`; lots that expire first; oldest first), or changes nothing and answers 402. Raw (`amountMicro`, services and admins) or through a meter (`meterId`: pool, mode, ttl and amount from the version in force). Users on their own account, through a meter only; services and admins on any.',
    security: [{ bearerAuth: [] }],
    middleware: ctx.guard(['arrakis-api', 'arrakis-internal', 'arrakis-admin']),
    request: {
      headers: IdempotencyHeaderSchema,
      body: { required: true, content: { 'application/json': { schema: ReserveBodySchema } } },
    },
    responses: {
      201: {
        description: 'The hold (with its meter and version), the lots it drew from, the new balance.',
        content: { 'application/json': { schema: ReservationWithBalanceSchema } },
      },
      400: json(
        '`validation_failed` (also both or neither of amountMicro and meterId, terms with meterId, estimate without meterId); `unknown_dimension`, `invalid_usage` (the estimate).',
      ),
      402: json(
        "`insufficient_credits`: `details` carries requestedMicro, availableMicro, shortfallMicro, poolId. With payments on, also `pack` and `purchaseUrl`, and a `PAYMENT-REQUIRED` header (x402) for the cheapest credit pack covering the shortfall, whose `resource.url` is that pack's purchase route. `spend_cap_exceeded`: `details` carries period, periodStart, spentMicro, capMicro, requestedMicro. `account_in_debt`: the account owes debt its credit could not pay (a refunded purchase it had spent); `details` carries accountId, debtMicro.",
      ),
      ...authErrorResponses,
      403: json(
        "`terms_not_allowed`: a user token setting amountMicro, billingMode, poolId or ttlSeconds; `forbidden`: a user token on an account that is not the caller's; `identity_anchor_required`: a hold above the trust threshold without an anchor.",
      ),
      404: json('`account_not_found`, `meter_not_found`.'),
      409: json('`idempotency_key_reused`.'),
    },
  });

  app.openapi(reserveRoute, async (c) => {
    const principal = c.var.principal;
    const input = reserveInputOf(principal, c.req.valid('json'));
    // A metered hold is sized by the meter: read it for the check only when the policy could refuse (while the
    // account is read: the two reads are independent).
    const sized = input.meterId === undefined || trustMayRefuse(ctx.deps);
    const [account, holdMicro] = await inOrder(
      accountFor(ledger, principal, input.accountId),
      sized ? holdMicroOf(ledger, input) : Promise.resolve(null),
    );
    if (holdMicro !== null) {
      await enforceTrust(ctx.deps, { accountId: account.id, amountMicro: holdMicro, operation: 'reserve' });
    }
    const result = await ledger
      .reserve({ ...input, accountId: account.id }, writeOptions(principal, c.req.valid('header')))
      .catch((error: unknown) => {
        // Payments on: the 402 also offers the smallest credit pack covering the shortfall (PAYMENT-REQUIRED).
        const offer = paymentRequiredForShortfall(c, ctx.deps, error);
        if (offer !== undefined) return offer;
        throw error;
      });
    if (result instanceof Response) return result as never;
    return c.json({ ...reservationBody(result.reservation), balance: balanceBody(result.balance) }, 201);
  });
}

function registerFinalizeRoute(app: GatewayApp, ctx: RouteContext): void {
  const { ledger } = ctx.deps;
  const finalizeRoute = createRoute({
    method: 'post',
    path: '/v1/reservations/{id}/finalize',
    tags: ['reservations'],
    summary: 'Charge a hold (finalize)',
    description:
      'Consumes the cost from the hold in its recorded order and releases the rest; a cost above the hold follows its billing mode. The cost is `actualCostMicro`, or `usage` priced under the meter version the hold recorded (itemized in `pricing`, even if prices changed since). A charge above the trust threshold needs an anchor. A repeat with the same body answers the first result.',
    security: [{ bearerAuth: [] }],
    middleware: ctx.guard(['arrakis-internal']),
    request: {
      params: idParamSchema('res_01J0Z3'),
      headers: IdempotencyHeaderSchema,
      body: { required: true, content: { 'application/json': { schema: FinalizeBodySchema } } },
    },
    responses: {
      200: { description: 'What was charged.', content: { 'application/json': { schema: FinalizeResultSchema } } },
      400: json(
        '`validation_failed` (also both or neither of actualCostMicro and usage); `unknown_dimension`, `invalid_usage`.',
      ),
      ...authErrorResponses,
      403: json(
        '`identity_anchor_required`: the charge (shadow 0, live min(cost, hold), soft the cost) is above the trust threshold and the account has no anchor; `anchor_mismatch`.',
      ),
      404: json('`reservation_not_found`.'),
      409: json(
        '`finalize_conflict` (finalized before with another cost), `reservation_not_pending` (released or expired), `reservation_not_metered` (usage on a raw hold), `idempotency_key_reused`.',
      ),
    },
  });

  app.openapi(finalizeRoute, async (c) => {
    const { id } = c.req.valid('param');
    const input = finalizeInputOf(id, c.req.valid('json'));
    await enforceFinalizeAnchor(ctx.deps, c, id);
    // The charge is at most the cost: read the hold (and its meter) only when the policy could refuse it.
    if (trustMayRefuse(ctx.deps, input.actualCostMicro)) {
      const hold = await ledger.getReservation(id);
      // Only a pending hold can be charged: a finalized one answers its stored result (or a conflict), others a 409.
      const costMicro = hold.status === 'pending' ? await finalizeCostMicro(ledger, hold, input) : null;
      if (costMicro !== null) await enforceFinalizeTrust(ctx.deps, hold, costMicro);
    }
    const result = await ledger.finalize(input, writeOptions(c.var.principal, c.req.valid('header')));
    return c.json(finalizeAnswer(result, input), 200);
  });
}

function registerReleaseAndReadRoutes(app: GatewayApp, ctx: RouteContext): void {
  const { ledger } = ctx.deps;
  const services = ctx.guard(['arrakis-internal']);
  const releaseRoute = createRoute({
    method: 'post',
    path: '/v1/reservations/{id}/release',
    tags: ['reservations'],
    summary: 'Give a hold back (release)',
    description: 'Reserved → available, in reverse order. Idempotent: releasing a released hold answers it again.',
    security: [{ bearerAuth: [] }],
    middleware: services,
    request: { params: idParamSchema('res_01J0Z3'), headers: IdempotencyHeaderSchema },
    responses: {
      200: { description: 'The released hold.', content: { 'application/json': { schema: ReleaseResultSchema } } },
      ...validationErrorResponse,
      ...authErrorResponses,
      404: json('`reservation_not_found`.'),
      409: json('`reservation_not_pending` (finalized or expired), `idempotency_key_reused`.'),
    },
  });

  const getRoute = createRoute({
    method: 'get',
    path: '/v1/reservations/{id}',
    tags: ['reservations'],
    summary: 'A hold with its status, meter and lots',
    description: 'A pending hold past its expiry reads as `expired` even before the sweeper runs.',
    security: [{ bearerAuth: [] }],
    middleware: services,
    request: { params: idParamSchema('res_01J0Z3') },
    responses: {
      200: { description: 'The hold.', content: { 'application/json': { schema: ReservationSchema } } },
      ...validationErrorResponse,
      ...authErrorResponses,
      404: json('`reservation_not_found`.'),
    },
  });

  app.openapi(releaseRoute, async (c) => {
    const { id } = c.req.valid('param');
    const result = await ledger.release({ reservationId: id }, writeOptions(c.var.principal, c.req.valid('header')));
    return c.json(
      {
        ...reservationBody(result.reservation),
        releasedMicro: formatMicro(result.releasedMicro),
        balance: balanceBody(result.balance),
      },
      200,
    );
  });

  app.openapi(getRoute, async (c) => {
    const reservation = await ledger.getReservation(c.req.valid('param').id);
    return c.json(reservationBody(reservation), 200);
  });
}
