/**
 * `gatewayLedger()`: the ledger operations a metered service needs, against a running gateway, with the in-process
 * ledger's input types, results (minus `lots`, see ./types.ts) and typed errors.
 */
import { InvalidArgumentError, quoteValue } from '../errors.js';
import type { Meter } from '../meters/types.js';
import type { Balance, FinalizeInput, Reservation, ReserveInput } from '../types.js';
import {
  decodeBalance,
  decodeFinalizeAnswer,
  decodeMeter,
  decodeReleaseAnswer,
  decodeReservation,
  decodeReserveAnswer,
  wireVersionMax,
} from './decode.js';
import { checkId, finalizeBody, idempotencyHeader, reserveBody } from './encode.js';
import { type GatewayFetch, send, type TransportOptions } from './transport.js';
import type {
  GatewayFinalizeResult,
  GatewayReleaseResult,
  GatewayReserveResult,
  GatewayWriteOptions,
} from './types.js';

/** Default time a call may take, answer body included: 10 s. */
export const gatewayLedgerTimeoutMsDefault = 10_000;
/** Longest `timeoutMs` accepted: 10 min. */
export const gatewayLedgerTimeoutMsMax = 600_000;

interface GatewayLedgerOptionsBase {
  /** The gateway, e.g. `https://gateway.internal:3000` (a path prefix is kept). */
  baseUrl: string;
  /** Default: the global `fetch`. */
  fetch?: GatewayFetch;
  /** Time a call may take, answer body included (1..{@link gatewayLedgerTimeoutMsMax}; default 10 000). */
  timeoutMs?: number;
}

/**
 * A fixed bearer token (a service token, audience `arrakis-internal`).
 *
 * @example
 * gatewayLedger({ baseUrl: 'http://127.0.0.1:3000', token: serviceToken });
 */
export interface GatewayLedgerTokenOptions extends GatewayLedgerOptionsBase {
  token: string;
  getToken?: undefined;
}

/**
 * A token read before every call (e.g. refreshed before it expires). What `getToken` throws propagates as is.
 *
 * @example
 * gatewayLedger({ baseUrl: 'http://127.0.0.1:3000', getToken: () => tokens.current() });
 */
export interface GatewayLedgerTokenSourceOptions extends GatewayLedgerOptionsBase {
  getToken: () => string | Promise<string>;
  token?: undefined;
}

/**
 * Options of {@link gatewayLedger}: the gateway's URL and a token, or a function answering one.
 *
 * @example
 * const options: GatewayLedgerOptions = { baseUrl: 'http://127.0.0.1:3000', token: serviceToken, timeoutMs: 5_000 };
 */
export type GatewayLedgerOptions = GatewayLedgerTokenOptions | GatewayLedgerTokenSourceOptions;

/**
 * The ledger over HTTP. Same inputs as the in-process `Ledger`; results without `lots` (the gateway does not answer
 * them); errors: the ledger's own classes for ledger codes, `GatewayRequestError` for the rest.
 *
 * @example
 * const ledger: GatewayLedger = gatewayLedger({ baseUrl: 'http://127.0.0.1:3000', token: serviceToken });
 * const balance = await ledger.getBalance('acc_1'); // Balance, bigint amounts
 */
export interface GatewayLedger {
  /** The gateway's base URL, without a trailing slash. */
  readonly baseUrl: string;
  /** `POST /v1/reservations`: a raw hold (`amountMicro`, …) or one on a meter's terms (`meterId`, `estimate?`). */
  reserve(input: ReserveInput, options?: GatewayWriteOptions): Promise<GatewayReserveResult>;
  /** `POST /v1/reservations/{id}/finalize`: by cost (`actualCostMicro`) or by usage (`usage`, itemized in `pricing`). */
  finalize(input: FinalizeInput, options?: GatewayWriteOptions): Promise<GatewayFinalizeResult>;
  /** `POST /v1/reservations/{id}/release`. */
  release(input: { reservationId: string }, options?: GatewayWriteOptions): Promise<GatewayReleaseResult>;
  /** `GET /v1/accounts/{id}/balance`. */
  getBalance(accountId: string): Promise<Balance>;
  /** `GET /v1/reservations/{id}`. */
  getReservation(reservationId: string): Promise<Reservation>;
  /** `GET /v1/meters/{id}` (the version in force), or `?version=N`. */
  getMeter(meterId: string, options?: { version?: number }): Promise<Meter>;
}

