// The gateway's rate limits with its counters on a real Redis Cluster (REDIS_CLUSTER_URLS): 3 masters and 3 replicas
// on loopback, started by this file and stopped at the end.
import type { CounterBackend } from '@arrakis/atomic-counter';
import { errorBodySchema, type RedisCluster, redisServerAvailable, startRedisCluster } from '@arrakis/e2e-contracts';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from './config.js';
import { counterBackendKind, openCounterBackend } from './counters.js';
import { makeAppFixture } from './testing/app-fixture.js';

const available = await redisServerAvailable();
const cluster: RedisCluster | undefined = available ? await startRedisCluster() : undefined;
const opened: CounterBackend[] = [];
afterAll(async () => {
  for (const counters of opened) await counters.close();
  await cluster?.stop();
});

// Skipped only where redis-server/redis-cli are not installed (CI has them: it runs the single Redis too).
describe.skipIf(!available)(
  'gateway rate limits on a Redis Cluster (REDIS_CLUSTER_URLS; needs redis-server and redis-cli)',
  () => {
    const clusterEnv = () => ({ REDIS_CLUSTER_URLS: (cluster as RedisCluster).urls.slice(0, 3).join(',') });

    it('opens its counters on the cluster and refuses past the per-IP and per-principal limits', async () => {
      const config = parseConfig({ NODE_ENV: 'test', ...clusterEnv() });
      expect(counterBackendKind(config)).toBe('redis');
      const counters = await openCounterBackend(config, { nowMs: () => Date.now() }, () => {});
      opened.push(counters);
      const prefix = `cluster-${Date.now()}`;
      const f = await makeAppFixture({
        env: { RATE_LIMIT_IP_PER_MINUTE: '1000', RATE_LIMIT_PRINCIPAL_PER_MINUTE: '4', RATE_LIMIT_KEY_PREFIX: prefix },
        counters: () => counters,
      });
      // Start inside a window so all calls count in one.
      f.clock.set(Math.ceil(f.clock.nowMs() / 60_000) * 60_000 + 1_000);
      const token = await f.token('arrakis-api', 'cluster-user');
      const statuses = await Promise.all(
        Array.from({ length: 7 }, async () => (await f.get('/v1/whoami', { token })).status),
      );
      expect(statuses.filter((status) => status === 200)).toHaveLength(4);
      expect(statuses.filter((status) => status === 429)).toHaveLength(3);
      const refused = await f.get('/v1/whoami', { token });
      expect(errorBodySchema.parse(await refused.json())).toMatchObject({
        error: 'rate_limited',
        details: { limit: 4 },
      });
      // Another principal has its own budget (its own key, likely on another master).
      expect((await f.get('/v1/whoami', { token: await f.token('arrakis-api', 'other-user') })).status).toBe(200);
    });

    it('refuses REDIS_URL together with REDIS_CLUSTER_URLS, and malformed seed lists, at start', () => {
      expect(() => parseConfig({ REDIS_URL: 'redis://127.0.0.1:6379', ...clusterEnv() })).toThrow(ConfigError);
      expect(() => parseConfig({ REDIS_CLUSTER_URLS: 'redis://127.0.0.1:7000,http://127.0.0.1:7001' })).toThrow(
        ConfigError,
      );
      expect(() => parseConfig({ REDIS_CLUSTER_URLS: 'redis://127.0.0.1:7000,,redis://127.0.0.1:7001' })).toThrow(
        ConfigError,
      );
    });
  },
);
