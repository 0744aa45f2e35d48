/**
 * The rule of every free-text field of the identity tables (rotation reasons, actors): text Postgres stores as given.
 */
import { InvalidArgumentError, quoteValue } from '../errors.js';

/**
 * A NUL (Postgres `text` refuses it, SQLSTATE 22021) or a UTF-16 surrogate without its pair (`jsonb` refuses it, and
 * `text` silently stores U+FFFD in its place). Code units, not code points: no `u` flag.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to find the NUL.
const unstorableTextPattern = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * True when `value` has no NUL and no lone UTF-16 surrogate, so it is stored exactly as given.
 *
 * @example
 * ```ts
 * isStorableText('the wallet was lost'); // true
 * isStorableText('lost \ud800'); // false
 * ```
 */
export function isStorableText(value: string): boolean {
  return !unstorableTextPattern.test(value);
}

/**
 * A free text must be storable as given ({@link isStorableText}): a NUL or a lone UTF-16 surrogate is refused before
 * any I/O, instead of failing in the database or being replaced by U+FFFD.
 *
 * @throws {InvalidArgumentError} `invalid_argument`, naming the field.
 * @example
 * ```ts
 * checkFreeText('reason', 'the wallet was lost');
 * ```
 */
export function checkFreeText(field: string, value: string): void {
  if (isStorableText(value)) return;
  throw new InvalidArgumentError(
    `${field} ${quoteValue(value)} must not contain a NUL character or an unpaired UTF-16 surrogate`,
    { details: { field, rule: 'free_text' } },
  );
}
