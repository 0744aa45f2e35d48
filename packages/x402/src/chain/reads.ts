/**
 * The chain reads of EIP-3009 payments, shared by `localFacilitator` and `rpcAuthorizationResolver`: each rule
 * (is an authorization used, which transaction executed it, what a matching transfer is) lives here once.
 * Every function throws what viem throws; callers map RPC failures to `facilitator_unavailable`.
 */
import {
  type Address,
  type Hash,
  type Hex,
  isAddressEqual,
  type Log,
  type PublicClient,
  parseEventLogs,
  TransactionNotFoundError,
  type TransactionReceipt,
  TransactionReceiptNotFoundError,
} from 'viem';
import { eip3009Abi } from '../facilitator/token-abi.js';

/** How many blocks back a settlement of a used authorization is searched for, by default. */
export const settlementLookbackBlocksDefault = 100_000n;
/** Most `AuthorizationUsed` logs examined when looking for an earlier settlement. */
export const settlementLogsMax = 32;

/** What identifies an EIP-3009 authorization on chain: the token, the authorizer and the nonce. */
export interface AuthorizationKey {
  asset: Address;
  payer: Address;
  nonce: Hex;
}

/** An authorization with the transfer it allows (a `VerifiedPayment` is one). */
export interface AuthorizedTransfer extends AuthorizationKey {
  payTo: Address;
  amountAtomic: bigint;
}

/** A settlement found on chain for an authorization. */
export interface FoundSettlement {
  transaction: Hash;
  blockNumber: bigint;
}

/**
 * Whether the token marks `nonce` of `payer` as used or cancelled (`authorizationState`), at `blockNumber` when
 * given (so a caller can read one consistent block), else at the latest block.
 *
 * @example
 * const used = await readAuthorizationUsed(client, { asset, payer, nonce });
 */
export async function readAuthorizationUsed(
  client: PublicClient,
  key: AuthorizationKey,
  options: { blockNumber?: bigint } = {},
): Promise<boolean> {
  return client.readContract({
    address: key.asset,
    abi: eip3009Abi,
    functionName: 'authorizationState',
    args: [key.payer, key.nonce],
    ...(options.blockNumber === undefined ? {} : { blockNumber: options.blockNumber }),
  });
}

/**
 * The token balance of `owner`, in the token's smallest unit.
 *
 * @example
 * const balance = await readTokenBalance(client, { asset, owner: payer });
 */
export async function readTokenBalance(
  client: PublicClient,
  input: { asset: Address; owner: Address },
): Promise<bigint> {
  return client.readContract({
    address: input.asset,
    abi: eip3009Abi,
    functionName: 'balanceOf',
    args: [input.owner],
  });
}

/**
 * The token's ERC-20 `decimals()`.
 *
 * @example
 * await readTokenDecimals(client, usdc); // 6
 */
export async function readTokenDecimals(client: PublicClient, asset: Address): Promise<number> {
  return client.readContract({ address: asset, abi: eip3009Abi, functionName: 'decimals' });
}

/**
 * Whether `logs` hold a `Transfer` of exactly `amountAtomic` from the payer to `payTo`, emitted by the token.
 *
 * @example
 * transferMatches(receipt.logs, payment); // true for the payment's own settlement
 */
export function transferMatches(logs: readonly Log[], transfer: AuthorizedTransfer): boolean {
  const transfers = parseEventLogs({ abi: eip3009Abi, eventName: 'Transfer', logs: [...logs] });
  return transfers.some(
    (event) =>
      isAddressEqual(event.address, transfer.asset) &&
      isAddressEqual(event.args.from, transfer.payer) &&
      isAddressEqual(event.args.to, transfer.payTo) &&
      event.args.value === transfer.amountAtomic,
  );
}

/**
 * Whether a receipt is the execution of this authorization: the transaction succeeded, the token emitted
 * `AuthorizationUsed(payer, nonce)` in it, and the matching {@link transferMatches | transfer}.
 *
 * @example
 * if (receiptExecutes(receipt, payment)) markSettled(receipt.transactionHash);
 */
export function receiptExecutes(receipt: TransactionReceipt, transfer: AuthorizedTransfer): boolean {
  if (receipt.status !== 'success') return false;
  const used = parseEventLogs({ abi: eip3009Abi, eventName: 'AuthorizationUsed', logs: receipt.logs }).some(
    (event) =>
      isAddressEqual(event.address, transfer.asset) &&
      isAddressEqual(event.args.authorizer, transfer.payer) &&
      event.args.nonce.toLowerCase() === transfer.nonce.toLowerCase(),
  );
  return used && transferMatches(receipt.logs, transfer);
}

/**
 * The receipt of `hash`, or `null` when the node has none (not mined, or unknown).
 *
 * @example
 * const receipt = await readReceipt(client, hash);
 */
export async function readReceipt(client: PublicClient, hash: Hash): Promise<TransactionReceipt | null> {
  try {
    return await client.getTransactionReceipt({ hash });
  } catch (error) {
    if (error instanceof TransactionReceiptNotFoundError) return null;
    throw error;
  }
}

/**
 * Whether the node knows the transaction `hash` (mined or waiting in its pool).
 *
 * @example
 * if (receipt === null && (await isTransactionKnown(client, hash))) return { state: 'pending', transaction: hash };
 */
export async function isTransactionKnown(client: PublicClient, hash: Hash): Promise<boolean> {
  try {
    await client.getTransaction({ hash });
    return true;
  } catch (error) {
    if (error instanceof TransactionNotFoundError) return false;
    throw error;
  }
}

/**
 * Finds the transaction that executed this authorization within the last `lookbackBlocks` blocks: an
 * `AuthorizationUsed` log of the payer and nonce whose receipt {@link receiptExecutes | executes} the transfer.
 * Examines at most {@link settlementLogsMax} logs, newest first. `null` when none did (the nonce was used by
 * another transfer, cancelled, or executed before the window).
 *
 * @example
 * const found = await findSettlement(client, payment, { lookbackBlocks: 100_000n });
 * found?.transaction; // '0x…'
 */
export async function findSettlement(
  client: PublicClient,
  transfer: AuthorizedTransfer,
  options: { lookbackBlocks: bigint },
): Promise<FoundSettlement | null> {
  // Uncached: viem caches the block number for its polling interval (4 s), and a settlement mined since then
  // would fall outside the range (then reported as `nonce_already_used`, though it paid this payment).
  const latest = await client.getBlockNumber({ cacheTime: 0 });
  const fromBlock = latest > options.lookbackBlocks ? latest - options.lookbackBlocks : 0n;
  const logs = await client.getContractEvents({
    address: transfer.asset,
    abi: eip3009Abi,
    eventName: 'AuthorizationUsed',
    args: { authorizer: transfer.payer, nonce: transfer.nonce },
    fromBlock,
    toBlock: latest,
  });
  for (const log of logs.slice(-settlementLogsMax).reverse()) {
    if (log.transactionHash === null || log.blockNumber === null) continue;
    const receipt = await client.getTransactionReceipt({ hash: log.transactionHash });
    if (receiptExecutes(receipt, transfer)) return { transaction: log.transactionHash, blockNumber: log.blockNumber };
  }
  return null;
}
