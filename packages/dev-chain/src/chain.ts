import { type Chain, defineChain } from 'viem';

/**
 * A viem chain definition for a dev-chain node: `chainId`, ETH as native currency, and `rpcUrl` as
 * the default HTTP endpoint.
 *
 * @example
 * ```ts
 * const node = await startHardhatNode();
 * const client = createPublicClient({ chain: hardhatChain(node.chainId, node.rpcUrl), transport: http(node.rpcUrl) });
 * ```
 */
export function hardhatChain(chainId: number, rpcUrl: string): Chain {
  return defineChain({
    id: chainId,
    name: `Hardhat dev chain ${chainId}`,
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
    testnet: true,
  });
}
