import { type Address, getAddress, type Hex } from 'viem';
import { publicClientOf } from './clients.js';
import { DevChainError } from './errors.js';
import { compileTestContract } from './test-contracts.js';

/** Where every public EVM chain has Multicall3 (the same address on all of them). */
export const multicall3Address: Address = getAddress('0xcA11bde05977b3631167028862bE2a173976CA11');

/**
 * Puts `contracts/Multicall3.sol` (`tryAggregate`, `aggregate3`) at {@link multicall3Address} on a Hardhat node
 * with `hardhat_setCode`, unless code is already there. A dev chain starts without it; the official x402 EVM
 * facilitator reads the token through it to say why a payment cannot settle (nonce already used, balance too low)
 * and viem's `multicall` batches through it. Idempotent; mines nothing.
 *
 * @returns whether it installed the code (`false`: code was already at the address).
 * @throws {DevChainError} `deploy_failed` when the node refuses `hardhat_setCode` (not a Hardhat node) or the code
 *   is not there afterwards; `compile_failed` if the contract does not compile.
 * @example
 * ```ts
 * const node = await startHardhatNode();
 * await installMulticall3({ rpcUrl: node.rpcUrl }); // true; a second call answers false
 * ```
 */
export async function installMulticall3(parameters: { rpcUrl: string }): Promise<boolean> {
  const client = await publicClientOf(parameters.rpcUrl);
  const present = await client.getCode({ address: multicall3Address });
  if (present !== undefined && present !== '0x') return false;
  const { deployedBytecode } = await compileTestContract('Multicall3');
  try {
    await client.request({
      method: 'hardhat_setCode' as never,
      params: [multicall3Address, deployedBytecode] as never,
    });
  } catch (cause) {
    throw new DevChainError(
      'deploy_failed',
      `hardhat_setCode of Multicall3 at ${multicall3Address} failed on ${parameters.rpcUrl}: is it a Hardhat node?`,
      { cause },
    );
  }
  const installed: Hex | undefined = await client.getCode({ address: multicall3Address });
  if (installed?.toLowerCase() !== deployedBytecode.toLowerCase()) {
    throw new DevChainError('deploy_failed', `Multicall3 code is not at ${multicall3Address} after hardhat_setCode`, {
      details: { rpcUrl: parameters.rpcUrl },
    });
  }
  return true;
}
