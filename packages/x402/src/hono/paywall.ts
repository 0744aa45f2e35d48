import type { Context, MiddlewareHandler } from 'hono';
import { type Clock, systemClock } from '../clock.js';
import { InvalidX402OptionError, X402Error, type X402ErrorCode } from '../errors.js';
import { normalizeReason } from '../facilitator/http.js';
import { type Facilitator, isFacilitator } from '../ports/facilitator.js';
import {
  createPaymentRequired,
  parseRequirementsList,
  paymentRequiredHeaders,
  toV1Requirements,
} from '../requirements.js';
import {
  type VerifiedPayment,
  validBeforeMarginSecondsDefault,
  validBeforeMarginSecondsMax,
  verifyExactPayment,
} from '../verify/verify-exact.js';
import { decodeBase64Json, encodeBase64Json, paymentHeaderBytesMax } from '../wire/codec.js';
import { type Eip155Network, resolveV1NetworkNames, v1NameOf } from '../wire/networks.js';
import {
  type PaymentRequirements,
  type ResourceInfo,
  resourceInfoSchema,
  type Settlement,
  type SettleResponse,
  type WireRequirementsV1,
} from '../wire/schemas.js';

/** What `c.get('x402')` holds after a paid request passed the paywall. */
export interface X402PaidRequest<TResult = unknown> {
  /** The verified payment. */
  payment: VerifiedPayment;
  /** The settlement (sent back in `PAYMENT-RESPONSE`); `null` only for a replay whose record has none. */
  settlement: Settlement | null;
  /** True when `onPaid` answered from an earlier record of this payment (no new effect, no new settlement). */
  replayed: boolean;
  /** What `onPaid` returned as `result` (e.g. the minted lot). */
  result: TResult | undefined;
}

/** Context variables set by {@link x402Paywall}. */
export interface X402Variables<TResult = unknown> {
  x402: X402PaidRequest<TResult>;
}

/** Hono environment of {@link x402Paywall}. */
export interface X402Env<TResult = unknown> {
  Variables: X402Variables<TResult>;
}

/** What `onPaid` receives. */
export interface OnPaidContext {
  /** The verified payment; `payment.reference` is its unique key. */
  payment: VerifiedPayment;
  /** The offered requirement it matched. */
  requirements: PaymentRequirements;
  /**
   * Settles the payment through the facilitator (chain I/O) and resolves to the settlement record; rejects with an
   * `X402Error` (`settlement_failed`, `insufficient_funds`, `authorization_expired`, … or `facilitator_unavailable`
   * when the outcome is unknown). Call it AFTER the payment's claim is committed under its reference and with NO
   * database transaction open (two-phase: claim → settle → credit in its own transaction; `settleWithStore` and
   * `ledgerPurchase` do this). Later calls return the same promise.
   */
  settle: () => Promise<Settlement>;
  c: Context;
}

/** What `onPaid` returns. */
export interface OnPaidResult<TResult = unknown> {
  /** On a replay (no `settle()` call): the settlement recorded the first time, sent back in `PAYMENT-RESPONSE`. */
  settlement?: Settlement | null;
  /** True when the payment was already recorded and the first result is returned (no effect, no settlement). */
  replayed?: boolean;
  /** Anything the route handler should see as `c.get('x402').result`. */
  result?: TResult;
}

/**
 * The effect owner: claims the payment (committed), calls `settle()` with no transaction open, then applies the
 * effect once in its own short transaction keyed by the payment (`settleWithStore`, `ledgerPurchase`).
 */
// biome-ignore lint/suspicious/noConfusingVoidType: lets an onPaid that only settles be `async () => { await settle(); }`.
export type OnPaid<TResult = unknown> = (context: OnPaidContext) => Promise<OnPaidResult<TResult> | undefined | void>;

/**
 * What a per-request `requirements` function returns for a request that needs no payment: the route runs as if
 * there were no paywall. Explicit, so a bug returning `null` or `undefined` is an error, never a free route.
 */
