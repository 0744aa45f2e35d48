// The fixed-window boundary rule on Redis (needs REDIS_URL): Redis keeps expiry with its own clock, so the write
// of a limiter that read its clock in a window that has closed lands in an expired key (SET PXAT in the past).
import { randomUUID } from 'node:crypto';
import { afterAll, describe, it } from 'vitest';
import { redisBackend } from '../adapters/redis/index.js';
import type { CounterBackend } from '../ports/counter-backend.js';
import { assertCountedInTheWindowTheWriteLandsIn } from './test-support.js';

const redisUrl = process.env.REDIS_URL;

describe.skipIf(!redisUrl)('fixedWindow at a window boundary on Redis (needs REDIS_URL)', () => {
  let backend: CounterBackend | undefined;
  afterAll(async () => {
    await backend?.close();
  });

  it('a write that lands after its window closed is counted in the window it lands in, and admitted', async () => {
    backend = redisBackend({ url: redisUrl as string, keyPrefix: `arrakis-test:${randomUUID().slice(0, 8)}:` });
    const windowMs = 60_000;
    // The limiter reads the last ms of the window before the previous one: closed for a minute on the server's
    // clock too (margin for clock skew), so Redis drops that write at once. Every later reading is real time.
    const currentWindowStartMs = Math.floor(Date.now() / windowMs) * windowMs;
    await assertCountedInTheWindowTheWriteLandsIn({
      backend,
      windowMs,
      firstWindowEndMs: currentWindowStartMs - windowMs,
      laterMs: () => Date.now(),
      prefix: 'rl:fw',
    });
  });
});
