// `GET|POST|PUT|PATCH|DELETE /v1/upstreams/{id}/{path...}`: the metered reverse proxy. Authenticate, rate limit,
// trust check, hold credit through the upstream's meter, forward with a gateway-signed service token, pass the answer
// through as it streams, then charge the reported usage or release (see `call.ts`, `settle.ts`).
import { holdFor, InsufficientCreditsError, type Meter, type Reservation, type Usage } from '@arrakis/billing-ledger';
import { type Anchor, issueUpstreamToken } from '@arrakis/identity-trust';
import type { Context, MiddlewareHandler } from 'hono';
import type { AppEnv, Principal } from '../context.js';
import type { GatewayApp, RouteContext } from '../deps.js';
import { enforceTrust, trustMayRefuse } from '../identity/trust-guard.js';
import { inOrder } from '../in-order.js';
import { paymentRequiredForShortfall } from '../routes/credit-pack-purchase.js';
import { writeOptions } from '../routes/ledger-schemas.js';
import type { UpstreamConfig } from '../upstreams-config.js';
import { runHeldCall } from './call.js';
import {
  accountIdHeader,
  callAccount,
  checkDeclaredLength,
  methodHasBody,
  targetUrl,
  upstreamOf,
  usageEstimateHeader,
  usageEstimateOf,
} from './call-input.js';
import { ProxyError } from './errors.js';
import { upstreamRequestHeaders } from './headers.js';
import { holdSettleMarginMs } from './limits.js';
import { documentUpstreamRoutes } from './openapi.js';
import { payPerCall, paysPerCall } from './pay-per-call.js';
import { type HeldCall, settleCall } from './settle.js';

/** Methods the proxy forwards. */
export const upstreamRouteMethods = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
/** Hono path of the proxy: matches an upstream's root (`/v1/upstreams/llm`) and everything under it. */
export const upstreamRoutePath = '/v1/upstreams/:id/*';

/**
 * Registers the metered proxy when upstreams are configured (`config.upstreams`; none: no route, nothing documented).
 * Users (`arrakis-api`) are charged on their own account, services (`arrakis-internal`) on the `X-Account-Id` one;
 * the per-principal rate limit applies after the bearer auth, like every authenticated route.
 *
 * @example
 * ```ts
 * registerUpstreamRoutes(app, routeContext);
 * ```
 */
export function registerUpstreamRoutes(app: GatewayApp, ctx: RouteContext): void {
  const upstreams = ctx.deps.config.upstreams;
  if (upstreams.length === 0) return;
  documentUpstreamRoutes(app, upstreams);
  const guard = ctx.guard(['arrakis-api', 'arrakis-internal']) as unknown as MiddlewareHandler<AppEnv>[];
  // Pay per call: no bearer token on a `payPerCall` upstream with payments on → x402 instead of the bearer auth.
  const payPerCallGate: MiddlewareHandler<AppEnv> = async (c, next) => {
    const upstream = upstreams.find((candidate) => candidate.id === c.req.param('id'));
    if (upstream === undefined || !paysPerCall(c, ctx, upstream)) return next();
    try {
      return await payPerCall(c, ctx, upstream);
    } catch (error) {
      if (error instanceof ProxyError) return error.toResponse(c.var.requestId);
      throw error;
    }
  };
  app.on([...upstreamRouteMethods], [upstreamRoutePath], payPerCallGate, ...guard, async (c) => {
    try {
      return await proxyCall(c, ctx, upstreams);
    } catch (error) {
      if (error instanceof ProxyError) return error.toResponse(c.var.requestId);
      throw error;
    }
  });
}

/** Everything before the hold: the upstream, the target, the account, the estimate; then the hold and the call. */
async function proxyCall(c: Context<AppEnv>, ctx: RouteContext, upstreams: readonly UpstreamConfig[]) {
  const startedMs = performance.now();
  const upstream = upstreamOf(upstreams, c.req.param('id') ?? '');
  const target = targetUrl(upstream, c.req.url);
  checkDeclaredLength(upstream, c.req.header('content-length'));
  const estimate = usageEstimateOf(c.req.header(usageEstimateHeader));
  const principal = c.var.principal as Principal;
  // The account and the meter (for the trust check) are read together: the two reads are independent.
  const [account, holdMicro] = await inOrder(
    callAccount(ctx.deps.ledger, principal, c.req.header(accountIdHeader)),
    trustHoldMicro(ctx, upstream, estimate),
  );
  const input = { upstream, target, estimate, accountId: account.id, startedMs, principal };
  return holdAndForward(c, ctx, input, holdMicro);
}

/**
 * What the hold will be, for the trust check: `holdFor(meter in force, estimate)`, with `meter` when the caller read
 * it already; null when the policy cannot refuse (no read). The ledger reads the meter in force again inside its
 * transaction.
 */
export async function trustHoldMicro(
  ctx: RouteContext,
  upstream: UpstreamConfig,
  estimate: Usage | undefined,
  meter?: Meter,
): Promise<bigint | null> {
  if (!trustMayRefuse(ctx.deps)) return null;
  return holdFor(meter ?? (await ctx.deps.ledger.getMeter(upstream.meterId)), estimate);
}

