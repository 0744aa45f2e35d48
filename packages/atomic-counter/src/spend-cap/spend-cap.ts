import { BackendUnavailableError, InvalidCounterInputError, SpendCapExceededError } from '../errors.js';
import {
  assertBackend,
  assertClock,
  assertOptionsObject,
  assertPositiveInteger,
  assertPrefix,
  counterKey,
  readClock,
  windowMsMax,
} from '../limiters/options.js';
import type { Clock } from '../ports/clock.js';
import { systemClock } from '../ports/clock.js';
import type { CounterBackend } from '../ports/counter-backend.js';
import { counterValueMax } from '../validate.js';

/** One hour in ms: the `hour` period, aligned to UTC hours. */
export const hourMs = 3_600_000;
/** One day in ms: the `day-utc` period, aligned to UTC midnight. */
export const dayMs = 86_400_000;
/** Most attempts `record` makes when the period ends while its write is in flight. */
export const recordAttemptsMax = 3;

/** A spend-cap period: a UTC hour, a UTC day, or any window aligned to epoch multiples of `windowMs`. */
export type SpendCapPeriod = 'hour' | 'day-utc' | { windowMs: number };

/** Options of {@link spendCap}. */
export interface SpendCapOptions {
  /** Where the period totals live; share it between instances for a global cap. */
  backend: CounterBackend;
  /** Most micro-USD spent per key and period; 1 to 2^53 − 1. */
  capMicro: bigint;
  /** The period the cap applies to. */
  period: SpendCapPeriod;
  /** Key namespace, 1–64 printable ASCII characters. Default `spend`. */
  prefix?: string;
  /** Time source; pass the same clock to the backend. Default: the wall clock. */
  clock?: Clock;
}

/** The answer of {@link SpendCap.check} and {@link SpendCap.record}. */
export interface SpendCapDecision {
  /** check: whether `amountMicro` fits now; record: always true (a refusal throws). */
  allowed: boolean;
  amountMicro: bigint;
  capMicro: bigint;
  /** Spent in the period: before the amount for check, after it for record. */
  usedMicro: bigint;
  /** `capMicro − usedMicro`, ≥ 0. */
  remainingMicro: bigint;
  /** Epoch ms when the period started. */
  periodStartMs: number;
  /** Epoch ms when the period ends and usage starts again from 0. */
  resetAtMs: number;
}

/** The current period's usage of one key. */
export interface SpendCapUsage {
  capMicro: bigint;
  usedMicro: bigint;
  remainingMicro: bigint;
  periodStartMs: number;
  resetAtMs: number;
}

/** A per-period spending cap; see {@link spendCap}. */
export interface SpendCap {
  /** The configured cap in micro-USD. */
  readonly capMicro: bigint;
  /** The period length in ms. */
  readonly windowMs: number;
  /** Read-only: would `amountMicro` fit in the current period? Records nothing. */
  check(key: string, amountMicro: bigint): Promise<SpendCapDecision>;
  /** Atomically records `amountMicro` when it fits; throws {@link SpendCapExceededError} (recording nothing) when not. */
  record(key: string, amountMicro: bigint): Promise<SpendCapDecision>;
  /** The current period's usage. */
  usage(key: string): Promise<SpendCapUsage>;
  /** Forgets the current period's usage of `key`. */
  reset(key: string): Promise<void>;
}

/** Throws `invalid_amount` unless `amountMicro` is a bigint in [1, 2^53 − 1]. */
function assertAmountMicro(name: string, amountMicro: unknown): asserts amountMicro is bigint {
  if (typeof amountMicro !== 'bigint') {
    throw new InvalidCounterInputError(
      'invalid_amount',
      `${name} must be a bigint of micro-USD, got ${typeof amountMicro} ${String(amountMicro)}`,
    );
  }
  if (amountMicro < 1n || amountMicro > counterValueMax) {
    throw new InvalidCounterInputError(
      'invalid_amount',
      `${name} must be in [1, ${counterValueMax}] micro-USD, got ${amountMicro}`,
      {
        details: { [name]: amountMicro.toString() },
      },
    );
  }
}

