// A real local EVM chain: a Hardhat node with our own ERC-721 (TestNft.sol compiled by solc-js), deployed with viem.
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ManualClock, memoryBackend, nonceStore } from '@arrakis/atomic-counter';
import {
  type DevChainAccount,
  deployTestNft,
  type HardhatNode,
  mintNft,
  startHardhatNode,
  transferNft,
} from '@arrakis/dev-chain';
import { type Address, createPublicClient, http } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresAnchorStore } from '../adapters/postgres/anchor-store.js';
import { deriveAnchor } from '../anchor/derive-anchor.js';
import { IdentityError, OwnershipNotVerifiedError } from '../errors.js';
import { createIdentityTrust } from '../service/identity-trust.js';
import { createWalletProofMessage, verifyWalletProof } from '../siwe/wallet-proof.js';
import { openTestIdentityDb, type TestIdentityDb } from '../testing/test-db.js';
import { createOwnershipVerifier, verifyOwnership } from './verify-ownership.js';

let node: HardhatNode;
let deployer: DevChainAccount;
let alice: DevChainAccount;
let bob: DevChainAccount;
let nftAddress: Address;
let db: TestIdentityDb;
let nextTokenId = 1n;

/** Mints a fresh token to `to` and returns its id. */
async function mintTo(to: DevChainAccount): Promise<bigint> {
  const tokenId = nextTokenId;
  nextTokenId += 1n;
  await mintNft({ rpcUrl: node.rpcUrl, ownerKey: deployer.privateKey, address: nftAddress, to: to.address, tokenId });
  return tokenId;
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof IdentityError) return error.code;
    throw error;
  }
  return 'ok';
}

beforeAll(async () => {
  // The database first: opening PGlite keeps the event loop busy for seconds, long enough for the node to close
  // idle keep-alive connections under the HTTP client's feet.
  db = await openTestIdentityDb();
  node = await startHardhatNode();
  [deployer, alice, bob] = node.accounts as [DevChainAccount, DevChainAccount, DevChainAccount];
  nftAddress = (await deployTestNft({ rpcUrl: node.rpcUrl, deployerKey: deployer.privateKey })).address;
}, 120_000);

afterAll(async () => {
  await db?.close();
  await node?.stop();
});

describe('verifyOwnership on a Hardhat node', () => {
  it('passes for the owner, fails after a transfer', async () => {
    const tokenId = await mintTo(alice);
    const client = createPublicClient({ transport: http(node.rpcUrl) });
    const claim = { chainId: BigInt(node.chainId), contractAddress: nftAddress, tokenId, ownerAddress: alice.address };
    expect(await verifyOwnership(claim, { client })).toEqual({ verified: true, owner: alice.address });

    await transferNft({
      rpcUrl: node.rpcUrl,
      fromKey: alice.privateKey,
      address: nftAddress,
      to: bob.address,
      tokenId,
    });
    expect(await verifyOwnership(claim, { client })).toEqual({
      verified: false,
      reason: 'not_owner',
      owner: bob.address,
    });
    expect(await verifyOwnership({ ...claim, ownerAddress: bob.address }, { client })).toMatchObject({
      verified: true,
    });
  });

  it('reports a token that does not exist, and a contract that does not exist', async () => {
    const client = createPublicClient({ transport: http(node.rpcUrl) });
    const base = { chainId: BigInt(node.chainId), contractAddress: nftAddress, ownerAddress: alice.address };
    expect(await verifyOwnership({ ...base, tokenId: 999_999n }, { client })).toEqual({
      verified: false,
      reason: 'token_not_found',
      owner: null,
    });
    const nowhere = `0x${randomBytes(20).toString('hex')}`;
    expect(await verifyOwnership({ ...base, contractAddress: nowhere, tokenId: 1n }, { client })).toMatchObject({
      verified: false,
      reason: 'token_not_found',
    });
  });

  it('refuses another chain than the RPC serves (unsupported_chain)', async () => {
    const ownership = createOwnershipVerifier({ rpcUrl: node.rpcUrl });
    expect(await ownership.chainId()).toBe(BigInt(node.chainId));
    const claim = { chainId: 8453n, contractAddress: nftAddress, tokenId: 1n, ownerAddress: alice.address };
    expect(await codeOf(ownership.verifyOwnership(claim))).toBe('unsupported_chain');
  });

  it('reports an RPC that is down as chain_unavailable (503), not as a failed check', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const ownership = createOwnershipVerifier({ rpcUrl: `http://127.0.0.1:${port}`, timeoutMs: 2000 });
    const claim = { chainId: 31337n, contractAddress: nftAddress, tokenId: 1n, ownerAddress: alice.address };
    const error = await ownership.assertOwnership(claim).catch((e: unknown) => e);
    expect((error as IdentityError).code).toBe('chain_unavailable');
    expect((error as IdentityError).httpStatus).toBe(503);
  });

  it('assertOwnership throws ownership_not_verified naming both owners', async () => {
    const tokenId = await mintTo(bob);
    const ownership = createOwnershipVerifier({ rpcUrl: node.rpcUrl });
    const claim = { chainId: BigInt(node.chainId), contractAddress: nftAddress, tokenId, ownerAddress: alice.address };
    const error = await ownership.assertOwnership(claim).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OwnershipNotVerifiedError);
    expect((error as OwnershipNotVerifiedError).details).toMatchObject({
      reason: 'not_owner',
      expectedOwner: alice.address,
      actualOwner: bob.address,
    });
  });
});

