// `POST /v1/credit-packs/{packId}/purchase`, paid with x402 (DESIGN.md §6–7), and the 402 offer a reservation
// short of credits answers with (`paymentRequiredForShortfall`).
import {
  type CreditPack,
  CreditPackNotFoundError,
  createCreditPackCatalog,
  InsufficientCreditsError,
  type PurchasePackResult,
} from '@arrakis/billing-ledger';
import { ledgerPurchase, respondPaymentRequired, type X402Env, x402Paywall } from '@arrakis/x402/hono';
import { createRoute, z } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import type { AppDeps, GatewayApp, RouteContext } from '../deps.js';
import { accountFor } from './accounts.js';
import { BalanceSchema, balanceBody, LotSchema, ledgerIdSchema, ledgerNameSchema, lotBody } from './ledger-schemas.js';
import { authErrorResponses, ErrorBodySchema, validationErrorResponse } from './schemas.js';

const json = (description: string) => ({ description, content: { 'application/json': { schema: ErrorBodySchema } } });
const micro = (description: string) =>
  z.string().openapi({ description: `${description} Micro-USD as a base-10 string.`, example: '5000000' });

/** The error code of a purchase on a gateway whose payments are off (HTTP 404). */
export const paymentsDisabledCode = 'payments_disabled';

const PurchaseParamsSchema = z.object({
  packId: ledgerNameSchema('starter').openapi({ param: { name: 'packId', in: 'path' } }),
});

// No Idempotency-Key: the payment reference is the key (one payment buys once).
const PurchaseHeadersSchema = z.object({
  'payment-signature': z
    .string()
    .optional()
    .openapi({
      param: { name: 'payment-signature', in: 'header' },
      description:
        'x402 version 2: base64 JSON `PaymentPayload` (scheme `exact`, a signed EIP-3009 `TransferWithAuthorization` for the pack price). Without it (and without `X-PAYMENT`) the answer is 402 with `PAYMENT-REQUIRED`.',
    }),
  'x-payment': z
    .string()
    .optional()
    .openapi({
      param: { name: 'x-payment', in: 'header' },
      description: 'x402 version 1 payment header (same content, version 1 payload).',
    }),
});

const PurchaseBodySchema = z
  .object({ accountId: ledgerIdSchema('acc_01J0Z3') })
  .strict()
  .openapi('CreditPackPurchaseRequest');

/** The recorded payment of a purchase. */
export const PurchasePaymentSchema = z
  .object({
    id: z.string().openapi({ example: 'pay_01J0Z3' }),
    reference: z.string().openapi({
      description: 'Unique key of the payment: `<network>:<asset>:<payer>:<nonce>`. One payment mints once.',
    }),
    packId: z.string().nullable().openapi({ example: 'starter', description: 'null for a plain credit payment.' }),
    payer: z.string().openapi({ description: 'The paying wallet.' }),
    amountMicro: micro('What was paid (token units of a 6-decimal token).'),
    network: z.string().nullable().openapi({ example: 'eip155:8453' }),
    asset: z.string().nullable().openapi({ description: 'The token contract.' }),
    lotId: z.string(),
    transaction: z
      .string()
      .nullable()
      .openapi({ description: 'The settlement transaction hash (also in `PAYMENT-RESPONSE`).' }),
    createdAt: z.iso.datetime().openapi({ example: '2026-01-01T00:00:00.000Z' }),
  })
  .openapi('PurchasePayment');

/** `POST /v1/credit-packs/{packId}/purchase` → 201. */
export const PurchaseResultSchema = z
  .object({
    lot: LotSchema,
    balance: BalanceSchema,
    payment: PurchasePaymentSchema,
    replayed: z.boolean().openapi({
      description:
        'True when this payment had already bought the pack: the first result is answered again (the lot and balance as they were then) and nothing is minted.',
    }),
  })
  .openapi('CreditPackPurchaseResult');

function purchaseBody(result: PurchasePackResult): z.infer<typeof PurchaseResultSchema> {
  const payment = result.payment;
  const transaction = payment.settlement?.transaction;
  return {
    lot: lotBody(result.lot),
    balance: balanceBody(result.balance),
    payment: {
      id: payment.id,
      reference: payment.reference,
      packId: payment.packId,
      payer: payment.payer,
      amountMicro: payment.amountMicro.toString(),
      network: payment.network,
      asset: payment.asset,
      lotId: payment.lotId,
      transaction: typeof transaction === 'string' && transaction !== '' ? transaction : null,
      createdAt: payment.createdAt.toISOString(),
    },
    replayed: result.replayed,
  };
}

function packPath(packId: string): string {
  return `/v1/credit-packs/${encodeURIComponent(packId)}/purchase`;
}

