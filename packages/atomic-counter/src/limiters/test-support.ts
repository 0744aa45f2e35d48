// Test helpers shared by the limiter, spend-cap, nonce and middleware tests. Not exported by the package.
import type { Scheduler } from 'fast-check';
import type { ManualClock } from '../ports/clock.js';
import type { CounterBackend } from '../ports/counter-backend.js';

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
