import { describe, expect, it } from 'vitest';
import { memoryBackend } from '../adapters/memory/index.js';
import { InvalidCounterInputError } from '../errors.js';
import { ManualClock } from '../ports/clock.js';
import type { CounterBackend } from '../ports/counter-backend.js';
import { trapBackend } from './test-support.js';
import { tokenBucket } from './token-bucket.js';

const start = Date.UTC(2026, 0, 1);

function setup(capacity: number, refillIntervalMs: number, refillTokens?: number) {
  const clock = new ManualClock(start);
  const backend = memoryBackend({ clock });
  const limiter = tokenBucket({
    backend,
    capacity,
    refillIntervalMs,
    clock,
    ...(refillTokens ? { refillTokens } : {}),
  });
  return { clock, backend, limiter };
}

describe('tokenBucket', () => {
  it('allows a burst of capacity, then one token per interval', async () => {
    const { clock, limiter } = setup(3, 1_000);
    expect(await limiter.consume('alice')).toEqual({
      allowed: true,
      limit: 3,
      remaining: 2,
      resetAtMs: start + 1_000,
      retryAfterMs: 0,
    });
    expect(await limiter.consume('alice', 2)).toMatchObject({ allowed: true, remaining: 0, resetAtMs: start + 3_000 });
    expect(await limiter.consume('alice')).toEqual({
      allowed: false,
      limit: 3,
      remaining: 0,
      resetAtMs: start + 3_000,
      retryAfterMs: 1_000,
    });
    clock.advance(999);
    expect((await limiter.consume('alice')).allowed).toBe(false);
    clock.advance(1);
    expect(await limiter.consume('alice')).toMatchObject({ allowed: true, remaining: 0 });
  });

  it('refills exactly at fractional rates (3 tokens per 1000 ms)', async () => {
    const { clock, limiter } = setup(6, 1_000, 3);
    expect((await limiter.consume('alice', 6)).allowed).toBe(true);
    clock.advance(333);
    expect(await limiter.consume('alice')).toMatchObject({ allowed: false, retryAfterMs: 1 }); // 1/3 s is 333.33 ms
    clock.advance(1);
    expect((await limiter.consume('alice')).allowed).toBe(true);
    clock.advance(666);
    // At 1000 ms exactly 3 tokens came back; one was spent at 334 ms.
    expect(await limiter.consume('alice', 2)).toMatchObject({ allowed: true, remaining: 0 });
    expect((await limiter.consume('alice')).allowed).toBe(false);
  });

  it('a cost larger than what is left waits for exactly enough tokens', async () => {
    const { clock, limiter } = setup(10, 100, 1);
    await limiter.consume('alice', 8);
    const refused = await limiter.consume('alice', 5);
    expect(refused).toMatchObject({ allowed: false, remaining: 2, retryAfterMs: 300 });
    clock.advance(300);
    expect(await limiter.consume('alice', 5)).toMatchObject({ allowed: true, remaining: 0 });
  });

  it('never holds more than capacity after a long idle time', async () => {
    const { clock, limiter } = setup(2, 10);
    clock.advance(1_000_000);
    expect((await limiter.consume('alice', 2)).allowed).toBe(true);
    expect((await limiter.consume('alice')).allowed).toBe(false);
  });

  it('stores the theoretical arrival time, living one burst past it', async () => {
    const { backend, limiter } = setup(4, 1_000);
    await limiter.consume('alice', 3);
    expect(await backend.get('rl:tb:alice:tat')).toEqual({ value: BigInt(start + 3_000), expiresAtMs: start + 8_000 });
  });

  it('reset refills the bucket', async () => {
    const { limiter } = setup(1, 60_000);
    await limiter.consume('alice');
    expect((await limiter.consume('alice')).allowed).toBe(false);
    await limiter.reset('alice');
    expect((await limiter.consume('alice')).allowed).toBe(true);
  });

  it('refuses a decision whose round trip outlasted a full refill', async () => {
    const clock = new ManualClock(start);
    const inner = memoryBackend({ clock });
    const slow: CounterBackend = {
      ...inner,
      advance: async (key, options) => {
        const result = await inner.advance(key, options);
        clock.advance(5_000);
        return result;
      },
    };
    const limiter = tokenBucket({ backend: slow, capacity: 2, refillIntervalMs: 1_000, clock });
    // A retry decides afresh at once; the refusal still says 1 ms, never 0 (Retry-After: 0).
    expect(await limiter.consume('alice')).toMatchObject({ allowed: false, retryAfterMs: 1 });
  });

  describe('rejects bad options with invalid_option', () => {
    const backend = memoryBackend();
    it.each([
      ['capacity 0', { backend, capacity: 0, refillIntervalMs: 1_000 }],
      ['capacity -2', { backend, capacity: -2, refillIntervalMs: 1_000 }],
      ['capacity 2.5', { backend, capacity: 2.5, refillIntervalMs: 1_000 }],
      ['refillIntervalMs 0', { backend, capacity: 1, refillIntervalMs: 0 }],
      ['refillIntervalMs -1', { backend, capacity: 1, refillIntervalMs: -1 }],
      ['refillIntervalMs 1.5', { backend, capacity: 1, refillIntervalMs: 1.5 }],
      ['refillTokens 0', { backend, capacity: 1, refillIntervalMs: 1_000, refillTokens: 0 }],
      [
        'needs more than 53 bits',
        { backend, capacity: 1_000_000, refillIntervalMs: 1_000_003, refillTokens: 1_000_000 },
      ],
      ['prefix with newline', { backend, capacity: 1, refillIntervalMs: 1_000, prefix: 'a\nb' }],
    ])('%s', (_name, options) => {
      expect(() => tokenBucket(options as never)).toThrowError(
        expect.objectContaining({ name: 'InvalidCounterInputError', code: 'invalid_option' }),
      );
    });
  });

  describe('rejects bad input before any backend call', () => {
    it.each([
      ['empty key', '', 1, 'invalid_key'],
      ['undefined key', undefined, 1, 'invalid_key'],
      ['oversized key', 'x'.repeat(600), 1, 'invalid_key'],
      ['zero cost', 'alice', 0, 'invalid_amount'],
      ['negative cost', 'alice', -1, 'invalid_amount'],
      ['Infinity cost', 'alice', Number.POSITIVE_INFINITY, 'invalid_amount'],
      ['cost above capacity', 'alice', 6, 'invalid_amount'],
    ])('%s', async (_name, key, cost, code) => {
      const backend = trapBackend();
      const limiter = tokenBucket({ backend, capacity: 5, refillIntervalMs: 1_000 });
      const error = await limiter.consume(key as string, cost as number).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidCounterInputError);
      expect(error).toMatchObject({ code });
      expect(backend.calls).toEqual([]);
    });
  });
});
