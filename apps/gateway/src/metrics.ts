import { Counter, Histogram, type Registry } from 'prom-client';

/** Buckets of the request latency histogram, in seconds. */
export const httpDurationBucketsSeconds = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The gateway's own Prometheus metrics. */
export interface GatewayMetrics {
  registry: Registry;
  /** `http_requests_total{method, route, status}`. */
  httpRequests: Counter<'method' | 'route' | 'status'>;
  /** `http_request_duration_seconds{method, route, status}`. */
  httpRequestDuration: Histogram<'method' | 'route' | 'status'>;
  /** `rate_limiter_backend_failures_total{policy, limiter}`: backend failures decided by the failure policy. */
  rateLimiterFailures: Counter<'policy' | 'limiter'>;
}

function existing<T>(registry: Registry, name: string): T | undefined {
  return registry.getSingleMetric(name) as T | undefined;
}

/**
 * Registers (or reuses, when the registry already has them) the gateway metrics in `registry`.
 *
 * @example
 * ```ts
 * const metrics = createGatewayMetrics(new Registry());
 * metrics.httpRequests.inc({ method: 'GET', route: '/health', status: '200' });
 * ```
 */
export function createGatewayMetrics(registry: Registry): GatewayMetrics {
  const httpRequests =
    existing<Counter<'method' | 'route' | 'status'>>(registry, 'http_requests_total') ??
    new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests answered, by method, route pattern and status.',
      labelNames: ['method', 'route', 'status'] as const,
      registers: [registry],
    });
  const httpRequestDuration =
    existing<Histogram<'method' | 'route' | 'status'>>(registry, 'http_request_duration_seconds') ??
    new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request latency in seconds, by method, route pattern and status.',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: httpDurationBucketsSeconds,
      registers: [registry],
    });
  const rateLimiterFailures =
    existing<Counter<'policy' | 'limiter'>>(registry, 'rate_limiter_backend_failures_total') ??
    new Counter({
      name: 'rate_limiter_backend_failures_total',
      help: 'Rate limiter calls whose counter backend failed, by failure policy and limiter (ip, principal).',
      labelNames: ['policy', 'limiter'] as const,
      registers: [registry],
    });
  return { registry, httpRequests, httpRequestDuration, rateLimiterFailures };
}
