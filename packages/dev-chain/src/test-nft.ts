import { type Address, getAddress, type Hash, type Hex } from 'viem';
import { testNftAbi } from './abis.js';
import { confirm, publicClientOf, walletClientOf } from './clients.js';
import { DevChainError } from './errors.js';
import { compileTestContract } from './test-contracts.js';

/** Parameters of {@link deployTestNft}. */
export interface DeployTestNftParameters {
  rpcUrl: string;
  /** Private key of the deployer, who becomes the owner (the only minter). */
  deployerKey: Hex;
  /** ERC-721 name. Default "Arrakis Test NFT". */
  name?: string;
  /** ERC-721 symbol. Default "ATNFT". */
  symbol?: string;
}

/** A deployed contract: its address and typed ABI. */
export interface DeployedContract<TAbi> {
  address: Address;
  abi: TAbi;
}

/**
 * Deploys `contracts/TestNft.sol` (OpenZeppelin ERC-721 with an owner-only `mint(to, tokenId)`) and
 * waits for the receipt.
 *
 * @throws {DevChainError} `deploy_failed` when the deployment reverts or yields no contract address;
 *   `compile_failed` if the contract does not compile.
 * @example
 * ```ts
 * const node = await startHardhatNode();
 * const nft = await deployTestNft({ rpcUrl: node.rpcUrl, deployerKey: node.accounts[0].privateKey });
 * ```
 */
export async function deployTestNft(parameters: DeployTestNftParameters): Promise<DeployedContract<typeof testNftAbi>> {
  const { rpcUrl, deployerKey, name = 'Arrakis Test NFT', symbol = 'ATNFT' } = parameters;
  const { bytecode } = await compileTestContract('TestNft');
  const { wallet, client } = await walletClientOf(rpcUrl, deployerKey);
  const hash = await wallet.deployContract({ abi: testNftAbi, bytecode, args: [name, symbol] });
  return { address: await deployedAddress(client, hash, 'TestNft'), abi: testNftAbi };
}

/** @internal Waits for a deployment and returns the contract address (EIP-55 checksummed). */
export async function deployedAddress(
  client: Awaited<ReturnType<typeof publicClientOf>>,
  hash: Hash,
  contractName: string,
): Promise<Address> {
  let receipt: Awaited<ReturnType<typeof confirm>>;
  try {
    receipt = await confirm(client, hash, `deployment of ${contractName}`);
  } catch (cause) {
    throw new DevChainError('deploy_failed', `deployment of ${contractName} failed (transaction ${hash})`, {
      details: { hash },
      cause,
    });
  }
  if (!receipt.contractAddress) {
    throw new DevChainError(
      'deploy_failed',
      `deployment of ${contractName} has no contract address (transaction ${hash})`,
      {
        details: { hash },
      },
    );
  }
  return getAddress(receipt.contractAddress);
}

/**
 * Mints NFT `tokenId` to `to`, signed by the contract owner; waits for the receipt.
 *
 * @throws viem's `ContractFunctionExecutionError` when the contract rejects the call (caller not the
 *   owner: `OwnableUnauthorizedAccount`; token exists: `ERC721InvalidSender`).
 * @example
 * ```ts
 * await mintNft({ rpcUrl, ownerKey: deployer.privateKey, address: nft.address, to: alice.address, tokenId: 1n });
 * ```
 */
export async function mintNft(parameters: {
  rpcUrl: string;
  ownerKey: Hex;
  address: Address;
  to: Address;
  tokenId: bigint;
}): Promise<Hash> {
  const { rpcUrl, ownerKey, address, to, tokenId } = parameters;
  const { wallet, client } = await walletClientOf(rpcUrl, ownerKey);
  const hash = await wallet.writeContract({ address, abi: testNftAbi, functionName: 'mint', args: [to, tokenId] });
  await confirm(client, hash, `mint of NFT ${tokenId}`);
  return hash;
}

/**
 * Moves NFT `tokenId` from the holder of `fromKey` to `to` with ERC-721 `transferFrom`; waits for the receipt.
 *
 * @throws viem's `ContractFunctionExecutionError` when the signer neither holds nor is approved for the token.
 * @example
 * ```ts
 * await transferNft({ rpcUrl, fromKey: alice.privateKey, address: nft.address, to: bob.address, tokenId: 1n });
 * ```
 */
export async function transferNft(parameters: {
  rpcUrl: string;
  fromKey: Hex;
  address: Address;
  to: Address;
  tokenId: bigint;
}): Promise<Hash> {
  const { rpcUrl, fromKey, address, to, tokenId } = parameters;
  const { wallet, client } = await walletClientOf(rpcUrl, fromKey);
  const hash = await wallet.writeContract({
    address,
    abi: testNftAbi,
    functionName: 'transferFrom',
    args: [wallet.account.address, to, tokenId],
  });
  await confirm(client, hash, `transfer of NFT ${tokenId}`);
  return hash;
}

/**
 * Reads the holder of NFT `tokenId` (`ownerOf`).
 *
 * @throws viem's `ContractFunctionExecutionError` (`ERC721NonexistentToken`) when the token was never minted.
 * @example
 * ```ts
 * const holder = await nftOwnerOf({ rpcUrl, address: nft.address, tokenId: 1n });
 * ```
 */
export async function nftOwnerOf(parameters: { rpcUrl: string; address: Address; tokenId: bigint }): Promise<Address> {
  const { rpcUrl, address, tokenId } = parameters;
  const client = await publicClientOf(rpcUrl);
  return client.readContract({ address, abi: testNftAbi, functionName: 'ownerOf', args: [tokenId] });
}