/**
 * Registers `POST /v1/credit-packs/{packId}/purchase` (users on their own account, services on any):
 * - unknown pack → 404 `credit_pack_not_found`; payments off (`X402_ENABLED` unset) → 404 `payments_disabled`;
 * - no `PAYMENT-SIGNATURE` → 402 with `PAYMENT-REQUIRED` for the pack's price (token units = micro-USD);
 * - a payment → verified (signature, amount, payTo, asset, network, window; then the facilitator: balance and
 *   nonce on chain), then `ledgerPurchase` claims it in the ledger (committed), settles it with no transaction
 *   open and mints the lot once in its own transaction → 201 `{lot, balance, payment, replayed}` +
 *   `PAYMENT-RESPONSE`. A refused payment is a 402 with its x402 code (nothing minted); an unknown outcome is a
 *   503 (`facilitator_unavailable`, `payment_pending`) the reconciler resolves; a replay answers the first result.
 *
 * @example
 * ```ts
 * registerCreditPackPurchaseRoutes(app, routeContext);
 * ```
 */
export function registerCreditPackPurchaseRoutes(app: GatewayApp, ctx: RouteContext): void {
  const { ledger, logger } = ctx.deps;
  const payments = ctx.deps.payments;

  const purchaseRoute = createRoute({
    method: 'post',
    path: '/v1/credit-packs/{packId}/purchase',
    tags: ['credit packs'],
    summary: 'Buy a credit pack with an x402 payment',
    description:
      'x402 version 2 (version 1 `X-PAYMENT` too): without a payment the answer is 402 with `PAYMENT-REQUIRED` (base64 JSON: scheme `exact`, CAIP-2 network, token, amount = the pack price in token units = micro-USD, payTo, maxTimeoutSeconds, extra `{name, version}`). With `PAYMENT-SIGNATURE` the payment is verified, then settled in two phases: its claim is recorded (committed) under the payment reference, the settlement runs on chain with no database transaction open, and the lot is minted once in its own transaction. The same payment sent again (or concurrently, to any instance, or after its window) mints once and answers the first result; a payment left half-way by a crash or an outage is completed by the reconciler (`GET /v1/payments`). Users on their own account; services on any.',
    security: [{ bearerAuth: [] }],
    middleware: ctx.guard(['arrakis-api', 'arrakis-internal']),
    request: {
      params: PurchaseParamsSchema,
      headers: PurchaseHeadersSchema,
      body: { required: true, content: { 'application/json': { schema: PurchaseBodySchema } } },
    },
    responses: {
      201: {
        description: 'Paid and minted (or a replay of a recorded payment); `PAYMENT-RESPONSE` carries the settlement.',
        headers: z.object({
          'PAYMENT-RESPONSE': z
            .string()
            .openapi({ description: 'base64 JSON `{success, transaction, network, payer}`.' }),
        }),
        content: { 'application/json': { schema: PurchaseResultSchema } },
      },
      ...validationErrorResponse,
      402: {
        description:
          'Payment required or refused, with `PAYMENT-REQUIRED` (its `error` repeats the code): `payment_required`, `malformed_payment`, `unsupported_version`, `unsupported_scheme`, `network_mismatch`, `asset_mismatch`, `pay_to_mismatch`, `amount_mismatch`, `requirements_mismatch`, `invalid_signature`, `authorization_expired`, `authorization_not_yet_valid`, `nonce_already_used`, `insufficient_funds`, `settlement_failed`. Nothing was minted.',
        headers: z.object({
          'PAYMENT-REQUIRED': z.string().openapi({ description: 'base64 JSON x402 v2 `PaymentRequired`.' }),
        }),
        content: { 'application/json': { schema: ErrorBodySchema } },
      },
      ...authErrorResponses,
      403: json("`forbidden`: a user token on an account that is not the caller's."),
      404: json('`credit_pack_not_found`, `account_not_found`, `payments_disabled` (this gateway takes no payments).'),
      409: json('`payment_reference_reused` (the payment bought another pack or for another account).'),
      503: {
        description:
          '`facilitator_unavailable` (the facilitator or the chain RPC could not be reached) or `payment_pending` (the payment is recorded and its settlement is in progress or not known yet). Send the same payment again after `Retry-After`: it is credited at most once, and the reconciler completes it meanwhile.',
        headers: z.object({ 'Retry-After': z.string().openapi({ description: 'Seconds.' }) }),
        content: { 'application/json': { schema: ErrorBodySchema } },
      },
    },
  });

  app.openapi(purchaseRoute, async (c) => {
    const { packId } = c.req.valid('param');
    const pack = ledger.listCreditPacks().find((candidate) => candidate.id === packId);
    if (pack === undefined)
      throw new CreditPackNotFoundError(
        packId,
        ledger.listCreditPacks().map((p) => p.id),
      );
    if (payments === undefined) {
      return c.json(
        {
          error: paymentsDisabledCode,
          message: 'this gateway takes no payments: credit packs cannot be bought here (X402_ENABLED is off)',
        },
        404,
      );
    }
    const body = c.req.valid('json');
    const account = await accountFor(ledger, c.var.principal, body.accountId);
    const paywall: MiddlewareHandler<X402Env<PurchasePackResult>> = x402Paywall<PurchasePackResult>({
      requirements: payments.terms.forAmount(pack.priceMicro),
      facilitator: payments.facilitator,
      clock: payments.clock,
      resource: {
        description: `credit pack ${pack.id}: ${pack.creditsMicro} micro-USD of credits`,
        mimeType: 'application/json',
      },
      // Two-phase: the ledger commits the claim, the settlement runs with no transaction open, the lot is minted
      // once in its own transaction; a replay (also after the window) answers the first result.
      ...ledgerPurchase(ledger, {
        accountId: account.id,
        packId: pack.id,
        resolver: payments.resolver,
        leaseMs: payments.settlement.leaseMs,
        retryInMs: payments.settlement.retryMs,
      }),
      onRefused: (_c, error) =>
        logger.info(
          { code: error.code, packId: pack.id, accountId: account.id, requestId: c.var.requestId },
          'x402 payment refused',
        ),
    });
    // The paywall answers a refusal itself; on success it sets PAYMENT-RESPONSE on this context's headers.
    const paid = c as unknown as Context<X402Env<PurchasePackResult>>;
    const refused = await paywall(paid, async () => {});
    if (refused instanceof Response) return refused as never;
    const purchase = paid.get('x402').result;
    if (purchase === undefined) throw new Error('assertion failed: a paid purchase has its result');
    logger.info(
      {
        packId: pack.id,
        accountId: account.id,
        paymentId: purchase.payment.id,
        lotId: purchase.lot.id,
        replayed: purchase.replayed,
      },
      purchase.replayed ? 'credit pack purchase replayed' : 'credit pack purchased',
    );
    return c.json(purchaseBody(purchase), 201);
  });
}

