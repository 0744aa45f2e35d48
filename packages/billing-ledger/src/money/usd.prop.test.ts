import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidAmountError } from '../errors.js';
import { amountMicroMax } from '../limits.js';
import { microPerUsd } from './micro.js';
import { microToUsd, usdToMicro } from './usd.js';

const numRuns = 500;

function rejects(usd: unknown, bounds?: { min?: bigint; max?: bigint }): void {
  expect(() => usdToMicro(usd as string, 'priceUsd', bounds)).toThrow(InvalidAmountError);
}

describe('usdToMicro / microToUsd', () => {
  it('converts examples exactly', () => {
    expect(usdToMicro('12.345678')).toBe(12_345_678n);
    expect(usdToMicro('5')).toBe(5_000_000n);
    expect(usdToMicro('0.5')).toBe(500_000n);
    expect(usdToMicro('0.000001')).toBe(1n);
    expect(usdToMicro('1.50')).toBe(1_500_000n);
    expect(usdToMicro('1000000000')).toBe(amountMicroMax);
    expect(usdToMicro('0', 'priceUsd', { min: 0n })).toBe(0n);
    expect(microToUsd(12_345_678n)).toBe('12.345678');
    expect(microToUsd(5_000_000n)).toBe('5');
    expect(microToUsd(500_000n)).toBe('0.5');
    expect(microToUsd(1n)).toBe('0.000001');
    expect(microToUsd(0n)).toBe('0');
    expect(microToUsd(10n ** 30n)).toBe(`1${'0'.repeat(24)}`);
  });

  it('round-trips every valid value: usdToMicro(microToUsd(v)) === v', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: amountMicroMax }), (v) => usdToMicro(microToUsd(v)) === v),
      { numRuns },
    );
  });

  it('microToUsd agrees with an independent decimal oracle and is canonical', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 24n }), (v) => {
        const text = microToUsd(v);
        const digits = v.toString().padStart(7, '0');
        const oracle = `${digits.slice(0, -6)}.${digits.slice(-6)}`.replace(/\.?0+$/, '');
        expect(text).toBe(oracle === '' ? '0' : oracle);
        expect(text).toMatch(/^(0|[1-9][0-9]*)(\.[0-9]{0,5}[1-9])?$/);
      }),
      { numRuns },
    );
  });

  it('round-trips every canonical USD string: microToUsd(usdToMicro(s)) === s', () => {
    const canonical = fc
      .tuple(fc.bigInt({ min: 0n, max: 999_999_999n }), fc.stringMatching(/^([0-9]{0,5}[1-9])?$/))
      .map(([whole, fraction]) => (fraction === '' ? whole.toString() : `${whole}.${fraction}`))
      .filter((s) => s !== '0');
    fc.assert(
      fc.property(canonical, (s) => microToUsd(usdToMicro(s)) === s),
      { numRuns },
    );
  });

  it('rejects more than 6 decimals, signs, spaces, leading zeros, exponents, bare points, non-ASCII digits', () => {
    for (const bad of [
      '0.0000001',
      '1.1234567',
      '-1',
      '+1',
      ' 1',
      '1 ',
      '01',
      '00.5',
      '1e6',
      '1E2',
      '.5',
      '5.',
      '1,5',
      '١',
      '１.5',
      '',
      '0',
      '1000000000.000001',
      'NaN',
      'Infinity',
    ]) {
      rejects(bad);
    }
    for (const bad of [1, 1.5, 1n, null, undefined, {}]) rejects(bad);
    const valid = fc.bigInt({ min: 1n, max: amountMicroMax }).map((v) => microToUsd(v));
    const mutation = fc.constantFrom(
      (s: string) => `-${s}`,
      (s: string) => `+${s}`,
      (s: string) => ` ${s}`,
      (s: string) => `${s} `,
      (s: string) => `0${s}`,
      (s: string) => `${s}e1`,
      (s: string) => (s.includes('.') ? `${s}1234567`.slice(0, s.indexOf('.') + 8) : `${s}.1234567`),
      (s: string) => `${s}.`,
      (s: string) => `$${s}`,
    );
    fc.assert(
      fc.property(valid, mutation, (s, mutate) => {
        rejects(mutate(s));
      }),
      { numRuns },
    );
  });

  it('applies bounds (default 1 micro-USD to 10^15) and refuses strings past 32 characters', () => {
    rejects('1000000000.000001');
    rejects('2', { max: microPerUsd });
    expect(usdToMicro('1', 'x', { max: microPerUsd })).toBe(microPerUsd);
    rejects(`1${'0'.repeat(40)}`, { max: 10n ** 60n });
  });

  it('microToUsd refuses negatives and non-bigints', () => {
    expect(() => microToUsd(-1n)).toThrow(InvalidAmountError);
    expect(() => microToUsd(1 as unknown as bigint)).toThrow(InvalidAmountError);
  });
});