export const freeOfCharge: unique symbol = Symbol.for('@arrakis/x402/free-of-charge');

/** The type of {@link freeOfCharge}. */
export type FreeOfCharge = typeof freeOfCharge;

/**
 * What a per-request `requirements` function returns: what this request costs, {@link freeOfCharge}, or a
 * `Response` to answer instead (e.g. a 404 for an unknown resource; nothing is charged).
 */
export type RequirementsAnswer = PaymentRequirements | readonly PaymentRequirements[] | FreeOfCharge | Response;

/** Requirements of a route: fixed, or computed per request (see {@link RequirementsAnswer}). */
export type RequirementsOption =
  | PaymentRequirements
  | readonly PaymentRequirements[]
  | ((c: Context) => RequirementsAnswer | Promise<RequirementsAnswer>);

/** What `findPaid` receives. */
export interface FindPaidContext {
  /** The payment, verified except for its validity window. */
  payment: VerifiedPayment;
  c: Context;
}

/** Options of {@link x402Paywall}. */
export interface X402PaywallOptions<TResult = unknown> {
  /** What the route costs (`exactRequirements(...)`), or a function of the request for dynamic prices. */
  requirements: RequirementsOption;
  /** Verifies and settles: `localFacilitator(...)` or `httpFacilitator(...)`. */
  facilitator: Facilitator;
  /** The effect owner (see {@link OnPaidContext.settle} for the contract). */
  onPaid: OnPaid<TResult>;
  /**
   * Answers a payment that was already paid for (a replay) without settling, or `null`. Asked when the payment is
   * valid but outside its window (`authorization_expired`, `authorization_not_yet_valid`), so a client replaying a
   * credited payment after `validBefore` gets the stored answer. `settleWithStore`-based helpers provide it.
   */
  findPaid?: ((context: FindPaidContext) => Promise<OnPaidResult<TResult> | null>) | undefined;
  /** Time source of the validity window. Default: the wall clock. */
  clock?: Clock;
  /** `validBefore` must be at least this many seconds ahead. Default 6. */
  validBeforeMarginSeconds?: number;
  /** Describes the resource in `PAYMENT-REQUIRED` (`url` defaults to the request URL). */
  resource?: Partial<ResourceInfo> | ((c: Context) => ResourceInfo);
  /** Ask the facilitator to verify before `onPaid` (balance, on-chain nonce). Default true. */
  verifyWithFacilitator?: boolean;
  /** Accept version 1 `X-PAYMENT` and describe v1 requirements in the 402 body. Default true. */
  acceptV1?: boolean;
  /** Extra version 1 network names, e.g. `{ 'arrakis-local': 'eip155:31337' }`. */
  v1NetworkNames?: Record<string, string>;
  /** Called with every refused payment (for logs and metrics). Must not throw. */
  onRefused?: (c: Context, error: X402Error) => void;
}

/** JSON body of a 402 (or 503) from the paywall. */
export interface X402ErrorBody {
  error: X402ErrorCode;
  message: string;
  details?: Record<string, unknown>;
  /** Present when version 1 is accepted and a requirement has a v1 network name: what a v1 client reads. */
  x402Version?: 1;
  accepts?: WireRequirementsV1[];
}

/** Seconds a 503 tells the client to wait: the error's `details.retryAfterSeconds`, else 5. */
function retryAfterSecondsOf(error: X402Error): number {
  const given = error.details?.retryAfterSeconds;
  return typeof given === 'number' && Number.isInteger(given) && given > 0 && given <= 3600 ? given : 5;
}

/** Sets `PAYMENT-RESPONSE` (version 1: `X-PAYMENT-RESPONSE`) on a paid answer. */
function setPaymentResponse(c: Context, payment: VerifiedPayment, settlement: Settlement): void {
  c.header(payment.x402Version === 1 ? 'X-PAYMENT-RESPONSE' : 'PAYMENT-RESPONSE', encodeBase64Json(settlement));
  c.header('Access-Control-Expose-Headers', 'PAYMENT-RESPONSE, X-PAYMENT-RESPONSE');
  c.header('Cache-Control', 'private');
}

