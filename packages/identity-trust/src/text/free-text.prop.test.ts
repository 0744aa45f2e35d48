import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../errors.js';
import { checkFreeText, isStorableText } from './free-text.js';

const numRuns = 500;

/** The oracle: the platform's own well-formedness check (ES2024, Node 20+) and no NUL. */
const storableByOracle = (value: string): boolean =>
  !value.includes('\u0000') && (value as string & { isWellFormed(): boolean }).isWellFormed();

const surrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((unit) => String.fromCharCode(unit));
const anyUnit = fc.oneof(
  fc.integer({ min: 0, max: 0xffff }).map((unit) => String.fromCharCode(unit)),
  surrogate,
  fc.constant('\u0000'),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
);
/** Well-formed text without NUL, up to the rotation reason's 500 code units. */
const storableText = fc
  .string({ unit: 'binary', maxLength: 250 })
  .map((value) => value.replaceAll('\u0000', ''))
  .filter((value) => value.length <= 500);
/** Storable text with one NUL or one lone surrogate put in (guarded by `x` so it never pairs up). */
const unstorableText = fc
  .tuple(storableText, fc.oneof(fc.constant('\u0000'), surrogate), storableText)
  .map(([before, bad, after]) => `${before}x${bad}x${after}`);

describe('free text of the identity tables: no NUL, no lone UTF-16 surrogate', () => {
  it('isStorableText agrees with String.prototype.isWellFormed and no NUL, on any sequence of code units', () => {
    fc.assert(
      fc.property(fc.string({ unit: anyUnit, maxLength: 40 }), (value) => {
        expect(isStorableText(value)).toBe(storableByOracle(value));
      }),
      { numRuns: 2000 },
    );
  });

  it('checkFreeText refuses any text with a NUL or a lone surrogate (invalid_argument, naming the field)', () => {
    fc.assert(
      fc.property(unstorableText, (value) => {
        expect(() => checkFreeText('reason', value)).toThrow(InvalidArgumentError);
        try {
          checkFreeText('reason', value);
        } catch (error) {
          expect((error as InvalidArgumentError).details).toEqual({ field: 'reason', rule: 'free_text' });
        }
      }),
      { numRuns },
    );
  });

  it('checkFreeText accepts any well-formed text without NUL (astral characters as surrogate pairs included)', () => {
    fc.assert(
      fc.property(storableText, (value) => {
        checkFreeText('reason', value);
      }),
      { numRuns },
    );
  });
});