function periodWindowMs(fn: string, period: unknown): number {
  if (period === 'hour') return hourMs;
  if (period === 'day-utc') return dayMs;
  if (period !== null && typeof period === 'object') {
    const windowMs = (period as { windowMs?: unknown }).windowMs;
    assertPositiveInteger(fn, 'period.windowMs', windowMs, windowMsMax);
    return windowMs;
  }
  throw new InvalidCounterInputError(
    'invalid_option',
    `${fn}(): period must be "hour", "day-utc" or { windowMs }, got ${JSON.stringify(period)}`,
  );
}

/**
 * A per-period spending cap in micro-USD (e.g. $50 per UTC day per account), enforced atomically on the backend.
 *
 * `record` is one bounded `advance` (`max = capMicro`) on the key `${prefix}:${key}:${periodIndex}`, which
 * expires at the period's end: concurrent records from any number of instances never take a period's total
 * past the cap, and a refused amount is never recorded. `check` only reads. Periods are aligned to epoch
 * multiples of their length, so `day-utc` starts at 00:00 UTC and `hour` on the UTC hour.
 *
 * @throws {InvalidCounterInputError} `invalid_option` when an option is missing or out of range.
 * @example
 * const cap = spendCap({ backend: memoryBackend(), capMicro: 50_000_000n, period: 'day-utc' });
 * await cap.record('account:42', 1_500_000n); // throws SpendCapExceededError past $50 today
 * const { remainingMicro } = await cap.usage('account:42');
 */
export function spendCap(options: SpendCapOptions): SpendCap {
  const fn = 'spendCap';
  assertOptionsObject(fn, options);
  assertBackend(fn, options.backend);
  assertAmountMicro('capMicro', options.capMicro);
  const windowMs = periodWindowMs(fn, options.period);
  const prefix = options.prefix ?? 'spend';
  assertPrefix(fn, prefix);
  const clock = options.clock ?? systemClock;
  assertClock(fn, clock);
  const { backend, capMicro } = options;

  function periodAt(nowMs: number): { index: number; startMs: number; endMs: number } {
    const index = Math.floor(nowMs / windowMs);
    return { index, startMs: index * windowMs, endMs: (index + 1) * windowMs };
  }

  async function usageAt(key: string): Promise<SpendCapUsage> {
    const period = periodAt(readClock(clock));
    const snapshot = await backend.get(counterKey(prefix, key, String(period.index)));
    const usedMicro = snapshot?.value ?? 0n;
    return {
      capMicro,
      usedMicro,
      remainingMicro: capMicro > usedMicro ? capMicro - usedMicro : 0n,
      periodStartMs: period.startMs,
      resetAtMs: period.endMs,
    };
  }

  return {
    capMicro,
    windowMs,
    async check(key: string, amountMicro: bigint): Promise<SpendCapDecision> {
      counterKey(prefix, key, '0');
      assertAmountMicro('amountMicro', amountMicro);
      const usage = await usageAt(key);
      return { allowed: usage.usedMicro + amountMicro <= capMicro, amountMicro, ...usage };
    },
    async record(key: string, amountMicro: bigint): Promise<SpendCapDecision> {
      counterKey(prefix, key, '0');
      assertAmountMicro('amountMicro', amountMicro);
      for (let attempt = 1; attempt <= recordAttemptsMax; attempt++) {
        const period = periodAt(readClock(clock));
        const result = await backend.advance(counterKey(prefix, key, String(period.index)), {
          by: amountMicro,
          max: capMicro,
          expiresAtMs: period.endMs,
          expiry: 'keep',
        });
        if (!result.applied) {
          throw new SpendCapExceededError({
            key,
            capMicro,
            usedMicro: result.value,
            amountMicro,
            resetAtMs: period.endMs,
          });
        }
        // A write that reached the backend after its period ended counts for nothing: record it in the new one.
        if (readClock(clock) >= period.endMs) continue;
        return {
          allowed: true,
          amountMicro,
          capMicro,
          usedMicro: result.value,
          remainingMicro: capMicro - result.value,
          periodStartMs: period.startMs,
          resetAtMs: period.endMs,
        };
      }
      throw new BackendUnavailableError(
        backend.name,
        new Error(
          `spendCap.record: every write of ${recordAttemptsMax} attempts reached the backend after its period ended`,
        ),
      );
    },
    async usage(key: string): Promise<SpendCapUsage> {
      counterKey(prefix, key, '0');
      return usageAt(key);
    },
    async reset(key: string): Promise<void> {
      counterKey(prefix, key, '0');
      await backend.reset(counterKey(prefix, key, String(periodAt(readClock(clock)).index)));
    },
  };
}
