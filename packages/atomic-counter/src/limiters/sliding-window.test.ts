import { describe, expect, it } from 'vitest';
import { memoryBackend } from '../adapters/memory/index.js';
import { InvalidCounterInputError } from '../errors.js';
import { ManualClock } from '../ports/clock.js';
import type { CounterBackend } from '../ports/counter-backend.js';
import { sealMarker, slidingWindow, slidingWindowLimitMax } from './sliding-window.js';
import { trapBackend } from './test-support.js';

const start = Date.UTC(2026, 0, 1);

function setup(limit: number, windowMs: number, bucketMs?: number) {
  const clock = new ManualClock(start);
  const backend = memoryBackend({ clock });
  const limiter = slidingWindow({ backend, limit, windowMs, clock, ...(bucketMs === undefined ? {} : { bucketMs }) });
  return { clock, backend, limiter };
}

describe('slidingWindow', () => {
  it('never lets a burst straddle a window boundary (the fixed-window weakness)', async () => {
    const { clock, limiter } = setup(4, 1_000, 100);
    clock.advance(950);
    for (let i = 0; i < 4; i++) expect((await limiter.consume('alice')).allowed).toBe(true);
    clock.advance(100); // a fixed window would have reset here
    const refused = await limiter.consume('alice');
    expect(refused).toMatchObject({ allowed: false, remaining: 0 });
    // The four calls sit in bucket [900, 1000): released at 1000 + 1000 − 1.
    expect(refused.retryAfterMs).toBe(start + 1_999 - clock.nowMs());
    clock.advance(refused.retryAfterMs - 1);
    expect((await limiter.consume('alice')).allowed).toBe(false);
    clock.advance(1);
    expect(await limiter.consume('alice')).toMatchObject({ allowed: true, remaining: 3 });
  });

  it('releases usage bucket by bucket', async () => {
    const { clock, limiter } = setup(3, 300, 100);
    expect(await limiter.consume('alice')).toMatchObject({ allowed: true, remaining: 2, resetAtMs: start + 399 });
    clock.advance(100);
    expect(await limiter.consume('alice', 2)).toMatchObject({ allowed: true, remaining: 0, resetAtMs: start + 499 });
    clock.advance(150); // t = 250: both buckets still overlap (t − 300, t]
    const refused = await limiter.consume('alice');
    expect(refused).toMatchObject({ allowed: false, remaining: 0, resetAtMs: start + 499 });
    expect(refused.retryAfterMs).toBe(399 - 250); // the first bucket leaves the window at 399
    clock.advance(149);
    expect(await limiter.consume('alice')).toMatchObject({ allowed: true, remaining: 0 });
  });

  it('computes retryAfterMs for a cost that needs several buckets released', async () => {
    const { clock, limiter } = setup(5, 500, 100);
    await limiter.consume('alice', 2); // bucket 0
    clock.advance(100);
    await limiter.consume('alice', 2); // bucket 1
    clock.advance(100);
    await limiter.consume('alice', 1); // bucket 2
    const refused = await limiter.consume('alice', 4);
    expect(refused).toMatchObject({ allowed: false, remaining: 0 });
    // 4 fits once buckets 0 and 1 are gone: bucket 1 leaves the window at 200 + 500 − 1 = 699.
    expect(refused.retryAfterMs).toBe(699 - 200);
  });

  it('seals finished buckets so a late write to them is refused', async () => {
    const { clock, backend, limiter } = setup(10, 1_000, 100);
    await limiter.consume('alice', 3);
    clock.advance(100);
    await limiter.consume('alice');
    const bucket0 = await backend.get(`rl:sw:alice:${Math.floor(start / 100)}`);
    expect(bucket0?.value).toBe(sealMarker + 3n);
    const late = await backend.advance(`rl:sw:alice:${Math.floor(start / 100)}`, {
      by: 1n,
      max: 10n,
      expiresAtMs: start + 10_000,
    });
    expect(late.applied).toBe(false);
  });

  it('refuses a call that was overtaken by a later bucket (stale), without counting it', async () => {
    const clock = new ManualClock(start + 90);
    const inner = memoryBackend({ clock });
    let delayNextAdvance = false;
    const slow: CounterBackend = {
      ...inner,
      advance: async (key, options) => {
        if (delayNextAdvance && options.max < sealMarker) {
          delayNextAdvance = false;
          clock.advance(20);
          // Another instance, now in the next bucket, seals this one before the stale write lands.
          await slidingWindow({ backend: inner, limit: 5, windowMs: 1_000, bucketMs: 100, clock }).consume('alice');
        }
        return inner.advance(key, options);
      },
    };
    const limiter = slidingWindow({ backend: slow, limit: 5, windowMs: 1_000, bucketMs: 100, clock });
    delayNextAdvance = true;
    // Its clock is already in the next bucket: retry at once, but never with retryAfterMs 0 (Retry-After: 0).
    expect(await limiter.consume('alice')).toMatchObject({ allowed: false, retryAfterMs: 1 });
    expect((await inner.get(`rl:sw:alice:${Math.floor(start / 100)}`))?.value).toBe(sealMarker);
  });

  it('reset forgets every bucket of the window', async () => {
    const { clock, limiter } = setup(2, 1_000, 100);
    await limiter.consume('alice');
    clock.advance(300);
    await limiter.consume('alice');
    expect((await limiter.consume('alice')).allowed).toBe(false);
    await limiter.reset('alice');
    expect(await limiter.consume('alice', 2)).toMatchObject({ allowed: true, remaining: 0 });
  });

  it('defaults bucketMs to a tenth of the window', async () => {
    const { clock, limiter } = setup(1, 1_000);
    await limiter.consume('alice');
    clock.advance(999);
    const refused = await limiter.consume('alice');
    expect(refused.retryAfterMs).toBe(1_099 - 999);
  });

  describe('rejects bad options with invalid_option', () => {
    const backend = memoryBackend();
    it.each([
      ['limit 0', { backend, limit: 0, windowMs: 1_000 }],
      ['limit above 2^52 − 1', { backend, limit: slidingWindowLimitMax + 1, windowMs: 1_000 }],
      ['limit 0.5', { backend, limit: 0.5, windowMs: 1_000 }],
      ['windowMs 0', { backend, limit: 1, windowMs: 0 }],
      ['windowMs -5', { backend, limit: 1, windowMs: -5 }],
      ['bucketMs 0', { backend, limit: 1, windowMs: 1_000, bucketMs: 0 }],
      ['bucketMs above windowMs', { backend, limit: 1, windowMs: 1_000, bucketMs: 1_001 }],
      ['too many buckets', { backend, limit: 1, windowMs: 1_000, bucketMs: 9 }],
      ['prefix too long', { backend, limit: 1, windowMs: 1_000, prefix: 'p'.repeat(65) }],
    ])('%s', (_name, options) => {
      expect(() => slidingWindow(options as never)).toThrowError(
        expect.objectContaining({ name: 'InvalidCounterInputError', code: 'invalid_option' }),
      );
    });
  });

  describe('rejects bad input before any backend call', () => {
    it.each([
      ['empty key', '', 1, 'invalid_key'],
      ['oversized key', 'é'.repeat(300), 1, 'invalid_key'],
      ['zero cost', 'alice', 0, 'invalid_amount'],
      ['negative cost', 'alice', -3, 'invalid_amount'],
      ['fractional cost', 'alice', 0.1, 'invalid_amount'],
      ['cost above the limit', 'alice', 11, 'invalid_amount'],
    ])('%s', async (_name, key, cost, code) => {
      const backend = trapBackend();
      const limiter = slidingWindow({ backend, limit: 10, windowMs: 1_000 });
      const error = await limiter.consume(key as string, cost as number).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidCounterInputError);
      expect(error).toMatchObject({ code });
      expect(backend.calls).toEqual([]);
    });
  });
});
