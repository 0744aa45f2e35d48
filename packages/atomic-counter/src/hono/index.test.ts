import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { memoryBackend } from '../adapters/memory/index.js';
import { CounterError } from '../errors.js';
import { withFailurePolicy } from '../failure-policy/failure-policy.js';
import { fixedWindow } from '../limiters/fixed-window.js';
import { brokenBackend, trapBackend } from '../limiters/test-support.js';
import { tokenBucket } from '../limiters/token-bucket.js';
import { ManualClock } from '../ports/clock.js';
import type { RateLimitDecision, RateLimiter } from '../ports/rate-limiter.js';
import type { RateLimitEnv } from './index.js';
import { rateLimit, retryAfterSecondsMin } from './index.js';

const start = Date.UTC(2026, 0, 1);

function appWith(limiter: RateLimiter, clock: ManualClock, extra: Partial<Parameters<typeof rateLimit>[0]> = {}) {
  const app = new Hono<RateLimitEnv>();
  app.onError((error, c) => {
    const status = error instanceof CounterError && error.code.startsWith('invalid_') ? 400 : 500;
    return c.json({ error: error instanceof CounterError ? error.code : 'internal' }, status);
  });
  app.use('/api/*', rateLimit({ limiter, key: (c) => c.req.header('x-user'), clock, ...extra }));
  app.get('/api/hello', (c) => c.json({ hello: 'world', remaining: c.get('rateLimit').remaining }));
  app.get('/api/raw', () => new Response('raw body', { headers: { 'x-raw': '1' } }));
  return app;
}

