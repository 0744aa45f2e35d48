import { CounterError } from '@arrakis/atomic-counter';
import { LedgerError, ledgerErrorHttpStatus } from '@arrakis/billing-ledger';
import { IdentityError } from '@arrakis/identity-trust';
import { OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import { allowedMethodsOf } from './allowed-methods.js';
import { createAuth } from './auth/middleware.js';
import type { AppEnv } from './context.js';
import type { AppDeps, GatewayApp, RouteContext } from './deps.js';
import { codeForStatus, type ErrorBody, GatewayError, RequestValidationError } from './errors.js';
import { identityErrorResponse } from './identity/errors.js';
import { createGatewayMetrics } from './metrics.js';
import { withPayments } from './payments.js';
import { registerUpstreamRoutes } from './proxy/route.js';
import { createRateLimits } from './rate-limit.js';
import { requestContext } from './request-context.js';
import { registerAccountRoutes } from './routes/accounts.js';
import { registerAnchorRoutes } from './routes/anchors.js';
import { registerCreditPackPurchaseRoutes } from './routes/credit-pack-purchase.js';
import { registerCreditPackRoutes } from './routes/credit-packs.js';
import { registerDistributionRoutes } from './routes/distributions.js';
import { registerDocsRoutes } from './routes/docs.js';
import { registerEventRoutes } from './routes/events.js';
import { registerInternalRoutes } from './routes/internal.js';
import { registerJwksRoutes } from './routes/jwks.js';
import { registerMeterRoutes } from './routes/meters.js';
import { registerPaymentRoutes } from './routes/payments.js';
import { registerProbeRoutes } from './routes/probes.js';
import { registerReservationRoutes } from './routes/reservations.js';
import { registerRevenueRuleRoutes } from './routes/revenue-rules.js';
import { registerSpendCapRoutes } from './routes/spend-caps.js';
import { registerWhoamiRoutes } from './routes/whoami.js';

/** Largest request body accepted on `/v1/*` and `/api/*`: 1 MiB (the proxy's bodies: each upstream's `bodyBytesMax`). */
export const requestBodyBytesMax = 1024 * 1024;

/** Paths of the metered proxy: their bodies stream to the upstream instead of being read here. */
const upstreamPathPrefix = '/v1/upstreams/';

function wwwAuthenticate(error: GatewayError): string | undefined {
  if (error.status === 401) {
    return error.code === 'missing_token'
      ? 'Bearer realm="arrakis"'
      : `Bearer realm="arrakis", error="invalid_token", error_description="${error.code}"`;
  }
  if (error.code === 'insufficient_scope') return 'Bearer realm="arrakis", error="insufficient_scope"';
  return undefined;
}

function errorResponse(c: Context<AppEnv>, error: GatewayError): Response {
  const challenge = wwwAuthenticate(error);
  if (challenge !== undefined) c.header('WWW-Authenticate', challenge);
  return c.json(error.toBody(), error.status);
}

/** Most links of an error's `cause` chain inspected to recognise a database that is down. */
export const causeDepthMax = 5;

/** postgres.js / Node network error codes of a connection that is refused, lost or timed out. */
const connectionErrorCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EPIPE',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
]);

/**
 * True when `error` (or one of its causes) says the database cannot be reached: a refused, lost or timed-out
 * connection, SQLSTATE class 08 (connection exception), 57P01–57P03 (shutdown, crash, cannot connect now) or 53300
 * (too many connections). Such errors answer 503 `dependency_unavailable`, not 500.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < causeDepthMax && current instanceof Error; depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') {
      if (connectionErrorCodes.has(code)) return true;
      if (/^08[0-9A-Z]{3}$/.test(code) || /^57P0[123]$/.test(code) || code === '53300') return true;
    }
    if (current.message === 'PGlite is closed') return true;
    current = current.cause;
  }
  return false;
}

/** Converts bigints (and nested ones) to base-10 strings so a value can be sent as JSON. */
function jsonSafe(value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (Array.isArray(value)) return value.map(jsonSafe);
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, jsonSafe(v)]));
  }
  return value;
}

