import { randomUUID } from 'node:crypto';
import { describeCounterBackend } from '@arrakis/e2e-contracts';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  redisBackend,
  redisCommandRetriesMax,
  redisCommandTimeoutMsDefault,
  redisCommandTimeoutMsMax,
  redisConnectTimeoutMsMax,
  redisReconnectDelayCapMsDefault,
  redisReconnectDelayCapMsMax,
  redisReconnectDelayMsFirst,
} from './index.js';
import { redisReconnectDelayMs } from './redis-backend.js';

const redisUrl = process.env.REDIS_URL;
const runPrefix = `arrakis-test:${randomUUID().slice(0, 8)}:`;
let prefixes = 0;
const freshPrefix = () => `${runPrefix}${++prefixes}:`;

let lastPrefix = '';
describeCounterBackend(
  'redis',
  () => {
    lastPrefix = freshPrefix();
    return redisBackend({ url: redisUrl as string, keyPrefix: lastPrefix });
  },
  {
    clock: 'real',
    reopen: () => redisBackend({ url: redisUrl as string, keyPrefix: lastPrefix }),
    ...(redisUrl ? {} : { skip: 'needs REDIS_URL' }),
  },
);

describe.skipIf(!redisUrl)('redisBackend (needs REDIS_URL)', () => {
  let client: Redis;
  beforeAll(() => {
    client = new Redis(redisUrl as string, { enableAutoPipelining: true });
  });
  afterAll(async () => {
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${runPrefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await client.del(...keys);
    } while (cursor !== '0');
    await client.quit();
  });

  it('stores plain integers under keyPrefix + key with a server-side expiry, and leaves a given client open', async () => {
    const keyPrefix = freshPrefix();
    const counters = redisBackend({ client, keyPrefix });
    expect(await counters.increment('hits', 5n, { ttlMs: 60_000 })).toBe(5n);
    expect(await client.get(`${keyPrefix}hits`)).toBe('5');
    const pttl = await client.pttl(`${keyPrefix}hits`);
    expect(pttl).toBeGreaterThan(59_000);
    expect(pttl).toBeLessThanOrEqual(60_000);
    await counters.advance('hits', { by: 2n, max: 10n, ttlMs: 60_000, expiry: 'keep' });
    expect(await client.get(`${keyPrefix}hits`)).toBe('7');
    await counters.close();
    expect(client.status).toBe('ready');
    expect(await client.ping()).toBe('PONG');
  });

  it("works with a hash-tagged prefix (the advice for co-locating a tenant's keys on one cluster slot)", async () => {
    const keyPrefix = `${freshPrefix()}{tenant-1}:`;
    const counters = redisBackend({ client, keyPrefix });
    await counters.increment('a', 1n, { ttlMs: 60_000 });
    await counters.increment('b', 2n, { ttlMs: 60_000 });
    expect(await client.get(`${keyPrefix}b`)).toBe('2');
    expect((await counters.get('a'))?.value).toBe(1n);
  });

  it('reloads its scripts after SCRIPT FLUSH (EVALSHA falls back to EVAL)', async () => {
    const counters = redisBackend({ client, keyPrefix: freshPrefix() });
    expect(await counters.increment('k', 1n, { ttlMs: 60_000 })).toBe(1n);
    await client.script('FLUSH');
    expect(await counters.increment('k', 1n, { ttlMs: 60_000 })).toBe(2n);
    expect(await counters.advance('k', { by: 1n, max: 3n, ttlMs: 60_000 })).toMatchObject({ applied: true, value: 3n });
    expect((await counters.get('k'))?.value).toBe(3n);
  });

  it('stays exact on a client with stringNumbers', async () => {
    const stringClient = new Redis(redisUrl as string, { stringNumbers: true });
    try {
      const counters = redisBackend({ client: stringClient, keyPrefix: freshPrefix() });
      const big = 2n ** 53n - 2n;
      expect(await counters.increment('k', big, { ttlMs: 60_000 })).toBe(big);
      expect(await counters.advance('k', { by: 1n, max: big + 1n, ttlMs: 60_000 })).toMatchObject({
        applied: true,
        value: big + 1n,
      });
      expect((await counters.get('k'))?.value).toBe(big + 1n);
    } finally {
      await stringClient.quit();
    }
  });

  it('refuses to read a key it did not write (no expiry) rather than inventing one', async () => {
    const keyPrefix = freshPrefix();
    await client.set(`${keyPrefix}foreign`, '5');
    const counters = redisBackend({ client, keyPrefix });
    await expect(counters.get('foreign')).rejects.toMatchObject({ code: 'backend_unavailable' });
  });
});

