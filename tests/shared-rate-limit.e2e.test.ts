import { randomBytes } from 'node:crypto';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGatewayClient, mintUserToken } from '@arrakis/e2e-contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { devKeyFileName } from '../apps/gateway/src/auth/dev-key.js';
import { type GatewayProcess, readDevJwk, spawnGateway, stopIfRunning } from '../apps/gateway/src/testing/processes.js';

/** The principal limit both processes enforce together. */
const limitPerMinute = 7;
/** Requests sent to each process. */
const requestsPerProcess = 10;

/** Waits (at most 10 s) when the minute-aligned window is about to roll over, so every request falls in one window. */
async function awayFromWindowEdge(): Promise<void> {
  const intoWindowMs = Date.now() % 60_000;
  if (intoWindowMs > 50_000) await new Promise((r) => setTimeout(r, 60_000 - intoWindowMs + 50));
}

function describeSharedLimit(
  name: string,
  backend: 'redis' | 'postgres',
  sharedEnv: () => Record<string, string> | undefined,
): void {
  const env = sharedEnv();
  describe.skipIf(env === undefined)(name, () => {
    // Each process has its own DATA_DIR (one embedded store per folder: a second process is refused its lock) and
    // the same dev key, copied, so one token works on both.
    const dataDirs: string[] = [];
    const gateways: GatewayProcess[] = [];

    beforeAll(async () => {
      for (let i = 0; i < 2; i += 1) dataDirs.push(await mkdtemp(join(tmpdir(), 'arrakis-gateway-shared-')));
      const common = {
        ...env,
        RATE_LIMIT_KEY_PREFIX: `e2e-${randomBytes(6).toString('hex')}`,
        RATE_LIMIT_PRINCIPAL_PER_MINUTE: String(limitPerMinute),
        RATE_LIMIT_IP_PER_MINUTE: '10000',
        RATE_LIMIT_FAILURE_POLICY: 'fail-closed',
      };
      gateways.push(await spawnGateway({ ...common, DATA_DIR: dataDirs[0]! }));
      await copyFile(join(dataDirs[0]!, devKeyFileName), join(dataDirs[1]!, devKeyFileName));
      gateways.push(await spawnGateway({ ...common, DATA_DIR: dataDirs[1]! }));
    });

    afterAll(async () => {
      for (const gateway of gateways) await stopIfRunning(gateway);
      for (const dir of dataDirs) await rm(dir, { recursive: true, force: true });
    });

    it(`admits exactly ${limitPerMinute} requests per minute for one principal across both processes`, async () => {
      const devJwk = await readDevJwk(dataDirs[0]!);
      const token = await mintUserToken({ privateKey: devJwk, sub: `shared-${randomBytes(4).toString('hex')}` });
      const clients = gateways.map((g) => createGatewayClient({ baseUrl: g.url, token }));
      for (const [index, client] of clients.entries()) {
        const ready = await client.ready();
        expect(ready.status).toBe(200);
        const listening = (gateways[index]?.stdout() ?? '')
          .split('\n')
          .filter((line) => line.startsWith('{'))
          .map((line) => JSON.parse(line) as { msg: string; counters?: string })
          .find((entry) => entry.msg === 'listening');
        expect(listening?.counters).toBe(backend);
      }
      await awayFromWindowEdge();
      const results = await Promise.all(
        Array.from({ length: requestsPerProcess }, () => clients.map((client) => client.whoami())).flat(),
      );
      const statuses = results.map((r) => r.status);
      expect(statuses.filter((s) => s === 200).length).toBe(limitPerMinute);
      expect(statuses.filter((s) => s === 429).length).toBe(2 * requestsPerProcess - limitPerMinute);
      for (const result of results) {
        if (!result.ok) expect(result.body.error).toBe('rate_limited');
      }
      // Both processes refused: neither kept a private count.
      const refusedBy = new Set(results.map((r, i) => (r.status === 429 ? i % 2 : -1)).filter((i) => i >= 0));
      expect(refusedBy.size).toBe(2);
    });
  });
}

describeSharedLimit('two gateway processes sharing REDIS_URL (needs REDIS_URL)', 'redis', () =>
  process.env.REDIS_URL === undefined ? undefined : { REDIS_URL: process.env.REDIS_URL },
);

describeSharedLimit('two gateway processes sharing DATABASE_URL, no Redis (needs DATABASE_URL)', 'postgres', () =>
  process.env.DATABASE_URL === undefined ? undefined : { DATABASE_URL: process.env.DATABASE_URL },
);
