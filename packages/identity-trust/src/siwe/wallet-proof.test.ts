import { ManualClock, memoryBackend, nonceStore } from '@arrakis/atomic-counter';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { createSiweMessage } from 'viem/siwe';
import { beforeEach, describe, expect, it } from 'vitest';
import { deriveAnchor } from '../anchor/derive-anchor.js';
import { IdentityError, WalletProofInvalidError } from '../errors.js';
import type { NonceClaimer } from '../ports/nonce-claimer.js';
import {
  accountResource,
  anchorResource,
  createWalletProofMessage,
  verifyWalletProof,
  type WalletProofSubject,
  walletProofStatement,
} from './wallet-proof.js';

const owner = privateKeyToAccount(generatePrivateKey());
const stranger = privateKeyToAccount(generatePrivateKey());
const contract = '0x5FbDB2315678afecb367f032d93F642f64180aa3';
const anchor = deriveAnchor({ chainId: 31337n, contractAddress: contract, tokenId: 1n, ownerAddress: owner.address });
const uri = 'https://api.arrakis.test/v1/accounts/acc_1/anchor';
const subject: WalletProofSubject = {
  domain: 'api.arrakis.test',
  uri,
  scheme: 'https',
  address: owner.address,
  chainId: 31337n,
  accountId: 'acc_1',
  anchor,
};

let clock: ManualClock;
let nonces: NonceClaimer;

beforeEach(() => {
  clock = new ManualClock(Date.UTC(2026, 4, 1, 12));
  nonces = nonceStore({ backend: memoryBackend({ clock }), ttlMs: 3_600_000, clock });
});

async function signed(overrides: Partial<Parameters<typeof createWalletProofMessage>[0]> = {}, signer = owner) {
  const message = createWalletProofMessage({ ...subject, clock, ...overrides });
  return { message, signature: await signer.signMessage({ message }) };
}

async function reason(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof WalletProofInvalidError) return error.reason;
    if (error instanceof IdentityError) return error.code;
    throw error;
  }
  return 'accepted';
}

describe('createWalletProofMessage', () => {
  it('builds an EIP-4361 message naming the account and the anchor', () => {
    const message = createWalletProofMessage({ ...subject, clock, nonce: 'abcdefgh12345678' });
    expect(message).toContain('api.arrakis.test wants you to sign in with your Ethereum account:');
    expect(message).toContain(owner.address);
    expect(message).toContain(walletProofStatement);
    expect(message).toContain('Chain ID: 31337');
    expect(message).toContain('Nonce: abcdefgh12345678');
    expect(message).toContain(`- ${accountResource('acc_1')}`);
    expect(message).toContain(`- ${anchorResource(anchor)}`);
    expect(message).toContain('Expiration Time: 2026-05-01T12:05:00.000Z');
  });

  it('refuses a lifetime above 10 minutes', () => {
    const issuedAt = new Date(clock.nowMs());
    expect(() =>
      createWalletProofMessage({ ...subject, issuedAt, expirationTime: new Date(issuedAt.getTime() + 601_000) }),
    ).toThrow(/at most/);
  });
});

