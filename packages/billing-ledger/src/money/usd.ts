/**
 * USD decimal strings ↔ micro-USD by string arithmetic (no float ever touches an amount).
 */
import { InvalidAmountError, quoteValue } from '../errors.js';
import { usdStringLengthMax } from '../limits.js';
import { type MicroBounds, microPerUsd, resolveBounds } from './micro.js';

const usdPattern = /^(0|[1-9][0-9]*)(?:\.([0-9]{1,6}))?$/;

/**
 * Converts a USD decimal string (`'12.345678'`: ASCII digits, no sign, no leading zero, at most 6 decimals) to
 * micro-USD, within bounds (default 1 to 10^15 micro-USD).
 *
 * @param field the field's name, quoted in the error (default `amountUsd`)
 * @throws {InvalidAmountError} when the string is not such a decimal or is out of bounds
 * @example
 * usdToMicro('12.345678'); // 12_345_678n
 * usdToMicro('5'); // 5_000_000n
 * usdToMicro('0.0000001'); // throws InvalidAmountError (7 decimals)
 */
export function usdToMicro(usd: string, field = 'amountUsd', bounds?: MicroBounds): bigint {
  const { min, max } = resolveBounds(bounds);
  const match = typeof usd === 'string' && usd.length <= usdStringLengthMax ? usdPattern.exec(usd) : null;
  if (match === null) {
    throw new InvalidAmountError(
      `${field} ${quoteValue(usd)} must be a USD decimal string like "12.345678" (digits, no sign or leading zero, ` +
        `at most 6 decimals, at most ${usdStringLengthMax} characters)`,
      { details: { field, value: quoteValue(usd) } },
    );
  }
  const whole = match[1] as string;
  const fraction = (match[2] ?? '').padEnd(6, '0');
  const value = BigInt(whole) * microPerUsd + BigInt(fraction);
  if (value < min || value > max) {
    throw new InvalidAmountError(`${field} ${quoteValue(usd)} must be from ${min} to ${max} micro-USD`, {
      details: { field, value: usd, minMicro: min.toString(), maxMicro: max.toString() },
    });
  }
  return value;
}

/**
 * Converts micro-USD to the shortest USD decimal string (`12345678n` → `'12.345678'`, `5000000n` → `'5'`,
 * `500000n` → `'0.5'`); `usdToMicro` reads it back exactly.
 *
 * @throws {InvalidAmountError} when `value` is not a bigint ≥ 0
 * @example
 * microToUsd(12_345_678n); // '12.345678'
 */
export function microToUsd(value: bigint): string {
  if (typeof value !== 'bigint' || value < 0n) {
    throw new InvalidAmountError(`micro-USD amount ${quoteValue(value)} must be a bigint >= 0`, {
      details: { value: quoteValue(value) },
    });
  }
  const whole = (value / microPerUsd).toString();
  const fraction = (value % microPerUsd).toString().padStart(6, '0').replace(/0+$/, '');
  return fraction.length === 0 ? whole : `${whole}.${fraction}`;
}
