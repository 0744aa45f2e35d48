// Test support (not part of the build): a gateway app wired with in-memory parts and a test key pair.
import { type CounterBackend, ManualClock, memoryBackend } from '@arrakis/atomic-counter';
import { createLedger, type Ledger, type LedgerDbHandle, migrateLedger } from '@arrakis/billing-ledger';
import { openPgliteLedgerDb } from '@arrakis/billing-ledger/pglite';
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
import { counterBackendCheck, ledgerDbCheck, type ReadinessCheck } from '../readiness.js';
import { makeTestGatewayIdentity } from './identity-fixture.js';

/** One JSON log line captured from the app's logger. */
export type LogLine = Record<string, unknown> & { level: number; msg: string };

export interface AppFixture {
  app: GatewayApp;
  config: GatewayConfig;
  keys: TestKeyPair;
  clock: ManualClock;
  counters: CounterBackend;
  ledger: Ledger;
  ledgerDb: LedgerDbHandle;
  registry: Registry;
  logs: LogLine[];
  /** A token signed with the fixture key, `iat` = the fixture clock. */
  token(audience: Audience | (string & {}), sub?: string, options?: Partial<MintTestTokenOptions>): Promise<string>;
  /** `app.request` with an optional bearer token. */
  get(path: string, options?: { token?: string; headers?: Record<string, string> }): Promise<Response>;
  /** `app.request` POST with a JSON body (`json`, serialised) or a raw `body` string. */
  post(
    path: string,
    options?: { token?: string; json?: unknown; body?: string; headers?: Record<string, string> },
  ): Promise<Response>;
  /** `app.request` PUT with a JSON body. */
  put(path: string, options?: { token?: string; json?: unknown; headers?: Record<string, string> }): Promise<Response>;
}

export interface AppFixtureOptions {
  env?: Record<string, string>;
  counters?: (clock: ManualClock) => CounterBackend;
  readiness?: (counters: CounterBackend) => ReadinessCheck[];
  /**
   * The ledger database (e.g. `openTestLedgerDb()`, closed by the caller). Default: a migrated in-memory PGlite
   * shared by every fixture of the test file that does not pass one.
   */
  ledgerDb?: LedgerDbHandle;
  keys?: TestKeyPair;
  authKeys?: AuthKeyResolver;
}

let sharedLedgerDb: Promise<LedgerDbHandle> | undefined;

/** A migrated in-memory PGlite ledger, opened once per test file (worker) on first use. */
function defaultLedgerDb(): Promise<LedgerDbHandle> {
  sharedLedgerDb ??= openPgliteLedgerDb().then(async (handle) => {
    await migrateLedger(handle.db, handle.kind);
    return handle;
  });
  return sharedLedgerDb;
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
  const ledgerDb = options.ledgerDb ?? (await defaultLedgerDb());
  const ledger = createLedger({
    db: ledgerDb.db,
    clock,
    creditPacks: config.economy.creditPacks,
    ruleCooldownMs: config.economy.ruleCooldownMs,
  });
  const registry = new Registry();
  const app = createApp({
    config,
    logger,
    counters,
    ledger,
    ledgerDb,
    readiness: options.readiness?.(counters) ?? [counterBackendCheck(counters), ledgerDbCheck(ledgerDb)],
    authKeys: options.authKeys ?? createLocalJWKSet({ keys: [keys.publicJwk] }),
    clock,
    metrics: registry,
    identity: await makeTestGatewayIdentity({ ledgerDb, counters, clock, config }),
  });
  return {
    app,
    config,
    keys,
    clock,
    counters,
    ledger,
    ledgerDb,
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
    post: async (path, o = {}) =>
      app.request(path, {
        method: 'POST',
        body: o.body ?? (o.json === undefined ? undefined : JSON.stringify(o.json)),
        headers: {
          ...(o.json === undefined && o.body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(o.token === undefined ? {} : { authorization: `Bearer ${o.token}` }),
          ...o.headers,
        },
      }),
    put: async (path, o = {}) =>
      app.request(path, {
        method: 'PUT',
        body: o.json === undefined ? undefined : JSON.stringify(o.json),
        headers: {
          ...(o.json === undefined ? {} : { 'content-type': 'application/json' }),
          ...(o.token === undefined ? {} : { authorization: `Bearer ${o.token}` }),
          ...o.headers,
        },
      }),
  };
}