describe('verifyWalletProof', () => {
  it('accepts the owner’s signature once, and claims the nonce', async () => {
    const proof = await signed();
    const verified = await verifyWalletProof({ ...proof, expected: subject, nonces, clock });
    expect(verified.address).toBe(owner.address);
    expect(verified.expiresAt.toISOString()).toBe('2026-05-01T12:05:00.000Z');
  });

  it('attack: a replayed SIWE nonce is refused (nonce_reused)', async () => {
    const proof = await signed();
    await verifyWalletProof({ ...proof, expected: subject, nonces, clock });
    expect(await reason(verifyWalletProof({ ...proof, expected: subject, nonces, clock }))).toBe('nonce_reused');
    // Also a new message re-using the nonce.
    const nonce = proof.message.match(/Nonce: (\w+)/)?.[1] as string;
    const again = await signed({ nonce, issuedAt: new Date(clock.nowMs() + 1000) });
    expect(await reason(verifyWalletProof({ ...again, expected: subject, nonces, clock }))).toBe('nonce_reused');
  });

  it('attack: a SIWE message for another domain is refused (wrong_domain)', async () => {
    const proof = await signed({ domain: 'evil.example' });
    expect(await reason(verifyWalletProof({ ...proof, expected: subject, nonces, clock }))).toBe('wrong_domain');
  });

  it('refuses another scheme, URI or chain', async () => {
    expect(
      await reason(verifyWalletProof({ ...(await signed({ scheme: 'http' })), expected: subject, nonces, clock })),
    ).toBe('wrong_scheme');
    expect(
      await reason(
        verifyWalletProof({
          ...(await signed({ uri: 'https://api.arrakis.test/x' })),
          expected: subject,
          nonces,
          clock,
        }),
      ),
    ).toBe('wrong_uri');
    expect(
      await reason(verifyWalletProof({ ...(await signed({ chainId: 1n })), expected: subject, nonces, clock })),
    ).toBe('wrong_chain');
  });

  it('refuses a message for another account or another anchor (missing_resource)', async () => {
    const other = await signed({ accountId: 'acc_2' });
    expect(await reason(verifyWalletProof({ ...other, expected: subject, nonces, clock }))).toBe('missing_resource');
    const otherAnchor = deriveAnchor({
      chainId: 31337n,
      contractAddress: contract,
      tokenId: 2n,
      ownerAddress: owner.address,
    });
    const forOther = await signed({ anchor: otherAnchor });
    expect(await reason(verifyWalletProof({ ...forOther, expected: subject, nonces, clock }))).toBe('missing_resource');
  });

  it('refuses a signature by someone else than the owner (bad_signature), and a message naming someone else', async () => {
    const byStranger = await signed({}, stranger);
    expect(await reason(verifyWalletProof({ ...byStranger, expected: subject, nonces, clock }))).toBe('bad_signature');
    const forStranger = await signed({ address: stranger.address }, stranger);
    expect(await reason(verifyWalletProof({ ...forStranger, expected: subject, nonces, clock }))).toBe('wrong_address');
  });

  it('refuses an expired message, one not yet valid, one without expiration, one living too long', async () => {
    const proof = await signed();
    clock.advance(5 * 60_000);
    expect(await reason(verifyWalletProof({ ...proof, expected: subject, nonces, clock }))).toBe('expired');
    const future = await signed({ issuedAt: new Date(clock.nowMs() + 120_000) });
    expect(await reason(verifyWalletProof({ ...future, expected: subject, nonces, clock }))).toBe('not_yet_valid');
    const base = {
      domain: subject.domain,
      address: owner.address,
      statement: walletProofStatement,
      uri,
      version: '1' as const,
      chainId: 31337,
      nonce: 'abcdefgh12345678',
      scheme: 'https',
      issuedAt: new Date(clock.nowMs()),
      resources: [accountResource('acc_1'), anchorResource(anchor)],
    };
    const noExpiry = createSiweMessage(base);
    expect(
      await reason(
        verifyWalletProof({
          message: noExpiry,
          signature: await owner.signMessage({ message: noExpiry }),
          expected: subject,
          nonces,
          clock,
        }),
      ),
    ).toBe('no_expiration');
    const long = createSiweMessage({ ...base, expirationTime: new Date(clock.nowMs() + 3_600_000) });
    expect(
      await reason(
        verifyWalletProof({
          message: long,
          signature: await owner.signMessage({ message: long }),
          expected: subject,
          nonces,
          clock,
        }),
      ),
    ).toBe('lifetime_too_long');
  });

  it('refuses a tampered or padded message (malformed / bad_signature)', async () => {
    const proof = await signed();
    expect(
      await reason(
        verifyWalletProof({ ...proof, message: `${proof.message}\nExtra: 1`, expected: subject, nonces, clock }),
      ),
    ).toBe('malformed');
    const tampered = proof.message.replace('Chain ID: 31337', 'Chain ID: 31338');
    expect(
      await reason(
        verifyWalletProof({ ...proof, message: tampered, expected: { ...subject, chainId: 31338n }, nonces, clock }),
      ),
    ).toBe('bad_signature');
    expect(await reason(verifyWalletProof({ ...proof, signature: 'nothex', expected: subject, nonces, clock }))).toBe(
      'malformed',
    );
  });

  it('does not burn the nonce when the proof is refused', async () => {
    const proof = await signed();
    expect(
      await reason(verifyWalletProof({ ...proof, expected: { ...subject, domain: 'other.test' }, nonces, clock })),
    ).toBe('wrong_domain');
    expect((await verifyWalletProof({ ...proof, expected: subject, nonces, clock })).address).toBe(owner.address);
  });
});
