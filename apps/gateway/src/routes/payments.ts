// `GET /v1/payments` and `GET /v1/payments/{id}`: the operator's view of the payment records (two-phase x402
// purchases: verified → settling → settled → credited, or failed).
import {
  type PaymentView,
  paymentCursorLengthMax,
  paymentsPageSizeDefault,
  paymentsPageSizeMax,
} from '@arrakis/billing-ledger';
import type { PaymentStatus } from '@arrakis/x402';
import { createRoute, z } from '@hono/zod-openapi';
import { adminNeedsAnyScope } from '../auth/scopes.js';
import type { GatewayApp, RouteContext } from '../deps.js';
import { pageLimitSchema } from './ledger-schemas.js';
import { authErrorResponses, ErrorBodySchema } from './schemas.js';

const paymentKeyPattern = /^[A-Za-z0-9_.:-]{1,255}$/;
/** A payments cursor (the ledger's are longer than the other lists': they carry a time and an id). */
const paymentCursorPattern = new RegExp(`^[A-Za-z0-9_-]{1,${paymentCursorLengthMax}}$`);
/** The states of a payment record, in lifecycle order (x402's `paymentStatuses`; a test holds them equal). */
export const paymentStatusValues = [
  'verified',
  'settling',
  'settled',
  'credited',
  'failed',
] as const satisfies readonly PaymentStatus[];

const json = (description: string) => ({ description, content: { 'application/json': { schema: ErrorBodySchema } } });

const PaymentSchema = z
  .object({
    id: z.string().openapi({ example: 'pay_01J0Z3' }),
    reference: z
      .string()
      .openapi({ description: '`<network>:<asset>:<payer>:<nonce>`: one authorization, one payment.' }),
    status: z.enum(paymentStatusValues).openapi({
      description:
        '`verified` (recorded, nothing sent), `settling` (a settlement may be on its way), `settled` (the chain executed it; credits not minted yet), `credited` (the lot is minted), `failed` (see `failure`; watched until `validBefore` while the authorization could still execute).',
    }),
    kind: z
      .enum(['pack', 'credit'])
      .openapi({ description: '`pack`: bought a credit pack; `credit`: plain credit of its amount (pay per call).' }),
    accountId: z.string(),
    packId: z
      .string()
      .nullable()
      .openapi({ description: 'The credit pack bought; null for a plain credit payment (pay per call).' }),
    payer: z.string(),
    payTo: z.string().nullable(),
    amountMicro: z
      .string()
      .openapi({ description: 'Token units of a 6-decimal token = micro-USD.', example: '5000000' }),
    network: z.string().nullable(),
    asset: z.string().nullable(),
    nonce: z.string().nullable(),
    validBefore: z.string().nullable().openapi({ description: 'Unix seconds; the authorization expires then.' }),
    transaction: z.string().nullable().openapi({ description: 'The settlement transaction, once known.' }),
    lotId: z.string().nullable().openapi({ description: 'The lot the payment minted (status `credited`).' }),
    failure: z.object({ code: z.string(), message: z.string() }).nullable(),
    attempts: z.number().int(),
    reconcileAfter: z.iso
      .datetime()
      .nullable()
      .openapi({ description: 'When the reconciler looks at it next; null when nothing is left to do.' }),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
    creditedAt: z.iso.datetime().nullable(),
  })
  .openapi('Payment');

const PaymentPageSchema = z
  .object({ payments: z.array(PaymentSchema), nextCursor: z.string().nullable() })
  .openapi('PaymentPage');

const PaymentsQuerySchema = z.object({
  status: z
    .enum(paymentStatusValues)
    .optional()
    .openapi({ param: { name: 'status', in: 'query' }, description: 'Only payments in this state.' }),
  cursor: z
    .string()
    .regex(paymentCursorPattern, `expected an opaque cursor of at most ${paymentCursorLengthMax} characters`)
    .optional()
    .openapi({ param: { name: 'cursor', in: 'query' }, description: 'The `nextCursor` of the previous page.' }),
  limit: pageLimitSchema(paymentsPageSizeMax, paymentsPageSizeDefault),
});

