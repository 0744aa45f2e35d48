import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidAmountError, InvalidArgumentError } from '../errors.js';
import { amountMicroMax, wireAmountLengthMax } from '../limits.js';
import { formatMicro, parseMicro } from './micro.js';

const numRuns = 500;

function rejects(wire: unknown, field?: string, bounds?: { min?: bigint; max?: bigint }): InvalidAmountError {
  try {
    parseMicro(wire, field, bounds);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidAmountError);
    expect((error as InvalidAmountError).code).toBe('invalid_amount');
    return error as InvalidAmountError;
  }
  throw new Error(`parseMicro accepted ${String(wire)}`);
}

const validMicro = fc.bigInt({ min: 1n, max: amountMicroMax });
const validWire = validMicro.map((v) => v.toString());

describe('parseMicro / formatMicro', () => {
  it('round-trips every valid value: parseMicro(formatMicro(v)) === v', () => {
    fc.assert(
      fc.property(validMicro, (v) => parseMicro(formatMicro(v)) === v),
      { numRuns },
    );
  });

  it('round-trips every valid wire string: formatMicro(parseMicro(s)) === s', () => {
    const wire = fc.stringMatching(/^[1-9][0-9]{0,15}$/).filter((s) => BigInt(s) <= amountMicroMax);
    fc.assert(
      fc.property(wire, (s) => formatMicro(parseMicro(s)) === s),
      { numRuns },
    );
  });

  it('accepts exactly the canonical strings in bounds (oracle over arbitrary strings)', () => {
    const anyString = fc.oneof(
      fc.string({ maxLength: 24 }),
      fc.string({ unit: 'binary', maxLength: 24 }),
      fc.stringMatching(/^[-+ 0-9.eE]{0,22}$/),
    );
    fc.assert(
      fc.property(anyString, (s) => {
        const canonical = /^[1-9][0-9]*$/.test(s) && s.length <= wireAmountLengthMax && BigInt(s) <= amountMicroMax;
        if (canonical) expect(parseMicro(s)).toBe(BigInt(s));
        else rejects(s);
      }),
      { numRuns },
    );
  });

  it('rejects a sign, a space, a leading zero, an exponent or a decimal point around any valid value', () => {
    const mutation = fc.constantFrom(
      (s: string) => `+${s}`,
      (s: string) => `-${s}`,
      (s: string) => ` ${s}`,
      (s: string) => `${s} `,
      (s: string) => `${s}\n`,
      (s: string) => `\t${s}`,
      (s: string) => `${s.slice(0, 1)} ${s.slice(1)}`,
      (s: string) => `0${s}`,
      (s: string) => `00${s}`,
      (s: string) => `${s}e0`,
      (s: string) => `${s}E2`,
      (s: string) => `${s}.0`,
      (s: string) => `${s}.5`,
      (s: string) => `.${s}`,
      (s: string) => `${s}n`,
      (s: string) => `0x${s}`,
      (s: string) => `${s}_000`,
      (s: string) => `${s.slice(0, 1)},${s.slice(1)}`,
    );
    fc.assert(
      fc.property(validWire, mutation, (s, mutate) => {
        rejects(mutate(s));
      }),
      { numRuns },
    );
  });

  it('rejects non-ASCII digits anywhere (Arabic-Indic, Devanagari, full-width, superscript)', () => {
    const foreign = fc.constantFrom('١', '٢', '٠', '१', '०', '１', '０', '²', '۵', '߁');
    fc.assert(
      fc.property(validWire, foreign, fc.nat(), (s, digit, at) => {
        const i = at % (s.length + 1);
        rejects(`${s.slice(0, i)}${digit}${s.slice(i)}`);
        rejects(digit.repeat(1 + (at % 5)));
      }),
      { numRuns },
    );
  });

  it('rejects strings longer than 20 characters, even of plain digits', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[1-9][0-9]{20,40}$/), (s) => {
        expect(s.length).toBeGreaterThan(wireAmountLengthMax);
        rejects(s);
        rejects(s, 'amountMicro', { min: 0n, max: 10n ** 50n });
      }),
      { numRuns },
    );
  });

  it('rejects 0 and values above 10^15 by default; bounds move both ends', () => {
    rejects('0');
    rejects('');
    fc.assert(
      fc.property(fc.bigInt({ min: amountMicroMax + 1n, max: 10n ** 20n - 1n }), (v) => {
        rejects(v.toString());
      }),
      { numRuns },
    );
    expect(parseMicro('0', 'costMicro', { min: 0n })).toBe(0n);
    rejects('00', 'costMicro', { min: 0n });
    rejects('11', 'x', { max: 10n });
    expect(parseMicro('10', 'x', { max: 10n })).toBe(10n);
    rejects('9', 'x', { min: 10n });
    expect(parseMicro(amountMicroMax.toString())).toBe(amountMicroMax);
  });

  it('rejects anything that is not a string', () => {
    for (const wire of [1500000, 1.5, 0, -1, 1500000n, null, undefined, true, {}, [], ['1'], Number.NaN]) {
      rejects(wire);
    }
    fc.assert(
      fc.property(
        fc.oneof(fc.integer(), fc.double(), fc.bigInt(), fc.boolean(), fc.object(), fc.array(fc.nat())),
        (wire) => {
          rejects(wire);
        },
      ),
      { numRuns },
    );
  });

  it('quotes the field and the bad value in the message', () => {
    const error = rejects('007', 'priceMicro');
    expect(error.message).toContain('priceMicro');
    expect(error.message).toContain('"007"');
    expect(error.details).toMatchObject({ field: 'priceMicro' });
    const big = rejects('1000000000000001');
    expect(big.message).toContain('1000000000000000');
    expect(rejects(1.5).message).toContain('number');
  });

  it('refuses bounds that are not bigints with 0 <= min <= max', () => {
    expect(() => parseMicro('5', 'x', { min: 10n, max: 1n })).toThrow(InvalidArgumentError);
    expect(() => parseMicro('5', 'x', { min: -1n })).toThrow(InvalidArgumentError);
    expect(() => parseMicro('5', 'x', { min: 1 as unknown as bigint })).toThrow(InvalidArgumentError);
  });

  it('formatMicro refuses negatives and non-bigints', () => {
    expect(formatMicro(0n)).toBe('0');
    expect(() => formatMicro(-1n)).toThrow(InvalidAmountError);
    expect(() => formatMicro(5 as unknown as bigint)).toThrow(InvalidAmountError);
  });
});
