import type { z } from 'zod';
import {
  type AccountBody,
  accountBodySchema,
  type BalanceBody,
  balanceBodySchema,
  type EntryPageBody,
  type ErrorBody,
  type EventPageBody,
  entryPageBodySchema,
  errorBodySchema,
  eventPageBodySchema,
  type FinalizeBody,
  finalizeBodySchema,
  type GrantBody,
  grantBodySchema,
  type HealthBody,
  healthBodySchema,
  type LotListBody,
  lotListBodySchema,
  type MeterBody,
  type MeterListBody,
  type MeterVersionsBody,
  meterBodySchema,
  meterListBodySchema,
  meterVersionsBodySchema,
  type OpenApiDocument,
  openApiDocumentSchema,
  type PaymentBody,
  type PaymentPageBody,
  paymentBodySchema,
  paymentPageBodySchema,
  type ReadyBody,
  type ReleaseBody,
  type ReservationBody,
  type ReserveBody,
  readyBodySchema,
  releaseBodySchema,
  reservationBodySchema,
  reserveBodySchema,
  type SpendCapsBody,
  spendCapsBodySchema,
  type WhoamiBody,
  whoamiBodySchema,
} from './schemas.js';

/** Default per-request timeout of {@link createGatewayClient}. */
export const gatewayRequestTimeoutMsDefault = 10_000;

/** Largest response body the client reads: 8 MiB. */
export const gatewayResponseBytesMax = 8 * 1024 * 1024;

/** Options of {@link createGatewayClient}. */
export interface GatewayClientOptions {
  /** Base URL of the gateway, e.g. `http://127.0.0.1:3000` (a path prefix is kept). */
  baseUrl: string;
  /** Default bearer token; a call's `token` overrides it (`null` sends none). */
  token?: string;
  /** A fetch implementation (default: the global `fetch`). */
  fetch?: typeof fetch;
  /** Per-request timeout. Default {@link gatewayRequestTimeoutMsDefault}. */
  timeoutMs?: number;
}

/** A parsed and validated answer: `ok` with the route's body, or not `ok` with the gateway's error shape. */
export type GatewayResult<T> =
  | { ok: true; status: number; headers: Headers; body: T }
  | { ok: false; status: number; headers: Headers; body: ErrorBody };

/** What a single call may override. */
export interface GatewayCallOptions {
  /** Bearer token for this call; `null` sends no `Authorization` header; `undefined` uses the client's. */
  token?: string | null;
  /** Extra headers. */
  headers?: Record<string, string>;
}

/** What a write call may add: the `Idempotency-Key` header. */
export interface GatewayWriteOptions extends GatewayCallOptions {
  /** Sent as `Idempotency-Key`. */
  idempotencyKey?: string;
}

/** `POST /v1/accounts` body. */
export interface CreateAccountRequest {
  entityType: string;
  entityId: string;
}

/** `POST /v1/accounts/:id/grants` body (amounts are micro-USD strings). */
export interface GrantRequest {
  amountMicro: string;
  reason: string;
  poolId?: string;
  /** ISO 8601 UTC. */
  expiresAt?: string;
}

/** Units per usage dimension on the wire: a JSON integer or a base-10 string. */
export type UsageRequest = Record<string, string | number>;

/** `POST /v1/reservations` body with caller-set terms (services and admins only). */
export interface RawReserveRequest {
  accountId: string;
  amountMicro: string;
  poolId?: string;
  ttlSeconds?: number;
  billingMode?: 'live' | 'soft' | 'shadow';
}

/** `POST /v1/reservations` body on a meter's terms (any audience): the hold is sized by the meter (and `estimate`). */
export interface MeteredReserveRequest {
  accountId: string;
  meterId: string;
  estimate?: UsageRequest;
}

/** `POST /v1/reservations` body: raw or metered. */
export type ReserveRequest = RawReserveRequest | MeteredReserveRequest;

/** `POST /v1/reservations/:id/finalize` body: the cost, or the usage (priced under the hold's meter version). */
export type FinalizeRequest = { actualCostMicro: string } | { usage: UsageRequest };

/** `POST /v1/meters` body (amounts and counts as base-10 strings). */
export interface MeterRequest {
  id: string;
  poolId?: string;
  billingMode?: 'live' | 'soft' | 'shadow';
  holdMicro: string;
  maxCostMicro?: string;
  ttlSeconds?: number;
  unitPrices: { dimension: string; priceMicro: string; perUnits: string; unitsMax?: string }[];
  /** ISO 8601 UTC; default now. */
  effectiveAt?: string;
}

/** `PUT /v1/accounts/:id/spend-caps` body: null clears a cap. */
export interface SpendCapsRequest {
  dailyCapMicro: string | null;
  monthlyCapMicro: string | null;
}