function checkOptions(options: GatewayLedgerOptions): TransportOptions {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('gatewayLedger() needs options');
  let base: URL | undefined;
  try {
    base = new URL(options.baseUrl);
  } catch {
    base = undefined;
  }
  if (base === undefined || (base.protocol !== 'http:' && base.protocol !== 'https:') || base.search !== '') {
    throw new InvalidArgumentError(`gatewayLedger() baseUrl ${quoteValue(options.baseUrl)} must be an http(s) URL`, {
      details: { field: 'baseUrl' },
    });
  }
  const { token, getToken } = options;
  const tokenOk = typeof token === 'string' && token.length > 0 && !/\s/.test(token);
  if ((token === undefined) === (getToken === undefined) || (token !== undefined && !tokenOk)) {
    throw new InvalidArgumentError('gatewayLedger() needs either `token` (a non-empty string) or `getToken`', {
      details: { field: 'token' },
    });
  }
  if (getToken !== undefined && typeof getToken !== 'function') {
    throw new InvalidArgumentError('gatewayLedger() option `getToken` must be a function', {
      details: { field: 'getToken' },
    });
  }
  if (options.fetch !== undefined && typeof options.fetch !== 'function') {
    throw new InvalidArgumentError('gatewayLedger() option `fetch` must be a function', {
      details: { field: 'fetch' },
    });
  }
  const timeoutMs = options.timeoutMs ?? gatewayLedgerTimeoutMsDefault;
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > gatewayLedgerTimeoutMsMax) {
    throw new InvalidArgumentError(
      `gatewayLedger() timeoutMs ${quoteValue(timeoutMs)} must be an integer from 1 to ${gatewayLedgerTimeoutMsMax}`,
      { details: { field: 'timeoutMs' } },
    );
  }
  return {
    baseUrl: base.href.replace(/\/+$/, ''),
    token: getToken ?? (() => token as string),
    fetch: options.fetch ?? ((input, init) => fetch(input, init)),
    timeoutMs,
  };
}

function versionQuery(options: { version?: number } | undefined): string {
  const version = options?.version;
  if (version === undefined) return '';
  if (!Number.isSafeInteger(version) || version < 1 || version > wireVersionMax) {
    throw new InvalidArgumentError(
      `meter version ${quoteValue(version)} must be an integer from 1 to ${wireVersionMax}`,
      {
        details: { field: 'version' },
      },
    );
  }
  return `?version=${version}`;
}

const segment = (field: string, value: string) => encodeURIComponent(checkId(field, value));

/**
 * The ledger over HTTP for sibling services: reserve (raw or by meter), finalize (by cost or by usage), release, and
 * the balance, hold and meter reads, against a running gateway with a service token. Amounts are bigint, times
 * `Date`; every answer is checked field by field. An error answer whose code is a ledger code throws the very class
 * the in-process ledger throws (`InsufficientCreditsError`, `SpendCapExceededError`, `MeterNotFoundError`, …); any
 * other failure throws a `GatewayRequestError`. Pass it to `meter()` from `@arrakis/billing-ledger/hono`.
 *
 * @throws {InvalidArgumentError} when the options are invalid (when it is built).
 * @example
 * ```ts
 * import { gatewayLedger } from '@arrakis/billing-ledger/http';
 *
 * const ledger = gatewayLedger({ baseUrl: 'http://127.0.0.1:3000', token: process.env.SERVICE_TOKEN ?? '' });
 * const { reservation } = await ledger.reserve({ accountId: 'acc_1', meterId: 'chat' });
 * const { pricing } = await ledger.finalize({ reservationId: reservation.id, usage: { output_tokens: 340 } });
 * console.log(pricing?.totalMicro);
 * ```
 */
export function gatewayLedger(options: GatewayLedgerOptions): GatewayLedger {
  const transport = checkOptions(options);
  const write = (path: string, json: unknown, okStatus: 200 | 201, writeOptions: GatewayWriteOptions | undefined) => ({
    method: 'POST' as const,
    path,
    json,
    idempotencyKey: idempotencyHeader(writeOptions),
    okStatus,
  });
  return {
    baseUrl: transport.baseUrl,
    reserve: async (input, writeOptions) =>
      send(transport, write('/v1/reservations', reserveBody(input), 201, writeOptions), decodeReserveAnswer),
    finalize: async (input, writeOptions) => {
      const path = `/v1/reservations/${segment('reservationId', input.reservationId)}/finalize`;
      return send(transport, write(path, finalizeBody(input), 200, writeOptions), decodeFinalizeAnswer);
    },
    release: async (input, writeOptions) => {
      const path = `/v1/reservations/${segment('reservationId', input.reservationId)}/release`;
      return send(transport, write(path, undefined, 200, writeOptions), decodeReleaseAnswer);
    },
    getBalance: async (accountId) =>
      send(
        transport,
        { method: 'GET', path: `/v1/accounts/${segment('accountId', accountId)}/balance`, okStatus: 200 },
        (body) => decodeBalance(body, 'body'),
      ),
    getReservation: async (reservationId) =>
      send(
        transport,
        { method: 'GET', path: `/v1/reservations/${segment('reservationId', reservationId)}`, okStatus: 200 },
        (body) => decodeReservation(body, 'body'),
      ),
    getMeter: async (meterId, meterOptions) => {
      const path = `/v1/meters/${segment('meterId', meterId)}${versionQuery(meterOptions)}`;
      return send(transport, { method: 'GET', path, okStatus: 200 }, (body) => decodeMeter(body, 'body'));
    },
  };
}
