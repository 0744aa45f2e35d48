// Test helpers shared by the limiter, spend-cap, nonce and middleware tests. Not exported by the package.
import type { Scheduler } from 'fast-check';
import { expect } from 'vitest';
import type { Clock, ManualClock } from '../ports/clock.js';
import type { CounterBackend } from '../ports/counter-backend.js';
import type { RateLimitDecision, RateLimiter } from '../ports/rate-limiter.js';
import { fixedWindow } from './fixed-window.js';

/** A backend that records and refuses every call: proves validation happens before any I/O. */
export function trapBackend(): CounterBackend & { calls: string[] } {
  const calls: string[] = [];
  const trap =
    (method: string) =>
    (..._args: unknown[]): never => {
      calls.push(method);
      throw new Error(`backend.${method} must not be called`);
    };
  return {
    name: 'trap',
    calls,
    increment: trap('increment'),
    advance: trap('advance'),
    get: trap('get'),
    reset: trap('reset'),
    setIfAbsent: trap('setIfAbsent'),
    close: trap('close'),
  };
}

/** A backend whose every call fails like a lost connection. */
export function brokenBackend(error: Error = new Error('connection refused')): CounterBackend & { calls: number } {
  const backend = {
    name: 'broken',
    calls: 0,
    async increment(): Promise<bigint> {
      backend.calls++;
      throw error;
    },
    async advance(): Promise<never> {
      backend.calls++;
      throw error;
    },
    async get(): Promise<never> {
      backend.calls++;
      throw error;
    },
    async reset(): Promise<void> {
      backend.calls++;
      throw error;
    },
    async setIfAbsent(): Promise<boolean> {
      backend.calls++;
      throw error;
    },
    async close(): Promise<void> {},
  };
  return backend;
}

/**
 * Wraps a backend so that each call's request and reply are separate tasks of a fast-check scheduler: the
 * scheduler picks the order in which requests reach the inner backend and replies reach the caller, and the
 * clock may move in between (like network latency).
 */
export function scheduledBackend(inner: CounterBackend, s: Scheduler): CounterBackend {
  const hop = async <T>(label: string, call: () => Promise<T>): Promise<T> => {
    await s.schedule(Promise.resolve(), `${label}:request`);
    const result = await call();
    await s.schedule(Promise.resolve(), `${label}:reply`);
    return result;
  };
  return {
    name: `scheduled-${inner.name}`,
    increment: (key, by, options) => hop(`increment ${key}`, () => inner.increment(key, by, options)),
    advance: (key, options) => hop(`advance ${key}`, () => inner.advance(key, options)),
    get: (key) => hop(`get ${key}`, () => inner.get(key)),
    reset: (key) => hop(`reset ${key}`, () => inner.reset(key)),
    setIfAbsent: (key, value, options) => hop(`setIfAbsent ${key}`, () => inner.setIfAbsent(key, value, options)),
    close: () => inner.close(),
  };
}

/** A scheduler `act` that moves the clock by the next of `deltasMs` (cycling) before each scheduled step. */
export function clockAct(clock: ManualClock, deltasMs: readonly number[]): (f: () => Promise<void>) => Promise<void> {
  let step = 0;
  return async (f) => {
    if (deltasMs.length > 0) clock.advance(deltasMs[step++ % deltasMs.length] as number);
    await f();
  };
}

/**
 * Asserts the invariants every limiter decision keeps: `limit` echoed, `0 ≤ remaining ≤ limit`,
 * `retryAfterMs === 0` when allowed and `retryAfterMs ≥ 1` when refused (never a refusal that says "retry now").
 *
 * @example
 * assertDecisionShape(await limiter.consume('a', 2), 5);
 */
export function assertDecisionShape(decision: RateLimitDecision, limit: number): void {
  expect(decision.limit).toBe(limit);
  expect(decision.remaining).toBeGreaterThanOrEqual(0);
  expect(decision.remaining).toBeLessThanOrEqual(limit);
  if (decision.allowed) expect(decision.retryAfterMs).toBe(0);
  else expect(decision.retryAfterMs).toBeGreaterThanOrEqual(1);
}

/** One admitted call: its key, the clock when it started, the cost it counted (clamped to the limit) and its decision. */
export interface Admission {
  key: string;
  atMs: number;
  cost: number;
  decision: RateLimitDecision;
}

/**
 * Starts every call as a task of `scheduler` (which picks their order, interleaved with the backend's
 * request/reply hops of {@link scheduledBackend}), moves `clock` by the next of `deltasMs` before each step,
 * checks every decision with {@link assertDecisionShape}, and returns the admitted calls in the order they
 * were admitted. Each call's cost is clamped to `limit`; `atMs` is the clock when the call started.
 *
 * @example
 * const admitted = await consumeInterleaved({ limiter, calls, limit, scheduler: s, clock, deltasMs });
 */
