import { mkdir } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { type Clock, type CounterBackend, systemClock } from '@arrakis/atomic-counter';
import { createLedger, type Ledger, type LedgerDbHandle, migrateLedger } from '@arrakis/billing-ledger';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { createApp } from './app.js';
import { type ResolvedAuthKeys, resolveAuthKeys } from './auth/keys.js';
import { mintToken } from './auth/tokens.js';
import type { GatewayConfig } from './config.js';
import { counterBackendKind, openCounterBackend } from './counters.js';
import type { GatewayApp } from './deps.js';
import { createGatewayServer } from './http-server.js';
import type { GatewayIdentity } from './identity/gateway-identity.js';
import { openGatewayIdentity } from './identity/open-identity.js';
import { type LedgerSweepers, ledgerDbKind, openLedgerDb, startLedgerSweepers } from './ledger.js';
import {
  type PaymentReconciler,
  preparePayments,
  registerPaymentMetrics,
  startPaymentReconciler,
} from './payment-reconciler.js';
import type { GatewayPayments } from './payments.js';
import { paymentsSummary } from './payments-config.js';
import { counterBackendCheck, ledgerDbCheck } from './readiness.js';
import { seedMeters } from './seed-meters.js';
import { checkUpstreamMeters } from './upstreams-config.js';

/** How often idle keep-alive connections are closed while draining. */
export const drainPollIntervalMs = 50;

/** A running gateway. */
export interface RunningGateway {
  /** `http://host:port` actually listened on (a port of 0 is resolved). */
  url: string;
  app: GatewayApp;
  server: Server;
  counters: CounterBackend;
  ledger: Ledger;
  ledgerDb: LedgerDbHandle;
  sweepers: LedgerSweepers;
  /** The payment reconciler (payments on), `undefined` otherwise. */
  reconciler: PaymentReconciler | undefined;
  authKeys: ResolvedAuthKeys;
  /**
   * Graceful shutdown: stop accepting connections, let in-flight requests finish (at most `shutdownTimeoutMs`,
   * then remaining connections are closed), stop the ledger sweepers, close the ledger database, the counter
   * backend and their pools. Idempotent.
   * Resolves to `drained: false` when the timeout forced connections closed.
   */
  close(): Promise<{ drained: boolean }>;
}

/** Options of {@link startGateway}. */
export interface StartGatewayOptions {
  config: GatewayConfig;
  logger: Logger;
  clock?: Clock;
}

function listen(app: GatewayApp, config: GatewayConfig, logger: Logger): Promise<Server> {
  return new Promise((resolveServer, reject) => {
    const server = createGatewayServer({ fetch: app.fetch, hostname: config.host, http: config.http, logger });
    server.once('error', reject);
    server.once('listening', () => {
      server.off('error', reject);
      resolveServer(server);
    });
    server.listen(config.port, config.host);
  });
}

function drain(server: Server, timeoutMs: number): Promise<boolean> {
  return new Promise((resolveDrain) => {
    let settled = false;
    const finish = (drained: boolean) => {
      if (settled) return;
      settled = true;
      clearInterval(poll);
      clearTimeout(deadline);
      resolveDrain(drained);
    };
    server.close(() => finish(true));
    // Keep-alive connections that finish their request become idle: close them as they do.
    server.closeIdleConnections();
    const poll = setInterval(() => server.closeIdleConnections(), drainPollIntervalMs);
    const deadline = setTimeout(() => {
      server.closeAllConnections();
      finish(false);
    }, timeoutMs);
  });
}

