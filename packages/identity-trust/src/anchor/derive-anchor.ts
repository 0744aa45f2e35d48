import { type Address, encodePacked, getAddress, type Hex, isAddress, sha256 } from 'viem';
import { InvalidAddressError, InvalidAnchorError, InvalidArgumentError, quoteValue } from '../errors.js';

/** Largest chain id or token id accepted: 2^256 − 1 (a `uint256`). */
export const uint256Max: bigint = 2n ** 256n - 1n;

/** Version of the anchor encoding; carried as `anc_v` in anchor tokens so the scheme can change later. */
export const anchorVersion = 1;

/** An anchor: `sha256:` and 64 lower-case hex digits. */
export type Anchor = `sha256:${string}`;

const anchorPattern = /^sha256:[0-9a-f]{64}$/;

/** What an anchor is derived from: one NFT and its owner. */
export interface AnchorInput {
  /** EIP-155 chain id, a `uint256`. */
  chainId: bigint;
  /** The ERC-721 contract. Lower case, or a valid EIP-55 checksum (any upper-case letter makes it checksummed). */
  contractAddress: string;
  /** The token id, a `uint256`. */
  tokenId: bigint;
  /** The owner's address. Lower case, or a valid EIP-55 checksum (any upper-case letter makes it checksummed). */
  ownerAddress: string;
}

/** An {@link AnchorInput} after validation: addresses in their EIP-55 checksummed form. */
export interface NormalizedAnchorInput {
  chainId: bigint;
  contractAddress: Address;
  tokenId: bigint;
  ownerAddress: Address;
}

/** The parameters of {@link deriveAnchor}. */
export type DeriveAnchorParameters = AnchorInput;
/** The return type of {@link deriveAnchor}. */
export type DeriveAnchorReturnType = Anchor;
/** The errors {@link deriveAnchor} throws. */
export type DeriveAnchorErrorType = InvalidArgumentError | InvalidAddressError;

function assertUint256(field: string, value: unknown): asserts value is bigint {
  if (typeof value !== 'bigint' || value < 0n || value > uint256Max) {
    throw new InvalidArgumentError(`${field} ${quoteValue(value)} must be a bigint in [0, 2^256 - 1]`, {
      details: { field },
    });
  }
}

function checkedAddress(field: string, value: unknown): Address {
  // isAddress is strict by default: a mixed-case address with a wrong checksum is refused, not re-checksummed.
  if (typeof value !== 'string' || !isAddress(value, { strict: true })) throw new InvalidAddressError(field, value);
  return getAddress(value);
}

/**
 * Validates an {@link AnchorInput}: ids are bigints in the `uint256` range, addresses are valid (strict EIP-55
 * checksum when mixed case) and come back checksummed.
 *
 * @throws {InvalidArgumentError} `invalid_argument` when an id is not a bigint in [0, 2^256 − 1] or the input is not an object.
 * @throws {InvalidAddressError} `invalid_address` when an address is malformed or has a wrong checksum.
 * @example
 * const nft = normalizeAnchorInput({ chainId: 1n, contractAddress: '0xbc4c…f13d', tokenId: 42n, ownerAddress: '0x67b6…ac70' });
 * nft.contractAddress; // '0xBC4CA0EdA7647A8aB7C2061c2E118A18a936f13D'
 */
export function normalizeAnchorInput(input: AnchorInput): NormalizedAnchorInput {
  if (typeof input !== 'object' || input === null) {
    throw new InvalidArgumentError(`anchor input ${quoteValue(input)} must be an object`);
  }
  assertUint256('chainId', input.chainId);
  assertUint256('tokenId', input.tokenId);
  return {
    chainId: input.chainId,
    contractAddress: checkedAddress('contractAddress', input.contractAddress),
    tokenId: input.tokenId,
    ownerAddress: checkedAddress('ownerAddress', input.ownerAddress),
  };
}

/**
 * Derives the identity anchor of an NFT and its owner: `sha256:` and the hex SHA-256 of the fixed-width encoding
 * `encodePacked(['uint256', 'address', 'uint256', 'address'], [chainId, contract, tokenId, owner])` (32 + 20 + 32 +
 * 20 bytes). Every field has a fixed width, so two different inputs never share an encoding (chain 1 / token 23 and
 * chain 12 / token 3 give different anchors); addresses are normalized first, so case never matters.
 *
 * @throws {InvalidArgumentError} `invalid_argument` when an id is not a bigint in [0, 2^256 − 1].
 * @throws {InvalidAddressError} `invalid_address` when an address is malformed or has a wrong checksum.
 * @example
 * const anchor = deriveAnchor({
 *   chainId: 8453n,
 *   contractAddress: '0x0000000000000000000000000000000000000a11',
 *   tokenId: 42n,
 *   ownerAddress: '0x67b61169A24aD254c3900e946b41df8B748dAC70',
 * });
 * // 'sha256:…' (64 hex digits)
 */
export function deriveAnchor(input: DeriveAnchorParameters): DeriveAnchorReturnType {
  return anchorOfNormalized(normalizeAnchorInput(input));
}

/** {@link deriveAnchor} of an input already normalized (no validation). */
export function anchorOfNormalized(nft: NormalizedAnchorInput): Anchor {
  const encoded: Hex = encodePacked(
    ['uint256', 'address', 'uint256', 'address'],
    [nft.chainId, nft.contractAddress, nft.tokenId, nft.ownerAddress],
  );
  return `sha256:${sha256(encoded).slice(2)}`;
}

/**
 * True when `value` is an anchor string (`sha256:` and 64 lower-case hex digits).
 *
 * @example
 * isAnchor('sha256:' + 'a'.repeat(64)); // true
 */
export function isAnchor(value: unknown): value is Anchor {
  return typeof value === 'string' && anchorPattern.test(value);
}

/**
 * Checks that `value` is an anchor string.
 *
 * @throws {InvalidAnchorError} `invalid_anchor` otherwise.
 * @example
 * assertAnchor(request.anchor, 'anchor');
 */
export function assertAnchor(value: unknown, field = 'anchor'): asserts value is Anchor {
  if (!isAnchor(value)) throw new InvalidAnchorError(value, field);
}
