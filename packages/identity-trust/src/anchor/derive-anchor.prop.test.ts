import fc from 'fast-check';
import { getAddress } from 'viem';
import { describe, expect, it } from 'vitest';
import { type AnchorInput, deriveAnchor, uint256Max } from './derive-anchor.js';

const uint256 = fc.bigInt({ min: 0n, max: uint256Max });
/** Small ids too, where decimal concatenation would be ambiguous. */
const id = fc.oneof(fc.bigInt({ min: 0n, max: 1000n }), uint256);
const address = fc
  .uint8Array({ minLength: 20, maxLength: 20 })
  .map((bytes) => `0x${Buffer.from(bytes).toString('hex')}`);
const input: fc.Arbitrary<AnchorInput> = fc.record({
  chainId: id,
  contractAddress: address,
  tokenId: id,
  ownerAddress: address,
});

const key = (i: AnchorInput) =>
  `${i.chainId}|${i.contractAddress.toLowerCase()}|${i.tokenId}|${i.ownerAddress.toLowerCase()}`;

describe('deriveAnchor properties', () => {
  it('is deterministic: the same input (lower-case or checksummed addresses) gives the same anchor', () => {
    fc.assert(
      fc.property(input, (i) => {
        const again = { ...i, ownerAddress: getAddress(i.ownerAddress) };
        expect(deriveAnchor(i)).toBe(deriveAnchor(i));
        expect(deriveAnchor(again)).toBe(deriveAnchor(i));
      }),
      { numRuns: 200 },
    );
  });

  it('is injective on distinct inputs', () => {
    fc.assert(
      fc.property(input, input, (a, b) => {
        fc.pre(key(a) !== key(b));
        expect(deriveAnchor(a)).not.toBe(deriveAnchor(b));
      }),
      { numRuns: 300 },
    );
  });

  it('is injective when only one field differs (the hardest case for an ambiguous encoding)', () => {
    fc.assert(
      fc.property(
        input,
        fc.constantFrom('chainId', 'tokenId', 'contractAddress', 'ownerAddress'),
        id,
        address,
        (a, field, otherId, otherAddress) => {
          const b: AnchorInput = { ...a, [field]: field === 'chainId' || field === 'tokenId' ? otherId : otherAddress };
          fc.pre(key(a) !== key(b));
          expect(deriveAnchor(a)).not.toBe(deriveAnchor(b));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('separates swapped chain and token ids', () => {
    fc.assert(
      fc.property(input, (a) => {
        fc.pre(a.chainId !== a.tokenId);
        expect(deriveAnchor(a)).not.toBe(deriveAnchor({ ...a, chainId: a.tokenId, tokenId: a.chainId }));
      }),
      { numRuns: 200 },
    );
  });
});
