import { createHash } from 'node:crypto';
import {
  type Clock,
  type CounterBackend,
  fixedWindow,
  memoryBackend,
  type RateLimiter,
  tokenBucket,
  withFailurePolicy,
} from '@arrakis/atomic-counter';
import { rateLimit } from '@arrakis/atomic-counter/hono';
import type { MiddlewareHandler } from 'hono';
import type { Logger } from 'pino';
import { addressKey, clientAddress } from './client-ip.js';
import type { GatewayConfig } from './config.js';
import type { AppEnv } from './context.js';
import type { GatewayMetrics } from './metrics.js';
import { probePaths } from './request-context.js';

/** The rate-limit window: limits are configured per minute. */
export const rateLimitWindowMs = 60_000;

/** Longest caller identity used verbatim in a counter key; longer (or non-ASCII) ones are hashed. */
export const limiterIdentityLengthMax = 200;

/** Which limiter: per client IP (before auth) or per principal (after auth). */
export type LimiterScope = 'ip' | 'principal';

/** The two rate-limit middlewares of the app. */
export interface GatewayRateLimits {
  /** Per client address, on every route but the probes (`/health`, `/ready`, `/metrics`). */
  ip: MiddlewareHandler<AppEnv>;
  /** Per authenticated principal (`audience:sub`); placed after the auth middleware of each route group. */
  principal: MiddlewareHandler<AppEnv>;
}

/** Options of {@link createRateLimits}. */
export interface RateLimitsOptions {
  config: GatewayConfig['rateLimit'];
  counters: CounterBackend;
  clock: Clock;
  logger: Logger;
  metrics: GatewayMetrics;
}

function identity(value: string): string {
  return value.length <= limiterIdentityLengthMax && /^[\x21-\x7e]+$/.test(value)
    ? value
    : `sha256-${createHash('sha256').update(value).digest('hex')}`;
}

const passThrough: MiddlewareHandler<AppEnv> = async function rateLimitDisabled(_c, next) {
  await next();
};

const rateLimitHeaders = ['RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset'] as const;

/**
 * The outer (IP) limiter writes its `RateLimit-*` headers after the inner (principal) one; keep the inner
 * limiter's headers when they are the more restrictive (fewer requests remaining), so a client sees the limit
 * it will hit first.
 */
function reportMostRestrictive(outer: MiddlewareHandler<AppEnv>): MiddlewareHandler<AppEnv> {
  return async function ipRateLimit(c, next) {
    let inner: (string | null)[] | undefined;
    const result = await outer(c, async () => {
      await next();
      inner = rateLimitHeaders.map((name) => c.res.headers.get(name));
    });
    const innerRemaining = inner?.[1];
    const outerRemaining = c.res.headers.get('RateLimit-Remaining');
    if (
      inner !== undefined &&
      innerRemaining !== null &&
      innerRemaining !== undefined &&
      outerRemaining !== null &&
      Number(innerRemaining) <= Number(outerRemaining)
    ) {
      rateLimitHeaders.forEach((name, index) => {
        const value = inner?.[index];
        if (value !== null && value !== undefined) c.header(name, value);
      });
    }
    return result;
  };
}

function baseLimiter(
  algorithm: GatewayConfig['rateLimit']['algorithm'],
  backend: CounterBackend,
  limit: number,
  prefix: string,
  clock: Clock,
): RateLimiter {
  return algorithm === 'fixed-window'
    ? fixedWindow({ backend, limit, windowMs: rateLimitWindowMs, prefix, clock })
    : tokenBucket({
        backend,
        capacity: limit,
        refillIntervalMs: rateLimitWindowMs,
        refillTokens: limit,
        prefix,
        clock,
      });
}

/**
 * Builds the IP and principal rate limits from the configuration: `fixed-window` (windows aligned to the minute)
 * or `token-bucket` (a burst of `limit`, refilled continuously at `limit` per minute), on the shared counter
 * backend, wrapped with the configured failure policy. Backend failures are logged (warn) and counted in
 * `rate_limiter_backend_failures_total{policy, limiter}`. A limit of 0 turns that limiter off.
 *
 * @example
 * ```ts
 * const limits = createRateLimits({ config: config.rateLimit, counters, clock, logger, metrics });
 * app.use('*', limits.ip);
 * ```
 */
export function createRateLimits(options: RateLimitsOptions): GatewayRateLimits {
  const { config, counters, clock, logger, metrics } = options;

  function build(
    scope: LimiterScope,
    limit: number,
    key: (c: Parameters<MiddlewareHandler<AppEnv>>[0]) => string | null,
  ) {
    if (limit === 0) return passThrough;
    const prefix = `${config.keyPrefix}:${scope}`;
    const limiter = withFailurePolicy(baseLimiter(config.algorithm, counters, limit, prefix, clock), {
      policy: config.failurePolicy,
      insurance:
        config.failurePolicy === 'insurance'
          ? baseLimiter(config.algorithm, memoryBackend({ clock }), limit, prefix, clock)
          : undefined,
      clock,
      onFailure(event) {
        metrics.rateLimiterFailures.inc({ policy: event.policy, limiter: scope });
        logger.warn(
          { err: event.error, policy: event.policy, algorithm: event.algorithm, limiter: scope },
          'rate limiter backend failed; the failure policy decided',
        );
      },
    });
    return rateLimit({ limiter, key, clock }) as unknown as MiddlewareHandler<AppEnv>;
  }

  return {
    ip: reportMostRestrictive(
      build('ip', config.ipPerMinute, (c) =>
        probePaths.has(c.req.path) ? null : identity(addressKey(clientAddress(c, config.trustProxyHops))),
      ),
    ),
    principal: build('principal', config.principalPerMinute, (c) => {
      const principal = c.get('principal');
      return principal === undefined ? null : identity(`${principal.audience}:${principal.sub}`);
    }),
  };
}
