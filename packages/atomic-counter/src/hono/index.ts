import type { Context, MiddlewareHandler } from 'hono';
import { InvalidCounterInputError } from '../errors.js';
import { assertClock, assertOptionsObject, assertPrefix, readClock } from '../limiters/options.js';
import type { Clock } from '../ports/clock.js';
import { systemClock } from '../ports/clock.js';
import type { RateLimitDecision, RateLimiter } from '../ports/rate-limiter.js';

/** Context variables set by {@link rateLimit}: `c.get('rateLimit')` is the decision for this request. */
export interface RateLimitVariables {
  rateLimit: RateLimitDecision;
}

/** Hono environment of {@link rateLimit}. */
export interface RateLimitEnv {
  Variables: RateLimitVariables;
}

/** Options of {@link rateLimit}. */
export interface RateLimitOptions {
  /** The limiter; wrap it with `withFailurePolicy` to choose what a backend outage does (otherwise it throws). */
  limiter: RateLimiter;
  /** Who is limited (user id, API key id, IP); `null` or `undefined` lets the request through unlimited. */
  key: (c: Context) => string | null | undefined | Promise<string | null | undefined>;
  /** What the request costs, a positive integer ≤ the limit. Default 1. */
  cost?: (c: Context) => number | Promise<number>;
  /** Namespace added before the key (`${prefix}:${key}`), so routes can share one limiter. */
  prefix?: string;
  /** Called with every decision, e.g. to count refusals in metrics. Must not throw. */
  onDecision?: (c: Context, decision: RateLimitDecision) => void;
  /** Time source for `RateLimit-Reset`. Default: the wall clock. */
  clock?: Clock;
}

/** The smallest `Retry-After` of a refused (429) or fail-closed (503) answer, in seconds. */
export const retryAfterSecondsMin = 1;

/** JSON body of a refused request (429) or of a fail-closed outage (503). */
export interface RateLimitErrorBody {
  error: 'rate_limited' | 'rate_limiter_unavailable';
  message: string;
  details: { limit: number; retryAfterMs: number };
}

function assertFunction(name: string, value: unknown, optional: boolean): void {
  if (optional && value === undefined) return;
  if (typeof value !== 'function') {
    throw new InvalidCounterInputError('invalid_option', `rateLimit(): ${name} must be a function`);
  }
}

/**
 * Hono rate-limit middleware. Every answer of a limited request carries `RateLimit-Limit`,
 * `RateLimit-Remaining` and `RateLimit-Reset` (whole seconds until the allowance is back, rounded up). A
 * refused request gets 429 with `Retry-After` (seconds, rounded up, at least {@link retryAfterSecondsMin}) and
 * `{ "error": "rate_limited", "message", "details": { "limit", "retryAfterMs" } }`; a `fail-closed` decision
 * (backend down, see `withFailurePolicy`) gets 503 with `Retry-After` and `"error": "rate_limiter_unavailable"`.
 * Input errors (a key over 512 bytes, a bad cost) propagate to `app.onError` as `InvalidCounterInputError`.
 *
 * @throws {InvalidCounterInputError} `invalid_option` when an option is missing or invalid (when built).
 * @example
 * import { rateLimit } from '@arrakis/atomic-counter/hono';
 * app.use('/v1/*', rateLimit({
 *   limiter: withFailurePolicy(fixedWindow({ backend, limit: 100, windowMs: 60_000 })),
 *   key: (c) => c.req.header('x-api-key-id'),
 * }));
 */
export function rateLimit(options: RateLimitOptions): MiddlewareHandler<RateLimitEnv> {
  assertOptionsObject('rateLimit', options);
  const { limiter, key, cost, prefix, onDecision } = options;
  if (limiter === null || typeof limiter !== 'object' || typeof limiter.consume !== 'function') {
    throw new InvalidCounterInputError('invalid_option', 'rateLimit(): limiter must be a RateLimiter');
  }
  assertFunction('key', key, false);
  assertFunction('cost', cost, true);
  assertFunction('onDecision', onDecision, true);
  if (prefix !== undefined) assertPrefix('rateLimit', prefix);
  const clock = options.clock ?? systemClock;
  assertClock('rateLimit', clock);

  const middleware: MiddlewareHandler<RateLimitEnv> = async function rateLimit(c, next) {
    const subject = await key(c);
    if (subject === null || subject === undefined) {
      await next();
      return;
    }
    const requestCost = cost === undefined ? 1 : await cost(c);
    const decision = await limiter.consume(prefix === undefined ? subject : `${prefix}:${subject}`, requestCost);
    onDecision?.(c, decision);
    c.set('rateLimit', decision);
    const resetSeconds = Math.ceil(Math.max(0, decision.resetAtMs - readClock(clock)) / 1000);
    const headers: Record<string, string> = {
      'RateLimit-Limit': String(decision.limit),
      'RateLimit-Remaining': String(Math.max(0, decision.remaining)),
      'RateLimit-Reset': String(resetSeconds),
    };
    if (!decision.allowed) {
      // Whole seconds, rounded up, and never 0: `Retry-After: 0` on a refusal invites an immediate retry storm.
      const retryAfterSeconds = Math.max(retryAfterSecondsMin, Math.ceil(decision.retryAfterMs / 1000));
      headers['Retry-After'] = String(retryAfterSeconds);
      const details = { limit: decision.limit, retryAfterMs: decision.retryAfterMs };
      const body: RateLimitErrorBody =
        decision.degraded === 'fail-closed'
          ? {
              error: 'rate_limiter_unavailable',
              message: `the rate limiter is unavailable and fails closed; retry in ${retryAfterSeconds} s`,
              details,
            }
          : {
              error: 'rate_limited',
              message: `rate limit of ${decision.limit} exceeded; retry in ${retryAfterSeconds} s`,
              details,
            };
      return c.json(body, decision.degraded === 'fail-closed' ? 503 : 429, headers);
    }
    await next();
    for (const [name, value] of Object.entries(headers)) c.header(name, value);
  };
  // Bundlers rename a function expression that shadows its factory; keep the name stack traces show.
  Object.defineProperty(middleware, 'name', { value: 'rateLimit' });
  return middleware;
}
