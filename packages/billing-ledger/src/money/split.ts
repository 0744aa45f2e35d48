/**
 * The one split function: basis points, floors, remainder to one named part, sum asserted (DESIGN.md §2).
 */
import { InvalidAmountError, InvalidArgumentError, quoteValue } from '../errors.js';
import { assert } from '../ledger/assert.js';
import { splitPartsMax } from '../limits.js';

/** Basis points in a whole. */
export const bpsTotal = 10_000;

/**
 * Splits `amountMicro` by basis points: each part but `remainderTo` gets `floor(amountMicro × bps / 10_000)`;
 * `remainderTo` gets the rest, so the parts always sum to `amountMicro` exactly (asserted).
 *
 * @param amountMicro bigint ≥ 0
 * @param shares part name → integer bps from 0 to 10 000; 1 to 32 parts summing to 10 000
 * @param remainderTo the part (a key of `shares`) that takes what flooring leaves
 * @throws {InvalidAmountError} when `amountMicro` is not a bigint ≥ 0
 * @throws {InvalidArgumentError} when the shares or `remainderTo` break the rules above
 * @example
 * splitBps(1_000_001n, { commons: 3000, community: 2000, foundation: 5000 }, 'foundation');
 * // { commons: 300000n, community: 200000n, foundation: 500001n }
 */
export function splitBps(
  amountMicro: bigint,
  shares: Record<string, number>,
  remainderTo: string,
): Record<string, bigint> {
  if (typeof amountMicro !== 'bigint' || amountMicro < 0n) {
    throw new InvalidAmountError(`amountMicro ${quoteValue(amountMicro)} must be a bigint >= 0`, {
      details: { field: 'amountMicro', value: quoteValue(amountMicro) },
    });
  }
  if (typeof shares !== 'object' || shares === null || Array.isArray(shares)) {
    throw new InvalidArgumentError(`shares ${quoteValue(shares)} must be an object of part name → bps`);
  }
  const names = Object.keys(shares);
  if (names.length === 0 || names.length > splitPartsMax) {
    throw new InvalidArgumentError(`shares must have 1 to ${splitPartsMax} parts, got ${names.length}`, {
      details: { parts: names.length },
    });
  }
  let bpsSum = 0;
  for (const name of names) {
    const bps = shares[name];
    if (typeof bps !== 'number' || !Number.isInteger(bps) || bps < 0 || bps > bpsTotal) {
      throw new InvalidArgumentError(
        `share ${quoteValue(name)} of ${quoteValue(bps)} bps must be an integer from 0 to ${bpsTotal}`,
        {
          details: { part: name, bps: quoteValue(bps) },
        },
      );
    }
    bpsSum += bps;
  }
  if (bpsSum !== bpsTotal) {
    throw new InvalidArgumentError(`shares sum to ${bpsSum} bps, must sum to ${bpsTotal}`, { details: { bpsSum } });
  }
  if (typeof remainderTo !== 'string' || !Object.hasOwn(shares, remainderTo)) {
    throw new InvalidArgumentError(`remainderTo ${quoteValue(remainderTo)} must be one of the shares' parts`, {
      details: { remainderTo: quoteValue(remainderTo), parts: names },
    });
  }
  const parts: Record<string, bigint> = {};
  let othersMicro = 0n;
  for (const name of names) {
    if (name === remainderTo) continue;
    const part = (amountMicro * BigInt(shares[name] as number)) / BigInt(bpsTotal);
    parts[name] = part;
    othersMicro += part;
  }
  const remainderMicro = amountMicro - othersMicro;
  assert(remainderMicro >= 0n, 'split remainder must not be negative', {
    amountMicro: amountMicro.toString(),
    othersMicro: othersMicro.toString(),
  });
  const result: Record<string, bigint> = {};
  for (const name of names) result[name] = name === remainderTo ? remainderMicro : (parts[name] as bigint);
  let sumMicro = 0n;
  for (const name of names) sumMicro += result[name] as bigint;
  assert(sumMicro === amountMicro, 'split parts must sum to the amount', {
    amountMicro: amountMicro.toString(),
    sumMicro: sumMicro.toString(),
  });
  return result;
}
