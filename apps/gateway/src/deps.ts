import type { Clock, CounterBackend } from '@arrakis/atomic-counter';
import type { Ledger, LedgerDbHandle } from '@arrakis/billing-ledger';
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { AuthKeyResolver } from './auth/keys.js';
import type { RequireAuthOptions } from './auth/middleware.js';
import type { GatewayConfig } from './config.js';
import type { AppEnv, Audience, AuthedEnv } from './context.js';
import type { GatewayIdentity } from './identity/gateway-identity.js';
import type { GatewayMetrics } from './metrics.js';
import type { GatewayPayments } from './payments.js';
import type { ReadinessCheck } from './readiness.js';

/** Everything {@link createApp} needs. Building the app does no I/O: connections and files are opened by the caller. */
export interface AppDeps {
  config: GatewayConfig;
  logger: Logger;
  /** The counter backend behind the rate limits (SQLite, Redis or Postgres in the server; memory in tests). */
  counters: CounterBackend;
  /** The credit ledger behind `/v1/accounts`, `/v1/reservations` and `/v1/events`. */
  ledger: Ledger;
  /** The ledger's database (Postgres or PGlite), as opened by the caller; the app never closes it. */
  ledgerDb: LedgerDbHandle;
  /** Dependencies `/ready` checks, e.g. `[counterBackendCheck(counters), ledgerDbCheck(ledgerDb)]`. */
  readiness: readonly ReadinessCheck[];
  /** Verification keys of bearer tokens. */
  authKeys: AuthKeyResolver;
  clock: Clock;
  /** Prometheus registry `/metrics` serves; the gateway registers its metrics in it. */
  metrics: Registry;
  /** Anchors, trust policy, anchor tokens and their keys (`createGatewayIdentity`). */
  identity: GatewayIdentity;
  /**
   * x402 payment terms and facilitator (`createGatewayPayments`). Optional: when absent and `config.payments` is
   * enabled, `createApp` builds them from the config (no I/O); when payments are off it is ignored.
   */
  payments?: GatewayPayments | undefined;
}

/** The gateway's Hono app (OpenAPI-aware). */
export type GatewayApp = OpenAPIHono<AppEnv>;

/** What a route file receives: the deps, the metrics, and `guard` to protect a route group. */
export interface RouteContext {
  deps: AppDeps;
  metrics: GatewayMetrics;
  /**
   * The middleware of an authenticated route: bearer-token auth for `allowed` audiences (and scopes), then the
   * per-principal rate limit. Put it in `createRoute({ middleware: guard([...]) })`.
   */
  guard(
    allowed: readonly Audience[],
    options?: RequireAuthOptions,
  ): [MiddlewareHandler<AuthedEnv>, MiddlewareHandler<AppEnv>];
}