export async function consumeInterleaved(options: {
  limiter: RateLimiter;
  calls: readonly { key: string; cost: number }[];
  limit: number;
  scheduler: Scheduler;
  clock: ManualClock;
  deltasMs: readonly number[];
}): Promise<Admission[]> {
  const { limiter, calls, limit, scheduler, clock, deltasMs } = options;
  const admitted: Admission[] = [];
  const pending = calls.map(({ key, cost }, i) =>
    scheduler.schedule(Promise.resolve(), `start ${i}`).then(async () => {
      const atMs = clock.nowMs();
      const clampedCost = Math.min(cost, limit);
      const decision = await limiter.consume(key, clampedCost);
      assertDecisionShape(decision, limit);
      if (decision.allowed) admitted.push({ key, atMs, cost: clampedCost, decision });
    }),
  );
  await scheduler.waitIdle(clockAct(clock, deltasMs));
  await Promise.all(pending);
  return admitted;
}

/**
 * For each step: moves `clock` by `advanceMs` and consumes `min(cost, limit)` on `key` (default `'a'`); on a
 * refusal asserts `retryAfterMs > 0`, that the same cost is still refused 1 ms before `retryAfterMs`, and that
 * it is admitted exactly at `retryAfterMs`.
 *
 * @example
 * await assertRetryAfterExact({ limiter, clock, limit, steps: [{ advanceMs: 0, cost: 3 }] });
 */
export async function assertRetryAfterExact(options: {
  limiter: RateLimiter;
  clock: ManualClock;
  limit: number;
  steps: readonly { advanceMs: number; cost: number }[];
  key?: string;
}): Promise<void> {
  const { limiter, clock, limit, steps, key = 'a' } = options;
  for (const step of steps) {
    clock.advance(step.advanceMs);
    const cost = Math.min(step.cost, limit);
    const d = await limiter.consume(key, cost);
    if (d.allowed) continue;
    expect(d.retryAfterMs).toBeGreaterThan(0);
    clock.advance(d.retryAfterMs - 1);
    expect((await limiter.consume(key, cost)).allowed).toBe(false);
    clock.advance(1);
    expect((await limiter.consume(key, cost)).allowed).toBe(true);
  }
}

/**
 * A clock whose first reading is `firstMs` and every later one `laterMs()`: time that moves across a window
 * boundary between a limiter's time read and its backend's write.
 */
export function clockSteppingAfterFirstRead(firstMs: number, laterMs: () => number): Clock {
  let reads = 0;
  return { nowMs: () => (reads++ === 0 ? firstMs : laterMs()) };
}

/**
 * The fixed-window boundary rule, on any backend: a `fixedWindow` limiter reads its clock in the last
 * millisecond of a window that has closed by the time its write reaches `backend` (`laterMs()` is past it, and the
 * backend keeps time with `laterMs` too, or with the real clock for Redis). The call must be counted in the window
 * its write lands in, and admitted: not refused with `retryAfterMs: 0`. `laterMs()` must be at or past
 * `firstWindowEndMs`, and stay in one window for the duration of the test.
 *
 * @example
 * await assertCountedInTheWindowTheWriteLandsIn({ backend, windowMs: 60_000, firstWindowEndMs, laterMs: Date.now });
 */
export async function assertCountedInTheWindowTheWriteLandsIn(options: {
  backend: CounterBackend;
  windowMs: number;
  /** End of the window the limiter's first clock reading falls in (that reading is its last millisecond). */
  firstWindowEndMs: number;
  laterMs: () => number;
  /** Key prefix of the limiter; unique per test run on a shared backend. */
  prefix: string;
}): Promise<void> {
  const { backend, windowMs, firstWindowEndMs, laterMs, prefix } = options;
  const limit = 1_000_000;
  const clock = clockSteppingAfterFirstRead(firstWindowEndMs - 1, laterMs);
  const limiter = fixedWindow({ backend, limit, windowMs, prefix, clock });
  const decision = await limiter.consume('alice');
  const landedWindowEndMs = (Math.floor(laterMs() / windowMs) + 1) * windowMs;
  expect(decision).toEqual({
    allowed: true,
    limit,
    remaining: limit - 1,
    resetAtMs: landedWindowEndMs,
    retryAfterMs: 0,
  });
  const landedIndex = landedWindowEndMs / windowMs - 1;
  expect(await backend.get(`${prefix}:alice:${landedIndex}`)).toEqual({
    value: 1n,
    expiresAtMs: landedWindowEndMs,
  });
  expect(await backend.get(`${prefix}:alice:${firstWindowEndMs / windowMs - 1}`)).toBeNull();
  expect(await limiter.consume('alice')).toMatchObject({ allowed: true, remaining: limit - 2 });
}