const PaymentParamsSchema = z.object({
  id: z
    .string()
    .regex(paymentKeyPattern, 'expected a payment id or reference (1-255 characters of A-Z a-z 0-9 _ . : -)')
    .openapi({ param: { name: 'id', in: 'path' }, example: 'pay_01J0Z3' }),
});

function paymentBody(payment: PaymentView): z.infer<typeof PaymentSchema> {
  return {
    id: payment.id,
    reference: payment.reference,
    status: payment.status,
    kind: payment.kind,
    accountId: payment.accountId,
    packId: payment.packId,
    payer: payment.payer,
    payTo: payment.payTo,
    amountMicro: payment.amountMicro.toString(),
    network: payment.network,
    asset: payment.asset,
    nonce: payment.nonce,
    validBefore: payment.validBefore === null ? null : payment.validBefore.toString(),
    transaction: payment.transaction,
    lotId: payment.lotId,
    failure: payment.failure,
    attempts: payment.attempts,
    reconcileAfter: payment.reconcileAfter === null ? null : payment.reconcileAfter.toISOString(),
    createdAt: payment.createdAt.toISOString(),
    updatedAt: payment.updatedAt.toISOString(),
    creditedAt: payment.creditedAt === null ? null : payment.creditedAt.toISOString(),
  };
}

/**
 * Registers `GET /v1/payments?status&cursor&limit` (newest first) and `GET /v1/payments/{id}` (by id or reference):
 * admins with `ledger:read` or `admin`.
 *
 * @example
 * ```ts
 * registerPaymentRoutes(app, routeContext);
 * ```
 */
export function registerPaymentRoutes(app: GatewayApp, ctx: RouteContext): void {
  const { ledger } = ctx.deps;
  const guard = ctx.guard(['arrakis-admin'], adminNeedsAnyScope());

  const listRoute = createRoute({
    method: 'get',
    path: '/v1/payments',
    tags: ['payments'],
    summary: 'List payment records',
    description:
      'The x402 payments this gateway recorded, newest first, with their state, settlement transaction and minted lot. Pass `nextCursor` as `cursor` to read on. Admins with `ledger:read` or `admin`.',
    security: [{ bearerAuth: [] }],
    middleware: guard,
    request: { query: PaymentsQuerySchema },
    responses: {
      200: { description: 'A page of payments.', content: { 'application/json': { schema: PaymentPageSchema } } },
      400: json('`validation_failed` (bad status, cursor or limit), `invalid_cursor`.'),
      ...authErrorResponses,
    },
  });
  app.openapi(listRoute, async (c) => {
    const { status, cursor, limit } = c.req.valid('query');
    const page = await ledger.listPayments({
      ...(status === undefined ? {} : { status }),
      ...(cursor === undefined ? {} : { cursor }),
      ...(limit === undefined ? {} : { limit }),
    });
    return c.json({ payments: page.payments.map(paymentBody), nextCursor: page.nextCursor }, 200);
  });

  const getRoute = createRoute({
    method: 'get',
    path: '/v1/payments/{id}',
    tags: ['payments'],
    summary: 'One payment record',
    description: 'A payment by its id (`pay_…`) or its reference. Admins with `ledger:read` or `admin`.',
    security: [{ bearerAuth: [] }],
    middleware: guard,
    request: { params: PaymentParamsSchema },
    responses: {
      200: { description: 'The payment.', content: { 'application/json': { schema: PaymentSchema } } },
      400: json('`validation_failed`.'),
      ...authErrorResponses,
      404: json('`payment_not_found`.'),
    },
  });
  app.openapi(getRoute, async (c) => {
    const { id } = c.req.valid('param');
    return c.json(paymentBody(await ledger.getPayment(id)), 200);
  });
}