function assertFunction(name: string, value: unknown, optional: boolean): void {
  if (optional && value === undefined) return;
  if (typeof value !== 'function') throw new InvalidX402OptionError(`x402Paywall(): ${name} must be a function`);
}

/**
 * Hono middleware that puts a route behind an x402 payment (version 2, and version 1 unless `acceptV1: false`).
 *
 * - No `PAYMENT-SIGNATURE` / `X-PAYMENT` header: 402 with `PAYMENT-REQUIRED` (base64 JSON `PaymentRequired`:
 *   `exact` requirements with CAIP-2 network, asset, amount, payTo, maxTimeoutSeconds, extra `{name, version}`),
 *   `Cache-Control: no-store`, and the body `{ error: 'payment_required', message }` (plus `x402Version: 1` and
 *   `accepts` for version 1 clients when a network has a v1 name).
 * - A payment is decoded, validated with zod and verified (`verifyExactPayment`: amount, payTo, asset, network,
 *   window, EIP-712 signature), then by the facilitator (balance, nonce on chain). A failure is a 402 with its own
 *   code in the body and in `PAYMENT-REQUIRED.error`; an unreachable facilitator is a 503 `facilitator_unavailable`,
 *   a payment still settling a 503 `payment_pending` (both with `Retry-After`).
 *   A nonce already used on chain is not refused here: it may be a replay of a recorded payment, which `onPaid`
 *   answers from its record.
 *   A payment outside its window is asked to `findPaid` first: a replay of a credited payment gets its answer.
 * - Then `onPaid({ payment, requirements, settle, c })` runs: it must commit a claim of the payment under
 *   `payment.reference` (unique), call `settle()` with no transaction open, and apply the effect once in its own
 *   transaction keyed by the payment (`settleWithStore`, `ledgerPurchase`), so repeated or concurrent submissions
 *   produce one effect and a failed settlement none. A settlement failure answers 402 with its code and a
 *   `PAYMENT-RESPONSE` of `success: false`; any other error thrown by `onPaid` propagates to `app.onError` (never
 *   a 200). `onPaid` must call `settle()` or report a replay (or a settlement it recovered from the chain).
 * - Then the route handler runs with `c.get('x402')` = `{ payment, settlement, replayed, result }`, and the
 *   answer carries `PAYMENT-RESPONSE` (version 1: `X-PAYMENT-RESPONSE`), base64 JSON of the settlement.
 *
 * @throws {InvalidX402OptionError} when an option is missing or invalid (when built, and for per-request
 *   requirements that are invalid, at request time — a server bug that reaches `app.onError`).
 * @example
 * app.post(
 *   '/v1/credits',
 *   x402Paywall({
 *     requirements: exactRequirements({ network: 'eip155:8453', asset: USDC, payTo, amountAtomic: 5_000_000n,
 *       tokenName: 'USD Coin', tokenVersion: '2' }),
 *     facilitator: localFacilitator({ rpcUrl, signerKey }),
 *     ...ledgerPurchase(ledger, { accountId, packId: 'starter', resolver }),
 *   }),
 *   (c) => c.json(c.get('x402').result, 201),
 * );
 */
