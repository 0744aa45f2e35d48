import { describe, expect, it } from 'vitest';
import { memoryBackend } from '../adapters/memory/index.js';
import { BackendUnavailableError, InvalidCounterInputError, SpendCapExceededError } from '../errors.js';
import { trapBackend } from '../limiters/test-support.js';
import { ManualClock } from '../ports/clock.js';
import type { CounterBackend } from '../ports/counter-backend.js';
import { dayMs, spendCap } from './spend-cap.js';

const midnight = Date.UTC(2026, 2, 14);

describe('spendCap', () => {
  it('records spending up to the cap and refuses the amount that would cross it', async () => {
    const clock = new ManualClock(midnight + 10 * 3_600_000);
    const cap = spendCap({ backend: memoryBackend({ clock }), capMicro: 50_000_000n, period: 'day-utc', clock });
    expect(await cap.record('account:42', 30_000_000n)).toEqual({
      allowed: true,
      amountMicro: 30_000_000n,
      capMicro: 50_000_000n,
      usedMicro: 30_000_000n,
      remainingMicro: 20_000_000n,
      periodStartMs: midnight,
      resetAtMs: midnight + dayMs,
    });
    const error = await cap.record('account:42', 20_000_001n).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SpendCapExceededError);
    expect(error).toMatchObject({
      code: 'spend_cap_exceeded',
      capMicro: 50_000_000n,
      usedMicro: 30_000_000n,
      amountMicro: 20_000_001n,
      resetAtMs: midnight + dayMs,
      details: {
        key: 'account:42',
        capMicro: '50000000',
        usedMicro: '30000000',
        remainingMicro: '20000000',
        amountMicro: '20000001',
        resetAtMs: midnight + dayMs,
      },
    });
    expect(JSON.stringify((error as SpendCapExceededError).details)).toContain('"usedMicro":"30000000"');
    expect((await cap.usage('account:42')).usedMicro).toBe(30_000_000n); // the refusal recorded nothing
    expect((await cap.record('account:42', 20_000_000n)).remainingMicro).toBe(0n);
  });

  it('check is read-only', async () => {
    const clock = new ManualClock(midnight);
    const cap = spendCap({ backend: memoryBackend({ clock }), capMicro: 100n, period: 'hour', clock });
    await cap.record('a', 60n);
    expect(await cap.check('a', 40n)).toMatchObject({ allowed: true, usedMicro: 60n, remainingMicro: 40n });
    expect(await cap.check('a', 41n)).toMatchObject({ allowed: false, usedMicro: 60n, remainingMicro: 40n });
    expect((await cap.usage('a')).usedMicro).toBe(60n);
  });

  it('day-utc resets at 00:00 UTC, hour on the hour, custom windows on epoch multiples', async () => {
    const clock = new ManualClock(midnight + dayMs - 1);
    const backend = memoryBackend({ clock });
    const daily = spendCap({ backend, capMicro: 10n, period: 'day-utc', clock, prefix: 'd' });
    const hourly = spendCap({ backend, capMicro: 10n, period: 'hour', clock, prefix: 'h' });
    const custom = spendCap({ backend, capMicro: 10n, period: { windowMs: 7_000 }, clock, prefix: 'c' });
    await daily.record('a', 10n);
    await hourly.record('a', 10n);
    await custom.record('a', 10n);
    await expect(daily.record('a', 1n)).rejects.toBeInstanceOf(SpendCapExceededError);
    expect(await daily.usage('a')).toMatchObject({ resetAtMs: midnight + dayMs, periodStartMs: midnight });
    expect((await hourly.usage('a')).resetAtMs).toBe(midnight + dayMs);
    expect((await custom.usage('a')).resetAtMs).toBe(Math.ceil((midnight + dayMs) / 7_000) * 7_000);
    clock.advance(1);
    expect(await daily.record('a', 10n)).toMatchObject({ usedMicro: 10n, periodStartMs: midnight + dayMs });
    expect((await hourly.record('a', 1n)).usedMicro).toBe(1n);
  });

  it('keeps keys apart; reset forgets the current period', async () => {
    const clock = new ManualClock(midnight);
    const cap = spendCap({ backend: memoryBackend({ clock }), capMicro: 5n, period: 'hour', clock });
    await cap.record('a', 5n);
    expect((await cap.record('b', 5n)).usedMicro).toBe(5n);
    await cap.reset('a');
    expect((await cap.usage('a')).usedMicro).toBe(0n);
  });

  it('accepts the largest amount, 2^53 − 1', async () => {
    const max = BigInt(Number.MAX_SAFE_INTEGER);
    const cap = spendCap({ backend: memoryBackend(), capMicro: max, period: 'day-utc' });
    expect((await cap.record('a', max)).remainingMicro).toBe(0n);
    await expect(cap.record('a', 1n)).rejects.toMatchObject({ code: 'spend_cap_exceeded' });
  });

  it('records again in the new period when its write landed after the period ended', async () => {
    const clock = new ManualClock(midnight + dayMs - 1);
    const inner = memoryBackend({ clock });
    let delays = 1;
    const slow: CounterBackend = {
      ...inner,
      advance: async (key, options) => {
        if (delays-- > 0) clock.advance(5);
        return inner.advance(key, options);
      },
    };
    const cap = spendCap({ backend: slow, capMicro: 10n, period: 'day-utc', clock });
    expect(await cap.record('a', 4n)).toMatchObject({ usedMicro: 4n, periodStartMs: midnight + dayMs });
  });

  it('gives up with BackendUnavailableError when every attempt lands after its period', async () => {
    const clock = new ManualClock(midnight);
    const inner = memoryBackend({ clock });
    const slow: CounterBackend = {
      ...inner,
      advance: async (key, options) => {
        clock.advance(3_600_000);
        return inner.advance(key, options);
      },
    };
    const cap = spendCap({ backend: slow, capMicro: 10n, period: 'hour', clock });
    await expect(cap.record('a', 1n)).rejects.toBeInstanceOf(BackendUnavailableError);
  });

  describe('rejects bad options with invalid_option or invalid_amount', () => {
    const backend = memoryBackend();
    it.each([
      ['cap 0', { backend, capMicro: 0n, period: 'hour' }, 'invalid_amount'],
      ['cap negative', { backend, capMicro: -5n, period: 'hour' }, 'invalid_amount'],
      ['cap as a number', { backend, capMicro: 5, period: 'hour' }, 'invalid_amount'],
      ['cap above 2^53 − 1', { backend, capMicro: 2n ** 53n, period: 'hour' }, 'invalid_amount'],
      ['unknown period', { backend, capMicro: 5n, period: 'week' }, 'invalid_option'],
      ['windowMs 0', { backend, capMicro: 5n, period: { windowMs: 0 } }, 'invalid_option'],
      ['windowMs negative', { backend, capMicro: 5n, period: { windowMs: -60_000 } }, 'invalid_option'],
      ['windowMs fractional', { backend, capMicro: 5n, period: { windowMs: 1.5 } }, 'invalid_option'],
      ['no backend', { capMicro: 5n, period: 'hour' }, 'invalid_option'],
    ])('%s', (_name, options, code) => {
      expect(() => spendCap(options as never)).toThrowError(
        expect.objectContaining({ name: 'InvalidCounterInputError', code }),
      );
    });
  });

  describe('rejects bad input before any backend call', () => {
    it.each([
      ['empty key', '', 1n, 'invalid_key'],
      ['oversized key', 'k'.repeat(512), 1n, 'invalid_key'],
      ['zero amount', 'a', 0n, 'invalid_amount'],
      ['negative amount', 'a', -1n, 'invalid_amount'],
      ['number amount', 'a', 1, 'invalid_amount'],
      ['string amount', 'a', '1', 'invalid_amount'],
      ['amount above 2^53 − 1', 'a', 2n ** 53n, 'invalid_amount'],
    ])('%s', async (_name, key, amount, code) => {
      const backend = trapBackend();
      const cap = spendCap({ backend, capMicro: 100n, period: 'hour' });
      for (const op of [cap.check, cap.record]) {
        const error = await op(key as string, amount as bigint).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(InvalidCounterInputError);
        expect(error).toMatchObject({ code });
      }
      if (code === 'invalid_key') {
        await expect(cap.usage(key as string)).rejects.toMatchObject({ code });
        await expect(cap.reset(key as string)).rejects.toMatchObject({ code });
      }
      expect(backend.calls).toEqual([]);
    });
  });
});
