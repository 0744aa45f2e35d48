/**
 * Micro-USD amounts: `bigint` in code, canonical base-10 strings on the wire (DESIGN.md §2).
 */
import { InvalidAmountError, InvalidArgumentError, quoteValue } from '../errors.js';
import { amountMicroMax, wireAmountLengthMax } from '../limits.js';

/** Micro-USD in one US dollar (USDC's 6 decimals). */
export const microPerUsd = 1_000_000n;

/** Inclusive bounds of an amount; defaults `min = 1n`, `max = amountMicroMax`. */
export interface MicroBounds {
  min?: bigint;
  max?: bigint;
}

const canonicalDigits = /^(?:0|[1-9][0-9]*)$/;

/**
 * Resolves and checks bounds (a programming error when wrong, so `InvalidArgumentError`).
 * @internal
 */
export function resolveBounds(bounds: MicroBounds | undefined): { min: bigint; max: bigint } {
  const min = bounds?.min ?? 1n;
  const max = bounds?.max ?? amountMicroMax;
  if (typeof min !== 'bigint' || typeof max !== 'bigint' || min < 0n || min > max) {
    throw new InvalidArgumentError(
      `amount bounds { min: ${quoteValue(min)}, max: ${quoteValue(max)} } must be bigints with 0 <= min <= max`,
      { details: { min: String(min), max: String(max) } },
    );
  }
  return { min, max };
}

/**
 * The one wire parser of micro-USD amounts: a canonical base-10 string of ASCII digits (no sign, space, leading
 * zero, exponent, decimal point or non-ASCII digit), at most 20 characters, within bounds (default 1 to 10^15).
 *
 * @param wire the value from the wire (anything; only a string can pass)
 * @param field the field's name, quoted in the error (default `amountMicro`)
 * @param bounds inclusive bounds; default `{ min: 1n, max: amountMicroMax }`
 * @throws {InvalidAmountError} when `wire` is not a canonical amount within bounds
 * @throws {InvalidArgumentError} when `bounds` are not bigints with 0 <= min <= max
 * @example
 * parseMicro('1500000'); // 1_500_000n
 * parseMicro('0', 'costMicro', { min: 0n }); // 0n
 * parseMicro('007'); // throws InvalidAmountError
 */
export function parseMicro(wire: unknown, field = 'amountMicro', bounds?: MicroBounds): bigint {
  const { min, max } = resolveBounds(bounds);
  if (typeof wire !== 'string') {
    throw new InvalidAmountError(
      `${field} ${quoteValue(wire)} must be a base-10 string of digits, not a ${typeName(wire)}`,
      {
        details: { field, value: quoteValue(wire) },
      },
    );
  }
  if (wire.length === 0 || wire.length > wireAmountLengthMax || !canonicalDigits.test(wire)) {
    throw new InvalidAmountError(
      `${field} ${quoteValue(wire)} must be canonical base-10 digits (no sign, space, leading zero, exponent or ` +
        `decimal point), 1 to ${wireAmountLengthMax} characters`,
      { details: { field, value: quoteValue(wire) } },
    );
  }
  const value = BigInt(wire);
  if (value < min || value > max) {
    throw new InvalidAmountError(`${field} ${quoteValue(wire)} must be from ${min} to ${max} micro-USD`, {
      details: { field, value: wire, minMicro: min.toString(), maxMicro: max.toString() },
    });
  }
  return value;
}

/**
 * Formats a micro-USD amount for the wire: the canonical base-10 string `parseMicro` reads back.
 *
 * @throws {InvalidAmountError} when `value` is not a bigint ≥ 0
 * @example
 * formatMicro(1_500_000n); // '1500000'
 */
export function formatMicro(value: bigint): string {
  if (typeof value !== 'bigint' || value < 0n) {
    throw new InvalidAmountError(`micro-USD amount ${quoteValue(value)} must be a bigint >= 0`, {
      details: { value: quoteValue(value) },
    });
  }
  return value.toString();
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}