/**
 * Starts the gateway from a validated configuration: creates `DATA_DIR`, opens the counter backend (SQLite, Redis
 * or Postgres, migrations included), opens and migrates the ledger (Postgres with `DATABASE_URL`, else PGlite in
 * `DATA_DIR/ledger`), seeds the meters of `METERS` / `METERS_FILE`, loads the verification keys (creating the dev
 * key in development), checks the payment token's decimals on chain (payments on), builds the app, starts the ledger
 * sweepers and the payment reconciler, and listens. Reads no environment variable (see `server.ts`).
 *
 * @throws when the port cannot be bound, the data directory / dev key cannot be used, the payment token is not a
 *   6-decimal token (or its RPC cannot be read), or the ledger database
 *   cannot be opened or migrated (the gateway never serves a ledger without its schema), or a configured meter is
 *   refused by the ledger.
 * @example
 * ```ts
 * const gateway = await startGateway({ config: parseConfig(process.env), logger });
 * console.log(gateway.url);
 * await gateway.close();
 * ```
 */
export async function startGateway(options: StartGatewayOptions): Promise<RunningGateway> {
  const { config, logger } = options;
  const clock = options.clock ?? systemClock;
  const dataDir = resolve(config.dataDir);
  const backendKind = counterBackendKind(config);
  const ledgerKind = ledgerDbKind(config);
  if (backendKind === 'sqlite' || ledgerKind === 'pglite' || config.jwt.keys.kind === 'dev')
    await mkdir(dataDir, { recursive: true, mode: 0o700 });

  const authKeys = await resolveAuthKeys({
    ...config,
    jwt: { ...config.jwt, keys: config.jwt.keys.kind === 'dev' ? { kind: 'dev', dataDir } : config.jwt.keys },
  });
  // The ledger first: on the embedded store it holds DATA_DIR's exclusive lock, so a second gateway on the same
  // folder stops here, before it opens anything else in it.
  const ledgerDb = await openLedgerDb({ ...config, dataDir });
  let counters: Awaited<ReturnType<typeof openCounterBackend>>;
  try {
    counters = await openCounterBackend({ ...config, dataDir }, clock, (error) =>
      logger.warn({ err: error }, 'counter migration failed; it will be retried on first use'),
    );
  } catch (error) {
    await ledgerDb.close();
    throw error;
  }
  let identity: GatewayIdentity;
  try {
    await migrateLedger(ledgerDb.db, ledgerDb.kind);
    identity = await openGatewayIdentity({ config, ledgerDb, counters, clock, logger });
  } catch (error) {
    await Promise.allSettled([ledgerDb.close(), counters.close()]);
    throw error;
  }
  const ledger = createLedger({
    db: ledgerDb.db,
    clock,
    creditPacks: config.economy.creditPacks,
    ruleCooldownMs: config.economy.ruleCooldownMs,
  });
  try {
    // The price book of METERS / METERS_FILE, after the migrations and before serving: a meter the ledger refuses
    // stops the start with a message naming it.
    await seedMeters({ ledger, meters: config.economy.meters, logger, nowMs: clock.nowMs() });
    // Every upstream's meter must exist before its calls are priced through it.
    await checkUpstreamMeters(ledger, config.upstreams);
  } catch (error) {
    await Promise.allSettled([ledgerDb.close(), counters.close()]);
    throw error;
  }
  let payments: GatewayPayments | undefined;
  try {
    payments = config.payments.enabled ? await preparePayments(config.payments, clock) : undefined;
  } catch (error) {
    await Promise.allSettled([ledgerDb.close(), counters.close()]);
    throw error;
  }
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const app = createApp({
    config,
    logger,
    counters,
    ledger,
    ledgerDb,
    readiness: [counterBackendCheck(counters), ledgerDbCheck(ledgerDb)],
    authKeys: authKeys.resolver,
    clock,
    metrics: registry,
    identity,
    payments,
  });

  let server: Server;
  try {
    server = await listen(app, config, logger);
  } catch (error) {
    await Promise.allSettled([ledgerDb.close(), counters.close()]);
    throw error;
  }
  const sweepers = startLedgerSweepers({
    ledger,
    identity: identity.service,
    intervalMs: config.ledger.sweepIntervalMs,
    logger,
  });
  const reconciler = startGatewayReconciler({ payments, config, ledger, registry, logger });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  logger.info(
    {
      url,
      counters: backendKind,
      ledger: ledgerKind,
      ledgerSweepIntervalMs: config.ledger.sweepIntervalMs,
      keys: authKeys.source,
      nodeEnv: config.nodeEnv,
      rateLimit: config.rateLimit,
      http: config.http,
      payments: paymentsSummary(config.payments),
    },
    'listening',
  );

  let closing: Promise<{ drained: boolean }> | undefined;
  const close = () => {
    closing ??= (async () => {
      logger.info({ timeoutMs: config.shutdownTimeoutMs }, 'shutting down: draining in-flight requests');
      const drained = await drain(server, config.shutdownTimeoutMs);
      if (!drained)
        logger.warn({ timeoutMs: config.shutdownTimeoutMs }, 'drain timed out; closed remaining connections');
      await Promise.all([sweepers.stop(), reconciler?.stop()]);
      const closed = await Promise.allSettled([ledgerDb.close(), counters.close()]);
      for (const result of closed) {
        if (result.status === 'rejected') logger.warn({ err: result.reason }, 'a store failed to close cleanly');
      }
      logger.info({ drained }, 'shut down');
      return { drained };
    })();
    return closing;
  };

  return { url, app, server, counters, ledger, ledgerDb, sweepers, reconciler, authKeys, close };
}