/** A call whose account is known. */
export interface AccountedCall {
  upstream: UpstreamConfig;
  target: URL;
  estimate: Usage | undefined;
  accountId: string;
  startedMs: number;
  /** The caller (its idempotency scope); `null` for a call paid per call with x402 (no bearer token). */
  principal: Principal | null;
  /** Out of credits: the answer instead of the credit pack offer (pay per call: the per-call price again). */
  outOfCredits?: (() => Response) | undefined;
}

/**
 * The trust check (of the hold `trustHoldMicro` sized; null: none), the hold through the meter, then the forwarded
 * call.
 */
export async function holdAndForward(
  c: Context<AppEnv>,
  ctx: RouteContext,
  input: AccountedCall,
  holdMicro: bigint | null,
): Promise<Response> {
  const { upstream, accountId } = input;
  if (holdMicro !== null) await enforceTrust(ctx.deps, { accountId, amountMicro: holdMicro, operation: 'reserve' });
  // The anchor goes into the upstream's token: read it while the hold is taken.
  const anchorRead = ctx.deps.identity.service.getAnchor(accountId);
  anchorRead.catch(() => {}); // observed below once the hold exists; a refused reserve must not leave it unhandled
  const reserved = await reserve(c, ctx, input);
  if (reserved instanceof Response) return reserved;
  const call: HeldCall = {
    upstream,
    reservation: reserved,
    logger: c.var.logger,
    startedMs: input.startedMs,
    firstByteMs: null,
  };
  return forwardHeld(
    c,
    ctx,
    call,
    input.target,
    anchorRead.then((record) => record?.anchor ?? null),
  );
}

/**
 * Holds credit through the meter; out of credits → `outOfCredits()` when given, else with payments on the 402 with a
 * credit pack offer.
 */
async function reserve(c: Context<AppEnv>, ctx: RouteContext, input: AccountedCall): Promise<Reservation | Response> {
  const { accountId, estimate, principal } = input;
  try {
    const result = await ctx.deps.ledger.reserve(
      { accountId, meterId: input.upstream.meterId, ...(estimate === undefined ? {} : { estimate }) },
      principal === null ? {} : writeOptions(principal, {}),
    );
    return result.reservation;
  } catch (error) {
    if (input.outOfCredits !== undefined && error instanceof InsufficientCreditsError) return input.outOfCredits();
    const offer = paymentRequiredForShortfall(c, ctx.deps, error);
    if (offer !== undefined) return offer;
    throw error;
  }
}

/** With the hold taken: sign the upstream's token and forward; any failure before forwarding releases the hold. */
async function forwardHeld(
  c: Context<AppEnv>,
  ctx: RouteContext,
  call: HeldCall,
  target: URL,
  anchor: Promise<Anchor | null>,
): Promise<Response> {
  const { config, clock, identity, ledger } = ctx.deps;
  const deps = { ledger, metrics: ctx.metrics.upstreams };
  const { upstream, reservation } = call;
  let headers: Headers;
  let deadlineMs: number;
  try {
    const remainingMs = reservation.expiresAt.getTime() - clock.nowMs();
    if (remainingMs <= holdSettleMarginMs) {
      const failure = new ProxyError('upstream_timeout', `the hold of meter "${upstream.meterId}" lives too short`, {
        upstream: upstream.id,
        holdLifetimeMs: remainingMs,
      });
      await settleCall(deps, call, { kind: 'release', reason: 'hold_too_short' }, failure.status);
      return failure.toResponse(c.var.requestId);
    }
    deadlineMs = Math.min(upstream.timeoutMs, remainingMs - holdSettleMarginMs);
    if (reservation.meterVersion === null) throw new Error('assertion failed: a metered hold records its version');
    const { token } = await issueUpstreamToken({
      key: identity.keys.signingKey,
      issuer: config.jwt.issuer,
      audience: upstream.id,
      accountId: reservation.accountId,
      reservationId: reservation.id,
      meterId: upstream.meterId,
      meterVersion: reservation.meterVersion,
      holdMicro: reservation.amountMicro,
      anchor: await anchor,
      // Never beyond the hold: the call's deadline ends a margin before it expires.
      ttlSeconds: Math.min(Math.ceil(deadlineMs / 1000), Math.floor(remainingMs / 1000)),
      nowMs: clock.nowMs(),
    });
    headers = upstreamRequestHeaders(c.req.raw.headers, { token, requestId: c.var.requestId });
  } catch (error) {
    await settleCall(deps, call, { kind: 'release', reason: 'gateway_error' }, 500);
    throw error;
  }
  return runHeldCall(deps, call, {
    target,
    method: c.req.method,
    headers,
    body: methodHasBody(c.req.method) ? c.req.raw.body : null,
    clientSignal: c.req.raw.signal,
    deadlineMs,
    requestId: c.var.requestId,
  });
}