/** Options of {@link GatewayClient.request}. */
export interface GatewayRequestOptions<T> extends GatewayCallOptions {
  method?: string;
  /** JSON request body. */
  json?: unknown;
  /** Schema of the body for the `okStatuses`. */
  schema: z.ZodType<T>;
  /** Statuses whose body follows `schema` (default `[200]`); every other status must carry the error shape. */
  okStatuses?: readonly number[];
}

/** A raw answer: status, headers and the body as text. */
export interface GatewayRawResponse {
  status: number;
  headers: Headers;
  text: string;
}

/** Thrown when the gateway answers something that breaks its contract (not JSON, wrong shape, too large). */
export class GatewayResponseError extends Error {
  override readonly name = 'GatewayResponseError';
  readonly code = 'unexpected_response' as const;
  readonly status: number;
  readonly bodyText: string;
  constructor(message: string, status: number, bodyText: string, options?: { cause?: unknown }) {
    super(message, options);
    this.status = status;
    this.bodyText = bodyText.slice(0, 2000);
  }
}

/** A typed client of the gateway HTTP API. Every JSON answer is validated. */
export interface GatewayClient {
  readonly baseUrl: string;
  /** `GET /health`. */
  health(options?: GatewayCallOptions): Promise<GatewayResult<HealthBody>>;
  /** `GET /ready`: both 200 and 503 carry the readiness body. */
  ready(options?: GatewayCallOptions): Promise<GatewayResult<ReadyBody>>;
  /** `GET /openapi.json`. */
  openapi(options?: GatewayCallOptions): Promise<GatewayResult<OpenApiDocument>>;
  /** `GET /v1/whoami`, any of the three audiences. */
  whoami(options?: GatewayCallOptions): Promise<GatewayResult<WhoamiBody>>;
  /** `GET /v1/admin/whoami`, admin audience only. */
  adminWhoami(options?: GatewayCallOptions): Promise<GatewayResult<WhoamiBody>>;
  /** `POST /v1/accounts` (services, admins): 201 new, 200 existing. */
  createAccount(body: CreateAccountRequest, options?: GatewayWriteOptions): Promise<GatewayResult<AccountBody>>;
  /** `GET /v1/accounts/:id`. */
  getAccount(accountId: string, options?: GatewayCallOptions): Promise<GatewayResult<AccountBody>>;
  /** `GET /v1/accounts/:id/balance`. */
  getBalance(accountId: string, options?: GatewayCallOptions): Promise<GatewayResult<BalanceBody>>;
  /** `GET /v1/accounts/:id/lots[?includeEmpty=true]`. */
  listLots(
    accountId: string,
    options?: GatewayCallOptions & { includeEmpty?: boolean },
  ): Promise<GatewayResult<LotListBody>>;
  /** `GET /v1/accounts/:id/entries?cursor&limit`, newest first. */
  listEntries(
    accountId: string,
    options?: GatewayCallOptions & { cursor?: string; limit?: number },
  ): Promise<GatewayResult<EntryPageBody>>;
  /** `POST /v1/accounts/:id/grants` (admins with `ledger:grant` or `admin`): 201. */
  grant(accountId: string, body: GrantRequest, options?: GatewayWriteOptions): Promise<GatewayResult<GrantBody>>;
  /** `POST /v1/reservations` (users on their own account, services): 201. */
  reserve(body: ReserveRequest, options?: GatewayWriteOptions): Promise<GatewayResult<ReserveBody>>;
  /** `POST /v1/reservations/:id/finalize` (services). */
  finalize(
    reservationId: string,
    body: FinalizeRequest,
    options?: GatewayWriteOptions,
  ): Promise<GatewayResult<FinalizeBody>>;
  /** `POST /v1/reservations/:id/release` (services). */
  release(reservationId: string, options?: GatewayWriteOptions): Promise<GatewayResult<ReleaseBody>>;
  /** `GET /v1/reservations/:id` (services). */
  getReservation(reservationId: string, options?: GatewayCallOptions): Promise<GatewayResult<ReservationBody>>;
  /** `POST /v1/meters` (admins with `pricing:admin` or `admin`): 201, a new meter (version 1) or its next version. */
  createMeter(body: MeterRequest, options?: GatewayWriteOptions): Promise<GatewayResult<MeterBody>>;
  /** `GET /v1/meters` (any audience): every meter's version in force. */
  listMeters(options?: GatewayCallOptions): Promise<GatewayResult<MeterListBody>>;
  /** `GET /v1/meters/:id[?version=N]`: the version in force, or version N. */
  getMeter(meterId: string, options?: GatewayCallOptions & { version?: number }): Promise<GatewayResult<MeterBody>>;
  /** `GET /v1/meters/:id/versions`: newest first. */
  listMeterVersions(meterId: string, options?: GatewayCallOptions): Promise<GatewayResult<MeterVersionsBody>>;
  /** `PUT /v1/accounts/:id/spend-caps` (admins). */
  setSpendCaps(
    accountId: string,
    body: SpendCapsRequest,
    options?: GatewayWriteOptions,
  ): Promise<GatewayResult<SpendCapsBody>>;
  /** `GET /v1/accounts/:id/spend-caps` (admins, services, a user on their own account). */
  getSpendCaps(accountId: string, options?: GatewayCallOptions): Promise<GatewayResult<SpendCapsBody>>;
  /** `GET /v1/events?after&limit` (services, admins with `ledger:read` or `admin`), oldest first. */
  listEvents(options?: GatewayCallOptions & { after?: string; limit?: number }): Promise<GatewayResult<EventPageBody>>;
  /** `GET /v1/payments?status&cursor&limit` (admins with `ledger:read` or `admin`), newest first. */
  listPayments(
    options?: GatewayCallOptions & { status?: string; cursor?: string; limit?: number },
  ): Promise<GatewayResult<PaymentPageBody>>;
  /** `GET /v1/payments/:id` by id or reference (admins with `ledger:read` or `admin`). */
  getPayment(idOrReference: string, options?: GatewayCallOptions): Promise<GatewayResult<PaymentBody>>;
  /** Any JSON call, validated with `schema`. */
  request<T>(path: string, options: GatewayRequestOptions<T>): Promise<GatewayResult<T>>;
  /** Any call, unparsed (e.g. `/docs`, `/metrics`). */
  raw(path: string, init?: GatewayCallOptions & { method?: string; body?: string }): Promise<GatewayRawResponse>;
}

