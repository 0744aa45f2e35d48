import { describe, expect, it } from 'vitest';
import { memoryBackend } from '../adapters/memory/index.js';
import { InvalidCounterInputError } from '../errors.js';
import { ManualClock } from '../ports/clock.js';
import type { CounterBackend } from '../ports/counter-backend.js';
import { fixedWindow, fixedWindowAttemptsMax } from './fixed-window.js';
import { assertCountedInTheWindowTheWriteLandsIn, trapBackend } from './test-support.js';

const start = Date.UTC(2026, 0, 1); // a multiple of every window used below

function setup(limit = 3, windowMs = 1_000) {
  const clock = new ManualClock(start);
  const backend = memoryBackend({ clock });
  return { clock, backend, limiter: fixedWindow({ backend, limit, windowMs, clock }) };
}

describe('fixedWindow', () => {
  it('admits up to the limit per window, then refuses until the window ends', async () => {
    const { clock, limiter } = setup(3, 1_000);
    clock.advance(250);
    const decisions = [];
    for (let i = 0; i < 4; i++) decisions.push(await limiter.consume('alice'));
    expect(decisions.map((d) => d.allowed)).toEqual([true, true, true, false]);
    expect(decisions.map((d) => d.remaining)).toEqual([2, 1, 0, 0]);
    expect(decisions[0]).toEqual({ allowed: true, limit: 3, remaining: 2, resetAtMs: start + 1_000, retryAfterMs: 0 });
    expect(decisions[3]).toEqual({
      allowed: false,
      limit: 3,
      remaining: 0,
      resetAtMs: start + 1_000,
      retryAfterMs: 750,
    });
    clock.advance(749);
    expect((await limiter.consume('alice')).allowed).toBe(false);
    clock.advance(1);
    expect(await limiter.consume('alice')).toMatchObject({ allowed: true, remaining: 2, resetAtMs: start + 2_000 });
  });

  it('keeps keys apart and counts the cost', async () => {
    const { limiter } = setup(10, 60_000);
    expect(await limiter.consume('alice', 7)).toMatchObject({ allowed: true, remaining: 3 });
    expect(await limiter.consume('alice', 4)).toMatchObject({ allowed: false, remaining: 3 });
    expect(await limiter.consume('alice', 3)).toMatchObject({ allowed: true, remaining: 0 });
    expect(await limiter.consume('bob', 10)).toMatchObject({ allowed: true, remaining: 0 });
  });

  it('stores prefix:key:windowIndex expiring at the window end, and never counts a refusal', async () => {
    const clock = new ManualClock(start + 61_000);
    const backend = memoryBackend({ clock });
    const limiter = fixedWindow({ backend, limit: 2, windowMs: 60_000, prefix: 'api', clock });
    await limiter.consume('alice', 2);
    await limiter.consume('alice', 1);
    const index = Math.floor((start + 61_000) / 60_000);
    expect(await backend.get(`api:alice:${index}`)).toEqual({ value: 2n, expiresAtMs: (index + 1) * 60_000 });
  });

  it('reset forgets the current window', async () => {
    const { limiter } = setup(1, 1_000);
    await limiter.consume('alice');
    expect((await limiter.consume('alice')).allowed).toBe(false);
    await limiter.reset('alice');
    expect((await limiter.consume('alice')).allowed).toBe(true);
  });

  describe('a call whose window closes while it is in flight is counted in the window its write lands in', () => {
    it('the clock moves across the boundary between the time read and the write: admitted in the new window', async () => {
      const clock = new ManualClock(start + 2_000 + 5);
      await assertCountedInTheWindowTheWriteLandsIn({
        backend: memoryBackend({ clock }),
        windowMs: 1_000,
        firstWindowEndMs: start + 1_000,
        laterMs: () => clock.nowMs(),
        prefix: 'rl:fw',
      });
    });

    it('the write lands in time but the reply comes after the boundary: decided again in the new window', async () => {
      const clock = new ManualClock(start + 999);
      const inner = memoryBackend({ clock });
      let lateReplies = 1;
      const slowReply: CounterBackend = {
        ...inner,
        advance: async (key, options) => {
          const result = await inner.advance(key, options);
          if (lateReplies-- > 0) clock.advance(2); // the reply crosses the boundary
          return result;
        },
      };
      const limiter = fixedWindow({ backend: slowReply, limit: 5, windowMs: 1_000, clock });
      expect(await limiter.consume('alice')).toEqual({
        allowed: true,
        limit: 5,
        remaining: 4,
        resetAtMs: start + 2_000,
        retryAfterMs: 0,
      });
      const index = start / 1_000;
      expect((await inner.get(`rl:fw:alice:${index + 1}`))?.value).toBe(1n);
      // The write that landed in time over-counts a window that is over, and nothing else.
      clock.set(start + 999);
      expect((await inner.get(`rl:fw:alice:${index}`))?.value).toBe(1n);
    });

    it(`refuses with retryAfterMs ≥ 1 when all ${fixedWindowAttemptsMax} attempts outlast their window`, async () => {
      const clock = new ManualClock(start + 900);
      const inner = memoryBackend({ clock });
      let advances = 0;
      const slow: CounterBackend = {
        ...inner,
        advance: async (key, options) => {
          advances++;
          clock.advance(1_100); // every round trip is longer than the window
          return inner.advance(key, options);
        },
      };
      const limiter = fixedWindow({ backend: slow, limit: 5, windowMs: 1_000, clock });
      const decision = await limiter.consume('alice');
      expect(advances).toBe(fixedWindowAttemptsMax);
      expect(decision).toEqual({
        allowed: false,
        limit: 5,
        remaining: 0,
        resetAtMs: start + 5_000,
        retryAfterMs: start + 5_000 - clock.nowMs(),
      });
      expect(decision.retryAfterMs).toBeGreaterThanOrEqual(1);
    });

    it('a refusal in time carries the time left from when the reply came, at least 1 ms', async () => {
      const clock = new ManualClock(start + 500);
      const inner = memoryBackend({ clock });
      const slow: CounterBackend = {
        ...inner,
        advance: async (key, options) => {
          clock.advance(499); // the reply comes in the window's last millisecond
          return inner.advance(key, options);
        },
      };
      const limiter = fixedWindow({ backend: slow, limit: 1, windowMs: 1_000, clock });
      clock.set(start);
      expect(await limiter.consume('alice')).toMatchObject({ allowed: true });
      clock.set(start + 500);
      expect(await limiter.consume('alice')).toMatchObject({ allowed: false, retryAfterMs: 1 });
    });
  });

  describe('rejects bad options with invalid_option', () => {
    const backend = memoryBackend();
    it.each([
      ['limit 0', { backend, limit: 0, windowMs: 1_000 }],
      ['limit -1', { backend, limit: -1, windowMs: 1_000 }],
      ['limit 1.5', { backend, limit: 1.5, windowMs: 1_000 }],
      ['limit 2^53', { backend, limit: 2 ** 53, windowMs: 1_000 }],
      ['limit NaN', { backend, limit: Number.NaN, windowMs: 1_000 }],
      ['windowMs 0', { backend, limit: 1, windowMs: 0 }],
      ['windowMs -1000', { backend, limit: 1, windowMs: -1_000 }],
      ['windowMs 0.5', { backend, limit: 1, windowMs: 0.5 }],
      ['windowMs too long', { backend, limit: 1, windowMs: 11 * 365 * 24 * 3_600_000 }],
      ['empty prefix', { backend, limit: 1, windowMs: 1_000, prefix: '' }],
      ['prefix with space', { backend, limit: 1, windowMs: 1_000, prefix: 'a b' }],
      ['no backend', { limit: 1, windowMs: 1_000 }],
      ['bad clock', { backend, limit: 1, windowMs: 1_000, clock: {} }],
    ])('%s', (_name, options) => {
      expect(() => fixedWindow(options as never)).toThrowError(
        expect.objectContaining({ name: 'InvalidCounterInputError', code: 'invalid_option' }),
      );
    });
  });

  describe('rejects bad input before any backend call', () => {
    const cases: [string, unknown, unknown, string][] = [
      ['empty key', '', 1, 'invalid_key'],
      ['non-string key', 42, 1, 'invalid_key'],
      ['oversized key', 'k'.repeat(510), 1, 'invalid_key'],
      ['zero cost', 'alice', 0, 'invalid_amount'],
      ['negative cost', 'alice', -1, 'invalid_amount'],
      ['fractional cost', 'alice', 1.5, 'invalid_amount'],
      ['NaN cost', 'alice', Number.NaN, 'invalid_amount'],
      ['string cost', 'alice', '1', 'invalid_amount'],
      ['cost above the limit', 'alice', 11, 'invalid_amount'],
    ];
    it.each(cases)('%s', async (_name, key, cost, code) => {
      const backend = trapBackend();
      const limiter = fixedWindow({ backend, limit: 10, windowMs: 1_000 });
      const error = await limiter.consume(key as string, cost as number).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidCounterInputError);
      expect(error).toMatchObject({ code });
      expect(backend.calls).toEqual([]);
    });

    it('reset with a bad key', async () => {
      const backend = trapBackend();
      const limiter = fixedWindow({ backend, limit: 10, windowMs: 1_000 });
      await expect(limiter.reset('')).rejects.toMatchObject({ code: 'invalid_key' });
      expect(backend.calls).toEqual([]);
    });
  });
});
