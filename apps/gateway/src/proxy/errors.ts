// Errors of the metered proxy. The route answers them itself with the gateway's JSON error body
// (`{error, message, details?}`): their codes belong to the proxy, not to the rest of the gateway.
import type { ErrorBody } from '../errors.js';

/** Stable codes of the proxy's own answers. */
export type ProxyErrorCode =
  | 'upstream_not_found'
  | 'upstream_unavailable'
  | 'upstream_timeout'
  | 'payload_too_large'
  | 'client_closed_request';

/** HTTP status of each {@link ProxyErrorCode} (499: the client went away before the answer; nobody reads it). */
export const proxyErrorHttpStatus = {
  upstream_not_found: 404,
  upstream_unavailable: 502,
  upstream_timeout: 504,
  payload_too_large: 413,
  client_closed_request: 499,
} as const satisfies Record<ProxyErrorCode, number>;

/**
 * A proxy call that ended without passing the upstream's answer on: no such upstream, the upstream unreachable or
 * failing (5xx before the body), too slow, the request body too long, or the client gone. Whatever was held is
 * released before this is answered.
 *
 * @example
 * ```ts
 * throw new ProxyError('upstream_timeout', 'upstream "llm" sent no response head within 30000 ms', { upstream: 'llm' });
 * ```
 */
export class ProxyError extends Error {
  override readonly name = 'ProxyError';
  readonly code: ProxyErrorCode;
  readonly details: Record<string, unknown> | undefined;
  constructor(code: ProxyErrorCode, message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.details = details;
  }

  /** The HTTP status of this error. */
  get status(): number {
    return proxyErrorHttpStatus[this.code];
  }

  /** The JSON body of this error. */
  toBody(): ErrorBody {
    return this.details === undefined
      ? { error: this.code, message: this.message }
      : { error: this.code, message: this.message, details: this.details };
  }

  /** This error as an HTTP answer (JSON body, `Cache-Control: no-store`). */
  toResponse(requestId: string): Response {
    return new Response(JSON.stringify(this.toBody()), {
      status: this.status,
      headers: { 'content-type': 'application/json', 'cache-control': 'no-store', 'x-request-id': requestId },
    });
  }
}
