import {
  type Account,
  type Chain,
  createPublicClient,
  createWalletClient,
  type Hash,
  type Hex,
  http,
  type PublicClient,
  type Transport,
  type WalletClient,
} from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { hardhatChain } from './chain.js';
import { DevChainError } from './errors.js';

/** Receipt polling interval: a dev chain mines every transaction at once, viem's 4 s default is too slow. */
export const receiptPollingIntervalMs = 50;
/**
 * HTTP transport of the helpers. No retries: a local node does not drop requests, and viem would
 * retry a reverted call (Hardhat reports reverts as internal errors) with back-off for seconds.
 */
function transportOf(rpcUrl: string) {
  return http(rpcUrl, { retryCount: 0 });
}

/** How long helpers wait for a receipt. */
export const receiptTimeoutMs = 30_000;

async function chainOf(rpcUrl: string): Promise<Chain> {
  const chainId = await createPublicClient({ transport: transportOf(rpcUrl) }).getChainId();
  return hardhatChain(chainId, rpcUrl);
}

/** A public client for `rpcUrl` with the chain id it reports. */
export async function publicClientOf(rpcUrl: string): Promise<PublicClient<Transport, Chain>> {
  return createPublicClient({
    chain: await chainOf(rpcUrl),
    transport: transportOf(rpcUrl),
    pollingInterval: receiptPollingIntervalMs,
  });
}

/** A wallet client for `rpcUrl` that signs locally with `privateKey`. */
export async function walletClientOf(
  rpcUrl: string,
  privateKey: Hex,
): Promise<{ wallet: WalletClient<Transport, Chain, Account>; client: PublicClient<Transport, Chain> }> {
  const client = await publicClientOf(rpcUrl);
  const wallet = createWalletClient({
    account: privateKeyToAccount(privateKey),
    chain: client.chain,
    transport: transportOf(rpcUrl),
    pollingInterval: receiptPollingIntervalMs,
  });
  return { wallet, client };
}

/** Waits for the receipt of `hash` and throws if the transaction reverted. */
export async function confirm(client: PublicClient<Transport, Chain>, hash: Hash, what: string) {
  const receipt = await client.waitForTransactionReceipt({ hash, timeout: receiptTimeoutMs });
  if (receipt.status !== 'success') {
    throw new DevChainError('transaction_reverted', `${what} reverted (transaction ${hash})`, {
      details: { hash, blockNumber: receipt.blockNumber },
    });
  }
  return receipt;
}