function startGatewayReconciler(options: {
  payments: GatewayPayments | undefined;
  config: GatewayConfig;
  ledger: Ledger;
  registry: Registry;
  logger: Logger;
}): PaymentReconciler | undefined {
  const { payments, config, ledger, registry, logger } = options;
  if (payments === undefined || !config.payments.enabled) return undefined;
  return startPaymentReconciler({
    ledger,
    payments,
    metrics: registerPaymentMetrics(registry, ledger, logger),
    logger,
    intervalMs: config.payments.settlement.reconcileIntervalMs,
  });
}

/**
 * The development banner: URL, docs URL, the command that mints an admin token, and one ready-to-use admin token
 * signed with the dev key. Returns undefined outside dev mode.
 *
 * @example
 * ```ts
 * const banner = await devBanner(gateway, config);
 * if (banner !== undefined) process.stderr.write(banner);
 * ```
 */
export async function devBanner(
  gateway: RunningGateway,
  config: GatewayConfig,
  clock: Clock = systemClock,
): Promise<string | undefined> {
  const devKey = gateway.authKeys.devKey;
  if (devKey === undefined || config.nodeEnv === 'production') return undefined;
  const ttlSeconds = Math.min(3600, config.jwt.maxTokenAgeSeconds);
  const { token } = await mintToken({
    privateKey: devKey.privateKey,
    kid: devKey.kid,
    alg: 'ES256',
    issuer: config.jwt.issuer,
    audience: 'arrakis-admin',
    sub: 'dev-admin',
    scopes: ['admin'],
    ttlSeconds,
    nowMs: clock.nowMs(),
  });
  const dataDir = resolve(config.dataDir);
  return [
    '',
    'arrakis gateway (development mode: dev keys in use, never use them in production)',
    `  API       ${gateway.url}`,
    `  Docs      ${gateway.url}/docs`,
    `  OpenAPI   ${gateway.url}/openapi.json`,
    `  Dev key   ${devKey.path}${devKey.created ? ' (generated now)' : ''}`,
    '  Admin token command:',
    `    pnpm run token --aud arrakis-admin --sub alice --scope admin --data-dir ${JSON.stringify(dataDir)}`,
    `  Admin token (sub dev-admin, valid ${ttlSeconds} s):`,
    `    ${token}`,
    `  Try: curl -H "Authorization: Bearer $TOKEN" ${gateway.url}/v1/admin/whoami`,
    '',
    '',
  ].join('\n');
}
