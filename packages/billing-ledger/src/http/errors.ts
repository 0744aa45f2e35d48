/**
 * The one error of `@arrakis/billing-ledger/http` that is not a ledger error: a gateway answer the ledger does not
 * define (auth, rate limits, unavailable dependencies, terms a caller may not set), or no usable answer at all.
 */

/**
 * Codes the client gives a call that failed without a gateway error code: the request never got an answer
 * (`network_error`), the answer took longer than `timeoutMs` (`timeout`), a success answer broke the wire shape
 * (`malformed_response`), or an error status came without the `{ error, message }` body (`http_error`, e.g. an HTML
 * 502 from a proxy).
 *
 * @example
 * if (error instanceof GatewayRequestError && error.code === 'timeout') retryLater();
 */
export type GatewayClientErrorCode = 'network_error' | 'timeout' | 'malformed_response' | 'http_error';

/**
 * What a {@link GatewayRequestError} is built from.
 *
 * @example
 * new GatewayRequestError({ code: 'rate_limited', status: 429, message: 'slow down', method: 'POST', path: '/v1/reservations' });
 */
export interface GatewayRequestErrorInput {
  /** The gateway's `error` code (`token_expired`, `terms_not_allowed`, `rate_limited`, …) or a client code. */
  code: string;
  /** The HTTP status of the answer; null when no answer arrived. */
  status: number | null;
  message: string;
  /** The gateway's `details`, or what the client knows (the path of a malformed field). */
  details?: unknown;
  /** `POST`, `GET`, … */
  method: string;
  /** The path called, e.g. `/v1/reservations`. */
  path: string;
}

/**
 * A gateway call failed for a reason the in-process ledger has no error for: 401/403 (`missing_token`,
 * `token_expired`, `wrong_audience`, `insufficient_scope`, `forbidden`, `terms_not_allowed`,
 * `identity_anchor_required`), 400 `validation_failed`, 429 `rate_limited`, 503 `dependency_unavailable`, a 500, or a
 * client code ({@link GatewayClientErrorCode}). A gateway answer whose code is a ledger error code is never this
 * class: it is the ledger's own error (`InsufficientCreditsError`, …).
 *
 * @example
 * ```ts
 * try {
 *   await ledger.reserve({ accountId, meterId: 'chat' });
 * } catch (error) {
 *   if (error instanceof GatewayRequestError && error.status === 429) await backOff();
 *   else throw error;
 * }
 * ```
 */
export class GatewayRequestError extends Error {
  override readonly name = 'GatewayRequestError';
  readonly code: string;
  readonly status: number | null;
  readonly details: unknown;
  readonly method: string;
  readonly path: string;
  constructor(input: GatewayRequestErrorInput, options: { cause?: unknown } = {}) {
    super(
      `${input.method} ${input.path}: ${input.message}`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.code = input.code;
    this.status = input.status;
    this.details = input.details;
    this.method = input.method;
    this.path = input.path;
  }
}
