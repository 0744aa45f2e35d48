// Test support (not part of the build): a gateway app wired with in-memory parts and a test key pair.
import { type CounterBackend, ManualClock, memoryBackend } from '@arrakis/atomic-counter';
import {
  generateTestKeyPair,
  type MintTestTokenOptions,
  mintTestToken,
  type TestKeyPair,
} from '@arrakis/e2e-contracts';
import { createLocalJWKSet } from 'jose';
import { Registry } from 'prom-client';
import { createApp } from '../app.js';
import type { AuthKeyResolver } from '../auth/keys.js';
import { type GatewayConfig, parseConfig } from '../config.js';
import type { Audience } from '../context.js';
import type { GatewayApp } from '../deps.js';
import { createLogger } from '../logger.js';
import { counterBackendCheck, type ReadinessCheck } from '../readiness.js';

/** One JSON log line captured from the app's logger. */
export type LogLine = Record<string, unknown> & { level: number; msg: string };

export interface AppFixture {
  app: GatewayApp;
  config: GatewayConfig;
  keys: TestKeyPair;
  clock: ManualClock;
  counters: CounterBackend;
  registry: Registry;
  logs: LogLine[];
  /** A token signed with the fixture key, `iat` = the fixture clock. */
  token(audience: Audience | (string & {}), sub?: string, options?: Partial<MintTestTokenOptions>): Promise<string>;
  /** `app.request` with an optional bearer token. */
  get(path: string, options?: { token?: string; headers?: Record<string, string> }): Promise<Response>;
}

export interface AppFixtureOptions {
  env?: Record<string, string>;
  counters?: (clock: ManualClock) => CounterBackend;
  readiness?: (counters: CounterBackend) => ReadinessCheck[];
  keys?: TestKeyPair;
  authKeys?: AuthKeyResolver;
}

export async function makeAppFixture(options: AppFixtureOptions = {}): Promise<AppFixture> {
  const keys = options.keys ?? (await generateTestKeyPair());
  const config = parseConfig({ NODE_ENV: 'test', JWT_PUBLIC_JWK: JSON.stringify(keys.publicJwk), ...options.env });
  const clock = new ManualClock(Date.now());
  const counters = options.counters?.(clock) ?? memoryBackend({ clock });
  const logs: LogLine[] = [];
  const logger = createLogger(
    { logLevel: 'debug' },
    {
      write(line: string) {
        logs.push(JSON.parse(line) as LogLine);
      },
    },
  );
  const registry = new Registry();
  const app = createApp({
    config,
    logger,
    counters,
    readiness: options.readiness?.(counters) ?? [counterBackendCheck(counters)],
    authKeys: options.authKeys ?? createLocalJWKSet({ keys: [keys.publicJwk] }),
    clock,
    metrics: registry,
  });
  return {
    app,
    config,
    keys,
    clock,
    counters,
    registry,
    logs,
    token: (audience, sub = 'alice', extra = {}) =>
      mintTestToken({
        privateKey: keys.privateKey,
        kid: keys.kid,
        issuer: config.jwt.issuer,
        audience,
        sub,
        iat: Math.floor(clock.nowMs() / 1000),
        ...extra,
      }),
    get: async (path, o = {}) =>
      app.request(path, {
        headers: { ...(o.token === undefined ? {} : { authorization: `Bearer ${o.token}` }), ...o.headers },
      }),
  };
}
