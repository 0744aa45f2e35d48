// The Redis backend on a real Redis Cluster: 3 masters and 3 replicas on loopback, started by this file
// (`redis-server --cluster-enabled yes` on six free ports, `redis-cli --cluster create`) and stopped at the end.
import { randomUUID } from 'node:crypto';
import {
  describeCounterBackend,
  type RedisCluster,
  redisServerAvailable,
  startRedisCluster,
} from '@arrakis/e2e-contracts';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidCounterInputError } from '../../errors.js';
import { fixedWindow } from '../../limiters/fixed-window.js';
import { redisBackend, redisClusterSeedsMax } from './index.js';

const available = await redisServerAvailable();
const cluster: RedisCluster | undefined = available ? await startRedisCluster() : undefined;
afterAll(() => cluster?.stop());
const seeds = () => (cluster as RedisCluster).urls.slice(0, 2);
const runPrefix = `arrakis-cluster-test:${randomUUID().slice(0, 8)}:`;
let prefixes = 0;
let lastPrefix = '';

describeCounterBackend(
  'redis cluster',
  () => {
    lastPrefix = `${runPrefix}${++prefixes}:`;
    return redisBackend({ clusterUrls: seeds(), keyPrefix: lastPrefix });
  },
  {
    clock: 'real',
    reopen: () => redisBackend({ clusterUrls: seeds(), keyPrefix: lastPrefix }),
    ...(available ? {} : { skip: 'needs redis-server and redis-cli' }),
  },
);

// Skipped only where redis-server/redis-cli are not installed (CI has them: it runs the single Redis too).
describe.skipIf(!available)(
  'redisBackend on a Redis Cluster (3 masters, 3 replicas; needs redis-server and redis-cli)',
  () => {
    let admin: Cluster;
    beforeAll(async () => {
      admin = new Cluster(seeds().map((url) => ({ host: '127.0.0.1', port: Number(new URL(url).port) })));
      await admin.ping();
    });
    afterAll(() => admin.quit());

    it('spreads counters over the masters (each key its own slot) and counts every one exactly', async () => {
      const counters = redisBackend({ clusterUrls: seeds(), keyPrefix: `${runPrefix}spread:` });
      const keys = Array.from({ length: 60 }, (_, i) => `k${i}`);
      await Promise.all(keys.flatMap((key) => [1, 2, 3].map(() => counters.increment(key, 1n, { ttlMs: 60_000 }))));
      for (const key of keys) expect((await counters.get(key))?.value).toBe(3n);
      const owners = new Set<string>();
      for (const node of admin.nodes('master')) {
        const [, found] = await node.scan('0', 'MATCH', `${runPrefix}spread:*`, 'COUNT', 1000);
        if (found.length > 0) owners.add(`${node.options.host}:${node.options.port}`);
      }
      expect(owners.size).toBe(3);
      await counters.close();
    });

    it('limits on the cluster: a fixed window admits exactly its limit across concurrent calls', async () => {
      const counters = redisBackend({ clusterUrls: seeds(), keyPrefix: `${runPrefix}limit:` });
      const limiter = fixedWindow({ backend: counters, limit: 25, windowMs: 60_000 });
      const decisions = await Promise.all(Array.from({ length: 40 }, () => limiter.consume('alice')));
      expect(decisions.filter((decision) => decision.allowed)).toHaveLength(25);
      await counters.close();
    });

    it('keeps a hash-tagged prefix on one slot (one master holds all of a tenant’s keys)', async () => {
      const counters = redisBackend({ clusterUrls: seeds(), keyPrefix: `${runPrefix}{tenant-7}:` });
      await Promise.all(['a', 'b', 'c', 'd'].map((key) => counters.increment(key, 2n, { ttlMs: 60_000 })));
      const slots = new Set(
        await Promise.all(['a', 'b', 'c', 'd'].map((key) => admin.cluster('KEYSLOT', `${runPrefix}{tenant-7}:${key}`))),
      );
      expect(slots.size).toBe(1);
      expect((await counters.get('d'))?.value).toBe(2n);
      await counters.close();
    });

    it('refuses bad clusterUrls before connecting', () => {
      const refused = (clusterUrls: unknown) => {
        expect(() => redisBackend({ clusterUrls: clusterUrls as string[] })).toThrow(InvalidCounterInputError);
      };
      refused([]);
      refused(Array.from({ length: redisClusterSeedsMax + 1 }, (_, i) => `redis://127.0.0.1:${7000 + i}`));
      refused(['http://127.0.0.1:7000']);
      refused(['redis://a:x@127.0.0.1:7000', 'redis://a:y@127.0.0.1:7001']);
      refused(['redis://127.0.0.1:7000', 'rediss://127.0.0.1:7001']);
      expect(() => redisBackend({ clusterUrls: seeds(), url: 'redis://127.0.0.1:6379' })).toThrow(
        /exactly one of client, url or clusterUrls/,
      );
    });
  },
);