function handleError(error: Error, c: Context<AppEnv>): Response {
  const logger = c.var.logger;
  if (error instanceof GatewayError) {
    if (error.status >= 500) logger.warn({ err: error, code: error.code }, error.message);
    else
      logger.info(
        { code: error.code, reason: error.cause instanceof Error ? error.cause.message : undefined },
        error.message,
      );
    return errorResponse(c, error);
  }
  if (error instanceof HTTPException) {
    // Raised by hono itself: malformed JSON body, body over the size limit...
    const status = error.status;
    const code = codeForStatus(status);
    if (status >= 500) logger.error({ err: error }, 'HTTP exception');
    const message =
      status === 413
        ? `the request body exceeds ${requestBodyBytesMax} bytes`
        : error.message || 'the request was rejected';
    return errorResponse(c, new GatewayError(code, status as GatewayError['status'], message));
  }
  if (error instanceof IdentityError) return identityErrorResponse(c, error);
  if (error instanceof LedgerError && Object.hasOwn(ledgerErrorHttpStatus, error.code)) {
    // Expected outcomes of the ledger (bad input, unknown id, insufficient credits, conflicts): one table maps
    // each code to its status (`ledgerErrorHttpStatus`).
    logger.info({ code: error.code, details: jsonSafe(error.details) }, error.message);
    const body: ErrorBody = { error: error.code, message: error.message, details: jsonSafe(error.details) };
    return c.json(body, ledgerErrorHttpStatus[error.code]);
  }
  if (error instanceof CounterError && error.code === 'backend_unavailable') {
    logger.warn({ err: error }, 'counter backend unavailable');
    return errorResponse(
      c,
      new GatewayError('dependency_unavailable', 503, 'a dependency is unavailable; retry later'),
    );
  }
  if (error instanceof CounterError && error.code.startsWith('invalid_')) {
    // Counter inputs in a request (rate-limit keys, amounts) derive from the request: a bad one is a 400.
    logger.info({ code: error.code }, error.message);
    const body: ErrorBody =
      error.details === undefined
        ? { error: error.code, message: error.message }
        : { error: error.code, message: error.message, details: jsonSafe(error.details) };
    return c.json(body, 400);
  }
  if (isDatabaseUnavailable(error)) {
    logger.warn({ err: error }, 'ledger database unavailable');
    return errorResponse(
      c,
      new GatewayError('dependency_unavailable', 503, 'a dependency is unavailable; retry later', {
        details: { dependency: 'ledger' },
      }),
    );
  }
  const requestId = c.var.requestId;
  logger.error({ err: error }, 'unhandled error');
  const body: ErrorBody = {
    error: 'internal_error',
    message: 'an internal error occurred; quote the request id when reporting it',
    requestId,
  };
  return c.json(body, 500);
}

/**
 * True when the request's own headers show its body within `bytesMax`: a `Content-Length` of at most that, without
 * `Transfer-Encoding` (Node's HTTP parser reads no more than the Content-Length), or a GET or HEAD with neither.
 * Else the body is counted as it is read (`hono/body-limit`). Deciding by the header leaves the body untouched, so it
 * is read at once from the socket instead of through a web stream.
 */
function declaredBodyWithin(request: Request, bytesMax: number): boolean {
  const { headers } = request;
  if (headers.has('transfer-encoding')) return false;
  const declared = headers.get('content-length');
  // A GET or HEAD has no body without either header (a fetch Request cannot carry one).
  if (declared === null) return request.method === 'GET' || request.method === 'HEAD';
  return /^\d{1,15}$/.test(declared) && Number(declared) <= bytesMax;
}