describe('rateLimit middleware', () => {
  it('sets RateLimit-* headers on admitted requests and exposes the decision', async () => {
    const clock = new ManualClock(start + 400);
    const app = appWith(fixedWindow({ backend: memoryBackend({ clock }), limit: 2, windowMs: 1_000, clock }), clock);
    const res = await app.request('/api/hello', { headers: { 'x-user': 'alice' } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ hello: 'world', remaining: 1 });
    expect(res.headers.get('RateLimit-Limit')).toBe('2');
    expect(res.headers.get('RateLimit-Remaining')).toBe('1');
    expect(res.headers.get('RateLimit-Reset')).toBe('1'); // 600 ms, rounded up
    expect(res.headers.get('Retry-After')).toBeNull();
  });

  it('answers 429 with Retry-After and the JSON body once the limit is reached', async () => {
    const clock = new ManualClock(start);
    const limiter = tokenBucket({ backend: memoryBackend({ clock }), capacity: 1, refillIntervalMs: 2_500, clock });
    const app = appWith(limiter, clock);
    expect((await app.request('/api/hello', { headers: { 'x-user': 'alice' } })).status).toBe(200);
    const res = await app.request('/api/hello', { headers: { 'x-user': 'alice' } });
    expect(res.status).toBe(429);
    expect(res.headers.get('Retry-After')).toBe('3');
    expect(res.headers.get('RateLimit-Limit')).toBe('1');
    expect(res.headers.get('RateLimit-Remaining')).toBe('0');
    expect(res.headers.get('RateLimit-Reset')).toBe('3');
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual({
      error: 'rate_limited',
      message: 'rate limit of 1 exceeded; retry in 3 s',
      details: { limit: 1, retryAfterMs: 2_500 },
    });
    // Another user is not affected.
    expect((await app.request('/api/hello', { headers: { 'x-user': 'bob' } })).status).toBe(200);
  });

  it('never answers Retry-After: 0 — a refusal of a few ms still says 1 s', async () => {
    const clock = new ManualClock(start + 999);
    const app = appWith(fixedWindow({ backend: memoryBackend({ clock }), limit: 1, windowMs: 1_000, clock }), clock);
    clock.set(start);
    expect((await app.request('/api/hello', { headers: { 'x-user': 'alice' } })).status).toBe(200);
    clock.set(start + 999);
    const res = await app.request('/api/hello', { headers: { 'x-user': 'alice' } });
    expect(res.status).toBe(429);
    expect(res.headers.get('Retry-After')).toBe('1');
    expect(await res.json()).toMatchObject({ details: { limit: 1, retryAfterMs: 1 } });
    // Even a limiter that breaks the rule (retryAfterMs 0 on a refusal) gets Retry-After: 1.
    const zero: RateLimiter = {
      algorithm: 'fixed-window',
      limit: 1,
      consume: async () => ({ allowed: false, limit: 1, remaining: 0, resetAtMs: start, retryAfterMs: 0 }),
      reset: async () => {},
    };
    const refused = await appWith(zero, clock).request('/api/hello', { headers: { 'x-user': 'alice' } });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('Retry-After')).toBe(String(retryAfterSecondsMin));
  });

  it('skips limiting when the key is null or undefined', async () => {
    const clock = new ManualClock(start);
    const backend = trapBackend();
    const app = appWith(fixedWindow({ backend, limit: 1, windowMs: 1_000, clock }), clock);
    app.get('/api/anon', (c) => c.text('anonymous'));
    const res = await app.request('/api/anon');
    expect(res.status).toBe(200);
    expect(res.headers.get('RateLimit-Limit')).toBeNull();
    expect(backend.calls).toEqual([]);

    const nullKey = new Hono();
    nullKey.use(rateLimit({ limiter: fixedWindow({ backend, limit: 1, windowMs: 1_000 }), key: () => null }));
    nullKey.get('/', (c) => c.text('ok'));
    expect((await nullKey.request('/')).status).toBe(200);
    expect(backend.calls).toEqual([]);
  });

  it('keeps the headers on a raw Response returned by the handler', async () => {
    const clock = new ManualClock(start);
    const app = appWith(fixedWindow({ backend: memoryBackend({ clock }), limit: 5, windowMs: 60_000, clock }), clock);
    const res = await app.request('/api/raw', { headers: { 'x-user': 'alice' } });
    expect(await res.text()).toBe('raw body');
    expect(res.headers.get('x-raw')).toBe('1');
    expect(res.headers.get('RateLimit-Remaining')).toBe('4');
    expect(res.headers.get('RateLimit-Reset')).toBe('60');
  });

  it('charges the cost, prefixes the key and reports every decision', async () => {
    const clock = new ManualClock(start);
    const backend = memoryBackend({ clock });
    const decisions: RateLimitDecision[] = [];
    const app = appWith(fixedWindow({ backend, limit: 10, windowMs: 1_000, clock }), clock, {
      cost: (c) => Number(c.req.header('x-cost') ?? '1'),
      prefix: 'hello',
      onDecision: (_c, d) => decisions.push(d),
    });
    const res = await app.request('/api/hello', { headers: { 'x-user': 'alice', 'x-cost': '4' } });
    expect(res.headers.get('RateLimit-Remaining')).toBe('6');
    expect((await backend.get(`rl:fw:hello:alice:${start / 1_000}`))?.value).toBe(4n);
    expect(decisions).toHaveLength(1);
    const tooMuch = await app.request('/api/hello', { headers: { 'x-user': 'alice', 'x-cost': '7' } });
    expect(tooMuch.status).toBe(429);
    expect(decisions.map((d) => d.allowed)).toEqual([true, false]);
  });

  it('a fail-closed outage answers 503 rate_limiter_unavailable', async () => {
    const clock = new ManualClock(start);
    const limiter = withFailurePolicy(fixedWindow({ backend: brokenBackend(), limit: 5, windowMs: 1_000, clock }), {
      failClosedRetryAfterMs: 1_500,
      clock,
    });
    const res = await appWith(limiter, clock).request('/api/hello', { headers: { 'x-user': 'alice' } });
    expect(res.status).toBe(503);
    expect(res.headers.get('Retry-After')).toBe('2');
    expect(await res.json()).toEqual({
      error: 'rate_limiter_unavailable',
      message: 'the rate limiter is unavailable and fails closed; retry in 2 s',
      details: { limit: 5, retryAfterMs: 1_500 },
    });
  });

  it('a fail-open outage lets the request through', async () => {
    const clock = new ManualClock(start);
    const limiter = withFailurePolicy(fixedWindow({ backend: brokenBackend(), limit: 5, windowMs: 1_000, clock }), {
      policy: 'fail-open',
      clock,
    });
    const res = await appWith(limiter, clock).request('/api/hello', { headers: { 'x-user': 'alice' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('RateLimit-Limit')).toBe('5');
  });

  it('bad input (an oversized key, a bad cost) reaches app.onError as an InvalidCounterInputError', async () => {
    const clock = new ManualClock(start);
    const backend = trapBackend();
    const app = appWith(fixedWindow({ backend, limit: 5, windowMs: 1_000, clock }), clock, {
      cost: (c) => Number(c.req.header('x-cost') ?? '1'),
    });
    const longKey = await app.request('/api/hello', { headers: { 'x-user': 'u'.repeat(600) } });
    expect(longKey.status).toBe(400);
    expect(await longKey.json()).toEqual({ error: 'invalid_key' });
    const badCost = await app.request('/api/hello', { headers: { 'x-user': 'alice', 'x-cost': '-1' } });
    expect(badCost.status).toBe(400);
    expect(await badCost.json()).toEqual({ error: 'invalid_amount' });
    expect(backend.calls).toEqual([]);
  });

  describe('validates options when built', () => {
    const limiter = fixedWindow({ backend: memoryBackend(), limit: 1, windowMs: 1_000 });
    const key = (): string => 'a';
    it.each<[string, unknown]>([
      ['no options', undefined],
      ['no limiter', { key }],
      ['no key function', { limiter }],
      ['key not a function', { limiter, key: 'user' }],
      ['cost not a function', { limiter, key, cost: 2 }],
      ['onDecision not a function', { limiter, key, onDecision: true }],
      ['bad prefix', { limiter, key, prefix: '' }],
      ['bad clock', { limiter, key, clock: Date }],
    ])('%s', (_name, options) => {
      expect(() => rateLimit(options as never)).toThrowError(expect.objectContaining({ code: 'invalid_option' }));
    });
  });

  it('returns a function named rateLimit', () => {
    const limiter = fixedWindow({ backend: memoryBackend(), limit: 1, windowMs: 1_000 });
    expect(rateLimit({ limiter, key: () => 'a' }).name).toBe('rateLimit');
  });
});
