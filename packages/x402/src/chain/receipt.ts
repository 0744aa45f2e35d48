import type { Hash, PublicClient, TransactionReceipt } from 'viem';
import { readReceipt } from './reads.js';

/** Consecutive failed receipt polls after which the RPC counts as unreachable (each poll already retries). */
export const receiptRpcFailuresMax = 3;

/**
 * What {@link waitForReceipt} saw:
 * - `mined`: the receipt (successful or reverted);
 * - `timeout`: the node answered every time, and had no receipt until the deadline;
 * - `unreachable`: the RPC failed {@link receiptRpcFailuresMax} polls in a row, or the last poll before the
 *   deadline — the transaction may be mined or not; `cause` is the last error.
 */
export type ReceiptWait =
  | { outcome: 'mined'; receipt: TransactionReceipt }
  | { outcome: 'timeout' }
  | { outcome: 'unreachable'; cause: unknown };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls `getTransactionReceipt(hash)` every `pollingIntervalMs` until it has a receipt or `timeoutMs` (real
 * time) has passed, telling a slow chain (`timeout`) from an RPC that cannot answer (`unreachable`). Unlike
 * viem's `waitForTransactionReceipt`, which swallows a failing RPC and reports only a timeout.
 *
 * @example
 * const wait = await waitForReceipt(client, hash, { timeoutMs: 60_000, pollingIntervalMs: 250 });
 * if (wait.outcome === 'unreachable') throw new X402Error('facilitator_unavailable', '…', { cause: wait.cause });
 */
export async function waitForReceipt(
  client: PublicClient,
  hash: Hash,
  options: { timeoutMs: number; pollingIntervalMs: number },
): Promise<ReceiptWait> {
  const { timeoutMs, pollingIntervalMs } = options;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || !Number.isInteger(pollingIntervalMs) || pollingIntervalMs < 1)
    throw new Error(`assertion failed: waitForReceipt timeoutMs ${timeoutMs}, pollingIntervalMs ${pollingIntervalMs}`);
  const deadline = performance.now() + timeoutMs;
  const pollsMax = Math.ceil(timeoutMs / pollingIntervalMs) + 1;
  let failures = 0;
  let lastError: unknown;
  for (let poll = 0; poll < pollsMax; poll += 1) {
    try {
      const receipt = await readReceipt(client, hash);
      if (receipt !== null) return { outcome: 'mined', receipt };
      failures = 0;
    } catch (error) {
      failures += 1;
      lastError = error;
      if (failures >= receiptRpcFailuresMax) return { outcome: 'unreachable', cause: error };
    }
    const left = deadline - performance.now();
    if (left <= 0) break;
    await sleep(Math.min(pollingIntervalMs, left));
  }
  return failures > 0 ? { outcome: 'unreachable', cause: lastError } : { outcome: 'timeout' };
}
