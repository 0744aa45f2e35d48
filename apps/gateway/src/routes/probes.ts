import { createRoute, z } from '@hono/zod-openapi';
import type { GatewayApp, RouteContext } from '../deps.js';
import { runReadinessChecks } from '../readiness.js';
import { commonErrorResponses } from './schemas.js';

const HealthSchema = z.object({ status: z.literal('ok') }).openapi('Health');

const DependencyStateSchema = z
  .object({
    name: z.string().openapi({ example: 'counters' }),
    status: z.enum(['up', 'down']),
    latencyMs: z.number().openapi({ example: 1 }),
    error: z.string().optional().openapi({ description: 'Why the check failed (down only).' }),
  })
  .openapi('DependencyState');

const ReadySchema = z
  .object({ status: z.enum(['ready', 'not_ready']), dependencies: z.array(DependencyStateSchema) })
  .openapi('Ready');

const healthRoute = createRoute({
  method: 'get',
  path: '/health',
  tags: ['probes'],
  summary: 'Liveness',
  description: 'Answers 200 while the process serves requests. Checks no dependency and is never rate limited.',
  responses: { 200: { description: 'Alive.', content: { 'application/json': { schema: HealthSchema } } } },
});

const readyRoute = createRoute({
  method: 'get',
  path: '/ready',
  tags: ['probes'],
  summary: 'Readiness',
  description: 'Checks each dependency (the counter backend at least); 503 when one is down. Never rate limited.',
  responses: {
    200: { description: 'Every dependency is up.', content: { 'application/json': { schema: ReadySchema } } },
    503: { description: 'A dependency is down.', content: { 'application/json': { schema: ReadySchema } } },
  },
});

const metricsRoute = createRoute({
  method: 'get',
  path: '/metrics',
  tags: ['probes'],
  summary: 'Prometheus metrics',
  description:
    'Prometheus text format: `http_requests_total` and `http_request_duration_seconds` by method, route pattern and status; `rate_limiter_backend_failures_total` by policy and limiter; process metrics. Never rate limited: expose it to your scraper only.',
  responses: {
    200: { description: 'Metrics.', content: { 'text/plain': { schema: z.string() } } },
    ...commonErrorResponses,
  },
});

/**
 * Registers `/health`, `/ready` and `/metrics`.
 *
 * @example
 * ```ts
 * registerProbeRoutes(app, routeContext);
 * ```
 */
export function registerProbeRoutes(app: GatewayApp, ctx: RouteContext): void {
  const { deps } = ctx;
  app.openapi(healthRoute, (c) => c.json({ status: 'ok' as const }, 200));

  app.openapi(readyRoute, async (c) => {
    const report = await runReadinessChecks(deps.readiness, deps.config.readyCheckTimeoutMs, c.var.logger);
    return report.status === 'ready' ? c.json(report, 200) : c.json(report, 503);
  });

  app.openapi(metricsRoute, async (c) => {
    const text = await deps.metrics.metrics();
    return c.text(text, 200, { 'Content-Type': deps.metrics.contentType });
  });
}
