// Quick start for @arrakis/atomic-counter: a rate-limited Hono route, a daily spend cap and a nonce store.
// CI runs it through examples/quick-start.test.ts (`node_modules/.bin/vitest run packages/atomic-counter/examples`).
import { pathToFileURL } from 'node:url';
import {
  memoryBackend,
  nonceStore,
  SpendCapExceededError,
  slidingWindow,
  spendCap,
  withFailurePolicy,
} from '@arrakis/atomic-counter';
import { rateLimit } from '@arrakis/atomic-counter/hono';
import { Hono } from 'hono';

export async function quickStart() {
  // One backend for everything. In production: sqliteBackend, redisBackend or postgresBackend.
  const backend = memoryBackend();

  // At most 2 requests per user in any 60 s; refuse (503) rather than guess if the backend is down.
  const limiter = withFailurePolicy(slidingWindow({ backend, limit: 2, windowMs: 60_000 }), {
    policy: 'fail-closed',
    onFailure: (event) => console.warn('rate limiter backend failed', event.error),
  });
  const app = new Hono();
  app.use('/v1/*', rateLimit({ limiter, key: (c) => c.req.header('x-user-id') }));
  app.get('/v1/hello', (c) => c.json({ hello: 'world' }));

  const statuses: number[] = [];
  let retryAfter: string | null = null;
  for (let i = 0; i < 3; i++) {
    const res = await app.request('/v1/hello', { headers: { 'x-user-id': 'alice' } });
    statuses.push(res.status);
    retryAfter = res.headers.get('Retry-After');
  }

  // At most $5 per account per UTC day, in micro-USD.
  const cap = spendCap({ backend, capMicro: 5_000_000n, period: 'day-utc' });
  await cap.record('account:42', 3_000_000n);
  let refusedCode: string | null = null;
  try {
    await cap.record('account:42', 2_500_000n);
  } catch (error) {
    if (!(error instanceof SpendCapExceededError)) throw error;
    refusedCode = error.code;
  }
  const { remainingMicro } = await cap.usage('account:42');

  // A payment nonce is accepted once.
  const nonces = nonceStore({ backend, ttlMs: 24 * 3_600_000, scope: 'x402' });
  const firstClaim = await nonces.claim('0x5f3a9c');
  const replayClaim = await nonces.claim('0x5f3a9c');

  return { statuses, retryAfter, refusedCode, remainingMicro, firstClaim, replayClaim };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(await quickStart());
  // { statuses: [ 200, 200, 429 ], retryAfter: '60', refusedCode: 'spend_cap_exceeded',
  //   remainingMicro: 2000000n, firstClaim: true, replayClaim: false }
}