/** The pack a shortfall offers: the cheapest covering it, else the one minting the most (buy, retry, repeat). */
function packForShortfall(packs: readonly CreditPack[], shortfallMicro: bigint): CreditPack | null {
  const covering = createCreditPackCatalog(packs).smallestCovering(shortfallMicro);
  if (covering !== null) return covering;
  let largest: CreditPack | null = null;
  for (const pack of packs) if (largest === null || pack.creditsMicro > largest.creditsMicro) largest = pack;
  return largest;
}

/**
 * When payments are on and `error` is an `InsufficientCreditsError`, the 402 a reservation answers: the JSON body
 * `{error: 'insufficient_credits', message, details}` (the ledger's details plus the offered `pack` and its
 * `purchaseUrl`) and a `PAYMENT-REQUIRED` header for the cheapest pack covering the shortfall (or, when no pack
 * does, the largest), whose `resource.url` is that pack's purchase route — so an x402 client can buy it there and
 * retry. Returns `undefined` otherwise (the error takes its usual path).
 *
 * @example
 * ```ts
 * try { await ledger.reserve(input); } catch (error) {
 *   const offer = paymentRequiredForShortfall(c, ctx.deps, error);
 *   if (offer !== undefined) return offer;
 *   throw error;
 * }
 * ```
 */
export function paymentRequiredForShortfall(c: Context, deps: AppDeps, error: unknown): Response | undefined {
  if (!(error instanceof InsufficientCreditsError) || deps.payments === undefined) return undefined;
  const pack = packForShortfall(deps.ledger.listCreditPacks(), error.shortfallMicro);
  if (pack === null) return undefined;
  const purchaseUrl = new URL(packPath(pack.id), c.req.url).href;
  deps.logger.info(
    { code: error.code, shortfallMicro: error.shortfallMicro.toString(), offeredPackId: pack.id },
    error.message,
  );
  return respondPaymentRequired(c, {
    requirements: deps.payments.terms.forAmount(pack.priceMicro),
    error: error.code,
    message: error.message,
    details: {
      ...error.details,
      pack: { id: pack.id, priceMicro: pack.priceMicro.toString(), creditsMicro: pack.creditsMicro.toString() },
      purchaseUrl,
    },
    resource: {
      url: purchaseUrl,
      description: `credit pack ${pack.id}: ${pack.creditsMicro} micro-USD of credits (POST {"accountId"} to the url)`,
      mimeType: 'application/json',
    },
  });
}
