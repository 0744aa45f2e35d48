// The limiters, spend cap and nonce store on the real backends: SQLite always, Redis with REDIS_URL, Postgres with
// DATABASE_URL. The backends' own semantics are covered by the contract suite; this checks what is built on them.
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { postgresBackend } from '../adapters/postgres/index.js';
import { redisBackend } from '../adapters/redis/index.js';
import { sqliteBackend } from '../adapters/sqlite/index.js';
import { SpendCapExceededError } from '../errors.js';
import { nonceStore } from '../nonce/nonce-store.js';
import type { Clock } from '../ports/clock.js';
import { ManualClock, systemClock } from '../ports/clock.js';
import type { CounterBackend } from '../ports/counter-backend.js';
import type { RateLimitDecision } from '../ports/rate-limiter.js';
import { spendCap } from '../spend-cap/spend-cap.js';
import { fixedWindow } from './fixed-window.js';
import { slidingWindow } from './sliding-window.js';
import { tokenBucket } from './token-bucket.js';

const redisUrl = process.env.REDIS_URL;
const databaseUrl = process.env.DATABASE_URL;
const run = randomUUID().replaceAll('-', '').slice(0, 12);
const concurrency = 40;

interface Subject {
  backend: CounterBackend;
  /** The clock the backend keeps time with: injected (exact) or the real one (Redis). */
  clock: Clock;
  exact: boolean;
}

function describeBuiltOn(name: string, make: () => Subject, skip: string | false): void {
  describe.skipIf(skip !== false)(`limiters, spend cap and nonces on ${name}${skip ? ` (${skip})` : ''}`, () => {
    let subject: Subject;
    afterAll(async () => {
      await subject?.backend.close();
    });
    const get = () => {
      subject ??= make();
      return subject;
    };
    const prefix = () => `t${randomUUID().slice(0, 8)}`;
    const admitted = (ds: RateLimitDecision[]) => ds.filter((d) => d.allowed).length;

    it('fixedWindow admits exactly the limit per window under concurrency', async () => {
      const { backend, clock } = get();
      const limiter = fixedWindow({ backend, limit: 10, windowMs: 3_600_000, prefix: prefix(), clock });
      const ds = await Promise.all(Array.from({ length: concurrency }, () => limiter.consume('alice')));
      const perWindow = new Map<number, number>();
      for (const d of ds) if (d.allowed) perWindow.set(d.resetAtMs, (perWindow.get(d.resetAtMs) ?? 0) + 1);
      for (const count of perWindow.values()) expect(count).toBeLessThanOrEqual(10);
      if (perWindow.size === 1) expect(admitted(ds)).toBe(10);
      for (const d of ds) expect(d.remaining).toBeGreaterThanOrEqual(0);
    });

    it('slidingWindow admits at most the limit under concurrency, and seals what it read', async () => {
      const { backend, clock, exact } = get();
      const limiter = slidingWindow({ backend, limit: 10, windowMs: 60_000, bucketMs: 6_000, prefix: prefix(), clock });
      const ds = await Promise.all(Array.from({ length: concurrency }, () => limiter.consume('alice')));
      expect(admitted(ds)).toBeLessThanOrEqual(10);
      if (exact) expect(admitted(ds)).toBe(10);
      else expect(admitted(ds)).toBeGreaterThan(0);
      if (clock instanceof ManualClock) {
        clock.advance(30_000);
        const later = await Promise.all(Array.from({ length: concurrency }, () => limiter.consume('alice')));
        expect(admitted(later)).toBe(0);
        clock.advance(35_999); // the first bucket leaves the window at its end (+6 s) + 60 s − 1 ms
        expect(admitted(await Promise.all(Array.from({ length: concurrency }, () => limiter.consume('alice'))))).toBe(
          10,
        );
      }
    });

    it('tokenBucket admits exactly the capacity, then refills exactly', async () => {
      const { backend, clock } = get();
      const limiter = tokenBucket({
        backend,
        capacity: 10,
        refillIntervalMs: 3_600_000,
        refillTokens: 3,
        prefix: prefix(),
        clock,
      });
      const ds = await Promise.all(Array.from({ length: concurrency }, () => limiter.consume('alice')));
      expect(admitted(ds)).toBe(10);
      if (clock instanceof ManualClock) {
        clock.advance(3_600_000);
        expect(admitted(await Promise.all(Array.from({ length: concurrency }, () => limiter.consume('alice'))))).toBe(
          3,
        );
      }
    });

    it('spendCap never exceeds the cap under concurrent records', async () => {
      const { backend, clock } = get();
      const cap = spendCap({ backend, capMicro: 10_000_000n, period: 'day-utc', prefix: prefix(), clock });
      const amounts = Array.from({ length: concurrency }, (_, i) => BigInt(((i * 7919) % 1_000_000) + 1));
      const outcomes = await Promise.all(
        amounts.map((amountMicro) =>
          cap.record('account:1', amountMicro).then(
            (d) => ({ ok: true, amountMicro, periodStartMs: d.periodStartMs }),
            (error: unknown) => {
              expect(error).toBeInstanceOf(SpendCapExceededError);
              return { ok: false, amountMicro, periodStartMs: 0 };
            },
          ),
        ),
      );
      const perPeriod = new Map<number, bigint>();
      for (const o of outcomes)
        if (o.ok) perPeriod.set(o.periodStartMs, (perPeriod.get(o.periodStartMs) ?? 0n) + o.amountMicro);
      for (const total of perPeriod.values()) expect(total).toBeLessThanOrEqual(10_000_000n);
      if (perPeriod.size === 1) expect((await cap.usage('account:1')).usedMicro).toBe([...perPeriod.values()][0]);
    });

    it('nonceStore lets exactly one concurrent claim win', async () => {
      const { backend, clock } = get();
      const nonces = nonceStore({ backend, ttlMs: 60_000, scope: 'x402', prefix: prefix(), clock });
      const won = await Promise.all(Array.from({ length: concurrency }, () => nonces.claim('0xabc')));
      expect(won.filter(Boolean)).toHaveLength(1);
    });
  });
}

const sqlitePath = join(tmpdir(), `arrakis-limiters-${run}.db`);
afterAll(() => {
  for (const suffix of ['', '-wal', '-shm']) rmSync(sqlitePath + suffix, { force: true });
});
describeBuiltOn(
  'sqlite',
  () => {
    const clock = new ManualClock();
    return { backend: sqliteBackend({ path: sqlitePath, clock }), clock, exact: true };
  },
  false,
);

afterAll(async () => {
  if (!redisUrl) return;
  const { Redis } = await import('ioredis');
  const client = new Redis(redisUrl);
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `arrakis-test:${run}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await client.del(...keys);
  } while (cursor !== '0');
  await client.quit();
});
describeBuiltOn(
  'redis',
  () => ({
    backend: redisBackend({ url: redisUrl as string, keyPrefix: `arrakis-test:${run}:` }),
    clock: systemClock,
    exact: false,
  }),
  redisUrl ? false : 'needs REDIS_URL',
);

const schema = `arrakis_limiters_${run}`;
describeBuiltOn(
  'postgres',
  () => {
    const clock = new ManualClock();
    return { backend: postgresBackend({ url: databaseUrl as string, schema, clock }), clock, exact: true };
  },
  databaseUrl ? false : 'needs DATABASE_URL',
);
afterAll(async () => {
  if (!databaseUrl) return;
  const { default: postgres } = await import('postgres');
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  await sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await sql.end();
});
