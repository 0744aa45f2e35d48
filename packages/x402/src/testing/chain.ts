/**
 * Test harness: a real Hardhat node with our EIP-3009 TestUsdc deployed and the payers funded
 * (`@arrakis/dev-chain`). Not exported from the package.
 */
import {
  type DeployedTestUsdc,
  deployTestUsdc,
  type HardhatNode,
  mintUsdc,
  startHardhatNode,
  usdcBalanceOf,
} from '@arrakis/dev-chain';
import type { Address, Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { exactRequirements } from '../requirements.js';
import type { PaymentRequirements } from '../wire/schemas.js';

export interface TestChain {
  node: HardhatNode;
  usdc: DeployedTestUsdc;
  network: `eip155:${number}`;
  /** Submits settlements and pays gas. */
  settlerKey: Hex;
  /** Funded with `fundedMicro` TestUsdc each. */
  payers: ReturnType<typeof privateKeyToAccount>[];
  /** The payers' private keys, in the same order. */
  payerKeys: Hex[];
  /** Holds no TestUsdc. */
  broke: ReturnType<typeof privateKeyToAccount>;
  /** Receives payments. */
  payTo: Address;
  balanceOf(owner: Address): Promise<bigint>;
  requirementsFor(amountAtomic: bigint, options?: { payTo?: Address; maxTimeoutSeconds?: number }): PaymentRequirements;
  stop(): Promise<void>;
}

export async function startTestChain(
  options: { chainId?: number; payerCount?: number; fundedMicro?: bigint } = {},
): Promise<TestChain> {
  const payerCount = options.payerCount ?? 2;
  const node = await startHardhatNode({
    accountCount: 4 + payerCount,
    ...(options.chainId === undefined ? {} : { chainId: options.chainId }),
  });
  try {
    const [deployer, settler, payee, broke, ...payerAccounts] = node.accounts;
    if (deployer === undefined || settler === undefined || payee === undefined || broke === undefined)
      throw new Error('too few accounts');
    const usdc = await deployTestUsdc({ rpcUrl: node.rpcUrl, deployerKey: deployer.privateKey });
    const funded = options.fundedMicro ?? 100_000_000n;
    for (const payer of payerAccounts) {
      await mintUsdc({
        rpcUrl: node.rpcUrl,
        ownerKey: deployer.privateKey,
        address: usdc.address,
        to: payer.address,
        amountMicro: funded,
      });
    }
    const network = `eip155:${node.chainId}` as const;
    return {
      node,
      usdc,
      network,
      settlerKey: settler.privateKey,
      payers: payerAccounts.map((account) => privateKeyToAccount(account.privateKey)),
      payerKeys: payerAccounts.map((account) => account.privateKey),
      broke: privateKeyToAccount(broke.privateKey),
      payTo: payee.address,
      balanceOf: (owner) => usdcBalanceOf({ rpcUrl: node.rpcUrl, address: usdc.address, owner }),
      requirementsFor: (amountAtomic, extra = {}) =>
        exactRequirements({
          network,
          asset: usdc.address,
          payTo: extra.payTo ?? payee.address,
          amountAtomic,
          tokenName: usdc.name,
          tokenVersion: usdc.version,
          ...(extra.maxTimeoutSeconds === undefined ? {} : { maxTimeoutSeconds: extra.maxTimeoutSeconds }),
        }),
      stop: () => node.stop(),
    };
  } catch (error) {
    await node.stop();
    throw error;
  }
}
