// The anchor routes against a real local chain: a Hardhat node with our ERC-721 (TestNft.sol, compiled by solc-js),
// CHAIN_RPC_URL pointing at it, users binding their own account with a Sign-In with Ethereum proof.
import {
  type DevChainAccount,
  deployTestNft,
  freeLoopbackPort,
  type HardhatNode,
  mintNft,
  startHardhatNode,
  transferNft,
} from '@arrakis/dev-chain';
import { createWalletProofMessage } from '@arrakis/identity-trust';
import type { Address } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { anchorOfBody, type NftBody } from '../testing/identity-helpers.js';
import { errorOf, type LedgerAppFixture, makeLedgerAppFixture } from '../testing/ledger-fixture.js';

const siweDomain = 'wallet.arrakis.test';

describe('anchor routes with on-chain ownership (Hardhat)', () => {
  let f: LedgerAppFixture;
  let node: HardhatNode;
  let deployer: DevChainAccount;
  let alice: DevChainAccount;
  let bob: DevChainAccount;
  let nftAddress: Address;
  let nextTokenId = 1n;

  beforeAll(async () => {
    // The app first (opening its database keeps the event loop busy), on the port the node will listen on.
    const port = await freeLoopbackPort();
    f = await makeLedgerAppFixture({ env: { CHAIN_RPC_URL: `http://127.0.0.1:${port}`, SIWE_DOMAIN: siweDomain } });
    node = await startHardhatNode({ port });
    [deployer, alice, bob] = node.accounts as [DevChainAccount, DevChainAccount, DevChainAccount];
    nftAddress = (await deployTestNft({ rpcUrl: node.rpcUrl, deployerKey: deployer.privateKey })).address;
  }, 120_000);
  afterAll(async () => {
    await f?.close();
    await node?.stop();
  });

  async function mintTo(owner: DevChainAccount): Promise<NftBody> {
    const tokenId = nextTokenId;
    nextTokenId += 1n;
    await mintNft({
      rpcUrl: node.rpcUrl,
      ownerKey: deployer.privateKey,
      address: nftAddress,
      to: owner.address,
      tokenId,
    });
    return {
      chainId: String(node.chainId),
      contractAddress: nftAddress,
      tokenId: tokenId.toString(),
      ownerAddress: owner.address,
    };
  }

  async function walletProof(
    signer: DevChainAccount,
    accountId: string,
    nft: NftBody,
    overrides: { domain?: string } = {},
  ): Promise<{ siweMessage: string; signature: string }> {
    const account = privateKeyToAccount(signer.privateKey);
    const siweMessage = createWalletProofMessage({
      domain: overrides.domain ?? siweDomain,
      uri: `https://${siweDomain}/v1/accounts/${accountId}/anchor`,
      address: nft.ownerAddress,
      chainId: BigInt(nft.chainId),
      accountId,
      anchor: anchorOfBody(nft),
      clock: f.clock,
    });
    return { siweMessage, signature: await account.signMessage({ message: siweMessage }) };
  }

  const bind = (accountId: string, body: object, token: string) =>
    f.post(`/v1/accounts/${accountId}/anchor`, { token, json: body });

  it('a user binds their own account with a wallet proof of the owner (201)', async () => {
    const user = await f.userAccount('self-bind');
    const nft = await mintTo(alice);
    const response = await bind(
      user.accountId,
      { ...nft, ...(await walletProof(alice, user.accountId, nft)) },
      user.token,
    );
    expect(response.status).toBe(201);
    expect(await response.json()).toMatchObject({ anchor: anchorOfBody(nft), createdBy: user.sub });
  });

  it('attack: a replayed SIWE nonce is refused (403 wallet_proof_invalid, nonce_reused)', async () => {
    const user = await f.userAccount('replay');
    const nft = await mintTo(alice);
    const proof = await walletProof(alice, user.accountId, nft);
    expect((await bind(user.accountId, { ...nft, ...proof }, user.token)).status).toBe(201);
    const body = await errorOf(
      await bind(user.accountId, { ...nft, ...proof }, user.token),
      403,
      'wallet_proof_invalid',
    );
    expect(body.details).toMatchObject({ reason: 'nonce_reused' });
  });

  it('a repeat under the same Idempotency-Key replays the 201 (its nonce was claimed by the first request)', async () => {
    const user = await f.userAccount('replay-key');
    const nft = await mintTo(alice);
    const body = { ...nft, ...(await walletProof(alice, user.accountId, nft)) };
    const headers = { 'idempotency-key': 'bind-with-proof' };
    const first = await f.post(`/v1/accounts/${user.accountId}/anchor`, { token: user.token, json: body, headers });
    expect(first.status).toBe(201);
    const firstBody = await first.json();
    const again = await f.post(`/v1/accounts/${user.accountId}/anchor`, { token: user.token, json: body, headers });
    expect(again.status).toBe(201);
    expect(await again.json()).toEqual(firstBody);
  });

  it('attack: a SIWE message for another domain is refused (403 wallet_proof_invalid, wrong_domain)', async () => {
    const user = await f.userAccount('phished');
    const nft = await mintTo(alice);
    const proof = await walletProof(alice, user.accountId, nft, { domain: 'evil.example' });
    const body = await errorOf(
      await bind(user.accountId, { ...nft, ...proof }, user.token),
      403,
      'wallet_proof_invalid',
    );
    expect(body.details).toMatchObject({ reason: 'wrong_domain' });
    await errorOf(await f.get(`/v1/accounts/${user.accountId}/anchor`, { token: user.token }), 404, 'anchor_not_found');
  });

  it('a proof for another account cannot be used (missing_resource)', async () => {
    const victim = await f.userAccount('victim');
    const thief = await f.userAccount('thief');
    const nft = await mintTo(alice);
    const proof = await walletProof(alice, victim.accountId, nft);
    const body = await errorOf(
      await bind(thief.accountId, { ...nft, ...proof }, thief.token),
      403,
      'wallet_proof_invalid',
    );
    expect(body.details).toMatchObject({ reason: 'missing_resource' });
  });

  it('someone who signs for an NFT they do not own is refused (403 ownership_not_verified)', async () => {
    const user = await f.userAccount('claims-other');
    const nft = await mintTo(alice);
    // Bob signs with his own address as the claimed owner: the signature is fine, ownerOf is not.
    const claimed = { ...nft, ownerAddress: bob.address };
    const body = await errorOf(
      await bind(user.accountId, { ...claimed, ...(await walletProof(bob, user.accountId, claimed)) }, user.token),
      403,
      'ownership_not_verified',
    );
    expect(body.details).toMatchObject({ reason: 'not_owner' });
    // Admins are checked on chain as well.
    await errorOf(await bind(user.accountId, claimed, f.tokens.admin), 403, 'ownership_not_verified');
  });

  it('verify-anchor with checkOwnership passes for the owner and reports ownership_lost after a transfer', async () => {
    const user = await f.userAccount('transfer');
    const nft = await mintTo(alice);
    expect((await bind(user.accountId, nft, f.tokens.admin)).status).toBe(201);
    const verify = () =>
      f.post('/api/internal/verify-anchor', {
        token: f.tokens.service,
        json: { accountId: user.accountId, anchor: anchorOfBody(nft), checkOwnership: true },
      });
    const before = await verify();
    expect(before.status).toBe(200);
    expect(await before.json()).toMatchObject({ verified: true, ownershipChecked: true });
    await transferNft({
      rpcUrl: node.rpcUrl,
      fromKey: alice.privateKey,
      address: nftAddress,
      to: bob.address,
      tokenId: BigInt(nft.tokenId),
    });
    const after = await verify();
    expect(after.status).toBe(403);
    expect(await after.json()).toMatchObject({ verified: false, reason: 'ownership_lost' });
  });

  it('a chain the RPC does not serve is 422 unsupported_chain', async () => {
    const user = await f.userAccount('wrong-chain');
    const nft = await mintTo(alice);
    await errorOf(await bind(user.accountId, { ...nft, chainId: '8453' }, f.tokens.admin), 422, 'unsupported_chain');
  });
});
