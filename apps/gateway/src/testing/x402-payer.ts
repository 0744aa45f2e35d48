// Test support (not part of the build): a chain with our EIP-3009 token for the gateway's payment tests, and an
// x402 payer that signs good and deliberately bad payments for a `PAYMENT-REQUIRED` offer.
import { randomBytes } from 'node:crypto';
import {
  type DeployedTestUsdc,
  deployTestUsdc,
  type HardhatNode,
  hardhatChain,
  mintUsdc,
  signTransferWithAuthorization,
  startHardhatNode,
  testUsdcAbi,
  usdcBalanceOf,
} from '@arrakis/dev-chain';
import { decodePaymentRequiredHeader, encodeBase64Json, type PaymentRequirements } from '@arrakis/x402';
import { type Address, createWalletClient, getAddress, type Hex, http, parseGwei } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';

/** A Hardhat node with TestUsdc deployed, funded payers, a payee and settlement signers. */
export interface PaymentsChain {
  node: HardhatNode;
  usdc: DeployedTestUsdc;
  network: `eip155:${number}`;
  /** One settlement signer per gateway process (a signer must not be shared between processes). */
  settlerKeys: Hex[];
  /** Receives the payments (`X402_PAY_TO`). */
  payTo: Address;
  /** Funded payers' private keys. */
  payerKeys: Hex[];
  /** A payer with no token. */
  brokeKey: Hex;
  balanceOf(owner: Address): Promise<bigint>;
  /**
   * Sends the whole token balance of `payerKey` to the broke account with a high priority fee, so with automine
   * off it is mined before a pending settlement of that payer (which then reverts). Resolves once sent.
   */
  drain(payerKey: Hex): Promise<Hex>;
  /** The gateway environment turning payments on against this chain, with settler `index`. */
  gatewayEnv(settlerIndex?: number): Record<string, string>;
  stop(): Promise<void>;
}

/** Starts a node, deploys TestUsdc and funds `payerCount` payers with `fundedMicro` each. */
export async function startPaymentsChain(
  options: { payerCount?: number; settlerCount?: number; fundedMicro?: bigint } = {},
): Promise<PaymentsChain> {
  const payerCount = options.payerCount ?? 2;
  const settlerCount = options.settlerCount ?? 1;
  const node = await startHardhatNode({ accountCount: 3 + settlerCount + payerCount });
  try {
    const [deployer, payee, broke, ...rest] = node.accounts;
    if (deployer === undefined || payee === undefined || broke === undefined) throw new Error('too few accounts');
    const settlers = rest.slice(0, settlerCount);
    const payers = rest.slice(settlerCount);
    const usdc = await deployTestUsdc({ rpcUrl: node.rpcUrl, deployerKey: deployer.privateKey });
    for (const payer of payers) {
      await mintUsdc({
        rpcUrl: node.rpcUrl,
        ownerKey: deployer.privateKey,
        address: usdc.address,
        to: payer.address,
        amountMicro: options.fundedMicro ?? 100_000_000n,
      });
    }
    const network = `eip155:${node.chainId}` as const;
    const settlerKeys = settlers.map((s) => s.privateKey);
    return {
      node,
      usdc,
      network,
      settlerKeys,
      payTo: payee.address,
      payerKeys: payers.map((p) => p.privateKey),
      brokeKey: broke.privateKey,
      balanceOf: (owner) => usdcBalanceOf({ rpcUrl: node.rpcUrl, address: usdc.address, owner }),
      async drain(payerKey) {
        const account = privateKeyToAccount(payerKey);
        const balance = await usdcBalanceOf({ rpcUrl: node.rpcUrl, address: usdc.address, owner: account.address });
        const wallet = createWalletClient({ account, transport: http(node.rpcUrl) });
        return wallet.writeContract({
          address: usdc.address,
          abi: testUsdcAbi,
          functionName: 'transfer',
          args: [broke.address, balance],
          chain: hardhatChain(node.chainId, node.rpcUrl),
          gas: 100_000n,
          maxFeePerGas: parseGwei('500'),
          maxPriorityFeePerGas: parseGwei('400'),
        });
      },
      gatewayEnv: (settlerIndex = 0) => ({
        X402_ENABLED: 'true',
        X402_NETWORK: network,
        X402_ASSET: usdc.address,
        X402_TOKEN_NAME: usdc.name,
        X402_TOKEN_VERSION: usdc.version,
        X402_PAY_TO: payee.address,
        X402_FACILITATOR: 'local',
        X402_RPC_URL: node.rpcUrl,
        X402_SIGNER_KEY: settlerKeys[settlerIndex] ?? '',
      }),
      stop: () => node.stop(),
    };
  } catch (error) {
    await node.stop();
    throw error;
  }
}

/** The first requirement offered by a 402's `PAYMENT-REQUIRED` header (throws when absent). */
export function offeredRequirements(response: Response): { requirements: PaymentRequirements; resourceUrl: string } {
  const header = response.headers.get('payment-required');
  if (header === null) throw new Error(`no PAYMENT-REQUIRED header on a ${response.status}`);
  const required = decodePaymentRequiredHeader(header);
  const requirements = required.accepts[0];
  if (requirements === undefined) throw new Error('PAYMENT-REQUIRED offers nothing');
  return { requirements, resourceUrl: required.resource.url };
}

/** Ways to spoil a payment, each refused with its own x402 code. */
export interface PaymentTamper {
  /** Sign this value instead of the price. */
  signedValue?: bigint;
  /** Change the value in the payload after signing. */
  sentValue?: bigint;
  /** Pay someone else. */
  to?: Address;
  /** Sign for another chain and say so in `accepted.network`. */
  chainId?: number;
  /** validBefore in seconds since the epoch. */
  validBefore?: bigint;
  /** Sign with this key while claiming to be the payer. */
  forgeWithKey?: Hex;
}

/**
 * Signs an x402 v2 payment (EIP-3009 `TransferWithAuthorization`, exactly as the official client does:
 * validAfter 0, validBefore now + maxTimeoutSeconds, a random 32-byte nonce) and returns the `PAYMENT-SIGNATURE`
 * header value, optionally spoiled by `tamper`.
 */
export async function signPayment(
  payerKey: Hex,
  requirements: PaymentRequirements,
  usdc: { address: Address; name: string; version: string; chainId: number },
  tamper: PaymentTamper = {},
): Promise<string> {
  const payer = privateKeyToAccount(payerKey);
  const nowSeconds = BigInt(Math.floor(Date.now() / 1000));
  const message = {
    to: tamper.to ?? getAddress(requirements.payTo),
    value: tamper.signedValue ?? BigInt(requirements.amount),
    validAfter: 0n,
    validBefore: tamper.validBefore ?? nowSeconds + BigInt(requirements.maxTimeoutSeconds),
    nonce: `0x${randomBytes(32).toString('hex')}` as Hex,
  };
  const chainId = tamper.chainId ?? usdc.chainId;
  const signature = await signTransferWithAuthorization({
    privateKey: tamper.forgeWithKey ?? payerKey,
    usdc: { ...usdc, chainId },
    message,
  });
  const accepted = tamper.chainId === undefined ? requirements : { ...requirements, network: `eip155:${chainId}` };
  return encodeBase64Json({
    x402Version: 2,
    resource: { url: 'http://gateway.test/purchase' },
    accepted,
    payload: {
      signature,
      authorization: {
        from: payer.address,
        to: message.to,
        value: (tamper.sentValue ?? message.value).toString(),
        validAfter: message.validAfter.toString(),
        validBefore: message.validBefore.toString(),
        nonce: message.nonce,
      },
    },
  });
}
