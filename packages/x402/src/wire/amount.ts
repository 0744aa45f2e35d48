/** The largest uint256: EIP-3009 values and time bounds are uint256 on chain. */
export const uint256Max: bigint = (1n << 256n) - 1n;
/** Longest base-10 string of a uint256 (78 digits). */
export const uint256DecimalDigitsMax = 78;

const canonicalDecimal = /^(?:0|[1-9][0-9]{0,77})$/;
const hexQuantity = /^0x[0-9a-fA-F]{1,64}$/;

/**
 * Parses an amount in the token's smallest unit written as a canonical base-10 string (`"1500000"`): ASCII
 * digits only, no sign, no spaces, no leading zeros, no exponent, no fraction, at most 78 digits, at most
 * 2^256 − 1. Returns `null` for anything else; never goes through a float.
 *
 * @example
 * parseAtomicAmount('1500000'); // 1_500_000n
 * parseAtomicAmount('1.5');     // null
 * parseAtomicAmount('01');      // null
 */
export function parseAtomicAmount(value: unknown): bigint | null {
  if (typeof value !== 'string' || !canonicalDecimal.test(value)) return null;
  const parsed = BigInt(value);
  return parsed <= uint256Max ? parsed : null;
}

/**
 * Parses a uint256 field of an EIP-3009 authorization as x402 writes it: a canonical base-10 string, or a
 * `0x`-prefixed hex quantity of at most 64 digits (the spec allows both). Returns `null` for anything else.
 *
 * @example
 * parseUint256Field('0');     // 0n
 * parseUint256Field('0x2a');  // 42n
 * parseUint256Field('-1');    // null
 */
export function parseUint256Field(value: unknown): bigint | null {
  if (typeof value !== 'string') return null;
  if (hexQuantity.test(value)) return BigInt(value);
  return parseAtomicAmount(value);
}
