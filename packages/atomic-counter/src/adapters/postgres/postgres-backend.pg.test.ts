import { randomUUID } from 'node:crypto';
import { describeCounterBackend } from '@arrakis/e2e-contracts';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../ports/clock.js';
import { postgresBackend } from './index.js';

const databaseUrl = process.env.DATABASE_URL;
// One fresh schema per test file run; one fresh table per backend the suite asks for.
const schema = `arrakis_test_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
let tables = 0;
const freshTable = () => `counters_${++tables}`;

let sql: postgres.Sql | undefined;
const shared = () => {
  sql ??= postgres(databaseUrl as string, { max: 10, onnotice: () => {} });
  return sql;
};
afterAll(async () => {
  if (sql === undefined) return;
  await sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await sql.end();
});

let lastTable = '';
describeCounterBackend(
  'postgres',
  ({ clock }) => {
    lastTable = freshTable();
    return postgresBackend({ sql: shared(), schema, tableName: lastTable, clock });
  },
  {
    clock: 'injected',
    // The reopened instance opens its own pool from the URL: both ways of connecting are covered.
    reopen: ({ clock }) => postgresBackend({ url: databaseUrl as string, schema, tableName: lastTable, clock }),
    ...(databaseUrl ? {} : { skip: 'needs DATABASE_URL' }),
  },
);

describe.skipIf(!databaseUrl)('postgresBackend (needs DATABASE_URL)', () => {
  beforeAll(async () => {
    await shared().unsafe(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
  });
  const rows = async (table: string) =>
    Number((await shared().unsafe(`SELECT count(*)::int AS n FROM "${schema}"."${table}"`))[0]?.n);

  it('migrate() is idempotent and safe when many instances start at once', async () => {
    const tableName = freshTable();
    const backends = Array.from({ length: 5 }, () => postgresBackend({ sql: shared(), schema, tableName }));
    await Promise.all(backends.map((b) => b.migrate()));
    await backends[0]?.migrate();
    await Promise.all(backends.map((b, i) => b.increment('k', BigInt(i + 1), { ttlMs: 60_000 })));
    expect((await backends[0]?.get('k'))?.value).toBe(15n);
    const [column] = await shared()`
      SELECT data_type FROM information_schema.columns
      WHERE table_schema = ${schema} AND table_name = ${tableName} AND column_name = 'value'`;
    expect(column?.data_type).toBe('bigint');
  });

  it('a refused advance reports the exact value that refused it, even while the row is being created', async () => {
    // Two pools, 40 keys, 12 callers per key racing to create it, max = by = 1: one applies per key
    // and every refusal must report 1 (the row a concurrent caller inserted), never 0.
    const tableName = freshTable();
    const a = postgresBackend({ url: databaseUrl as string, schema, tableName });
    const b = postgresBackend({ url: databaseUrl as string, schema, tableName });
    await Promise.all([a.migrate(), b.migrate()]);
    const keys = Array.from({ length: 40 }, (_, i) => `race:${i}`);
    const results = await Promise.all(
      keys.flatMap((key) =>
        Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? a : b).advance(key, { by: 1n, max: 1n, ttlMs: 60_000 })),
      ),
    );
    expect(results.filter((r) => r.applied)).toHaveLength(keys.length);
    for (const r of results) {
      expect(r.value).toBe(1n);
      expect(r.expiresAtMs).not.toBeNull();
    }
    await Promise.all([a.close(), b.close()]);
  });

  it('returns bigint values exactly on a client configured with postgres.BigInt', async () => {
    const bigSql = postgres(databaseUrl as string, { max: 2, types: { bigint: postgres.BigInt }, onnotice: () => {} });
    try {
      const counters = postgresBackend({ sql: bigSql, schema, tableName: freshTable() });
      const big = 2n ** 53n - 2n;
      expect(await counters.increment('k', big, { ttlMs: 60_000 })).toBe(big);
      expect(await counters.advance('k', { by: 1n, max: big + 1n, ttlMs: 60_000 })).toMatchObject({
        applied: true,
        value: big + 1n,
      });
      expect((await counters.get('k'))?.value).toBe(big + 1n);
    } finally {
      await bigSql.end();
    }
  });

  it('purgeExpired deletes expired rows only, at most rowsMax per call', async () => {
    const clock = new ManualClock();
    const tableName = freshTable();
    const counters = postgresBackend({
      sql: shared(),
      schema,
      tableName,
      clock,
      purgeIntervalMs: Number.POSITIVE_INFINITY,
    });
    for (let i = 0; i < 5; i += 1) await counters.increment(`short:${i}`, 1n, { ttlMs: 1_000 });
    await counters.increment('long', 1n, { ttlMs: 60_000 });
    clock.advance(1_000);
    expect(await counters.purgeExpired(3)).toBe(3);
    expect(await counters.purgeExpired()).toBe(2);
    expect(await counters.purgeExpired()).toBe(0);
    expect(await rows(tableName)).toBe(1);
    await expect(counters.purgeExpired(0)).rejects.toMatchObject({ code: 'invalid_option' });
  });

  it('a write starts a background purge once per purgeIntervalMs; close() waits for it', async () => {
    const clock = new ManualClock();
    const tableName = freshTable();
    const counters = postgresBackend({ sql: shared(), schema, tableName, clock, purgeIntervalMs: 10_000 });
    await counters.increment('a', 1n, { ttlMs: 1_000 }); // first write starts a purge (nothing to delete)
    await counters.increment('b', 1n, { ttlMs: 1_000 });
    clock.advance(5_000);
    await counters.increment('c', 1n, { ttlMs: 60_000 }); // interval not reached: a and b stay
    expect(await rows(tableName)).toBe(3);
    clock.advance(5_000);
    await counters.increment('c', 1n, { ttlMs: 60_000 }); // starts a purge of a and b
    await counters.close();
    expect(await rows(tableName)).toBe(1);
  });

  it('leaves a client it was given open on close()', async () => {
    const counters = postgresBackend({ sql: shared(), schema, tableName: freshTable() });
    await counters.increment('k', 1n, { ttlMs: 60_000 });
    await counters.close();
    expect((await shared()`SELECT 1 AS one`)[0]?.one).toBe(1);
  });
});

describe('postgresBackend without a server', () => {
  it('reports an unreachable database as backend_unavailable, and tries again on the next call', async () => {
    const counters = postgresBackend({ url: 'postgres://postgres@127.0.0.1:1/test' });
    await expect(counters.increment('k', 1n, { ttlMs: 1_000 })).rejects.toMatchObject({
      code: 'backend_unavailable',
      name: 'BackendUnavailableError',
    });
    await expect(counters.migrate()).rejects.toMatchObject({ code: 'backend_unavailable' });
    await counters.close();
  });

  it('validates input before any I/O', async () => {
    const counters = postgresBackend({ url: 'postgres://postgres@127.0.0.1:1/test' });
    await expect(counters.increment('', 1n, { ttlMs: 1_000 })).rejects.toMatchObject({ code: 'invalid_key' });
    await expect(counters.advance('k', { by: 0n, max: 1n, ttlMs: 1_000 })).rejects.toMatchObject({
      code: 'invalid_amount',
    });
    await counters.close();
  });

  it('rejects bad options with invalid_option', () => {
    const url = 'postgres://postgres@127.0.0.1:1/test';
    expect(() => postgresBackend({})).toThrow(expect.objectContaining({ code: 'invalid_option' }));
    expect(() => postgresBackend({ url: 'mysql://x' })).toThrow(expect.objectContaining({ code: 'invalid_option' }));
    expect(() => postgresBackend({ url, tableName: 'counters"; DROP TABLE x; --' })).toThrow(
      expect.objectContaining({ code: 'invalid_option' }),
    );
    expect(() => postgresBackend({ url, tableName: 'x'.repeat(49) })).toThrow(
      expect.objectContaining({ code: 'invalid_option' }),
    );
    expect(() => postgresBackend({ url, schema: 'a.b' })).toThrow(expect.objectContaining({ code: 'invalid_option' }));
  });
});
