// Test support (not part of the build): NFT bodies for the anchor routes and a local verifier of the gateway's
// anchor tokens through its own JWKS route.
import { randomBytes } from 'node:crypto';
import { type Anchor, type AnchorClaims, deriveAnchor, verifyAnchorToken } from '@arrakis/identity-trust';
import { createLocalJWKSet, type JSONWebKeySet } from 'jose';
import type { AppFixture } from './app-fixture.js';

/** The wire body of an NFT (chain 31337 by default), with a fresh token id and a random owner unless given. */
export interface NftBody {
  chainId: string;
  contractAddress: string;
  tokenId: string;
  ownerAddress: string;
}

let nextTokenId = BigInt(Date.now()) * 1000n;

/** A fresh NFT body: a token id no other call returned, a random owner. */
export function nftBody(overrides: Partial<NftBody> = {}): NftBody {
  nextTokenId += 1n;
  return {
    chainId: '31337',
    contractAddress: '0x5fbdb2315678afecb367f032d93f642f64180aa3',
    tokenId: nextTokenId.toString(),
    ownerAddress: `0x${randomBytes(20).toString('hex')}`,
    ...overrides,
  };
}

/** The anchor the gateway derives from a body. */
export function anchorOfBody(body: NftBody): Anchor {
  return deriveAnchor({
    chainId: BigInt(body.chainId),
    contractAddress: body.contractAddress,
    tokenId: BigInt(body.tokenId),
    ownerAddress: body.ownerAddress,
  });
}

/** Verifies an anchor token with the key set the app publishes at `/.well-known/jwks.json`. */
export async function verifyWithAppJwks(
  f: AppFixture,
  token: string,
  expected: { accountId?: string; anchor?: string } = {},
): Promise<AnchorClaims> {
  const jwks = (await (await f.get('/.well-known/jwks.json')).json()) as JSONWebKeySet;
  return verifyAnchorToken(token, {
    keys: createLocalJWKSet(jwks),
    issuer: f.config.jwt.issuer,
    audience: f.config.identity.anchorTokens.audience,
    clock: f.clock,
    ...expected,
  });
}
