import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeCounterBackend } from '@arrakis/e2e-contracts';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../ports/clock.js';
import { sqliteBackend, sqlitePurgeRowsMax } from './index.js';

const dir = mkdtempSync(join(tmpdir(), 'arrakis-sqlite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const freshPath = () => join(dir, `counters-${++files}.db`);

let lastPath = '';
describeCounterBackend(
  'sqlite',
  ({ clock }) => {
    lastPath = freshPath();
    return sqliteBackend({ path: lastPath, clock });
  },
  { clock: 'injected', reopen: ({ clock }) => sqliteBackend({ path: lastPath, clock }) },
);

describe('sqliteBackend', () => {
  it('opens its file in WAL mode and creates the table with the given name', async () => {
    const path = freshPath();
    const counters = sqliteBackend({ path, tableName: 'rate_counters' });
    await counters.increment('k', 1n, { ttlMs: 60_000 });
    await counters.close();
    const db = new Database(path, { readonly: true });
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(db.prepare('SELECT key, value FROM rate_counters').all()).toEqual([{ key: 'k', value: 1 }]);
    } finally {
      db.close();
    }
  });

  it('uses a database it is given and leaves it open on close()', async () => {
    const db = new Database(freshPath());
    const counters = sqliteBackend({ database: db });
    expect(await counters.increment('k', 2n, { ttlMs: 60_000 })).toBe(2n);
    await counters.close();
    expect(db.open).toBe(true);
    expect(db.prepare('SELECT value FROM arrakis_counters WHERE key = ?').pluck().get('k')).toBe(2);
    db.close();
  });

  it('two instances on one file (two connections) share the counters exactly', async () => {
    const path = freshPath();
    const a = sqliteBackend({ path });
    const b = sqliteBackend({ path });
    const calls = Array.from({ length: 400 }, (_, i) =>
      (i % 2 === 0 ? a : b).advance('shared', { by: 1n, max: 300n, ttlMs: 60_000 }),
    );
    const results = await Promise.all(calls);
    expect(results.filter((r) => r.applied)).toHaveLength(300);
    expect((await a.get('shared'))?.value).toBe(300n);
    await Promise.all([a.close(), b.close()]);
  });

  it('purgeExpired deletes expired rows only, at most rowsMax per call', async () => {
    const clock = new ManualClock();
    const path = freshPath();
    const counters = sqliteBackend({ path, clock, purgeIntervalMs: Number.POSITIVE_INFINITY });
    for (let i = 0; i < 5; i += 1) await counters.increment(`short:${i}`, 1n, { ttlMs: 1_000 });
    await counters.increment('long', 1n, { ttlMs: 60_000 });
    clock.advance(1_000);
    expect(await counters.purgeExpired(3)).toBe(3);
    expect(await counters.purgeExpired()).toBe(2);
    expect(await counters.purgeExpired()).toBe(0);
    expect((await counters.get('long'))?.value).toBe(1n);
    await expect(counters.purgeExpired(0)).rejects.toMatchObject({ code: 'invalid_option' });
    await counters.close();
    expect(sqlitePurgeRowsMax).toBeGreaterThan(0);
  });

  it('a write purges expired rows once per purgeIntervalMs', async () => {
    const clock = new ManualClock();
    const path = freshPath();
    const counters = sqliteBackend({ path, clock, purgeIntervalMs: 10_000 });
    const rows = () => {
      const db = new Database(path, { readonly: true });
      try {
        return db.prepare('SELECT count(*) FROM arrakis_counters').pluck().get();
      } finally {
        db.close();
      }
    };
    await counters.increment('a', 1n, { ttlMs: 1_000 }); // first write purges (nothing yet)
    await counters.increment('b', 1n, { ttlMs: 1_000 });
    clock.advance(5_000);
    await counters.increment('c', 1n, { ttlMs: 60_000 }); // interval not reached: a, b stay
    expect(rows()).toBe(3);
    clock.advance(5_000);
    await counters.increment('c', 1n, { ttlMs: 60_000 }); // purges a and b
    expect(rows()).toBe(1);
    await counters.close();
  });

  it('rejects bad options with invalid_option', () => {
    expect(() => sqliteBackend({})).toThrow(expect.objectContaining({ code: 'invalid_option' }));
    const database = new Database(':memory:');
    expect(() => sqliteBackend({ path: freshPath(), database })).toThrow(
      expect.objectContaining({ code: 'invalid_option' }),
    );
    database.close();
    expect(() => sqliteBackend({ path: freshPath(), tableName: 'counters; DROP TABLE x' })).toThrow(
      expect.objectContaining({ code: 'invalid_option' }),
    );
    expect(() => sqliteBackend({ path: freshPath(), tableName: 'x'.repeat(49) })).toThrow(
      expect.objectContaining({ code: 'invalid_option' }),
    );
    expect(() => sqliteBackend({ path: freshPath(), purgeIntervalMs: -1 })).toThrow(
      expect.objectContaining({ code: 'invalid_option' }),
    );
  });

  it('reports an unusable file or a closed database as backend_unavailable', async () => {
    expect(() => sqliteBackend({ path: join(dir, 'missing-dir', 'x.db') })).toThrow(
      expect.objectContaining({ code: 'backend_unavailable' }),
    );
    const db = new Database(':memory:');
    const counters = sqliteBackend({ database: db });
    db.close();
    await expect(counters.increment('k', 1n, { ttlMs: 1_000 })).rejects.toMatchObject({
      code: 'backend_unavailable',
      name: 'BackendUnavailableError',
    });
    await expect(counters.get('k')).rejects.toMatchObject({ code: 'backend_unavailable' });
    await expect(counters.advance('k', { by: 1n, max: 2n, ttlMs: 1_000 })).rejects.toMatchObject({
      code: 'backend_unavailable',
    });
  });
});
