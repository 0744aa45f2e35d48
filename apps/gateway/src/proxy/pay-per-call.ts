// Pay per call (issue 14): on an upstream with `payPerCall: true` and payments on, a request without a bearer token
// pays the meter's per-call price (its `holdMicro`) with x402. The payment is recorded as a purchase of plain credit
// on the payer's wallet account (`entityType: 'wallet'`, `entityId` = the payer address, two-phase like every
// purchase), then the call is charged through the same hold → forward → finalize path as any other, so the journal
// shows every paid call and any unused part stays as credit on that wallet account.
import { holdFor, type Ledger, type PurchasePackResult } from '@arrakis/billing-ledger';
import { ledgerPaymentStore, type PaymentStateStore } from '@arrakis/x402';
import { paidWithStore, respondPaymentRequired, type X402Env, x402Paywall } from '@arrakis/x402/hono';
import type { Context } from 'hono';
import type { AppEnv } from '../context.js';
import type { RouteContext } from '../deps.js';
import type { GatewayPayments } from '../payments.js';
import type { UpstreamConfig } from '../upstreams-config.js';
import { checkDeclaredLength, targetUrl, usageEstimateHeader, usageEstimateOf } from './call-input.js';
import { holdAndForward, trustHoldMicro } from './route.js';

/** The `entityType` of the accounts pay-per-call payers get (their `entityId` is the lower-case wallet address). */
export const walletEntityType = 'wallet';

/** Whether this request pays per call: the upstream allows it, payments are on, and it carries no bearer token. */
export function paysPerCall(c: Context<AppEnv>, ctx: RouteContext, upstream: UpstreamConfig | undefined): boolean {
  return (
    upstream?.payPerCall === true && ctx.deps.payments !== undefined && c.req.header('authorization') === undefined
  );
}

/**
 * The ledger's payment store for per-call payments: a claim buys `creditMicro` of plain credit on the payer's wallet
 * account (created on first use); the reconciler's methods are the ledger's own.
 *
 * @example
 * const store = walletPaymentStore(ledger, 20_000n);
 */
export function walletPaymentStore(ledger: Ledger, creditMicro: bigint): PaymentStateStore<PurchasePackResult> {
  const base = ledgerPaymentStore(ledger);
  return {
    ...base,
    async claim(payment, options) {
      const { account } = await ledger.createAccount({
        entityType: walletEntityType,
        entityId: payment.payer.toLowerCase(),
      });
      return ledgerPaymentStore(ledger, { accountId: account.id, creditMicro }).claim(payment, options);
    },
  };
}

/**
 * Answers a pay-per-call request: 402 with the per-call price without a payment; with one, verifies and settles it
 * (two-phase), then holds, forwards and charges the call on the payer's wallet account. A replayed payment whose
 * credit was already used answers the 402 again.
 *
 * @example
 * if (paysPerCall(c, ctx, upstream)) return payPerCall(c, ctx, upstream);
 */
export async function payPerCall(c: Context<AppEnv>, ctx: RouteContext, upstream: UpstreamConfig): Promise<Response> {
  const startedMs = performance.now();
  const { ledger, logger } = ctx.deps;
  const payments = ctx.deps.payments as GatewayPayments;
  const target = targetUrl(upstream, c.req.url);
  checkDeclaredLength(upstream, c.req.header('content-length'));
  const estimate = usageEstimateOf(c.req.header(usageEstimateHeader));
  const meter = await ledger.getMeter(upstream.meterId);
  const priceMicro = holdFor(meter, undefined);
  const requirements = payments.terms.forAmount(priceMicro);
  const resource = {
    description: `one call to upstream ${upstream.id} (meter ${upstream.meterId}): ${priceMicro} micro-USD`,
    mimeType: c.req.header('accept') ?? 'application/json',
  };
  const paywall = x402Paywall<PurchasePackResult>({
    requirements,
    facilitator: payments.facilitator,
    clock: payments.clock,
    resource,
    ...paidWithStore(walletPaymentStore(ledger, priceMicro), {
      resolver: payments.resolver,
      leaseMs: payments.settlement.leaseMs,
      retryInMs: payments.settlement.retryMs,
    }),
    onRefused: (_c, error) => logger.info({ code: error.code, upstream: upstream.id }, 'x402 per-call payment refused'),
  });
  const paid = c as unknown as Context<X402Env<PurchasePackResult>>;
  const refused = await paywall(paid, async () => {});
  if (refused instanceof Response) return refused;
  const purchase = paid.get('x402').result;
  if (purchase === undefined) throw new Error('assertion failed: a paid call has its purchase');
  const answer = await holdAndForward(
    c,
    ctx,
    {
      upstream,
      target,
      estimate,
      accountId: purchase.payment.accountId,
      startedMs,
      principal: null,
      outOfCredits: () =>
        respondPaymentRequired(c, {
          requirements,
          error: 'insufficient_credits',
          message: `the credit of this payment was already used: pay ${priceMicro} micro-USD for another call`,
          resource: { ...resource, url: c.req.url },
        }),
    },
    // The trust check sizes the hold by the meter read above.
    await trustHoldMicro(ctx, upstream, estimate, meter),
  );
  return withSettlementHeaders(answer, paid.res.headers);
}

/** The paywall put `PAYMENT-RESPONSE` on the context; the proxied answer is a Response of its own: carry it over. */
function withSettlementHeaders(answer: Response, from: Headers): Response {
  const headers = new Headers(answer.headers);
  for (const name of ['payment-response', 'x-payment-response', 'access-control-expose-headers']) {
    const value = from.get(name);
    if (value !== null) headers.set(name, value);
  }
  return new Response(answer.body, { status: answer.status, statusText: answer.statusText, headers });
}
