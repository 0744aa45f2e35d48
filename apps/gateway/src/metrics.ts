import { Counter, Histogram, type Registry } from 'prom-client';

/** Buckets of the request latency histogram, in seconds. */
export const httpDurationBucketsSeconds = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Buckets of the upstream call duration and time-to-first-byte histograms, in seconds (calls last up to 600 s). */
export const upstreamDurationBucketsSeconds = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600,
];

/** Metrics of the metered proxy (`/v1/upstreams/{id}/…`), one series per configured upstream id. */
export interface UpstreamMetrics {
  /** `upstream_requests_total{upstream, status}`: calls that held credit, by the status the client got. */
  requests: Counter<'upstream' | 'status'>;
  /** `upstream_request_duration_seconds{upstream}`: from the hold to the settlement. */
  duration: Histogram<'upstream'>;
  /** `upstream_first_byte_seconds{upstream}`: from forwarding to the upstream's response head. */
  firstByte: Histogram<'upstream'>;
  /** `upstream_charged_micro_total{upstream}`: micro-USD charged for the calls. */
  chargedMicro: Counter<'upstream'>;
  /** `upstream_missing_usage_total{upstream, action}`: calls without usage, by `onMissingUsage` action. */
  missingUsage: Counter<'upstream' | 'action'>;
}

/** The gateway's own Prometheus metrics. */
export interface GatewayMetrics {
  registry: Registry;
  /** `http_requests_total{method, route, status}`. */
  httpRequests: Counter<'method' | 'route' | 'status'>;
  /** `http_request_duration_seconds{method, route, status}`. */
  httpRequestDuration: Histogram<'method' | 'route' | 'status'>;
  /** `rate_limiter_backend_failures_total{policy, limiter}`: backend failures decided by the failure policy. */
  rateLimiterFailures: Counter<'policy' | 'limiter'>;
  /** The metered proxy's metrics. */
  upstreams: UpstreamMetrics;
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
  return { registry, httpRequests, httpRequestDuration, rateLimiterFailures, upstreams: upstreamMetrics(registry) };
}

function upstreamMetrics(registry: Registry): UpstreamMetrics {
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
    existing<Counter<L>>(registry, name) ?? new Counter({ name, help, labelNames, registers: [registry] });
  const histogram = (name: string, help: string) =>
    existing<Histogram<'upstream'>>(registry, name) ??
    new Histogram({
      name,
      help,
      labelNames: ['upstream'] as const,
      buckets: upstreamDurationBucketsSeconds,
      registers: [registry],
    });
  return {
    requests: counter(
      'upstream_requests_total',
      'Proxied calls that held credit, by upstream and the status answered.',
      ['upstream', 'status'] as const,
    ),
    duration: histogram('upstream_request_duration_seconds', 'Proxied call duration in seconds, hold to settlement.'),
    firstByte: histogram(
      'upstream_first_byte_seconds',
      'Seconds from forwarding a call to the upstream response head.',
    ),
    chargedMicro: counter('upstream_charged_micro_total', 'Micro-USD charged for proxied calls, by upstream.', [
      'upstream',
    ] as const),
    missingUsage: counter(
      'upstream_missing_usage_total',
      'Proxied calls whose upstream reported no usage, by upstream and the onMissingUsage action taken.',
      ['upstream', 'action'] as const,
    ),
  };
}
