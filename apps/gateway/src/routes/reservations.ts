import { billingModes } from '@arrakis/billing-ledger';
import { createRoute, z } from '@hono/zod-openapi';
import type { GatewayApp, RouteContext } from '../deps.js';
import { enforceFinalizeAnchor, enforceTrust } from '../identity/trust-guard.js';
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
  ReleaseResultSchema,
  ReservationSchema,
  ReservationWithBalanceSchema,
  reservationBody,
  writeOptions,
} from './ledger-schemas.js';
import { authErrorResponses, ErrorBodySchema, validationErrorResponse } from './schemas.js';

const json = (description: string) => ({ description, content: { 'application/json': { schema: ErrorBodySchema } } });

const ReserveBodySchema = z
  .object({
    accountId: ledgerIdSchema('acc_01J0Z3'),
    amountMicro: amountMicroSchema('amountMicro'),
    poolId: ledgerNameSchema('general')
      .optional()
      .openapi({ description: 'Draw from this pool first, then `general` (default `general`).' }),
    ttlSeconds: z
      .number()
      .int()
      .min(1)
      .max(holdTtlSecondsMax)
      .optional()
      .openapi({ example: 300, description: `Hold lifetime, 1-${holdTtlSecondsMax} s (default 300).` }),
    billingMode: z.enum(billingModes).optional().openapi({
      description:
        'What finalize does with a cost above the hold: `live` (default) charges the hold and records the overrun; `soft` also charges the excess from other credit; `shadow` charges nothing and records what would have been charged.',
    }),
  })
  .strict()
  .openapi('ReserveRequest');

const FinalizeBodySchema = z
  .object({ actualCostMicro: amountMicroSchema('actualCostMicro', { min: 0n }) })
  .strict()
  .openapi('FinalizeRequest');

/**
 * Registers the hold routes: `POST /v1/reservations` (users on their own account, services),
 * `POST /v1/reservations/{id}/finalize`, `POST /v1/reservations/{id}/release` and `GET /v1/reservations/{id}`
 * (services).
 *
 * @example
 * ```ts
 * registerReservationRoutes(app, routeContext);
 * ```
 */
export function registerReservationRoutes(app: GatewayApp, ctx: RouteContext): void {
  const { ledger } = ctx.deps;
  const services = ctx.guard(['arrakis-internal']);

  const reserveRoute = createRoute({
    method: 'post',
    path: '/v1/reservations',
    tags: ['reservations'],
    summary: 'Hold credit (reserve)',
    description:
      'Moves `amountMicro` from available to reserved across lots in consumption order (the pool before `general`; lots that expire first; oldest first), or changes nothing and answers 402. Users on their own account; services on any.',
    security: [{ bearerAuth: [] }],
    middleware: ctx.guard(['arrakis-api', 'arrakis-internal']),
    request: {
      headers: IdempotencyHeaderSchema,
      body: { required: true, content: { 'application/json': { schema: ReserveBodySchema } } },
    },
    responses: {
      201: {
        description: 'The hold, the lots it drew from, the new balance.',
        content: { 'application/json': { schema: ReservationWithBalanceSchema } },
      },
      ...validationErrorResponse,
      402: json(
        "`insufficient_credits`: `details` carries requestedMicro, availableMicro, shortfallMicro, poolId. With payments on, also `pack` and `purchaseUrl`, and a `PAYMENT-REQUIRED` header (x402) for the cheapest credit pack covering the shortfall, whose `resource.url` is that pack's purchase route.",
      ),
      ...authErrorResponses,
      403: json(
        "`forbidden`: a user token on an account that is not the caller's; `identity_anchor_required`: above the trust threshold without an anchor.",
      ),
      404: json('`account_not_found`.'),
      409: json('`idempotency_key_reused`.'),
    },
  });

  const finalizeRoute = createRoute({
    method: 'post',
    path: '/v1/reservations/{id}/finalize',
    tags: ['reservations'],
    summary: 'Charge a hold (finalize)',
    description:
      'Consumes the actual cost from the hold in its recorded order and releases the rest; a cost above the hold follows its billing mode. A repeat with the same cost answers the first result.',
    security: [{ bearerAuth: [] }],
    middleware: services,
    request: {
      params: idParamSchema('res_01J0Z3'),
      headers: IdempotencyHeaderSchema,
      body: { required: true, content: { 'application/json': { schema: FinalizeBodySchema } } },
    },
    responses: {
      200: { description: 'What was charged.', content: { 'application/json': { schema: FinalizeResultSchema } } },
      ...validationErrorResponse,
      ...authErrorResponses,
      404: json('`reservation_not_found`.'),
      409: json(
        '`finalize_conflict` (finalized before with another cost), `reservation_not_pending` (released or expired), `idempotency_key_reused`.',
      ),
    },
  });

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
    summary: 'A hold with its status and lots',
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

  app.openapi(reserveRoute, async (c) => {
    const body = c.req.valid('json');
    const account = await accountFor(ledger, c.var.principal, body.accountId);
    await enforceTrust(ctx.deps, { accountId: account.id, amountMicro: body.amountMicro, operation: 'reserve' });
    const result = await ledger
      .reserve(
        {
          accountId: account.id,
          amountMicro: body.amountMicro,
          ...(body.poolId === undefined ? {} : { poolId: body.poolId }),
          ...(body.ttlSeconds === undefined ? {} : { ttlMs: body.ttlSeconds * 1000 }),
          ...(body.billingMode === undefined ? {} : { billingMode: body.billingMode }),
        },
        writeOptions(c.req.valid('header')),
      )
      .catch((error: unknown) => {
        // Payments on: the 402 also offers the smallest credit pack covering the shortfall (PAYMENT-REQUIRED).
        const offer = paymentRequiredForShortfall(c, ctx.deps, error);
        if (offer !== undefined) return offer;
        throw error;
      });
    if (result instanceof Response) return result as never;
    return c.json({ ...reservationBody(result.reservation), balance: balanceBody(result.balance) }, 201);
  });

  app.openapi(finalizeRoute, async (c) => {
    const { id } = c.req.valid('param');
    await enforceFinalizeAnchor(ctx.deps, c, id);
    const { actualCostMicro } = c.req.valid('json');
    const result = await ledger.finalize({ reservationId: id, actualCostMicro }, writeOptions(c.req.valid('header')));
    return c.json(
      {
        id: result.reservation.id,
        status: result.reservation.status,
        actualCostMicro: actualCostMicro.toString(),
        chargedMicro: result.chargedMicro.toString(),
        releasedMicro: result.releasedMicro.toString(),
        overrunMicro: result.overrunMicro.toString(),
        uncollectedMicro: result.uncollectedMicro.toString(),
        distribution: result.distribution === null ? null : distributionBody(result.distribution),
        reservation: reservationBody(result.reservation),
        balance: balanceBody(result.balance),
      },
      200,
    );
  });

  app.openapi(releaseRoute, async (c) => {
    const { id } = c.req.valid('param');
    const result = await ledger.release({ reservationId: id }, writeOptions(c.req.valid('header')));
    return c.json(
      {
        ...reservationBody(result.reservation),
        releasedMicro: result.releasedMicro.toString(),
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
