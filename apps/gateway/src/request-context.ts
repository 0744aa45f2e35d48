import { randomUUID } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { matchedRoutes } from 'hono/route';
import type { Logger } from 'pino';
import type { AppEnv } from './context.js';
import type { GatewayMetrics } from './metrics.js';

/** Incoming `X-Request-Id` values accepted as is: 1-128 characters of A-Z a-z 0-9 . _ : - */
export const requestIdPattern = /^[A-Za-z0-9._:-]{1,128}$/;

/** Paths of the probes: logged at debug level, never rate limited. */
export const probePaths: ReadonlySet<string> = new Set(['/health', '/ready', '/metrics']);

/** The `route` label of requests that matched no route (keeps metric cardinality bounded). */
export const unmatchedRouteLabel = 'unmatched';

const knownMethods = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/**
 * The route pattern that answered, e.g. `/v1/accounts/:id`, or {@link unmatchedRouteLabel}.
 * Middleware registered with `app.use` matches as method `ALL` and is skipped.
 */
function routePattern(c: Parameters<MiddlewareHandler<AppEnv>>[0]): string {
  const handler = matchedRoutes(c)
    .filter((r) => r.method !== 'ALL')
    .at(-1);
  return handler?.path ?? unmatchedRouteLabel;
}

/**
 * First middleware of the app: sets the request id (a sane incoming `X-Request-Id`, or a new UUID) and echoes it,
 * gives the request a child logger, and after the answer logs it and records the HTTP metrics by route pattern.
 *
 * @example
 * ```ts
 * app.use('*', requestContext({ logger, metrics }));
 * ```
 */
export function requestContext(options: { logger: Logger; metrics: GatewayMetrics }): MiddlewareHandler<AppEnv> {
  const { logger, metrics } = options;
  return async function requestContextMiddleware(c, next) {
    const startedMs = performance.now();
    const incoming = c.req.header('x-request-id');
    const requestId = incoming !== undefined && requestIdPattern.test(incoming) ? incoming : randomUUID();
    c.set('requestId', requestId);
    const requestLogger = logger.child({ requestId });
    c.set('logger', requestLogger);
    c.header('X-Request-Id', requestId);
    await next();
    if (c.res.headers.get('x-request-id') === null) c.res.headers.set('X-Request-Id', requestId);
    const durationSeconds = (performance.now() - startedMs) / 1000;
    const labels = {
      method: knownMethods.has(c.req.method) ? c.req.method : 'OTHER',
      route: routePattern(c),
      status: String(c.res.status),
    };
    metrics.httpRequests.inc(labels);
    metrics.httpRequestDuration.observe(labels, durationSeconds);
    const entry = {
      method: c.req.method,
      path: c.req.path,
      route: labels.route,
      status: c.res.status,
      durationMs: Math.round(durationSeconds * 1000 * 100) / 100,
    };
    if (probePaths.has(c.req.path)) requestLogger.debug(entry, 'request');
    else requestLogger.info(entry, 'request');
  };
}
