import { InvalidArgumentError, quoteValue } from '../errors.js';

/**
 * A token claim or option that must be 1-`max` characters without surrounding spaces (anchor and upstream tokens).
 *
 * @throws {InvalidArgumentError} naming the field (`details.field`).
 * @example
 * checkClaimText('issuer', options.issuer, 256);
 */
export function checkClaimText(field: string, value: unknown, max: number): asserts value is string {
  if (typeof value !== 'string' || value.length === 0 || value.length > max || value.trim() !== value) {
    throw new InvalidArgumentError(
      `${field} ${quoteValue(value)} must be 1-${max} characters without surrounding spaces`,
      { details: { field } },
    );
  }
}
