import { afterEach, describe, expect, it, vi } from 'vitest';
import { memoryBackend } from '../adapters/memory/index.js';
import { BackendUnavailableError, InvalidCounterInputError } from '../errors.js';
import { fixedWindow } from '../limiters/fixed-window.js';
import { slidingWindow } from '../limiters/sliding-window.js';
import { brokenBackend } from '../limiters/test-support.js';
import { tokenBucket } from '../limiters/token-bucket.js';
import { ManualClock } from '../ports/clock.js';
import type { RateLimiter } from '../ports/rate-limiter.js';
import type { LimiterFailureEvent } from './failure-policy.js';
import { failurePolicyDecisionTimeoutMsDefault, withFailurePolicy } from './failure-policy.js';

const start = Date.UTC(2026, 0, 1);

function brokenLimiter(error: Error = new BackendUnavailableError('redis', new Error('ECONNREFUSED'))) {
  const backend = brokenBackend(error);
  return { backend, limiter: fixedWindow({ backend, limit: 5, windowMs: 1_000 }) };
}

describe('withFailurePolicy', () => {
  it('passes decisions through untouched while the backend works', async () => {
    const clock = new ManualClock(start);
    const inner = fixedWindow({ backend: memoryBackend({ clock }), limit: 1, windowMs: 1_000, clock });
    const events: LimiterFailureEvent[] = [];
    const limiter = withFailurePolicy(inner, { policy: 'fail-open', onFailure: (e) => events.push(e) });
    expect(limiter).toMatchObject({ algorithm: 'fixed-window', limit: 1 });
    expect(await limiter.consume('a')).toEqual({
      allowed: true,
      limit: 1,
      remaining: 0,
      resetAtMs: start + 1_000,
      retryAfterMs: 0,
    });
    expect((await limiter.consume('a')).allowed).toBe(false);
    expect(events).toEqual([]);
  });

  it('fail-closed (the default) refuses and reports every failure', async () => {
    const clock = new ManualClock(start);
    const { backend, limiter: inner } = brokenLimiter();
    const events: LimiterFailureEvent[] = [];
    const limiter = withFailurePolicy(inner, { onFailure: (e) => events.push(e), clock });
    for (let i = 0; i < 3; i++) {
      expect(await limiter.consume('a')).toEqual({
        allowed: false,
        limit: 5,
        remaining: 0,
        resetAtMs: start + 1_000,
        retryAfterMs: 1_000,
        degraded: 'fail-closed',
      });
    }
    expect(backend.calls).toBe(3);
    expect(events).toHaveLength(3);
    expect(events[0]).toMatchObject({ policy: 'fail-closed', algorithm: 'fixed-window', key: 'a' });
    expect(events[0]?.error).toBeInstanceOf(BackendUnavailableError);
  });

  it('fail-closed honours failClosedRetryAfterMs', async () => {
    const limiter = withFailurePolicy(brokenLimiter().limiter, {
      policy: 'fail-closed',
      failClosedRetryAfterMs: 30_000,
    });
    expect(await limiter.consume('a')).toMatchObject({ allowed: false, retryAfterMs: 30_000, degraded: 'fail-closed' });
  });

  it('fail-open admits and reports', async () => {
    const events: LimiterFailureEvent[] = [];
    const limiter = withFailurePolicy(brokenLimiter(new Error('socket hang up')).limiter, {
      policy: 'fail-open',
      onFailure: (e) => events.push(e),
    });
    expect(await limiter.consume('a', 2)).toMatchObject({
      allowed: true,
      limit: 5,
      remaining: 3,
      retryAfterMs: 0,
      degraded: 'fail-open',
    });
    expect(events).toHaveLength(1);
    expect(events[0]?.error).toMatchObject({ message: 'socket hang up' });
  });

  it('insurance decides with the in-memory limiter while the backend is down', async () => {
    const clock = new ManualClock(start);
    const insurance = fixedWindow({ backend: memoryBackend({ clock }), limit: 2, windowMs: 1_000, clock });
    const events: LimiterFailureEvent[] = [];
    const limiter = withFailurePolicy(brokenLimiter().limiter, {
      policy: 'insurance',
      insurance,
      onFailure: (e) => events.push(e),
    });
    const decisions = [await limiter.consume('a'), await limiter.consume('a'), await limiter.consume('a')];
    expect(decisions.map((d) => [d.allowed, d.degraded])).toEqual([
      [true, 'insurance'],
      [true, 'insurance'],
      [false, 'insurance'],
    ]);
    expect(decisions[2]).toMatchObject({ limit: 2, retryAfterMs: 1_000 });
    expect(events.map((e) => e.policy)).toEqual(['insurance', 'insurance', 'insurance']);
  });

  it.each([
    ['fixed-window', (b: ReturnType<typeof brokenBackend>) => fixedWindow({ backend: b, limit: 3, windowMs: 1_000 })],
    [
      'sliding-window',
      (b: ReturnType<typeof brokenBackend>) => slidingWindow({ backend: b, limit: 3, windowMs: 1_000 }),
    ],
    [
      'token-bucket',
      (b: ReturnType<typeof brokenBackend>) => tokenBucket({ backend: b, capacity: 3, refillIntervalMs: 1_000 }),
    ],
  ])('works for %s', async (algorithm, make) => {
    const events: LimiterFailureEvent[] = [];
    const limiter = withFailurePolicy(make(brokenBackend()), { onFailure: (e) => events.push(e) });
    expect(await limiter.consume('a')).toMatchObject({ allowed: false, degraded: 'fail-closed' });
    expect(events[0]?.algorithm).toBe(algorithm);
  });

  describe('decides within decisionTimeoutMs when the limiter does not answer', () => {
    const hanging = (): RateLimiter & { late: (() => void)[] } => {
      const late: (() => void)[] = [];
      return {
        algorithm: 'fixed-window',
        limit: 4,
        late,
        consume: () =>
          new Promise((_resolve, reject) => {
            late.push(() => reject(new Error('answered after the deadline')));
          }),
        reset: async () => {},
      };
    };

    afterEach(() => {
      vi.useRealTimers();
    });

    it.each([
      ['fail-closed', { allowed: false, degraded: 'fail-closed', retryAfterMs: 1_000 }],
      ['fail-open', { allowed: true, degraded: 'fail-open', retryAfterMs: 0 }],
      ['insurance', { allowed: true, degraded: 'insurance', retryAfterMs: 0 }],
    ] as const)('%s', async (policy, expected) => {
      vi.useFakeTimers();
      const inner = hanging();
      const clock = new ManualClock(start);
      const events: LimiterFailureEvent[] = [];
      const limiter = withFailurePolicy(inner, {
        policy,
        insurance:
          policy === 'insurance'
            ? fixedWindow({ backend: memoryBackend({ clock }), limit: 4, windowMs: 1_000, clock })
            : undefined,
        decisionTimeoutMs: 150,
        onFailure: (e) => events.push(e),
        clock,
      });
      let decided = false;
      const decision = limiter.consume('a').finally(() => {
        decided = true;
      });
      await vi.advanceTimersByTimeAsync(149);
      expect(decided).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      expect(await decision).toMatchObject(expected);
      expect(events).toHaveLength(1);
      expect(events[0]?.error).toBeInstanceOf(BackendUnavailableError);
      expect(events[0]?.error).toMatchObject({ message: expect.stringContaining('no decision within 150 ms') });
      // The late answer is dropped (no unhandled rejection).
      for (const answer of inner.late) answer();
      await vi.advanceTimersByTimeAsync(0);
    });

    it(`defaults to ${failurePolicyDecisionTimeoutMsDefault} ms, and clears its timer when the limiter answers`, async () => {
      vi.useFakeTimers();
      const limiter = withFailurePolicy(hanging(), { policy: 'fail-open' });
      const decision = limiter.consume('a');
      await vi.advanceTimersByTimeAsync(failurePolicyDecisionTimeoutMsDefault);
      expect(await decision).toMatchObject({ allowed: true, degraded: 'fail-open' });
      const clock = new ManualClock(start);
      const working = withFailurePolicy(
        fixedWindow({ backend: memoryBackend({ clock }), limit: 1, windowMs: 1_000, clock }),
      );
      expect(await working.consume('a')).toMatchObject({ allowed: true });
      expect(vi.getTimerCount()).toBe(0);
    });
  });

  it('lets input errors propagate, before any backend call, without calling onFailure', async () => {
    const { backend, limiter: inner } = brokenLimiter();
    const events: LimiterFailureEvent[] = [];
    const limiter = withFailurePolicy(inner, { policy: 'fail-open', onFailure: (e) => events.push(e) });
    await expect(limiter.consume('')).rejects.toBeInstanceOf(InvalidCounterInputError);
    await expect(limiter.consume('a', 0)).rejects.toMatchObject({ code: 'invalid_amount' });
    expect(backend.calls).toBe(0);
    expect(events).toEqual([]);
  });

  it('reset clears the insurance limiter too', async () => {
    const clock = new ManualClock(start);
    const primary = fixedWindow({ backend: memoryBackend({ clock }), limit: 1, windowMs: 1_000, clock });
    const insurance = fixedWindow({ backend: memoryBackend({ clock }), limit: 1, windowMs: 1_000, clock });
    const limiter = withFailurePolicy(primary, { policy: 'insurance', insurance });
    await insurance.consume('a');
    await primary.consume('a');
    await limiter.reset('a');
    expect((await insurance.consume('a')).allowed).toBe(true);
    expect((await primary.consume('a')).allowed).toBe(true);
  });

  describe('rejects bad options with invalid_option', () => {
    const limiter = fixedWindow({ backend: memoryBackend(), limit: 1, windowMs: 1_000 });
    it.each([
      ['no limiter', undefined, {}],
      ['not a limiter', { consume: 1 }, {}],
      ['unknown policy', limiter, { policy: 'fail-soft' }],
      ['insurance without an insurance limiter', limiter, { policy: 'insurance' }],
      ['insurance limiter with fail-open', limiter, { policy: 'fail-open', insurance: limiter }],
      ['onFailure not a function', limiter, { onFailure: 'log' }],
      ['failClosedRetryAfterMs 0', limiter, { failClosedRetryAfterMs: 0 }],
      ['failClosedRetryAfterMs negative', limiter, { failClosedRetryAfterMs: -1 }],
      ['decisionTimeoutMs 0', limiter, { decisionTimeoutMs: 0 }],
      ['decisionTimeoutMs 1.5', limiter, { decisionTimeoutMs: 1.5 }],
      ['decisionTimeoutMs over the max', limiter, { decisionTimeoutMs: 60_001 }],
    ])('%s', (_name, inner, options) => {
      expect(() => withFailurePolicy(inner as RateLimiter, options as never)).toThrowError(
        expect.objectContaining({ name: 'InvalidCounterInputError', code: 'invalid_option' }),
      );
    });
  });
});
