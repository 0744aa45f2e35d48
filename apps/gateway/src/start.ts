import { mkdir } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { type Clock, type CounterBackend, systemClock } from '@arrakis/atomic-counter';
import { serve } from '@hono/node-server';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { createApp } from './app.js';
import { type ResolvedAuthKeys, resolveAuthKeys } from './auth/keys.js';
import { mintToken } from './auth/tokens.js';
import type { GatewayConfig } from './config.js';
import { counterBackendKind, openCounterBackend } from './counters.js';
import type { GatewayApp } from './deps.js';
import { counterBackendCheck } from './readiness.js';

/** How often idle keep-alive connections are closed while draining. */
export const drainPollIntervalMs = 50;

/** A running gateway. */
export interface RunningGateway {
  /** `http://host:port` actually listened on (a port of 0 is resolved). */
  url: string;
  app: GatewayApp;
  server: Server;
  counters: CounterBackend;
  authKeys: ResolvedAuthKeys;
  /**
   * Graceful shutdown: stop accepting connections, let in-flight requests finish (at most `shutdownTimeoutMs`,
   * then remaining connections are closed), close the counter backend and its pools. Idempotent.
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

function listen(app: GatewayApp, config: GatewayConfig): Promise<Server> {
  return new Promise((resolveServer, reject) => {
    const server = serve({ fetch: app.fetch, port: config.port, hostname: config.host }) as Server;
    server.once('error', reject);
    server.once('listening', () => {
      server.off('error', reject);
      resolveServer(server);
    });
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
 * or Postgres, migrations included), loads the verification keys (creating the dev key in development), builds the
 * app and listens. Reads no environment variable (see `server.ts`).
 *
 * @throws when the port cannot be bound or the data directory / dev key cannot be used.
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
  if (backendKind === 'sqlite' || config.jwt.keys.kind === 'dev')
    await mkdir(dataDir, { recursive: true, mode: 0o700 });

  const authKeys = await resolveAuthKeys({
    ...config,
    jwt: { ...config.jwt, keys: config.jwt.keys.kind === 'dev' ? { kind: 'dev', dataDir } : config.jwt.keys },
  });
  const counters = await openCounterBackend({ ...config, dataDir }, clock, (error) =>
    logger.warn({ err: error }, 'counter migration failed; it will be retried on first use'),
  );
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const app = createApp({
    config,
    logger,
    counters,
    readiness: [counterBackendCheck(counters)],
    authKeys: authKeys.resolver,
    clock,
    metrics: registry,
  });

  let server: Server;
  try {
    server = await listen(app, config);
  } catch (error) {
    await counters.close();
    throw error;
  }
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  logger.info(
    {
      url,
      counters: backendKind,
      keys: authKeys.source,
      nodeEnv: config.nodeEnv,
      rateLimit: config.rateLimit,
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
      await counters.close();
      logger.info({ drained }, 'shut down');
      return { drained };
    })();
    return closing;
  };

  return { url, app, server, counters, authKeys, close };
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
