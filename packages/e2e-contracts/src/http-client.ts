import type { z } from 'zod';
import {
  type ErrorBody,
  errorBodySchema,
  type HealthBody,
  healthBodySchema,
  type OpenApiDocument,
  openApiDocumentSchema,
  type ReadyBody,
  readyBodySchema,
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

  return {
    baseUrl,
    health: (o = {}) => request('/health', { ...o, schema: healthBodySchema }),
    ready: (o = {}) => request('/ready', { ...o, schema: readyBodySchema, okStatuses: [200, 503] }),
    openapi: (o = {}) => request('/openapi.json', { ...o, schema: openApiDocumentSchema }),
    whoami: (o = {}) => request('/v1/whoami', { ...o, schema: whoamiBodySchema }),
    adminWhoami: (o = {}) => request('/v1/admin/whoami', { ...o, schema: whoamiBodySchema }),
    request,
    raw,
  };
}