export function x402Paywall<TResult = unknown>(
  options: X402PaywallOptions<TResult>,
): MiddlewareHandler<X402Env<TResult>> {
  if (options === null || typeof options !== 'object')
    throw new InvalidX402OptionError('x402Paywall() needs an options object');
  const { facilitator, onPaid, onRefused, findPaid } = options;
  if (!isFacilitator(facilitator)) {
    throw new InvalidX402OptionError(
      'x402Paywall(): facilitator must have verify, settle and supported (localFacilitator, httpFacilitator)',
    );
  }
  assertFunction('onPaid', onPaid, false);
  assertFunction('onRefused', onRefused, true);
  assertFunction('findPaid', findPaid, true);
  const fixed =
    typeof options.requirements === 'function'
      ? null
      : parseRequirementsList(options.requirements, 'x402Paywall().requirements');
  const dynamic = typeof options.requirements === 'function' ? options.requirements : null;
  if (fixed === null && dynamic === null) throw new InvalidX402OptionError('x402Paywall(): requirements are required');
  const clock = options.clock ?? systemClock;
  if (clock === null || typeof clock !== 'object' || typeof clock.nowMs !== 'function') {
    throw new InvalidX402OptionError('x402Paywall(): clock must have nowMs()');
  }
  const marginSeconds = options.validBeforeMarginSeconds ?? validBeforeMarginSecondsDefault;
  if (!Number.isInteger(marginSeconds) || marginSeconds < 0 || marginSeconds > validBeforeMarginSecondsMax) {
    throw new InvalidX402OptionError(
      `x402Paywall(): validBeforeMarginSeconds must be an integer in 0..${validBeforeMarginSecondsMax}`,
    );
  }
  const v1Names: Readonly<Record<string, Eip155Network>> = resolveV1NetworkNames(options.v1NetworkNames);
  const acceptV1 = options.acceptV1 ?? true;
  const verifyWithFacilitator = options.verifyWithFacilitator ?? true;
  let fixedResource: Partial<ResourceInfo> | null = null;
  const resourceFn = typeof options.resource === 'function' ? options.resource : null;
  if (options.resource !== undefined && resourceFn === null) {
    const parsed = resourceInfoSchema.partial().safeParse(options.resource);
    if (!parsed.success) throw new InvalidX402OptionError(`x402Paywall(): invalid resource (${parsed.error.message})`);
    fixedResource = parsed.data as Partial<ResourceInfo>;
  }

  function resourceOf(c: Context): ResourceInfo {
    const given = resourceFn === null ? { ...fixedResource, url: fixedResource?.url ?? c.req.url } : resourceFn(c);
    const parsed = resourceInfoSchema.safeParse(given);
    if (!parsed.success) throw new InvalidX402OptionError(`x402Paywall(): invalid resource (${parsed.error.message})`);
    return parsed.data;
  }

  function v1Accepts(offered: readonly PaymentRequirements[], resource: ResourceInfo): WireRequirementsV1[] {
    if (!acceptV1) return [];
    const accepts: WireRequirementsV1[] = [];
    for (const requirements of offered) {
      const name = v1NameOf(requirements.network, v1Names);
      if (name !== null) accepts.push(toV1Requirements(requirements, { network: name, resource }));
    }
    return accepts;
  }

  function refuse(
    c: Context,
    error: X402Error,
    offered: readonly PaymentRequirements[],
    resource: ResourceInfo,
    failedSettlement?: { answer: SettleResponse; version: 1 | 2 },
  ): Response {
    onRefused?.(c, error);
    const status = error.httpStatus;
    const body: X402ErrorBody = { error: error.code, message: error.message };
    if (error.details !== undefined) body.details = error.details;
    const headers: Record<string, string> = {};
    if (status === 402) {
      Object.assign(
        headers,
        paymentRequiredHeaders(createPaymentRequired({ requirements: offered, resource, error: error.code })),
      );
      const accepts = v1Accepts(offered, resource);
      if (accepts.length > 0) Object.assign(body, { x402Version: 1, accepts });
    }
    if (status === 503) headers['Retry-After'] = String(retryAfterSecondsOf(error));
    if (failedSettlement !== undefined) {
      headers[failedSettlement.version === 1 ? 'X-PAYMENT-RESPONSE' : 'PAYMENT-RESPONSE'] = encodeBase64Json(
        failedSettlement.answer,
      );
      headers['Access-Control-Expose-Headers'] = 'PAYMENT-REQUIRED, PAYMENT-RESPONSE, X-PAYMENT-RESPONSE';
    }
    return c.json(body, status as 402, headers);
  }

  const middleware: MiddlewareHandler<X402Env<TResult>> = async function x402Paywall(c, next) {
    let offered: readonly PaymentRequirements[];
    if (dynamic !== null) {
      const computed = await dynamic(c);
      if (computed === freeOfCharge) {
        await next();
        return;
      }
      if (computed instanceof Response) return computed;
      if (computed === null || computed === undefined) {
        throw new InvalidX402OptionError(
          'x402Paywall(): requirements(c) returned nothing; return the requirements, freeOfCharge, or a Response',
        );
      }
      offered = parseRequirementsList(computed, 'x402Paywall().requirements(c)');
    } else {
      offered = fixed as readonly PaymentRequirements[];
    }
    const resource = resourceOf(c);
    const v2Header = c.req.header('payment-signature');
    const v1Header = acceptV1 ? c.req.header('x-payment') : undefined;
    const header = v2Header ?? v1Header;
    if (header === undefined || header === '') {
      const what = acceptV1 ? 'a PAYMENT-SIGNATURE (or X-PAYMENT) header' : 'a PAYMENT-SIGNATURE header';
      return refuse(
        c,
        new X402Error('payment_required', `this resource requires payment: send ${what}, see PAYMENT-REQUIRED`),
        offered,
        resource,
      );
    }

    let payment: VerifiedPayment;
    let replay: { payment: VerifiedPayment; outcome: OnPaidResult<TResult> } | null = null;
    try {
      const payload = decodeBase64Json(header, paymentHeaderBytesMax);
      const verify = (checkWindow: boolean) =>
        verifyExactPayment({
          payload,
          requirements: offered,
          clock,
          validBeforeMarginSeconds: marginSeconds,
          v1NetworkNames: v1Names,
          checkWindow,
        });
      try {
        payment = await verify(true);
      } catch (error) {
        // Refused only for its window: a replay of a credited payment still gets its first answer.
        replay = await replayOutsideWindow(error, () => verify(false), c);
        if (replay === null) throw error;
        payment = replay.payment;
      }
      checkHeaderVersion(payment, v2Header !== undefined);
      if (replay === null && verifyWithFacilitator) await verifyOnChain(payment);
    } catch (error) {
      if (error instanceof X402Error && error.code !== 'invalid_option') return refuse(c, error, offered, resource);
      throw error;
    }
    if (replay !== null) return answerReplay(c, next, replay.payment, replay.outcome);
    return settleAndServe(c, next, payment, offered, resource);
  };

  /** `PAYMENT-SIGNATURE` carries version 2, `X-PAYMENT` version 1. */
  function checkHeaderVersion(payment: VerifiedPayment, fromV2Header: boolean): void {
    if (fromV2Header && payment.x402Version !== 2) {
      throw new X402Error(
        'malformed_payment',
        'PAYMENT-SIGNATURE must carry a version 2 payload (version 1 uses X-PAYMENT)',
      );
    }
    if (!fromV2Header && payment.x402Version !== 1) {
      throw new X402Error(
        'malformed_payment',
        'X-PAYMENT must carry a version 1 payload (version 2 uses PAYMENT-SIGNATURE)',
      );
    }
  }

  /** The facilitator's check (balance, nonce on chain); a used nonce goes on to `onPaid` (maybe a replay). */
  async function verifyOnChain(payment: VerifiedPayment): Promise<void> {
    const answer = await facilitator.verify(payment.payload, payment.requirements);
    if (answer.isValid) return;
    const code = normalizeReason(answer.invalidReason, 'invalid_signature');
    // A used nonce may be this very payment, already recorded (a replay) or settled before a crash:
    // onPaid's record and settle() decide.
    if (code !== 'nonce_already_used') {
      throw new X402Error(code, answer.invalidMessage ?? `the facilitator refused the payment: ${code}`);
    }
  }

  /** A payment refused only for its window may be a replay of a credited one: `findPaid` answers it. */
  async function replayOutsideWindow(
    error: unknown,
    verifyIgnoringWindow: () => Promise<VerifiedPayment>,
    c: Context,
  ): Promise<{ payment: VerifiedPayment; outcome: OnPaidResult<TResult> } | null> {
    if (findPaid === undefined || !(error instanceof X402Error)) return null;
    if (error.code !== 'authorization_expired' && error.code !== 'authorization_not_yet_valid') return null;
    const payment = await verifyIgnoringWindow().catch(() => null);
    if (payment === null) return null;
    const outcome = await findPaid({ payment, c });
    return outcome === null ? null : { payment, outcome };
  }

  async function answerReplay(
    c: Context<X402Env<TResult>>,
    next: () => Promise<void>,
    payment: VerifiedPayment,
    outcome: OnPaidResult<TResult>,
  ): Promise<void> {
    const settlement = outcome.settlement ?? null;
    c.set('x402', { payment, settlement, replayed: outcome.replayed ?? true, result: outcome.result });
    await next();
    if (settlement !== null) setPaymentResponse(c, payment, settlement);
  }

  async function settleAndServe(
    c: Context<X402Env<TResult>>,
    next: () => Promise<void>,
    payment: VerifiedPayment,
    offered: readonly PaymentRequirements[],
    resource: ResourceInfo,
  ): Promise<Response | undefined> {
    let settlement: Settlement | null = null;
    let failedAnswer: SettleResponse | undefined;
    let settlePromise: Promise<Settlement> | undefined;
    const settle = (): Promise<Settlement> => {
      settlePromise ??= (async () => {
        const answer = await facilitator.settle(payment.payload, payment.requirements);
        if (!answer.success) {
          failedAnswer = answer;
          const code = normalizeReason(answer.errorReason, 'settlement_failed');
          throw new X402Error(code, answer.errorMessage ?? `settlement failed: ${code}`, {
            details:
              answer.transaction === ''
                ? { reason: answer.errorReason }
                : { transaction: answer.transaction, reason: answer.errorReason },
          });
        }
        settlement = { ...answer, success: true, payer: answer.payer ?? payment.payer };
        return settlement;
      })();
      return settlePromise;
    };

    let outcome: OnPaidResult<TResult> | undefined;
    try {
      outcome = (await onPaid({ payment, requirements: payment.requirements, settle, c })) ?? undefined;
    } catch (error) {
      if (error instanceof X402Error && error.httpStatus !== 500) {
        return refuse(
          c,
          error,
          offered,
          resource,
          failedAnswer === undefined ? undefined : { answer: failedAnswer, version: payment.x402Version },
        );
      }
      throw error;
    }
    const replayed = outcome?.replayed === true;
    if (settlePromise !== undefined && settlement === null && outcome?.settlement == null) {
      // onPaid swallowed a failed settlement (and recovered none from the chain): it must not be answered as paid.
      const error = await settlePromise.then(
        () => null,
        (reason: unknown) => reason,
      );
      if (error instanceof X402Error) {
        return refuse(
          c,
          error,
          offered,
          resource,
          failedAnswer === undefined ? undefined : { answer: failedAnswer, version: payment.x402Version },
        );
      }
      throw error;
    }
    if (settlePromise === undefined && !replayed && outcome?.settlement == null) {
      throw new Error(
        'x402Paywall: onPaid returned without calling settle() and without reporting a replay ({ replayed: true, settlement }); the payment was not settled',
      );
    }
    const finalSettlement: Settlement | null = settlement ?? outcome?.settlement ?? null;
    c.set('x402', { payment, settlement: finalSettlement, replayed, result: outcome?.result });
    await next();
    if (finalSettlement !== null) setPaymentResponse(c, payment, finalSettlement);
    return undefined;
  }
  // Bundlers rename a function expression that shadows its factory; keep the name stack traces show.
  Object.defineProperty(middleware, 'name', { value: 'x402Paywall' });
  return middleware;
}
