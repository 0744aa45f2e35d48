export type { MemoryBackendOptions } from './adapters/memory/index.js';
export { memoryBackend } from './adapters/memory/index.js';
export { redisClusterSeedsMax } from './adapters/redis/cluster-limits.js';
export type { CounterErrorCode, SpendCapExceededDetails } from './errors.js';
export {
  BackendUnavailableError,
  CounterError,
  InvalidCounterInputError,
  NonceReusedError,
  SpendCapExceededError,
} from './errors.js';
export type { FailurePolicy, FailurePolicyOptions, LimiterFailureEvent } from './failure-policy/failure-policy.js';
export {
  failurePolicyDecisionTimeoutMsDefault,
  failurePolicyDecisionTimeoutMsMax,
  withFailurePolicy,
} from './failure-policy/failure-policy.js';
export type { FixedWindowOptions } from './limiters/fixed-window.js';
export { fixedWindow, fixedWindowAttemptsMax } from './limiters/fixed-window.js';
export { prefixBytesMax, windowMsMax } from './limiters/options.js';
export type { SlidingWindowOptions } from './limiters/sliding-window.js';
export {
  bucketsPerWindowDefault,
  bucketsPerWindowMax,
  sealMarker,
  slidingWindow,
  slidingWindowLimitMax,
} from './limiters/sliding-window.js';
export type { TokenBucketOptions } from './limiters/token-bucket.js';
export { tokenBucket, tokenBucketClockMsMax } from './limiters/token-bucket.js';
export type { NonceClaimOptions, NonceStore, NonceStoreOptions } from './nonce/nonce-store.js';
export { nonceBytesMax, nonceStore, scopeBytesMax } from './nonce/nonce-store.js';
export type { Clock } from './ports/clock.js';
export { ManualClock, systemClock } from './ports/clock.js';
export type {
  AdvanceOptions,
  AdvanceResult,
  CounterBackend,
  CounterSnapshot,
  ExpiryOptions,
  IncrementOptions,
} from './ports/counter-backend.js';
export type { RateLimitDecision, RateLimiter } from './ports/rate-limiter.js';
export type {
  SpendCap,
  SpendCapDecision,
  SpendCapOptions,
  SpendCapPeriod,
  SpendCapUsage,
} from './spend-cap/spend-cap.js';
export { dayMs, hourMs, recordAttemptsMax, spendCap } from './spend-cap/spend-cap.js';
export { assertKey, counterValueMax, keyBytesMax, ttlMsMax } from './validate.js';
