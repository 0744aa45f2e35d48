import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseAtomicAmount, parseUint256Field, uint256Max } from './amount.js';

const uint256 = fc.bigInt({ min: 0n, max: uint256Max });

describe('parseAtomicAmount', () => {
  it('reads back every uint256 written in base 10', () => {
    fc.assert(
      fc.property(uint256, (value) => parseAtomicAmount(value.toString()) === value),
      { numRuns: 500 },
    );
  });

  it('refuses every non-canonical spelling of a valid amount', () => {
    const spellings = (value: bigint) => {
      const digits = value.toString();
      return [
        `0${digits}`,
        `+${digits}`,
        ` ${digits}`,
        `${digits} `,
        `${digits}.0`,
        `${digits}e0`,
        `-${digits}`,
        `${digits}n`,
      ];
    };
    fc.assert(
      fc.property(uint256, (value) => spellings(value).every((spelling) => parseAtomicAmount(spelling) === null)),
      { numRuns: 300 },
    );
  });

  it('refuses values above 2^256 − 1, non-strings and non-ASCII digits', () => {
    expect(parseAtomicAmount((uint256Max + 1n).toString())).toBeNull();
    expect(parseAtomicAmount(uint256Max.toString())).toBe(uint256Max);
    expect(parseAtomicAmount(1_000_000)).toBeNull();
    expect(parseAtomicAmount(1_000_000n)).toBeNull();
    expect(parseAtomicAmount('１２３')).toBeNull(); // full-width digits
    expect(parseAtomicAmount('')).toBeNull();
    expect(parseAtomicAmount('1.5')).toBeNull();
    expect(parseAtomicAmount('1e6')).toBeNull();
    expect(parseAtomicAmount('0')).toBe(0n);
  });
});

describe('parseUint256Field', () => {
  it('reads base-10 and 0x-hex spellings of the same uint256 alike', () => {
    fc.assert(
      fc.property(uint256, (value) => {
        return parseUint256Field(value.toString()) === value && parseUint256Field(`0x${value.toString(16)}`) === value;
      }),
      { numRuns: 300 },
    );
  });

  it('refuses hex longer than 64 digits, empty hex and signs', () => {
    expect(parseUint256Field(`0x${'f'.repeat(65)}`)).toBeNull();
    expect(parseUint256Field('0x')).toBeNull();
    expect(parseUint256Field('-0x1')).toBeNull();
  });
});