describe('the identity service with on-chain ownership checks', () => {
  it('binds for the owner, refuses a non-owner, and reports ownership lost after a transfer', async () => {
    const identity = createIdentityTrust({
      store: createPostgresAnchorStore(db.db),
      ownership: createOwnershipVerifier({ rpcUrl: node.rpcUrl }),
    });
    const tokenId = await mintTo(alice);
    const nft = { chainId: BigInt(node.chainId), contractAddress: nftAddress, tokenId, ownerAddress: alice.address };
    const accountId = `acc_${randomBytes(6).toString('hex')}`;

    expect(
      await codeOf(identity.bindAnchor({ accountId, nft: { ...nft, ownerAddress: bob.address }, actor: 'root' })),
    ).toBe('ownership_not_verified');
    const { record } = await identity.bindAnchor({ accountId, nft, actor: 'root' });
    expect(record.anchor).toBe(deriveAnchor(nft));
    expect(await identity.verifyAnchor({ accountId, anchor: record.anchor, checkOwnership: true })).toMatchObject({
      verified: true,
      ownershipChecked: true,
    });

    await transferNft({
      rpcUrl: node.rpcUrl,
      fromKey: alice.privateKey,
      address: nftAddress,
      to: bob.address,
      tokenId,
    });
    expect(await identity.verifyAnchor({ accountId, anchor: record.anchor, checkOwnership: true })).toMatchObject({
      verified: false,
      reason: 'ownership_lost',
    });

    // Rotation to the new owner: checked on chain at request and at approval.
    expect(await codeOf(identity.requestRotation({ accountId, nft, actor: 'alice-admin' }))).toBe(
      'ownership_not_verified',
    );
    const rotation = await identity.requestRotation({
      accountId,
      nft: { ...nft, ownerAddress: bob.address },
      actor: 'alice-admin',
    });
    // The NFT moves again before approval: the approval is refused.
    await transferNft({
      rpcUrl: node.rpcUrl,
      fromKey: bob.privateKey,
      address: nftAddress,
      to: alice.address,
      tokenId,
    });
    expect(await codeOf(identity.approveRotation({ rotationId: rotation.id, actor: 'bob-admin' }))).toBe(
      'ownership_not_verified',
    );
  });

  it('accepts a wallet proof verified through the chain client (publicClient.verifyMessage)', async () => {
    const clock = new ManualClock(Date.now());
    const owner = privateKeyToAccount(alice.privateKey);
    const anchor = deriveAnchor({
      chainId: 31337n,
      contractAddress: nftAddress,
      tokenId: 1n,
      ownerAddress: owner.address,
    });
    const subject = {
      domain: 'localhost:3000',
      uri: 'http://localhost:3000/v1/accounts/acc_1/anchor',
      address: owner.address,
      chainId: 31337n,
      accountId: 'acc_1',
      anchor,
    };
    const message = createWalletProofMessage({ ...subject, clock });
    const signature = await owner.signMessage({ message });
    const client = createPublicClient({ transport: http(node.rpcUrl) });
    const nonces = nonceStore({ backend: memoryBackend({ clock }), ttlMs: 3_600_000, clock });
    const proof = await verifyWalletProof({ message, signature, expected: subject, nonces, clock, client });
    expect(proof.address).toBe(owner.address);
    const forged = await privateKeyToAccount(bob.privateKey).signMessage({ message });
    const error = await verifyWalletProof({
      message,
      signature: forged,
      expected: subject,
      nonces,
      clock,
      client,
    }).catch((e: unknown) => e);
    expect((error as IdentityError).details.reason).toBe('bad_signature');
  });
});