/**
 * Builds the gateway's Hono app from its dependencies. Does no I/O (connections, files and keys are opened by the
 * caller, see `startGateway`), so tests call it with in-memory parts and drive it with `app.request()`.
 *
 * Layout: request context (request id, logs, metrics) → per-IP rate limit (probes excluded) → routes, each
 * authenticated group guarded by bearer auth then the per-principal rate limit → one JSON error shape.
 *
 * @example
 * ```ts
 * import { ManualClock, memoryBackend } from '@arrakis/atomic-counter';
 * import { createLocalJWKSet } from 'jose';
 * import pino from 'pino';
 * import { Registry } from 'prom-client';
 *
 * const counters = memoryBackend();
 * const ledgerDb = await openPgliteLedgerDb(); // in memory
 * await migrateLedger(ledgerDb.db);
 * const app = createApp({
 *   config: parseConfig({ JWT_PUBLIC_JWK: JSON.stringify(publicJwk) }),
 *   logger: pino({ level: 'silent' }),
 *   counters,
 *   ledger: createLedger({ db: ledgerDb.db }),
 *   ledgerDb,
 *   readiness: [counterBackendCheck(counters), ledgerDbCheck(ledgerDb)],
 *   authKeys: createLocalJWKSet({ keys: [publicJwk] }),
 *   clock: new ManualClock(),
 *   metrics: new Registry(),
 * });
 * const res = await app.request('/health'); // 200 {"status":"ok"}
 * ```
 */
export function createApp(deps: AppDeps): GatewayApp {
  const metrics = createGatewayMetrics(deps.metrics);
  const app: GatewayApp = new OpenAPIHono<AppEnv>({
    defaultHook(result) {
      if (!result.success) throw RequestValidationError.fromZod(result.target, result.error);
    },
  });

  app.use('*', requestContext({ logger: deps.logger, metrics }));
  const limits = createRateLimits({
    config: deps.config.rateLimit,
    counters: deps.counters,
    clock: deps.clock,
    logger: deps.logger,
    metrics,
  });
  app.use('*', limits.ip);
  const limitBody = bodyLimit({ maxSize: requestBodyBytesMax });
  for (const path of ['/v1/*', '/api/*']) {
    // The metered proxy streams bodies to the upstream and cuts them at the upstream's own `bodyBytesMax`.
    app.use(path, async function requestBodyLimit(c, next) {
      if (c.req.path.startsWith(upstreamPathPrefix)) return next();
      return declaredBodyWithin(c.req.raw, requestBodyBytesMax) ? next() : limitBody(c, next);
    });
  }

  const auth = createAuth({
    keys: deps.authKeys,
    issuer: deps.config.jwt.issuer,
    algorithms: deps.config.jwt.algorithms,
    maxTokenAgeSeconds: deps.config.jwt.maxTokenAgeSeconds,
    clock: deps.clock,
  });
  const ctx: RouteContext = {
    // Payments resolved once: `deps.payments`, or built from `config.payments` when enabled (no I/O).
    deps: withPayments(deps),
    metrics,
    guard: (allowed, options) => [auth.require(allowed, options), limits.principal],
  };

  registerProbeRoutes(app, ctx);
  registerWhoamiRoutes(app, ctx);
  registerAccountRoutes(app, ctx);
  registerSpendCapRoutes(app, ctx);
  registerMeterRoutes(app, ctx);
  registerReservationRoutes(app, ctx);
  registerEventRoutes(app, ctx);
  registerCreditPackRoutes(app, ctx);
  registerCreditPackPurchaseRoutes(app, ctx);
  registerPaymentRoutes(app, ctx);
  registerDistributionRoutes(app, ctx);
  registerRevenueRuleRoutes(app, ctx);
  registerAnchorRoutes(app, ctx);
  registerInternalRoutes(app, ctx);
  registerUpstreamRoutes(app, ctx);
  registerJwksRoutes(app, ctx);
  registerDocsRoutes(app, ctx);

  // A known path with another method is a 405 naming the methods it has (from the route table, for every route).
  const allowedMethods = allowedMethodsOf(app);
  app.notFound((c) => {
    const allowed = allowedMethods(c.req.path);
    // No route for the path, or a route of this method that found nothing (`c.notFound()` in a handler): a 404.
    if (allowed.length === 0 || allowed.includes(c.req.method)) {
      return errorResponse(c, new GatewayError('not_found', 404, `no route for ${c.req.method} ${c.req.path}`));
    }
    c.header('Allow', allowed.join(', '));
    const message = `${c.req.method} is not allowed on ${c.req.path}; allowed: ${allowed.join(', ')}`;
    return errorResponse(c, new GatewayError('method_not_allowed', 405, message, { details: { allowed } }));
  });
  app.onError(handleError);
  return app;
}
