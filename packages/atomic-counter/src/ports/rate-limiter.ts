/** The outcome of one {@link RateLimiter.consume} call. */
export interface RateLimitDecision {
  /** Whether the request is admitted (and its cost counted). */
  allowed: boolean;
  /** The configured limit (requests or tokens per window / bucket capacity). */
  limit: number;
  /** What is left after this call, ≥ 0. */
  remaining: number;
  /** Epoch ms when the whole allowance is back (window end or full bucket). */
  resetAtMs: number;
  /** How long to wait before a retry could be admitted: 0 when allowed, at least 1 when refused. */
  retryAfterMs: number;
  /** Set when a failure policy decided instead of the backend: `fail-open`, `fail-closed`, `insurance`. */
  degraded?: 'fail-open' | 'fail-closed' | 'insurance';
}

/** A rate limiter over a counter backend: fixed window, sliding window or token bucket. */
export interface RateLimiter {
  /** Algorithm name for logs and metrics. */
  readonly algorithm: 'fixed-window' | 'sliding-window' | 'token-bucket';
  /** The configured limit. */
  readonly limit: number;
  /** Counts `cost` (default 1, a positive integer) against `key` when it fits; never counts a rejected call. */
  consume(key: string, cost?: number): Promise<RateLimitDecision>;
  /** Forgets `key`'s usage. */
  reset(key: string): Promise<void>;
}
