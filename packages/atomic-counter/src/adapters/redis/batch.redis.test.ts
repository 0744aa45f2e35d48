// Coalesced calls on one Redis: the increments and advances made in one turn go as one script call, each with its
// own reply or error, in call order.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendUnavailableError } from '../../errors.js';
import type { CounterBackend } from '../../ports/counter-backend.js';
import { redisBackend, redisBatchOpsMax } from './index.js';

const redisUrl = process.env.REDIS_URL;
const runPrefix = `arrakis-batch-test:${randomUUID().slice(0, 8)}:`;
let prefixes = 0;

describe.skipIf(!redisUrl)('redisBackend coalescing (needs REDIS_URL)', () => {
  let client: Redis;
  beforeAll(() => {
    client = new Redis(redisUrl as string, { enableAutoPipelining: true });
  });
  afterAll(async () => {
    const keys = await client.keys(`${runPrefix}*`);
    if (keys.length > 0) await client.del(...keys);
    await client.quit();
  });

  const own: Redis[] = [];
  const monitors: { disconnect(): void }[] = [];
  afterAll(async () => {
    for (const each of monitors) each.disconnect();
    for (const each of own) await each.quit();
  });

  /**
   * A backend on a client of its own, warmed up, and what Redis saw of it since: the key count of each EVALSHA naming
   * its keys, from MONITOR (a batch names its key count first; a single call has one key).
   */
  async function backendSeen(batchOpsMax?: number) {
    const keyPrefix = `${runPrefix}${++prefixes}:`;
    const ownClient = new Redis(redisUrl as string, { enableAutoPipelining: true });
    own.push(ownClient);
    const counters = redisBackend({
      client: ownClient,
      keyPrefix,
      ...(batchOpsMax === undefined ? {} : { batchOpsMax }),
    });
    const monitor = await client.monitor();
    monitors.push(monitor);
    const scriptCalls: number[] = [];
    monitor.on('monitor', (_time: string, args: string[]) => {
      const [command, , keyCount, ...rest] = args;
      if (/^evalsha$/i.test(command ?? '') && rest.some((arg) => arg.startsWith(keyPrefix))) {
        scriptCalls.push(Number(keyCount));
      }
    });
    // Warm up: the first use of a script on a Redis is EVALSHA (NOSCRIPT) then EVAL; after it, EVALSHA only.
    await Promise.all([advanceOnce(counters, 'warm-1'), advanceOnce(counters, 'warm-2')]);
    await Promise.all([1n, 2n].map((by) => counters.increment(`warm-${by}`, by, { ttlMs: 60_000 })));
    await advanceOnce(counters, 'warm-3');
    await counters.increment('warm-3', 1n, { ttlMs: 60_000 });
    const seen = async () => {
      // MONITOR lines travel on another connection: wait until the count stops moving (bounded).
      let last = -1;
      for (let round = 0; round < 20 && last !== scriptCalls.length; round += 1) {
        last = scriptCalls.length;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      return scriptCalls.splice(warmCalls);
    };
    await new Promise((resolve) => setTimeout(resolve, 50));
    const warmCalls = scriptCalls.length;
    return { counters, keyPrefix, seen };
  }
  const advanceOnce = (counters: CounterBackend, key: string, max = 1_000n) =>
    counters.advance(key, { by: 1n, max, ttlMs: 60_000 });

  it('sends the advances and increments of one turn as one call each, with every reply its own', async () => {
    const { counters, seen } = await backendSeen();
    const advanced = await Promise.all(Array.from({ length: 100 }, (_, i) => advanceOnce(counters, `a${i % 10}`)));
    const incremented = await Promise.all(
      Array.from({ length: 40 }, (_, i) => counters.increment(`i${i % 4}`, BigInt(i + 1), { ttlMs: 60_000 })),
    );
    // Two turns: 100 advances in one call (key count 100), then 40 increments in one call.
    expect(await seen()).toEqual([100, 40]);
    // In call order: the 10 calls on a key see 1, 2, … 10.
    expect(advanced.map((result) => result.value)).toEqual(
      Array.from({ length: 100 }, (_, i) => BigInt(Math.floor(i / 10) + 1)),
    );
    expect(incremented.at(-1)).toBe(BigInt([4, 8, 12, 16, 20, 24, 28, 32, 36, 40].reduce((a, b) => a + b, 0)));
  });

  it('keeps the bound exact inside a batch: 50 advances with max 30 apply exactly 30', async () => {
    const { counters, seen } = await backendSeen();
    const results = await Promise.all(Array.from({ length: 50 }, () => advanceOnce(counters, 'bounded', 30n)));
    expect(results.filter((result) => result.applied)).toHaveLength(30);
    expect(await seen()).toEqual([50]);
    expect((await counters.get('bounded'))?.value).toBe(30n);
  });

  it('fails only the call whose key Redis refuses; the others in its batch apply', async () => {
    const { counters, keyPrefix } = await backendSeen();
    await client.lpush(`${keyPrefix}a-list`, 'x'); // WRONGTYPE for GET
    await client.set(`${keyPrefix}not-a-number`, 'abc', 'PX', 60_000);
    const settled = await Promise.allSettled([
      advanceOnce(counters, 'fine-1'),
      advanceOnce(counters, 'a-list'),
      counters.increment('fine-2', 5n, { ttlMs: 60_000 }),
      advanceOnce(counters, 'not-a-number'),
      advanceOnce(counters, 'fine-1'),
    ]);
    expect(settled.map((result) => result.status)).toEqual([
      'fulfilled',
      'rejected',
      'fulfilled',
      'rejected',
      'fulfilled',
    ]);
    const rejected = settled.filter((result) => result.status === 'rejected') as PromiseRejectedResult[];
    for (const { reason } of rejected) expect(reason).toBeInstanceOf(BackendUnavailableError);
    expect((settled[4] as PromiseFulfilledResult<{ value: bigint }>).value.value).toBe(2n);
    expect((await counters.get('fine-2'))?.value).toBe(5n);
  });

  it('sends chunks of at most batchOpsMax calls, and every call alone with batchOpsMax 1', async () => {
    const chunked = await backendSeen(4);
    await Promise.all(Array.from({ length: 10 }, (_, i) => advanceOnce(chunked.counters, `c${i}`)));
    // 10 calls in one turn: chunks of 4, 4 and 2.
    expect(await chunked.seen()).toEqual([4, 4, 2]);
    const alone = await backendSeen(1);
    await Promise.all(Array.from({ length: 3 }, (_, i) => advanceOnce(alone.counters, `s${i}`)));
    expect(await alone.seen()).toEqual([1, 1, 1]);
    expect(() => redisBackend({ client, batchOpsMax: redisBatchOpsMax + 1 })).toThrow(/batchOpsMax/);
    expect(() => redisBackend({ client, batchOpsMax: 0 })).toThrow(/batchOpsMax/);
  });
});