describe('redisBackend without a server', () => {
  it(`fails fast with backend_unavailable when Redis is unreachable (within ${redisCommandTimeoutMsDefault} ms and a margin)`, async () => {
    const counters = redisBackend({ url: 'redis://127.0.0.1:1', keyPrefix: 'x:' });
    for (let i = 0; i < 5; i++) {
      const startedAtMs = Date.now();
      await expect(counters.increment('k', 1n, { ttlMs: 1_000 })).rejects.toMatchObject({
        code: 'backend_unavailable',
        name: 'BackendUnavailableError',
      });
      expect(Date.now() - startedAtMs).toBeLessThan(2 * redisCommandTimeoutMsDefault + 400);
    }
    await counters.close();
  });

  it('rejects bad options with invalid_option', () => {
    expect(() => redisBackend({})).toThrow(expect.objectContaining({ code: 'invalid_option' }));
    expect(() => redisBackend({ url: 'http://127.0.0.1:6379' })).toThrow(
      expect.objectContaining({ code: 'invalid_option' }),
    );
    expect(() => redisBackend({ url: 'redis://127.0.0.1:1', keyPrefix: 'x'.repeat(257) })).toThrow(
      expect.objectContaining({ code: 'invalid_option' }),
    );
  });

  it.each([
    ['commandTimeoutMs 0', { commandTimeoutMs: 0 }],
    ['commandTimeoutMs 1.5', { commandTimeoutMs: 1.5 }],
    ['commandTimeoutMs over the max', { commandTimeoutMs: redisCommandTimeoutMsMax + 1 }],
    ['connectTimeoutMs 0', { connectTimeoutMs: 0 }],
    ['connectTimeoutMs over the max', { connectTimeoutMs: redisConnectTimeoutMsMax + 1 }],
    ['reconnectDelayCapMs below the first delay', { reconnectDelayCapMs: redisReconnectDelayMsFirst - 1 }],
    ['reconnectDelayCapMs over the max', { reconnectDelayCapMs: redisReconnectDelayCapMsMax + 1 }],
    ['commandRetries -1', { commandRetries: -1 }],
    ['commandRetries over the max', { commandRetries: redisCommandRetriesMax + 1 }],
    ['commandRetries as a string', { commandRetries: '1' }],
  ])('rejects %s with invalid_option, quoting the value', (_name, extra) => {
    const [[name, value]] = Object.entries(extra) as [[string, unknown]];
    let error: unknown;
    try {
      redisBackend({ url: 'redis://127.0.0.1:1', ...(extra as object) });
    } catch (caught) {
      error = caught;
    }
    expect(error).toMatchObject({ code: 'invalid_option' });
    expect((error as Error).message).toContain(`${name} must be an integer in [`);
    expect((error as Error).message).toContain(`got ${String(value)}`);
  });

  it('refuses the timeout options with a client it does not own (they would not apply)', () => {
    const client = new Redis('redis://127.0.0.1:1', { lazyConnect: true });
    expect(() => redisBackend({ client, commandTimeoutMs: 50 })).toThrow(
      expect.objectContaining({ code: 'invalid_option', message: expect.stringContaining('commandTimeoutMs') }),
    );
    client.disconnect();
  });

  it('reconnects with a delay that doubles from the first and stops growing at the cap, forever', () => {
    const delays = [1, 2, 3, 4, 5, 6, 1_000, Number.MAX_SAFE_INTEGER].map((attempt) =>
      redisReconnectDelayMs(attempt, redisReconnectDelayCapMsDefault),
    );
    expect(delays).toEqual([50, 100, 200, 400, 800, 1_000, 1_000, 1_000]);
    expect(redisReconnectDelayMs(3, redisReconnectDelayMsFirst)).toBe(redisReconnectDelayMsFirst);
  });

  it('validates input before any I/O (no server needed to reject bad input)', async () => {
    const counters = redisBackend({ url: 'redis://127.0.0.1:1' });
    await expect(counters.increment('', 1n, { ttlMs: 1_000 })).rejects.toMatchObject({ code: 'invalid_key' });
    await expect(counters.setIfAbsent('k', -1n, { ttlMs: 1_000 })).rejects.toMatchObject({ code: 'invalid_amount' });
    await counters.close();
  });
});
