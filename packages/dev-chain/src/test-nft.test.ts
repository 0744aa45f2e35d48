import { createPublicClient, http } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hardhatChain } from './chain.js';
import { type HardhatNode, startHardhatNode } from './hardhat-node.js';
import { deployTestNft, mintNft, nftOwnerOf, transferNft } from './test-nft.js';

describe('TestNft on a Hardhat node', () => {
  let node: HardhatNode;
  beforeAll(async () => {
    node = await startHardhatNode();
  });
  afterAll(async () => {
    await node?.stop();
  });

  const accounts = () => {
    const [deployer, alice, bob] = node.accounts;
    if (deployer === undefined || alice === undefined || bob === undefined) throw new Error('expected 3 accounts');
    return { deployer, alice, bob };
  };

  it('deploys, mints to a holder, and moves the token with transferFrom', async () => {
    const { deployer, alice, bob } = accounts();
    const { rpcUrl } = node;
    const nft = await deployTestNft({
      rpcUrl,
      deployerKey: deployer.privateKey,
      name: 'Sietch Pass',
      symbol: 'SIETCH',
    });

    const client = createPublicClient({ chain: hardhatChain(node.chainId, rpcUrl), transport: http(rpcUrl) });
    expect(await client.getCode({ address: nft.address })).toMatch(/^0x[0-9a-f]{100,}$/);
    expect(await client.readContract({ address: nft.address, abi: nft.abi, functionName: 'name' })).toBe('Sietch Pass');
    expect(await client.readContract({ address: nft.address, abi: nft.abi, functionName: 'symbol' })).toBe('SIETCH');
    expect(await client.readContract({ address: nft.address, abi: nft.abi, functionName: 'owner' })).toBe(
      deployer.address,
    );

    await mintNft({ rpcUrl, ownerKey: deployer.privateKey, address: nft.address, to: alice.address, tokenId: 7n });
    expect(await nftOwnerOf({ rpcUrl, address: nft.address, tokenId: 7n })).toBe(alice.address);
    expect(
      await client.readContract({
        address: nft.address,
        abi: nft.abi,
        functionName: 'balanceOf',
        args: [alice.address],
      }),
    ).toBe(1n);

    await transferNft({ rpcUrl, fromKey: alice.privateKey, address: nft.address, to: bob.address, tokenId: 7n });
    expect(await nftOwnerOf({ rpcUrl, address: nft.address, tokenId: 7n })).toBe(bob.address);
    expect(
      await client.readContract({
        address: nft.address,
        abi: nft.abi,
        functionName: 'balanceOf',
        args: [alice.address],
      }),
    ).toBe(0n);
  });

  it('lets only the owner mint, never mints a token twice, and refuses transfers by non-holders', async () => {
    const { deployer, alice, bob } = accounts();
    const { rpcUrl } = node;
    const nft = await deployTestNft({ rpcUrl, deployerKey: deployer.privateKey });

    await expect(
      mintNft({ rpcUrl, ownerKey: alice.privateKey, address: nft.address, to: alice.address, tokenId: 1n }),
    ).rejects.toThrow(/OwnableUnauthorizedAccount/);

    await mintNft({ rpcUrl, ownerKey: deployer.privateKey, address: nft.address, to: alice.address, tokenId: 1n });
    await expect(
      mintNft({ rpcUrl, ownerKey: deployer.privateKey, address: nft.address, to: bob.address, tokenId: 1n }),
    ).rejects.toThrow(/ERC721InvalidSender/);

    await expect(
      transferNft({ rpcUrl, fromKey: bob.privateKey, address: nft.address, to: bob.address, tokenId: 1n }),
    ).rejects.toThrow(/ERC721IncorrectOwner|ERC721InsufficientApproval/);
    expect(await nftOwnerOf({ rpcUrl, address: nft.address, tokenId: 1n })).toBe(alice.address);

    await expect(nftOwnerOf({ rpcUrl, address: nft.address, tokenId: 2n })).rejects.toThrow(/ERC721NonexistentToken/);
  });
});
