import { BackendUnavailableError, InvalidCounterInputError } from '../errors.js';
import {
  assertClock,
  assertOptionsObject,
  assertPositiveInteger,
  readClock,
  windowMsMax,
} from '../limiters/options.js';
import type { Clock } from '../ports/clock.js';
import { systemClock } from '../ports/clock.js';
import type { RateLimitDecision, RateLimiter } from '../ports/rate-limiter.js';

/**
 * Default `decisionTimeoutMs`: a wrapped limiter that has not answered after this long counts as failed and the
 * policy decides. Backends bound their own calls (the Redis backend's command timeout is 100 ms); this is the
 * bound for every backend, whatever its driver does.
 */
export const failurePolicyDecisionTimeoutMsDefault = 1_000;
/** Longest `decisionTimeoutMs` accepted. */
export const failurePolicyDecisionTimeoutMsMax = 60_000;

/** What a limiter does when its backend fails. */
export type FailurePolicy = 'fail-closed' | 'fail-open' | 'insurance';

/** Reported to `onFailure` each time the backend fails and the policy decides instead. */
export interface LimiterFailureEvent {
  policy: FailurePolicy;
  algorithm: RateLimiter['algorithm'];
  /** The key the failed call was for. */
  key: string;
  /** What the backend threw (often a `BackendUnavailableError`). */
  error: unknown;
}

/** Options of {@link withFailurePolicy}. */
export interface FailurePolicyOptions {
  /**
   * `fail-closed` (default; use it for money): refuse the call. `fail-open`: admit it. `insurance`: ask the
   * `insurance` limiter (an in-memory limiter per instance) instead.
   */
  policy?: FailurePolicy;
  /** Required with `insurance`, refused otherwise: decides while the backend is down. */
  insurance?: RateLimiter;
  /** Called on every backend failure, e.g. to log it and count it in metrics. Must not throw. */
  onFailure?: (event: LimiterFailureEvent) => void;
  /** `retryAfterMs` of a fail-closed decision. Default 1 000. */
  failClosedRetryAfterMs?: number;
  /**
   * How long the wrapped limiter may take before the policy decides instead (its late answer is dropped; a
   * write it makes still counts). 1 to {@link failurePolicyDecisionTimeoutMsMax}. Default
   * {@link failurePolicyDecisionTimeoutMsDefault} (1 000 ms).
   */
  decisionTimeoutMs?: number;
  /** Time source for the `resetAtMs` of policy decisions. Default: the wall clock. */
  clock?: Clock;
}

const policies: readonly FailurePolicy[] = ['fail-closed', 'fail-open', 'insurance'];

/**
 * Wraps a rate limiter so that a backend failure follows an explicit policy instead of throwing.
 *
 * Anything the wrapped limiter throws that is not an {@link InvalidCounterInputError}, and a limiter that has not
 * answered within `decisionTimeoutMs` (a `BackendUnavailableError` is reported), counts as a backend
 * failure: `onFailure` is called, then `fail-closed` answers `allowed: false` (`retryAfterMs` =
 * `failClosedRetryAfterMs`), `fail-open` answers `allowed: true`, and `insurance` returns the insurance
 * limiter's decision. Each of those decisions carries `degraded` with the policy's name. Input errors always
 * propagate: a bad key is the caller's bug, not an outage.
 *
 * @throws {InvalidCounterInputError} `invalid_option` when an option is missing or out of range.
 * @example
 * const limiter = withFailurePolicy(fixedWindow({ backend: redis, limit: 100, windowMs: 60_000 }), {
 *   policy: 'insurance',
 *   insurance: fixedWindow({ backend: memoryBackend(), limit: 100, windowMs: 60_000 }),
 *   onFailure: (event) => logger.warn(event, 'rate limiter backend failed'),
 * });
 */
export function withFailurePolicy(limiter: RateLimiter, options: FailurePolicyOptions = {}): RateLimiter {
  const fn = 'withFailurePolicy';
  if (limiter === null || typeof limiter !== 'object' || typeof limiter.consume !== 'function') {
    throw new InvalidCounterInputError('invalid_option', `${fn}(): limiter must be a RateLimiter`);
  }
  assertOptionsObject(fn, options);
  const policy = options.policy ?? 'fail-closed';
  if (!policies.includes(policy)) {
    throw new InvalidCounterInputError(
      'invalid_option',
      `${fn}(): policy must be one of ${policies.join(', ')}, got ${JSON.stringify(policy)}`,
    );
  }
  const { insurance, onFailure } = options;
  if (policy === 'insurance') {
    if (insurance === null || typeof insurance !== 'object' || typeof insurance.consume !== 'function') {
      throw new InvalidCounterInputError('invalid_option', `${fn}(): policy "insurance" needs an insurance limiter`);
    }
  } else if (insurance !== undefined) {
    throw new InvalidCounterInputError(
      'invalid_option',
      `${fn}(): insurance is only used with policy "insurance", not "${policy}"`,
    );
  }
  if (onFailure !== undefined && typeof onFailure !== 'function') {
    throw new InvalidCounterInputError('invalid_option', `${fn}(): onFailure must be a function`);
  }
  const failClosedRetryAfterMs = options.failClosedRetryAfterMs ?? 1_000;
  assertPositiveInteger(fn, 'failClosedRetryAfterMs', failClosedRetryAfterMs, windowMsMax);
  const decisionTimeoutMs = options.decisionTimeoutMs ?? failurePolicyDecisionTimeoutMsDefault;
  assertPositiveInteger(fn, 'decisionTimeoutMs', decisionTimeoutMs, failurePolicyDecisionTimeoutMsMax);
  const clock = options.clock ?? systemClock;
  assertClock(fn, clock);
  const { limit, algorithm } = limiter;

  /** The wrapped limiter's decision, or a rejection once `decisionTimeoutMs` passed without one. */
  async function decideInTime(key: string, cost: number): Promise<RateLimitDecision> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const decision = limiter.consume(key, cost);
    const deadline = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        decision.catch(() => {}); // answered too late: dropped
        reject(
          new BackendUnavailableError(
            `${algorithm} limiter`,
            new Error(`no decision within ${decisionTimeoutMs} ms (decisionTimeoutMs)`),
          ),
        );
      }, decisionTimeoutMs);
    });
    try {
      return await Promise.race([decision, deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    algorithm,
    limit,
    async consume(key: string, cost = 1): Promise<RateLimitDecision> {
      try {
        return await decideInTime(key, cost);
      } catch (error) {
        if (error instanceof InvalidCounterInputError) throw error;
        onFailure?.({ policy, algorithm, key, error });
        const nowMs = readClock(clock);
        if (policy === 'fail-open') {
          return {
            allowed: true,
            limit,
            remaining: Math.max(0, limit - cost),
            resetAtMs: nowMs,
            retryAfterMs: 0,
            degraded: 'fail-open',
          };
        }
        if (policy === 'insurance' && insurance !== undefined) {
          return { ...(await insurance.consume(key, cost)), degraded: 'insurance' };
        }
        return {
          allowed: false,
          limit,
          remaining: 0,
          resetAtMs: nowMs + failClosedRetryAfterMs,
          retryAfterMs: failClosedRetryAfterMs,
          degraded: 'fail-closed',
        };
      }
    },
    async reset(key: string): Promise<void> {
      if (insurance !== undefined) await insurance.reset(key);
      await limiter.reset(key);
    },
  };
}
