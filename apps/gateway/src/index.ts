export { allowedMethodsOf, routeMethods } from './allowed-methods.js';
export { causeDepthMax, createApp, isDatabaseUnavailable, requestBodyBytesMax } from './app.js';
export type { DevKey } from './auth/dev-key.js';
export { DevKeyError, devKeyFileName, loadOrCreateDevKey } from './auth/dev-key.js';
export type { AuthKeyResolver, ResolvedAuthKeys } from './auth/keys.js';
export { resolveAuthKeys } from './auth/keys.js';
export type { Auth, AuthOptions, RequireAuthOptions } from './auth/middleware.js';
export {
  authorizationHeaderLengthMax,
  bearerTokenLengthMax,
  clockToleranceSeconds,
  createAuth,
} from './auth/middleware.js';
export {
  adminNeedsAnyScope,
  adminReadScopeNote,
  ledgerReadScopes,
  missingScopes,
  routeScopeCountMax,
} from './auth/scopes.js';
export type { MintTokenOptions } from './auth/tokens.js';
export {
  assertTokenOptions,
  mintToken,
  scopeCountMax,
  subjectLengthMax,
  TokenOptionError,
  tokenTtlSecondsMax,
} from './auth/tokens.js';
export type {
  ConfigIssue,
  GatewayConfig,
  JwtAlgorithm,
  JwtKeySource,
  RateLimitAlgorithm,
  RateLimitFailurePolicy,
} from './config.js';
export {
  ConfigError,
  connectionsPerAddressMaxDefault,
  connectionsPerAddressMaxLimit,
  headersTimeoutMsDefault,
  httpTimeoutMsMax,
  httpTimeoutMsMin,
  jwtAlgorithmsSupported,
  ledgerDbPoolSizeMax,
  ledgerSweepIntervalMsMax,
  maxTokenAgeSecondsMax,
  parseConfig,
  rateLimitAlgorithms,
  rateLimitFailurePolicies,
  ratePerMinuteMax,
  requestTimeoutMsDefault,
  usesDevKeys,
} from './config.js';
export type { AppEnv, AppVariables, Audience, AuthedEnv, Principal } from './context.js';
export { audiences } from './context.js';
export type { CounterBackendKind } from './counters.js';
export { counterBackendKind, countersFileName, openCounterBackend } from './counters.js';
export type { AppDeps, GatewayApp, RouteContext } from './deps.js';
export type { AuthenticationErrorCode, ErrorBody, GatewayErrorCode, ValidationIssue } from './errors.js';
export {
  AuthenticationError,
  DependencyUnavailableError,
  ForbiddenError,
  GatewayError,
  InsufficientScopeError,
  RequestValidationError,
  TermsNotAllowedError,
  validationIssuesMax,
} from './errors.js';
export type { GatewayServerOptions, ServerErrorCode } from './http-server.js';
export {
  clientErrorAnswer,
  connectionAddressOf,
  connectionsCheckIntervalMsMax,
  createGatewayServer,
  headersBytesMax,
  refusedConnectionLingerMs,
  refusedConnectionRetryAfterSeconds,
} from './http-server.js';
export type { LedgerDbKind, LedgerSweepers, LedgerSweepersOptions } from './ledger.js';
export {
  ledgerDataDirName,
  ledgerDbKind,
  openLedgerDb,
  startLedgerSweepers,
  sweepBatchesPerTickMax,
  sweepBatchSizeMax,
} from './ledger.js';
export { createLogger } from './logger.js';
export type { MeterConfig } from './meters-config.js';
export { metersConfigMax, metersJsonLengthMax } from './meters-config.js';
export type { GatewayMetrics } from './metrics.js';
export { createGatewayMetrics } from './metrics.js';
export type { PaymentReconciler, PaymentReconcilerMetrics } from './payment-reconciler.js';
export { preparePayments, registerPaymentMetrics, startPaymentReconciler } from './payment-reconciler.js';
export { usageResponseHeader } from './proxy/call.js';
export { accountIdHeader, usageEstimateHeader } from './proxy/call-input.js';
export type { ProxyErrorCode } from './proxy/errors.js';
export { ProxyError, proxyErrorHttpStatus } from './proxy/errors.js';
export * from './proxy/limits.js';
export { registerUpstreamRoutes, upstreamRouteMethods, upstreamRoutePath } from './proxy/route.js';
export type { Usage, UsageTap } from './proxy/usage.js';
export { parseUsageHeader, UsageFormatError, usageFromResponse, usageTap } from './proxy/usage.js';
export type { GatewayRateLimits, LimiterScope } from './rate-limit.js';
export { createRateLimits, rateLimitWindowMs } from './rate-limit.js';
export type { DependencyState, ReadinessCheck, ReadyReport } from './readiness.js';
export { counterBackendCheck, ledgerDbCheck, runReadinessChecks } from './readiness.js';
export type { SeedMetersResult } from './seed-meters.js';
export { configIdempotencyScope, configMeterActor, seedMeters } from './seed-meters.js';
export type { RunningGateway, StartGatewayOptions } from './start.js';
export { devBanner, startGateway } from './start.js';
export type { MissingUsageAction, UpstreamConfig } from './upstreams-config.js';
export { checkUpstreamMeters, missingUsageActions, upstreamsConfigFrom } from './upstreams-config.js';