/**
 * Creates a typed fetch client for a gateway at `baseUrl`.
 *
 * @throws {TypeError} when `baseUrl` is not an http(s) URL.
 * @example
 * ```ts
 * const gateway = createGatewayClient({ baseUrl: 'http://127.0.0.1:3000', token });
 * const me = await gateway.whoami();
 * if (me.ok) console.log(me.body.sub);
 * else console.log(me.status, me.body.error);
 * ```
 */
export function createGatewayClient(options: GatewayClientOptions): GatewayClient {
  const base = new URL(options.baseUrl);
  if (base.protocol !== 'http:' && base.protocol !== 'https:') {
    throw new TypeError(`baseUrl must be an http(s) URL, got ${JSON.stringify(options.baseUrl)}`);
  }
  const baseUrl = base.toString().replace(/\/+$/, '');
  const fetchImpl = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? gatewayRequestTimeoutMsDefault;

  async function raw(
    path: string,
    init: GatewayCallOptions & { method?: string; body?: string } = {},
  ): Promise<GatewayRawResponse> {
    const headers = new Headers(init.headers);
    const token = init.token === undefined ? options.token : init.token;
    if (token !== undefined && token !== null) headers.set('authorization', `Bearer ${token}`);
    if (init.body !== undefined && !headers.has('content-type')) headers.set('content-type', 'application/json');
    const response = await fetchImpl(`${baseUrl}${path.startsWith('/') ? path : `/${path}`}`, {
      method: init.method ?? 'GET',
      headers,
      body: init.body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const bytes = new Uint8Array(await response.arrayBuffer());
    if (bytes.byteLength > gatewayResponseBytesMax) {
      throw new GatewayResponseError(
        `response of ${bytes.byteLength} bytes exceeds ${gatewayResponseBytesMax}`,
        response.status,
        '',
      );
    }
    return { status: response.status, headers: response.headers, text: new TextDecoder().decode(bytes) };
  }

  async function request<T>(path: string, o: GatewayRequestOptions<T>): Promise<GatewayResult<T>> {
    const response = await raw(path, {
      method: o.method,
      token: o.token,
      headers: o.headers,
      body: o.json === undefined ? undefined : JSON.stringify(o.json),
    });
    let json: unknown;
    try {
      json = JSON.parse(response.text);
    } catch (cause) {
      throw new GatewayResponseError(
        `${path} answered ${response.status} with a body that is not JSON`,
        response.status,
        response.text,
        { cause },
      );
    }
    const okStatuses = o.okStatuses ?? [200];
    if (okStatuses.includes(response.status)) {
      const parsed = o.schema.safeParse(json);
      if (!parsed.success) {
        throw new GatewayResponseError(
          `${path} answered ${response.status} with an unexpected body: ${parsed.error.message}`,
          response.status,
          response.text,
        );
      }
      return { ok: true, status: response.status, headers: response.headers, body: parsed.data };
    }
    const parsed = errorBodySchema.safeParse(json);
    if (!parsed.success) {
      throw new GatewayResponseError(
        `${path} answered ${response.status} without the error shape {error, message, details?}: ${parsed.error.message}`,
        response.status,
        response.text,
      );
    }
    return { ok: false, status: response.status, headers: response.headers, body: parsed.data };
  }

  const seg = (value: string) => encodeURIComponent(value);
  const query = (params: Record<string, string | number | boolean | undefined>) => {
    const search = new URLSearchParams();
    for (const [name, value] of Object.entries(params)) if (value !== undefined) search.set(name, String(value));
    const text = search.toString();
    return text === '' ? '' : `?${text}`;
  };
  const call = ({ token, headers }: GatewayCallOptions): GatewayCallOptions => ({ token, headers });
  const write = ({ token, headers, idempotencyKey }: GatewayWriteOptions): GatewayCallOptions => ({
    token,
    headers: idempotencyKey === undefined ? headers : { ...headers, 'idempotency-key': idempotencyKey },
  });

  return {
    baseUrl,
    createAccount: (body, o = {}) =>
      request('/v1/accounts', {
        ...write(o),
        method: 'POST',
        json: body,
        schema: accountBodySchema,
        okStatuses: [200, 201],
      }),
    getAccount: (id, o = {}) => request(`/v1/accounts/${seg(id)}`, { ...call(o), schema: accountBodySchema }),
    getBalance: (id, o = {}) => request(`/v1/accounts/${seg(id)}/balance`, { ...call(o), schema: balanceBodySchema }),
    listLots: (id, o = {}) =>
      request(`/v1/accounts/${seg(id)}/lots${query({ includeEmpty: o.includeEmpty })}`, {
        ...call(o),
        schema: lotListBodySchema,
      }),
    listEntries: (id, o = {}) =>
      request(`/v1/accounts/${seg(id)}/entries${query({ cursor: o.cursor, limit: o.limit })}`, {
        ...call(o),
        schema: entryPageBodySchema,
      }),
    grant: (id, body, o = {}) =>
      request(`/v1/accounts/${seg(id)}/grants`, {
        ...write(o),
        method: 'POST',
        json: body,
        schema: grantBodySchema,
        okStatuses: [201],
      }),
    reserve: (body, o = {}) =>
      request('/v1/reservations', {
        ...write(o),
        method: 'POST',
        json: body,
        schema: reserveBodySchema,
        okStatuses: [201],
      }),
    finalize: (id, body, o = {}) =>
      request(`/v1/reservations/${seg(id)}/finalize`, {
        ...write(o),
        method: 'POST',
        json: body,
        schema: finalizeBodySchema,
      }),
    release: (id, o = {}) =>
      request(`/v1/reservations/${seg(id)}/release`, { ...write(o), method: 'POST', schema: releaseBodySchema }),
    getReservation: (id, o = {}) =>
      request(`/v1/reservations/${seg(id)}`, { ...call(o), schema: reservationBodySchema }),
    createMeter: (body, o = {}) =>
      request('/v1/meters', { ...write(o), method: 'POST', json: body, schema: meterBodySchema, okStatuses: [201] }),
    listMeters: (o = {}) => request('/v1/meters', { ...call(o), schema: meterListBodySchema }),
    getMeter: (id, o = {}) =>
      request(`/v1/meters/${seg(id)}${query({ version: o.version })}`, { ...call(o), schema: meterBodySchema }),
    listMeterVersions: (id, o = {}) =>
      request(`/v1/meters/${seg(id)}/versions`, { ...call(o), schema: meterVersionsBodySchema }),
    setSpendCaps: (id, body, o = {}) =>
      request(`/v1/accounts/${seg(id)}/spend-caps`, {
        ...write(o),
        method: 'PUT',
        json: body,
        schema: spendCapsBodySchema,
      }),
    getSpendCaps: (id, o = {}) =>
      request(`/v1/accounts/${seg(id)}/spend-caps`, { ...call(o), schema: spendCapsBodySchema }),
    listEvents: (o = {}) =>
      request(`/v1/events${query({ after: o.after, limit: o.limit })}`, { ...call(o), schema: eventPageBodySchema }),
    listPayments: (o = {}) =>
      request(`/v1/payments${query({ status: o.status, cursor: o.cursor, limit: o.limit })}`, {
        ...call(o),
        schema: paymentPageBodySchema,
      }),
    getPayment: (id, o = {}) => request(`/v1/payments/${seg(id)}`, { ...call(o), schema: paymentBodySchema }),
    health: (o = {}) => request('/health', { ...o, schema: healthBodySchema }),
    ready: (o = {}) => request('/ready', { ...o, schema: readyBodySchema, okStatuses: [200, 503] }),
    openapi: (o = {}) => request('/openapi.json', { ...o, schema: openApiDocumentSchema }),
    whoami: (o = {}) => request('/v1/whoami', { ...o, schema: whoamiBodySchema }),
    adminWhoami: (o = {}) => request('/v1/admin/whoami', { ...o, schema: whoamiBodySchema }),
    request,
    raw,
  };
}
