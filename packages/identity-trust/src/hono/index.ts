/**
 * `@arrakis/identity-trust/hono`: `upstreamAuth()`, the middleware an upstream service puts in front of its routes to
 * verify the gateway's upstream tokens offline through the gateway's JWKS.
 */

export type { UpstreamClaims } from '../tokens/upstream-token.js';
export type {
  JwksFetch,
  UpstreamAuthEnv,
  UpstreamAuthErrorBody,
  UpstreamAuthErrorCode,
  UpstreamAuthOptions,
  UpstreamAuthVariables,
} from './upstream-auth.js';
export {
  authorizationLengthMax,
  jwksCacheMaxAgeMsDefault,
  jwksCacheMaxAgeMsMax,
  jwksCooldownMsDefault,
  jwksCooldownMsMax,
  jwksRetryAfterSeconds,
  jwksTimeoutMsDefault,
  jwksTimeoutMsMax,
  upstreamAuth,
} from './upstream-auth.js';
