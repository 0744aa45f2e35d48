import type { Address, Hash, Hex, TypedDataDomain } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { testUsdcAbi } from './abis.js';
import { confirm, publicClientOf, walletClientOf } from './clients.js';
import { compileTestContract } from './test-contracts.js';
import { type DeployedContract, deployedAddress } from './test-nft.js';

/** Parameters of {@link deployTestUsdc}. */
export interface DeployTestUsdcParameters {
  rpcUrl: string;
  /** Private key of the deployer, who becomes the owner (the only minter). */
  deployerKey: Hex;
  /** ERC-20 name and EIP-712 domain name. Default "USD Coin" (as USDC). */
  name?: string;
  /** EIP-712 domain version. Default "2" (as USDC). */
  version?: string;
}

/** A deployed TestUsdc: address, typed ABI and the EIP-712 domain fields it was deployed with. */
export interface DeployedTestUsdc extends DeployedContract<typeof testUsdcAbi> {
  name: string;
  version: string;
  chainId: number;
}

/** EIP-712 types of EIP-3009 `TransferWithAuthorization`, as in the EIP. */
export const transferWithAuthorizationTypes = {
  TransferWithAuthorization: [
    { name: 'from', type: 'address' },
    { name: 'to', type: 'address' },
    { name: 'value', type: 'uint256' },
    { name: 'validAfter', type: 'uint256' },
    { name: 'validBefore', type: 'uint256' },
    { name: 'nonce', type: 'bytes32' },
  ],
} as const;

/**
 * Deploys `contracts/TestUsdc.sol` (6-decimal ERC-20 with EIP-3009 transfer/receive/cancel with
 * authorization) and waits for the receipt.
 *
 * @throws {DevChainError} `deploy_failed` when the deployment reverts or yields no contract address;
 *   `compile_failed` if the contract does not compile.
 * @example
 * ```ts
 * const usdc = await deployTestUsdc({ rpcUrl: node.rpcUrl, deployerKey: node.accounts[0].privateKey });
 * // usdc.name === 'USD Coin', usdc.version === '2'
 * ```
 */
export async function deployTestUsdc(parameters: DeployTestUsdcParameters): Promise<DeployedTestUsdc> {
  const { rpcUrl, deployerKey, name = 'USD Coin', version = '2' } = parameters;
  const { bytecode } = await compileTestContract('TestUsdc');
  const { wallet, client } = await walletClientOf(rpcUrl, deployerKey);
  const hash = await wallet.deployContract({ abi: testUsdcAbi, bytecode, args: [name, version] });
  const address = await deployedAddress(client, hash, 'TestUsdc');
  return { address, abi: testUsdcAbi, name, version, chainId: client.chain.id };
}

/**
 * The EIP-712 domain a TestUsdc verifies signatures against.
 *
 * @example
 * ```ts
 * const domain = testUsdcDomain(usdc); // { name: 'USD Coin', version: '2', chainId: 31337, verifyingContract }
 * ```
 */
export function testUsdcDomain(usdc: {
  address: Address;
  name: string;
  version: string;
  chainId: number;
}): TypedDataDomain {
  return { name: usdc.name, version: usdc.version, chainId: usdc.chainId, verifyingContract: usdc.address };
}

/**
 * Signs an EIP-3009 `TransferWithAuthorization` for a TestUsdc (or any token with the same domain).
 * `from` is the signer's address.
 *
 * @example
 * ```ts
 * const signature = await signTransferWithAuthorization({
 *   privateKey: payer.privateKey, usdc,
 *   message: { to: payee.address, value: 1_000_000n, validAfter: 0n, validBefore: 2n ** 48n, nonce: toHex(randomBytes(32)) },
 * });
 * ```
 */
export async function signTransferWithAuthorization(parameters: {
  privateKey: Hex;
  usdc: { address: Address; name: string; version: string; chainId: number };
  message: { to: Address; value: bigint; validAfter: bigint; validBefore: bigint; nonce: Hex };
}): Promise<Hex> {
  const account = privateKeyToAccount(parameters.privateKey);
  return account.signTypedData({
    domain: testUsdcDomain(parameters.usdc),
    types: transferWithAuthorizationTypes,
    primaryType: 'TransferWithAuthorization',
    message: { from: account.address, ...parameters.message },
  });
}

/**
 * Mints `amountMicro` units (6 decimals: 1 unit = 0.000001 USDC) to `to`, signed by the owner; waits for the receipt.
 *
 * @throws viem's `ContractFunctionExecutionError` (`OwnableUnauthorizedAccount`) when the signer is not the owner.
 * @example
 * ```ts
 * await mintUsdc({ rpcUrl, ownerKey: deployer.privateKey, address: usdc.address, to: payer.address, amountMicro: 5_000_000n });
 * ```
 */
export async function mintUsdc(parameters: {
  rpcUrl: string;
  ownerKey: Hex;
  address: Address;
  to: Address;
  amountMicro: bigint;
}): Promise<Hash> {
  const { rpcUrl, ownerKey, address, to, amountMicro } = parameters;
  const { wallet, client } = await walletClientOf(rpcUrl, ownerKey);
  const hash = await wallet.writeContract({ address, abi: testUsdcAbi, functionName: 'mint', args: [to, amountMicro] });
  await confirm(client, hash, `mint of ${amountMicro} micro-USDC`);
  return hash;
}

/**
 * Reads the TestUsdc balance of `owner` in micro-USDC (the token's base unit).
 *
 * @example
 * ```ts
 * const balanceMicro = await usdcBalanceOf({ rpcUrl, address: usdc.address, owner: payer.address });
 * ```
 */
export async function usdcBalanceOf(parameters: { rpcUrl: string; address: Address; owner: Address }): Promise<bigint> {
  const { rpcUrl, address, owner } = parameters;
  const client = await publicClientOf(rpcUrl);
  return client.readContract({ address, abi: testUsdcAbi, functionName: 'balanceOf', args: [owner] });
}
