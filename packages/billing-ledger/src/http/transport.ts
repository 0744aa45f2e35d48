/**
 * One gateway call: bearer token, JSON body, `Idempotency-Key`, a timeout, a bounded answer, and the answer turned
 * into a decoded result, the ledger's own error, or a {@link GatewayRequestError}.
 */
import { InvalidArgumentError } from '../errors.js';
import { GatewayRequestError } from './errors.js';
import { isLedgerErrorCode, ledgerErrorFromProblem } from './problem.js';
import { readObject, WireShapeError } from './wire.js';

/** Largest answer body read: 1 MiB (a hold, a balance or a meter is a few KiB). */
export const gatewayResponseBytesMax = 1_048_576;
/** Longest error code accepted in an error answer. */
export const problemCodeLengthMax = 64;
/** Longest excerpt of a body without the error shape quoted in an `http_error`. */
export const bodyExcerptLengthMax = 200;

/**
 * The fetch the client calls: the global `fetch`, or e.g. a Hono app's `app.request` in tests.
 *
 * @example
 * const viaApp: GatewayFetch = (url, init) => app.request(url, init);
 */
export type GatewayFetch = (input: string, init: RequestInit) => Response | Promise<Response>;

/** What a transport needs, checked by `gatewayLedger`. */
export interface TransportOptions {
  baseUrl: string;
  token: () => string | Promise<string>;
  fetch: GatewayFetch;
  timeoutMs: number;
}

/** One call: method, path (with its query), JSON body, idempotency key, and the one status of success. */
export interface GatewayCall {
  method: 'GET' | 'POST';
  path: string;
  json?: unknown;
  idempotencyKey?: string | undefined;
  okStatus: 200 | 201;
}

const codePattern = /^[a-z][a-z0-9_]*$/;

function failure(
  call: GatewayCall,
  code: string,
  status: number | null,
  message: string,
  more: { details?: unknown; cause?: unknown } = {},
): GatewayRequestError {
  return new GatewayRequestError(
    {
      code,
      status,
      message,
      method: call.method,
      path: call.path,
      ...(more.details === undefined ? {} : { details: more.details }),
    },
    more.cause === undefined ? {} : { cause: more.cause },
  );
}

async function tokenOf(options: TransportOptions): Promise<string> {
  const token = await options.token();
  if (typeof token !== 'string' || token.length === 0 || /\s/.test(token)) {
    throw new InvalidArgumentError('gatewayLedger: getToken() must answer a non-empty bearer token without spaces');
  }
  return token;
}

async function answerOf(options: TransportOptions, call: GatewayCall): Promise<{ status: number; text: string }> {
  const headers: Record<string, string> = {
    accept: 'application/json',
    authorization: `Bearer ${await tokenOf(options)}`,
  };
  if (call.json !== undefined) headers['content-type'] = 'application/json';
  if (call.idempotencyKey !== undefined) headers['idempotency-key'] = call.idempotencyKey;
  const signal = AbortSignal.timeout(options.timeoutMs);
  try {
    const response = await options.fetch(`${options.baseUrl}${call.path}`, {
      method: call.method,
      headers,
      signal,
      ...(call.json === undefined ? {} : { body: JSON.stringify(call.json) }),
    });
    const declared = Number(response.headers.get('content-length') ?? '0');
    const bytes = declared > gatewayResponseBytesMax ? null : new Uint8Array(await response.arrayBuffer());
    if (bytes === null || bytes.byteLength > gatewayResponseBytesMax) {
      throw failure(call, 'malformed_response', response.status, `the answer exceeds ${gatewayResponseBytesMax} bytes`);
    }
    return { status: response.status, text: new TextDecoder().decode(bytes) };
  } catch (cause) {
    if (cause instanceof GatewayRequestError) throw cause;
    if (signal.aborted) {
      throw failure(call, 'timeout', null, `no answer within ${options.timeoutMs} ms`, { cause });
    }
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw failure(call, 'network_error', null, `the request failed: ${reason}`, { cause });
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The error of a non-success answer: the ledger's own error for a ledger code, else a GatewayRequestError. */
function errorOf(call: GatewayCall, status: number, text: string): Error {
  const body = parseJson(text);
  const problem =
    typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
  const { error: code, message, details, requestId } = problem;
  if (
    typeof code !== 'string' ||
    code.length > problemCodeLengthMax ||
    !codePattern.test(code) ||
    typeof message !== 'string'
  ) {
    const excerpt = text.slice(0, bodyExcerptLengthMax);
    return failure(call, 'http_error', status, `answered ${status} without an error body: ${JSON.stringify(excerpt)}`);
  }
  if (isLedgerErrorCode(code)) {
    try {
      return ledgerErrorFromProblem(code, {
        message,
        details: details === undefined ? {} : readObject(details, 'details'),
      });
    } catch (cause) {
      if (!(cause instanceof WireShapeError)) throw cause;
      return failure(call, 'malformed_response', status, `a ${code} answer broke its shape: ${cause.message}`, {
        details: { errorCode: code, path: cause.path },
        cause,
      });
    }
  }
  const withRequestId = details === undefined && typeof requestId === 'string' ? { requestId } : details;
  return failure(call, code, status, message, withRequestId === undefined ? {} : { details: withRequestId });
}

/**
 * Sends one call and decodes its success answer with `decode`.
 *
 * @throws {LedgerError} the ledger's own error class when the gateway answers a ledger error code.
 * @throws {GatewayRequestError} for any other error answer, no answer, a timeout or a malformed answer.
 * @example
 * const balance = await send(options, { method: 'GET', path: '/v1/accounts/acc_1/balance', okStatus: 200 }, (body) =>
 *   decodeBalance(body, 'body'),
 * );
 */
export async function send<T>(options: TransportOptions, call: GatewayCall, decode: (body: unknown) => T): Promise<T> {
  const { status, text } = await answerOf(options, call);
  if (status < 200 || status > 299) throw errorOf(call, status, text);
  if (status !== call.okStatus) {
    throw failure(call, 'malformed_response', status, `answered ${status}, expected ${call.okStatus}`);
  }
  const body = parseJson(text);
  try {
    return decode(body);
  } catch (cause) {
    if (!(cause instanceof WireShapeError)) throw cause;
    throw failure(call, 'malformed_response', status, `the answer broke its shape: ${cause.message}`, {
      details: { path: cause.path, expected: cause.expected },
      cause,
    });
  }
}
