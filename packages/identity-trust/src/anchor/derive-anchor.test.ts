import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { IdentityError } from '../errors.js';
import { assertAnchor, deriveAnchor, isAnchor, normalizeAnchorInput, uint256Max } from './derive-anchor.js';

const contract = '0xBC4CA0EdA7647A8aB7C2061c2E118A18a936f13D';
const owner = '0x67b61169A24aD254c3900e946b41df8B748dAC70';

/** The encoding written out by hand, byte by byte (no viem): 32 + 20 + 32 + 20 bytes, big-endian, as hex. */
function referenceAnchor(chainId: bigint, contractAddress: string, tokenId: bigint, ownerAddress: string): string {
  const word = (value: bigint) => value.toString(16).padStart(64, '0');
  const address = (value: string) => value.slice(2).toLowerCase();
  const hex = `${word(chainId)}${address(contractAddress)}${word(tokenId)}${address(ownerAddress)}`;
  expect(hex.length).toBe(2 * 104);
  return `sha256:${createHash('sha256').update(hex, 'hex').digest('hex')}`;
}

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    return error instanceof IdentityError ? error.code : 'not an IdentityError';
  }
  return undefined;
}

describe('deriveAnchor', () => {
  it('hashes the fixed-width encoding (checked against an encoding written by hand)', () => {
    const anchor = deriveAnchor({ chainId: 8453n, contractAddress: contract, tokenId: 42n, ownerAddress: owner });
    expect(anchor).toBe(referenceAnchor(8453n, contract, 42n, owner));
    expect(anchor).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('keeps a fixed test vector (a change of encoding must be deliberate)', () => {
    const zero = '0x0000000000000000000000000000000000000000';
    expect(deriveAnchor({ chainId: 0n, contractAddress: zero, tokenId: 0n, ownerAddress: zero })).toBe(
      `sha256:${createHash('sha256').update('00'.repeat(104), 'hex').digest('hex')}`,
    );
  });

  it('does not collide by concatenation: chain 1 / token 23 differs from chain 12 / token 3', () => {
    const a = deriveAnchor({ chainId: 1n, contractAddress: contract, tokenId: 23n, ownerAddress: owner });
    const b = deriveAnchor({ chainId: 12n, contractAddress: contract, tokenId: 3n, ownerAddress: owner });
    expect(a).not.toBe(b);
    // ...whereas naive decimal concatenation would have collided.
    expect(`${1n}${23n}`).toBe(`${12n}${3n}`);
  });

  it('ignores address case: lower-case and checksummed forms give one anchor', () => {
    const base = { chainId: 1n, tokenId: 7n };
    const checksummed = deriveAnchor({ ...base, contractAddress: contract, ownerAddress: owner });
    const lower = deriveAnchor({ ...base, contractAddress: contract.toLowerCase(), ownerAddress: owner.toLowerCase() });
    expect(lower).toBe(checksummed);
  });

  it('treats an all-upper-case address as mixed case (viem strict isAddress): its checksum must hold', () => {
    const upper = `0x${owner.slice(2).toUpperCase()}`;
    expect(
      codeOf(() => deriveAnchor({ chainId: 1n, contractAddress: contract, tokenId: 1n, ownerAddress: upper })),
    ).toBe('invalid_address');
  });

  it('accepts the uint256 bounds', () => {
    expect(
      isAnchor(
        deriveAnchor({ chainId: uint256Max, contractAddress: contract, tokenId: uint256Max, ownerAddress: owner }),
      ),
    ).toBe(true);
  });

  it('refuses a mixed-case address with a wrong checksum instead of re-checksumming it', () => {
    const broken = `${owner.slice(0, -1)}${owner.at(-1) === '0' ? '1' : '0'}`.replace('b', 'B');
    expect(
      codeOf(() => deriveAnchor({ chainId: 1n, contractAddress: contract, tokenId: 1n, ownerAddress: broken })),
    ).toBe('invalid_address');
    const flipped = `0x${contract.slice(2, 3).toLowerCase()}${contract.slice(3)}`; // 'B' -> 'b' breaks the checksum
    expect(
      codeOf(() => deriveAnchor({ chainId: 1n, contractAddress: flipped, tokenId: 1n, ownerAddress: owner })),
    ).toBe('invalid_address');
  });

  it.each([
    ['short address', { contractAddress: '0x1234' }],
    ['no 0x', { ownerAddress: owner.slice(2) }],
    ['not hex', { ownerAddress: `0x${'g'.repeat(40)}` }],
    ['number address', { ownerAddress: 42 }],
  ])('refuses a malformed address (%s) with invalid_address', (_name, patch) => {
    const input = { chainId: 1n, contractAddress: contract, tokenId: 1n, ownerAddress: owner, ...patch };
    expect(codeOf(() => deriveAnchor(input as never))).toBe('invalid_address');
  });

  it.each([
    ['a number chain id', { chainId: 1 }],
    ['a string token id', { tokenId: '1' }],
    ['a negative chain id', { chainId: -1n }],
    ['a token id above uint256', { tokenId: uint256Max + 1n }],
    ['a missing token id', { tokenId: undefined }],
  ])('refuses %s with invalid_argument', (_name, patch) => {
    const input = { chainId: 1n, contractAddress: contract, tokenId: 1n, ownerAddress: owner, ...patch };
    expect(codeOf(() => deriveAnchor(input as never))).toBe('invalid_argument');
  });

  it('refuses a non-object input', () => {
    expect(codeOf(() => deriveAnchor(null as never))).toBe('invalid_argument');
  });

  it('normalizes addresses to their checksummed form', () => {
    const nft = normalizeAnchorInput({
      chainId: 1n,
      contractAddress: contract.toLowerCase(),
      tokenId: 1n,
      ownerAddress: owner.toLowerCase(),
    });
    expect(nft.contractAddress).toBe(contract);
    expect(nft.ownerAddress).toBe(owner);
  });
});

describe('assertAnchor', () => {
  it('accepts sha256:<64 lower-case hex> only', () => {
    expect(() => assertAnchor(`sha256:${'a'.repeat(64)}`)).not.toThrow();
    for (const bad of [
      `sha256:${'A'.repeat(64)}`,
      `sha256:${'a'.repeat(63)}`,
      'a'.repeat(64),
      `sha1:${'a'.repeat(64)}`,
      42,
    ]) {
      expect(codeOf(() => assertAnchor(bad))).toBe('invalid_anchor');
    }
  });
});
