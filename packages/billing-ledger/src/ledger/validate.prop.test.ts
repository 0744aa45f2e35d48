import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../errors.js';
import { memoLengthMax, ruleNameLengthMax, ruleTextLengthMax } from '../limits.js';
import { assertActor, assertRuleText } from '../rules/validate.js';
import { assertMemo, checkFreeText, isStorableText } from './validate.js';

const numRuns = 500;

/** The oracle: the platform's own well-formedness check (ES2024, Node 20+) and no NUL. */
const storableByOracle = (value: string): boolean =>
  !value.includes('\u0000') && (value as string & { isWellFormed(): boolean }).isWellFormed();

const highSurrogate = fc.integer({ min: 0xd800, max: 0xdbff }).map((unit) => String.fromCharCode(unit));
const lowSurrogate = fc.integer({ min: 0xdc00, max: 0xdfff }).map((unit) => String.fromCharCode(unit));
/** Any UTF-16 code unit, with surrogates, NUL and pairs drawn often enough to matter. */
const anyUnit = fc.oneof(
  fc.integer({ min: 0, max: 0xffff }).map((unit) => String.fromCharCode(unit)),
  highSurrogate,
  lowSurrogate,
  fc.constant('\u0000'),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
);
const anyText = fc.string({ unit: anyUnit, maxLength: 40 });
/** Well-formed text without NUL: any code point (astral ones as surrogate pairs) but U+0000. */
const storableText = fc
  .string({ unit: 'binary', maxLength: 200 })
  .map((value) => value.replaceAll('\u0000', ''))
  .filter((value) => value.length <= memoLengthMax);
/** Text with at least one NUL or lone surrogate spliced in somewhere. */
const unstorableText = fc
  .tuple(storableText, fc.oneof(fc.constant('\u0000'), highSurrogate, lowSurrogate), storableText, fc.nat({ max: 200 }))
  .map(([before, bad, after, cut]) => {
    // Cut `before` on a code point boundary so no pair of it is split by accident (the bad unit is the only flaw)...
    const points = [...before];
    const head = points.slice(0, cut % (points.length + 1)).join('');
    // ...and never glue a high surrogate to a low one (that would make a valid pair).
    const tail = bad >= '\ud800' && bad <= '\udbff' ? `x${after}` : after;
    const lead = bad >= '\udc00' && bad <= '\udfff' ? `${head}x` : head;
    return `${lead}${bad}${tail}`.slice(0, memoLengthMax);
  })
  .filter((value) => !storableByOracle(value));

function refuses(check: () => void): InvalidArgumentError {
  try {
    check();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as InvalidArgumentError).code).toBe('invalid_argument');
    return error as InvalidArgumentError;
  }
  throw new Error('the text was accepted');
}

describe('free text: no NUL, no lone UTF-16 surrogate', () => {
  it('isStorableText agrees with String.prototype.isWellFormed and no NUL, on any sequence of code units', () => {
    fc.assert(
      fc.property(anyText, (value) => isStorableText(value) === storableByOracle(value)),
      { numRuns: 2000 },
    );
  });

  it('refuses any text with a NUL or a lone surrogate: memo, rule texts and actors, with invalid_argument', () => {
    fc.assert(
      fc.property(unstorableText, (value) => {
        expect(refuses(() => checkFreeText('memo', value)).details).toMatchObject({ field: 'memo' });
        refuses(() => assertMemo(value));
        refuses(() => assertRuleText('notes', value, { max: memoLengthMax, optional: true }));
      }),
      { numRuns },
    );
  });

  it('accepts any well-formed text without NUL within the length: memo, and rule notes without control characters', () => {
    fc.assert(
      fc.property(storableText, (value) => {
        checkFreeText('memo', value);
        assertMemo(value);
        // biome-ignore lint/suspicious/noControlCharactersInRegex: rule texts refuse the control characters too.
        const notes = value.replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '').slice(0, ruleTextLengthMax);
        assertRuleText('notes', notes, { max: ruleTextLengthMax, optional: true });
      }),
      { numRuns },
    );
  });

  it('names the rule and quotes the value escaped, so the message itself is well-formed', () => {
    const error = refuses(() => assertRuleText('name', 'split \ud800', { max: ruleNameLengthMax }));
    expect(error.message).toContain('"split \\ud800"');
    expect(error.message).toMatch(/unpaired UTF-16 surrogate/);
    expect(storableByOracle(error.message)).toBe(true);
    refuses(() => assertActor('root\udc00'));
    refuses(() => assertMemo('grant by root: \u0000'));
    // A valid pair (an emoji) is text like any other.
    assertMemo('welcome 🎉');
    assertActor('ròót 🎉');
  });
});
