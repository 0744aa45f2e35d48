import type { CounterBackend } from '@arrakis/atomic-counter';
import { redisBackend } from '@arrakis/atomic-counter/redis';
import { errorBodySchema } from '@arrakis/e2e-contracts';
import { afterEach, describe, expect, it } from 'vitest';
import { makeAppFixture } from './testing/app-fixture.js';

describe('per-IP rate limit', () => {
  it('answers 429 with RateLimit-* and Retry-After once the limit is used, and admits again next window', async () => {
    const f = await makeAppFixture({ env: { RATE_LIMIT_IP_PER_MINUTE: '3' } });
    // Start at a window boundary so the window end is known.
    f.clock.set(Math.ceil(f.clock.nowMs() / 60_000) * 60_000);
    for (const remaining of ['2', '1', '0']) {
      const ok = await f.get('/openapi.json');
      expect(ok.status).toBe(200);
      expect(ok.headers.get('ratelimit-limit')).toBe('3');
      expect(ok.headers.get('ratelimit-remaining')).toBe(remaining);
      expect(ok.headers.get('ratelimit-reset')).toBe('60');
    }
    f.clock.advance(15_000);
    const refused = await f.get('/openapi.json');
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('45');
    expect(refused.headers.get('ratelimit-remaining')).toBe('0');
    expect(errorBodySchema.parse(await refused.json())).toMatchObject({
      error: 'rate_limited',
      details: { limit: 3, retryAfterMs: 45_000 },
    });
    f.clock.advance(45_000);
    expect((await f.get('/openapi.json')).status).toBe(200);
  });

  it('counts unknown routes and failed auth too, but never the probes', async () => {
    const f = await makeAppFixture({ env: { RATE_LIMIT_IP_PER_MINUTE: '2' } });
    expect((await f.get('/nope')).status).toBe(404);
    expect((await f.get('/v1/whoami')).status).toBe(401);
    expect((await f.get('/v1/whoami', { token: await f.token('arrakis-api') })).status).toBe(429);
    for (let i = 0; i < 5; i += 1) {
      for (const probe of ['/health', '/ready', '/metrics']) {
        const response = await f.get(probe);
        expect(response.status, probe).toBe(200);
        expect(response.headers.get('ratelimit-limit'), probe).toBeNull();
      }
    }
  });

  it('ignores X-Forwarded-For by default (it is client-controlled)', async () => {
    const f = await makeAppFixture({ env: { RATE_LIMIT_IP_PER_MINUTE: '1' } });
    expect((await f.get('/openapi.json', { headers: { 'x-forwarded-for': '198.51.100.1' } })).status).toBe(200);
    expect((await f.get('/openapi.json', { headers: { 'x-forwarded-for': '198.51.100.2' } })).status).toBe(429);
  });

  it('with TRUST_PROXY_HOPS=1 limits each forwarded client address separately', async () => {
    const f = await makeAppFixture({ env: { RATE_LIMIT_IP_PER_MINUTE: '1', TRUST_PROXY_HOPS: '1' } });
    const as = (chain: string) => f.get('/openapi.json', { headers: { 'x-forwarded-for': chain } });
    expect((await as('198.51.100.1')).status).toBe(200);
    expect((await as('198.51.100.2')).status).toBe(200);
    // A client-supplied first entry does not change who it is: the proxy appended the real address last.
    expect((await as('203.0.113.9, 198.51.100.1')).status).toBe(429);
  });

  it('RATE_LIMIT_IP_PER_MINUTE=0 turns the IP limit off', async () => {
    const f = await makeAppFixture({ env: { RATE_LIMIT_IP_PER_MINUTE: '0' } });
    for (let i = 0; i < 5; i += 1) expect((await f.get('/openapi.json')).status).toBe(200);
  });
});

