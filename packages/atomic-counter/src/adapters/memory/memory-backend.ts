import { InvalidCounterInputError } from '../../errors.js';
import type { Clock } from '../../ports/clock.js';
import { systemClock } from '../../ports/clock.js';
import type {
  AdvanceOptions,
  AdvanceResult,
  CounterBackend,
  CounterSnapshot,
  ExpiryOptions,
  IncrementOptions,
} from '../../ports/counter-backend.js';
import {
  assertAdvanceOptions,
  assertAmount,
  assertExpiry,
  assertKey,
  counterValueMax,
  expiryAtMs,
} from '../../validate.js';

/** Options of {@link memoryBackend}. */
export interface MemoryBackendOptions {
  /** Time source; inject a `ManualClock` in tests. */
  clock?: Clock;
  /** Most keys held; the soonest-expiring expired keys are dropped first, then an error. Default 1 000 000. */
  keysMax?: number;
}

interface Entry {
  value: bigint;
  expiresAtMs: number;
}

/**
 * An in-process counter backend: exact and atomic within one process, lost on exit.
 * For tests, single-process services, and as an insurance limiter's store.
 *
 * @example
 * const counters = memoryBackend();
 * await counters.increment('hits:alice', 1n, { ttlMs: 60_000 }); // 1n
 */
export function memoryBackend(options: MemoryBackendOptions = {}): CounterBackend {
  const clock = options.clock ?? systemClock;
  const keysMax = options.keysMax ?? 1_000_000;
  const entries = new Map<string, Entry>();

  function live(key: string, nowMs: number): Entry | undefined {
    const entry = entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAtMs <= nowMs) {
      entries.delete(key);
      return undefined;
    }
    return entry;
  }

  function put(key: string, entry: Entry, nowMs: number): void {
    if (!entries.has(key) && entries.size >= keysMax) {
      for (const [k, e] of entries) if (e.expiresAtMs <= nowMs) entries.delete(k);
      if (entries.size >= keysMax) {
        throw new InvalidCounterInputError('invalid_option', `memory backend holds ${keysMax} live keys (keysMax)`);
      }
    }
    entries.set(key, entry);
  }

  return {
    name: 'memory',
    async increment(key: string, by: bigint, opts: IncrementOptions): Promise<bigint> {
      assertKey(key);
      assertAmount('by', by);
      assertExpiry(opts);
      const nowMs = clock.nowMs();
      const entry = live(key, nowMs);
      const next = (entry?.value ?? 0n) + by;
      if (next > counterValueMax) {
        throw new InvalidCounterInputError('invalid_amount', `increment would take "${key}" past ${counterValueMax}`);
      }
      if (entry) entry.value = next;
      else put(key, { value: next, expiresAtMs: expiryAtMs(opts, nowMs) }, nowMs);
      return next;
    },
    async advance(key: string, opts: AdvanceOptions): Promise<AdvanceResult> {
      assertKey(key);
      assertAdvanceOptions(opts);
      const nowMs = clock.nowMs();
      const entry = live(key, nowMs);
      const current = entry?.value ?? 0n;
      const floor = opts.floor ?? 0n;
      const next = (current > floor ? current : floor) + opts.by;
      if (next > opts.max) {
        return { applied: false, value: current, expiresAtMs: entry?.expiresAtMs ?? null };
      }
      const expiresAtMs = entry && opts.expiry === 'keep' ? entry.expiresAtMs : expiryAtMs(opts, nowMs);
      if (entry) {
        entry.value = next;
        entry.expiresAtMs = expiresAtMs;
      } else put(key, { value: next, expiresAtMs }, nowMs);
      return { applied: true, value: next, expiresAtMs };
    },
    async get(key: string): Promise<CounterSnapshot | null> {
      assertKey(key);
      const entry = live(key, clock.nowMs());
      return entry ? { value: entry.value, expiresAtMs: entry.expiresAtMs } : null;
    },
    async reset(key: string): Promise<void> {
      assertKey(key);
      entries.delete(key);
    },
    async setIfAbsent(key: string, value: bigint, opts: ExpiryOptions): Promise<boolean> {
      assertKey(key);
      assertAmount('value', value);
      assertExpiry(opts);
      const nowMs = clock.nowMs();
      if (live(key, nowMs)) return false;
      put(key, { value, expiresAtMs: expiryAtMs(opts, nowMs) }, nowMs);
      return true;
    },
    async close(): Promise<void> {
      entries.clear();
    },
  };
}
