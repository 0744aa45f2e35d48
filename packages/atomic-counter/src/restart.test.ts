import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import postgres from 'postgres';
import { build } from 'tsup';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresBackend } from './adapters/postgres/index.js';
import { redisBackend } from './adapters/redis/index.js';
import { sqliteBackend } from './adapters/sqlite/index.js';
import { fixedWindow } from './limiters/fixed-window.js';
import { windowMsMax } from './limiters/options.js';
import type { CounterBackend } from './ports/counter-backend.js';

/*
 * Restarts: a separate `node` process consumes a fixed window up to its limit on persistent storage
 * and exits; a second process, and a fresh backend in this process, still see the window exhausted.
 * Several processes racing on one window admit exactly the limit. The child processes run this
 * package's sources bundled once by tsup (no TypeScript loader needed in the child).
 */

const execFileAsync = promisify(execFile);
const packageDir = fileURLToPath(new URL('..', import.meta.url));
// Inside the package so the bundle resolves better-sqlite3, ioredis and postgres from its node_modules.
const bundleDir = join(packageDir, 'node_modules', '.cache', `arrakis-restart-test-${randomUUID().slice(0, 8)}`);
const childScript = join(bundleDir, 'child.mjs');
// The longest window: its boundaries are years apart, so no test run straddles one.
const windowMs = windowMsMax;
const limit = 25;
const prefix = 'restart';

/** Where a child finds the storage: the same for every process of one case. */
type Storage =
  | { kind: 'sqlite'; path: string }
  | { kind: 'postgres'; url: string; schema: string; tableName: string }
  | { kind: 'redis'; url: string; keyPrefix: string };

interface ChildReport {
  allowed: number;
  denied: number;
  pid: number;
}

const childSource = `
const [storage, key, attempts, limit, windowMs, prefix] = JSON.parse(process.argv[2]);
let backend;
if (storage.kind === 'sqlite') {
  const { sqliteBackend } = await import('./sqlite.mjs');
  backend = sqliteBackend({ path: storage.path });
} else if (storage.kind === 'postgres') {
  const { postgresBackend } = await import('./postgres.mjs');
  backend = postgresBackend({ url: storage.url, schema: storage.schema, tableName: storage.tableName });
} else {
  const { redisBackend } = await import('./redis.mjs');
  backend = redisBackend({ url: storage.url, keyPrefix: storage.keyPrefix });
}
const { fixedWindow } = await import('./index.mjs');
const limiter = fixedWindow({ backend, limit, windowMs, prefix });
let allowed = 0;
let denied = 0;
for (let i = 0; i < attempts; i += 1) {
  if ((await limiter.consume(key)).allowed) allowed += 1;
  else denied += 1;
}
await backend.close();
process.stdout.write(JSON.stringify({ allowed, denied, pid: process.pid }));
`;

beforeAll(async () => {
  mkdirSync(bundleDir, { recursive: true });
  await build({
    config: false,
    entry: {
      index: join(packageDir, 'src/index.ts'),
      sqlite: join(packageDir, 'src/adapters/sqlite/index.ts'),
      redis: join(packageDir, 'src/adapters/redis/index.ts'),
      postgres: join(packageDir, 'src/adapters/postgres/index.ts'),
    },
    outDir: bundleDir,
    format: ['esm'],
    platform: 'node',
    target: 'node20',
    outExtension: () => ({ js: '.mjs' }),
    external: ['better-sqlite3', 'ioredis', 'postgres', 'hono'],
    dts: false,
    silent: true,
  });
  writeFileSync(childScript, childSource);
}, 60_000);
afterAll(() => rmSync(bundleDir, { recursive: true, force: true }));

async function runChild(storage: Storage, key: string, attempts: number): Promise<ChildReport> {
  const { stdout } = await execFileAsync(
    process.execPath,
    [childScript, JSON.stringify([storage, key, attempts, limit, windowMs, prefix])],
    { cwd: bundleDir, timeout: 30_000 },
  );
  return JSON.parse(stdout) as ChildReport;
}

/** The restart and multi-process cases, for one kind of storage. */
function restartCases(storage: () => Storage, openHere: () => CounterBackend) {
  it('a window consumed by one process stays exhausted for the next process and a fresh backend', async () => {
    const first = await runChild(storage(), 'alice', limit + 5);
    expect(first).toMatchObject({ allowed: limit, denied: 5 });
    const second = await runChild(storage(), 'alice', 3);
    expect(second).toMatchObject({ allowed: 0, denied: 3 });
    expect(second.pid).not.toBe(first.pid);

    const backend = openHere();
    try {
      const limiter = fixedWindow({ backend, limit, windowMs, prefix });
      expect(await limiter.consume('alice')).toMatchObject({ allowed: false, remaining: 0 });
      expect(await limiter.consume('bob')).toMatchObject({ allowed: true, remaining: limit - 1 });
    } finally {
      await backend.close();
    }
  });

  it('processes racing on one window admit exactly the limit between them', async () => {
    const reports = await Promise.all([1, 2, 3].map(() => runChild(storage(), 'carol', 20)));
    expect(reports.reduce((sum, r) => sum + r.allowed, 0)).toBe(limit);
    expect(reports.reduce((sum, r) => sum + r.denied, 0)).toBe(3 * 20 - limit);
  });
}

describe('restart: sqlite', () => {
  const dir = mkdtempSync(join(tmpdir(), 'arrakis-restart-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'counters.db');
  restartCases(
    () => ({ kind: 'sqlite', path }),
    () => sqliteBackend({ path }),
  );
});

const databaseUrl = process.env.DATABASE_URL;
describe.skipIf(!databaseUrl)('restart: postgres (needs DATABASE_URL)', () => {
  const schema = `arrakis_restart_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  const tableName = 'counters';
  afterAll(async () => {
    const sql = postgres(databaseUrl as string, { max: 1, onnotice: () => {} });
    await sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await sql.end();
  });
  restartCases(
    () => ({ kind: 'postgres', url: databaseUrl as string, schema, tableName }),
    () => postgresBackend({ url: databaseUrl as string, schema, tableName }),
  );
});

const redisUrl = process.env.REDIS_URL;
describe.skipIf(!redisUrl)('restart: redis (needs REDIS_URL)', () => {
  const keyPrefix = `arrakis-restart:${randomUUID().slice(0, 8)}:`;
  afterAll(async () => {
    const client = new Redis(redisUrl as string);
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await client.del(...keys);
    } while (cursor !== '0');
    await client.quit();
  });
  restartCases(
    () => ({ kind: 'redis', url: redisUrl as string, keyPrefix }),
    () => redisBackend({ url: redisUrl as string, keyPrefix }),
  );
});