describe('per-principal rate limit', () => {
  it('limits each principal separately, after auth', async () => {
    const f = await makeAppFixture({ env: { RATE_LIMIT_PRINCIPAL_PER_MINUTE: '2' } });
    const alice = await f.token('arrakis-api', 'alice');
    const bob = await f.token('arrakis-api', 'bob');
    expect((await f.get('/v1/whoami', { token: alice })).status).toBe(200);
    const second = await f.get('/v1/whoami', { token: alice });
    expect(second.status).toBe(200);
    expect(second.headers.get('ratelimit-remaining')).toBe('0');
    expect((await f.get('/v1/whoami', { token: alice })).status).toBe(429);
    expect((await f.get('/v1/whoami', { token: bob })).status).toBe(200);
    // The same sub under another audience is another principal.
    expect((await f.get('/v1/whoami', { token: await f.token('arrakis-admin', 'alice') })).status).toBe(200);
    // Rejected tokens never reach the principal limit.
    expect((await f.get('/v1/whoami', { token: 'garbage' })).status).toBe(401);
  });

  it('with RATE_LIMIT_ALGORITHM=token-bucket refills continuously', async () => {
    const f = await makeAppFixture({
      env: { RATE_LIMIT_PRINCIPAL_PER_MINUTE: '2', RATE_LIMIT_ALGORITHM: 'token-bucket' },
    });
    const token = await f.token('arrakis-api', 'alice', { ttlSeconds: 600 });
    expect((await f.get('/v1/whoami', { token })).status).toBe(200);
    expect((await f.get('/v1/whoami', { token })).status).toBe(200);
    const refused = await f.get('/v1/whoami', { token });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('30');
    f.clock.advance(30_000);
    expect((await f.get('/v1/whoami', { token })).status).toBe(200);
    expect((await f.get('/v1/whoami', { token })).status).toBe(429);
  });
});

describe('counter backend failure (a real Redis client pointed at a closed port)', () => {
  let backend: CounterBackend | undefined;
  afterEach(async () => {
    await backend?.close();
    backend = undefined;
  });
  const unreachable = () => {
    backend = redisBackend({ url: 'redis://127.0.0.1:1' });
    return backend;
  };

  it('fail-closed (the default) answers 503 rate_limiter_unavailable, logs a warning and counts the failure', async () => {
    const f = await makeAppFixture({ counters: unreachable });
    expect(f.config.rateLimit.failurePolicy).toBe('fail-closed');
    const response = await f.get('/openapi.json');
    expect(response.status).toBe(503);
    expect(errorBodySchema.parse(await response.json()).error).toBe('rate_limiter_unavailable');
    expect(f.logs.some((l) => l.level === 40 && l.policy === 'fail-closed' && l.limiter === 'ip')).toBe(true);
    const metrics = await (await f.get('/metrics')).text();
    expect(metrics).toContain('rate_limiter_backend_failures_total{policy="fail-closed",limiter="ip"} 1');
    // Liveness does not depend on the counter backend; readiness reports it.
    expect((await f.get('/health')).status).toBe(200);
    const ready = await f.get('/ready');
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({
      status: 'not_ready',
      dependencies: [
        { name: 'counters', status: 'down' },
        { name: 'ledger', status: 'up' },
      ],
    });
  });

  it('fail-open admits the request', async () => {
    const f = await makeAppFixture({ env: { RATE_LIMIT_FAILURE_POLICY: 'fail-open' }, counters: unreachable });
    expect((await f.get('/openapi.json')).status).toBe(200);
    expect(await (await f.get('/metrics')).text()).toContain(
      'rate_limiter_backend_failures_total{policy="fail-open",limiter="ip"} 1',
    );
  });

  it('insurance enforces the limit in memory while the backend is down', async () => {
    const f = await makeAppFixture({
      env: { RATE_LIMIT_IP_PER_MINUTE: '2', RATE_LIMIT_FAILURE_POLICY: 'insurance' },
      counters: unreachable,
    });
    expect((await f.get('/openapi.json')).status).toBe(200);
    expect((await f.get('/openapi.json')).status).toBe(200);
    expect((await f.get('/openapi.json')).status).toBe(429);
    expect(await (await f.get('/metrics')).text()).toContain(
      'rate_limiter_backend_failures_total{policy="insurance",limiter="ip"} 3',
    );
  });
});
