import {
  type Account,
  type Address,
  type Chain,
  createPublicClient,
  createWalletClient,
  type Hash,
  type Hex,
  http,
  isHex,
  type PublicClient,
  parseSignature,
  type Transport,
  type WalletClient,
} from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import {
  type FoundSettlement,
  findSettlement as findSettlementOnChain,
  readAuthorizationUsed,
  readTokenBalance,
  receiptExecutes,
  settlementLookbackBlocksDefault,
} from '../chain/reads.js';
import { waitForReceipt } from '../chain/receipt.js';
import { rpcUnavailable, shortMessage } from '../chain/rpc-error.js';
import { type Clock, nowSeconds, systemClock } from '../clock.js';
import { InvalidX402OptionError, X402Error, type X402ErrorCode } from '../errors.js';
import type { Facilitator } from '../ports/facilitator.js';
import { parseRequirements } from '../requirements.js';
import { type VerifiedPayment, validBeforeMarginSecondsDefault, verifyExactPayment } from '../verify/verify-exact.js';
import { type Eip155Network, eip155ChainId, resolveV1NetworkNames, v1NameOf } from '../wire/networks.js';
import type {
  PaymentPayload,
  PaymentRequirements,
  SettleResponse,
  SupportedKind,
  SupportedResponse,
  VerifyResponse,
} from '../wire/schemas.js';
import { eip3009Abi } from './token-abi.js';

export type { FoundSettlement } from '../chain/reads.js';
export { settlementLogsMax, settlementLookbackBlocksDefault } from '../chain/reads.js';

/** How long `settle` waits for the transaction's receipt by default. */
export const receiptTimeoutMsDefault = 60_000;
/** Receipt polling interval of clients built from `rpcUrl`, by default. */
export const pollingIntervalMsDefault = 250;

/** Options of {@link localFacilitator}. Give `publicClient` + `walletClient`, or `rpcUrl` + `signerKey`, or neither. */
export interface LocalFacilitatorOptions {
  /** Reads the chain: chain id, `authorizationState`, `balanceOf`, receipts and logs. */
  publicClient?: PublicClient;
  /** Sends `transferWithAuthorization`; must carry an `account` (the facilitator pays the gas). */
  walletClient?: WalletClient;
  /** JSON-RPC URL (http/https) to build both clients from, with `signerKey`. */
  rpcUrl?: string;
  /** Private key of the account that submits settlements and pays gas (with `rpcUrl`). */
  signerKey?: Hex;
  /**
   * Networks served, `eip155:<chainId>`. Required without a chain client (verify-only mode); with one it defaults
   * to the client's chain and must match it.
   */
  networks?: readonly string[];
  /** Time source of the validity window. Default: the wall clock. */
  clock?: Clock;
  /** `validBefore` must be at least this many seconds ahead. Default 6. */
  validBeforeMarginSeconds?: number;
  /** How long to wait for a receipt. Default 60 000 ms. */
  receiptTimeoutMs?: number;
  /** Receipt polling interval. Default: the client's (250 ms for clients built from `rpcUrl`). */
  pollingIntervalMs?: number;
  /** How far back to look for an earlier settlement of an already used authorization. Default 100 000 blocks. */
  settlementLookbackBlocks?: bigint;
  /** Extra version 1 network names (`{ 'my-chain': 'eip155:1234' }`). */
  v1NetworkNames?: Record<string, string>;
}

/** The facilitator {@link localFacilitator} returns: the port plus the signer and a settlement lookup. */
export interface LocalFacilitator extends Facilitator {
  /** The account that submits settlements, or `null` in verify-only mode. */
  readonly signerAddress: Address | null;
  /**
   * Finds the transaction that already executed this authorization on chain (an `AuthorizationUsed` event of
   * the payer and nonce in a transaction whose `Transfer` moved the same value from the payer to `payTo`).
   */
  findSettlement(payment: VerifiedPayment): Promise<FoundSettlement | null>;
}

function invalid(code: X402ErrorCode, message: string, payer?: string): VerifyResponse {
  return { isValid: false, invalidReason: code, invalidMessage: message, ...(payer === undefined ? {} : { payer }) };
}

function failed(
  code: X402ErrorCode,
  message: string,
  network: string,
  payer?: string,
  transaction = '',
): SettleResponse {
  return {
    success: false,
    errorReason: code,
    errorMessage: message,
    transaction,
    network,
    ...(payer === undefined ? {} : { payer }),
  };
}

function payerOf(payload: unknown): string | undefined {
  if (payload === null || typeof payload !== 'object') return undefined;
  const inner = (payload as { payload?: unknown }).payload;
  if (inner === null || typeof inner !== 'object') return undefined;
  const authorization = (inner as { authorization?: unknown }).authorization;
  if (authorization === null || typeof authorization !== 'object') return undefined;
  const from = (authorization as { from?: unknown }).from;
  return typeof from === 'string' ? from : undefined;
}

/**
 * A facilitator that verifies payments in-process and settles them on chain itself: it sends the token's
 * `transferWithAuthorization(from, to, value, validAfter, validBefore, nonce, v, r, s)` through a viem wallet
 * client and waits for the receipt (status `success` and a matching `Transfer` event, else `settlement_failed`).
 *
 * - `verify` runs `verifyExactPayment` and, with a chain client, checks the chain id, that
 *   `authorizationState(from, nonce)` is unused (`nonce_already_used`) and that the payer's balance covers the
 *   amount (`insufficient_funds`).
 * - `settle` is idempotent per authorization: concurrent calls in this process share one transaction, and an
 *   authorization already executed on chain (e.g. the process crashed after settling and before its database
 *   committed) is answered as settled with the original transaction when it is found; a nonce used by a
 *   different transfer or cancelled answers `nonce_already_used`.
 * - Submissions are serialised in this process so the signer's transaction nonces do not collide; give each
 *   process its own signer key (or use one facilitator service over HTTP).
 * - Without a chain client it runs verify-only: `verify` is local and `settle` answers `settlement_failed`.
 * - When the outcome is unknown — sending failed and the authorization state cannot be read either, or the
 *   transaction was sent and its receipt cannot be read because the RPC is unreachable — `settle` throws
 *   `facilitator_unavailable` instead of answering `settlement_failed`: the transfer may still happen, so callers
 *   must not record a failure. A receipt that does not arrive in `receiptTimeoutMs` (the RPC answering) is
 *   `settlement_failed` with the transaction hash.
 *
 * @throws {InvalidX402OptionError} when options are inconsistent (e.g. `rpcUrl` without `signerKey`, a wallet
 *   client without an account, a network that is not `eip155:<chainId>`).
 * @throws {X402Error} `facilitator_unavailable` from `verify`/`settle` when the chain RPC cannot answer.
 * @example
 * const facilitator = localFacilitator({ rpcUrl: 'http://127.0.0.1:8545', signerKey: process.env.SETTLER_KEY });
 * const settled = await facilitator.settle(payload, requirements);
 * settled.success; // true, settled.transaction = '0x…'
 */
export function localFacilitator(options: LocalFacilitatorOptions = {}): LocalFacilitator {
  if (options === null || typeof options !== 'object')
    throw new InvalidX402OptionError('localFacilitator() needs an options object');
  const clock = options.clock ?? systemClock;
  const marginSeconds = options.validBeforeMarginSeconds ?? validBeforeMarginSecondsDefault;
  const receiptTimeoutMs = options.receiptTimeoutMs ?? receiptTimeoutMsDefault;
  if (!Number.isInteger(receiptTimeoutMs) || receiptTimeoutMs < 1 || receiptTimeoutMs > 3_600_000) {
    throw new InvalidX402OptionError(
      `receiptTimeoutMs ${JSON.stringify(receiptTimeoutMs)} must be an integer in 1..3 600 000`,
    );
  }
  const lookback = options.settlementLookbackBlocks ?? settlementLookbackBlocksDefault;
  if (typeof lookback !== 'bigint' || lookback < 0n) {
    throw new InvalidX402OptionError('settlementLookbackBlocks must be a bigint ≥ 0');
  }
  const v1Names = resolveV1NetworkNames(options.v1NetworkNames);

  let publicClient: PublicClient | undefined = options.publicClient;
  let walletClient: WalletClient<Transport, Chain | undefined, Account> | undefined;
  let pollingIntervalMs = options.pollingIntervalMs;
  if (options.rpcUrl !== undefined || options.signerKey !== undefined) {
    if (options.publicClient !== undefined || options.walletClient !== undefined) {
      throw new InvalidX402OptionError(
        'localFacilitator(): give either rpcUrl + signerKey or the viem clients, not both',
      );
    }
    if (typeof options.rpcUrl !== 'string' || !/^https?:\/\/\S+$/.test(options.rpcUrl)) {
      throw new InvalidX402OptionError(
        `localFacilitator(): rpcUrl ${JSON.stringify(options.rpcUrl)} must be an http(s) URL`,
      );
    }
    if (typeof options.signerKey !== 'string' || !isHex(options.signerKey) || options.signerKey.length !== 66) {
      throw new InvalidX402OptionError('localFacilitator(): signerKey must be a 32-byte hex private key (0x + 64 hex)');
    }
    pollingIntervalMs ??= pollingIntervalMsDefault;
    const transport = http(options.rpcUrl);
    publicClient = createPublicClient({ transport, pollingInterval: pollingIntervalMs });
    walletClient = createWalletClient({
      account: privateKeyToAccount(options.signerKey),
      transport,
      pollingInterval: pollingIntervalMs,
    });
  } else if (options.walletClient !== undefined) {
    if (options.walletClient.account === undefined) {
      throw new InvalidX402OptionError(
        'localFacilitator(): walletClient must carry an account (it signs the settlements)',
      );
    }
    if (publicClient === undefined) {
      throw new InvalidX402OptionError(
        'localFacilitator(): walletClient needs a publicClient too (receipts, state reads)',
      );
    }
    walletClient = options.walletClient as WalletClient<Transport, Chain | undefined, Account>;
  }
  if (pollingIntervalMs !== undefined && (!Number.isInteger(pollingIntervalMs) || pollingIntervalMs < 1)) {
    throw new InvalidX402OptionError('pollingIntervalMs must be a positive integer');
  }
  let configuredNetworks: Eip155Network[] | undefined;
  if (options.networks !== undefined) {
    if (!Array.isArray(options.networks) || options.networks.length === 0) {
      throw new InvalidX402OptionError('localFacilitator(): networks must be a non-empty array of "eip155:<chainId>"');
    }
    configuredNetworks = options.networks.map((network) => {
      if (eip155ChainId(network) === null) {
        throw new InvalidX402OptionError(
          `localFacilitator(): network ${JSON.stringify(network)} is not "eip155:<chainId>"`,
        );
      }
      return network as Eip155Network;
    });
  } else if (publicClient === undefined) {
    throw new InvalidX402OptionError('localFacilitator(): without a chain client, give the networks it verifies');
  }
  const signerAddress = walletClient?.account.address ?? null;

  let chainIdPromise: Promise<number> | undefined;
  function chainId(client: PublicClient): Promise<number> {
    chainIdPromise ??= client.getChainId().catch((error: unknown) => {
      chainIdPromise = undefined;
      throw error;
    });
    return chainIdPromise;
  }
  async function networks(): Promise<Eip155Network[]> {
    if (configuredNetworks !== undefined) return configuredNetworks;
    if (publicClient === undefined) throw new Error('assertion failed: networks or a client is configured');
    return [`eip155:${await chainId(publicClient)}`];
  }

  /** Chain-state checks shared by verify and settle. `null` = fine; otherwise the failure. */
  async function chainNetworkMismatch(client: PublicClient, payment: VerifiedPayment): Promise<string | null> {
    const served = await networks();
    if (!served.includes(payment.network))
      return `network ${payment.network} is not served (serves ${served.join(', ')})`;
    const actual = await chainId(client);
    if (actual !== payment.chainId) return `the RPC serves chain ${actual}, the payment is for ${payment.network}`;
    return null;
  }

  async function verifyLocally(payload: PaymentPayload, requirements: PaymentRequirements, checkWindow: boolean) {
    const offered = parseRequirements(requirements, 'facilitator requirements');
    return verifyExactPayment({
      payload,
      requirements: offered,
      clock,
      validBeforeMarginSeconds: marginSeconds,
      v1NetworkNames: v1Names,
      checkWindow,
    });
  }

  async function findSettlement(payment: VerifiedPayment): Promise<FoundSettlement | null> {
    if (publicClient === undefined) return null;
    return findSettlementOnChain(publicClient, payment, { lookbackBlocks: lookback });
  }

  function settled(payment: VerifiedPayment, transaction: Hash): SettleResponse {
    return {
      success: true,
      transaction,
      network: payment.network,
      payer: payment.payer,
      amount: payment.amountAtomic.toString(),
    };
  }

  /** Answers for an authorization already marked used on chain: settled (found) or nonce_already_used. */
  async function answerUsed(payment: VerifiedPayment): Promise<SettleResponse> {
    const found = await findSettlement(payment);
    if (found !== null) return settled(payment, found.transaction);
    return failed(
      'nonce_already_used',
      `nonce ${payment.nonce} of ${payment.payer} is already used on chain, and no transfer of ${payment.amountAtomic} to ${payment.payTo} executed it in the last ${lookback} blocks (used by another authorization, or cancelled)`,
      payment.network,
      payment.payer,
    );
  }

  let sendChain: Promise<unknown> = Promise.resolve();
  /** Runs `send` after every earlier submission of this facilitator finished (one signer, ordered nonces). */
  function serialised<T>(send: () => Promise<T>): Promise<T> {
    const run = sendChain.then(send, send);
    sendChain = run.catch(() => undefined);
    return run;
  }

  async function settleOnChain(payment: VerifiedPayment): Promise<SettleResponse> {
    if (publicClient === undefined || walletClient === undefined) {
      return failed(
        'settlement_failed',
        'this facilitator has no wallet client: it can verify but not settle',
        payment.network,
        payment.payer,
      );
    }
    const client = publicClient;
    const wallet = walletClient;
    const mismatch = await chainNetworkMismatch(client, payment);
    if (mismatch !== null) return failed('network_mismatch', mismatch, payment.network, payment.payer);
    if (await readAuthorizationUsed(client, payment)) return answerUsed(payment);
    // Fresh authorization: now the window and the balance matter.
    const now = nowSeconds(clock);
    if (payment.validAfter >= now) {
      return failed(
        'authorization_not_yet_valid',
        `authorization is valid only after ${payment.validAfter} (now ${now})`,
        payment.network,
        payment.payer,
      );
    }
    if (payment.validBefore < now + BigInt(marginSeconds)) {
      return failed(
        'authorization_expired',
        `authorization expired at ${payment.validBefore} (now ${now})`,
        payment.network,
        payment.payer,
      );
    }
    const balance = await readTokenBalance(client, { asset: payment.asset, owner: payment.payer });
    if (balance < payment.amountAtomic) {
      return failed(
        'insufficient_funds',
        `payer ${payment.payer} holds ${balance}, needs ${payment.amountAtomic}`,
        payment.network,
        payment.payer,
      );
    }
    const { r, s, v, yParity } = parseSignature(payment.signature);
    const vByte = v ?? BigInt(yParity + 27);
    let hash: Hash;
    try {
      hash = await serialised(() =>
        wallet.writeContract({
          address: payment.asset,
          abi: eip3009Abi,
          functionName: 'transferWithAuthorization',
          args: [
            payment.payer,
            payment.payTo,
            payment.amountAtomic,
            payment.validAfter,
            payment.validBefore,
            payment.nonce,
            Number(vByte),
            r,
            s,
          ],
          chain: null,
        }),
      );
    } catch (error) {
      // Another process may have executed the same authorization between our read and our send. When the state
      // cannot be read either, the RPC is down and the transaction may or may not have gone out: not a failure.
      let used: boolean;
      try {
        used = await readAuthorizationUsed(client, payment);
      } catch (readError) {
        throw new X402Error(
          'facilitator_unavailable',
          `transferWithAuthorization may or may not have been sent (${shortMessage(error)}), and the authorization state cannot be read: ${shortMessage(readError)}`,
          { cause: error, details: { reference: payment.reference } },
        );
      }
      if (used) return answerUsed(payment);
      return failed(
        'settlement_failed',
        `transferWithAuthorization was not sent: ${shortMessage(error)}`,
        payment.network,
        payment.payer,
      );
    }
    const wait = await waitForReceipt(client, hash, {
      timeoutMs: receiptTimeoutMs,
      pollingIntervalMs: pollingIntervalMs ?? client.pollingInterval,
    });
    if (wait.outcome === 'unreachable') {
      throw new X402Error(
        'facilitator_unavailable',
        `transaction ${hash} was sent, and the chain RPC failed while waiting for its receipt: ${shortMessage(wait.cause)}`,
        { cause: wait.cause, details: { reference: payment.reference, transaction: hash } },
      );
    }
    if (wait.outcome === 'timeout') {
      return failed(
        'settlement_failed',
        `no receipt for ${hash} within ${receiptTimeoutMs} ms`,
        payment.network,
        payment.payer,
        hash,
      );
    }
    const { receipt } = wait;
    if (receipt.status !== 'success') {
      // Someone else may have executed the authorization first; unknown when the state cannot be read.
      let used: boolean;
      try {
        used = await readAuthorizationUsed(client, payment);
      } catch (readError) {
        throw rpcUnavailable(`settle (transaction ${hash} reverted)`, readError);
      }
      if (used) return answerUsed(payment);
      return failed('settlement_failed', `transaction ${hash} reverted`, payment.network, payment.payer, hash);
    }
    if (!receiptExecutes(receipt, payment)) {
      return failed(
        'settlement_failed',
        `transaction ${hash} succeeded without the expected AuthorizationUsed and Transfer events`,
        payment.network,
        payment.payer,
        hash,
      );
    }
    return settled(payment, hash);
  }

  const inFlight = new Map<string, Promise<SettleResponse>>();

  const facilitator: LocalFacilitator = {
    signerAddress,
    findSettlement,

    async verify(payload, requirements) {
      let payment: VerifiedPayment;
      try {
        payment = await verifyLocally(payload, requirements, true);
      } catch (error) {
        if (error instanceof X402Error && error.code !== 'invalid_option')
          return invalid(error.code, error.message, payerOf(payload));
        if (error instanceof X402Error) return invalid('malformed_payment', error.message, payerOf(payload));
        throw error;
      }
      if (publicClient === undefined) {
        const served = await networks();
        if (!served.includes(payment.network))
          return invalid('network_mismatch', `network ${payment.network} is not served`, payment.payer);
        return { isValid: true, payer: payment.payer };
      }
      try {
        const mismatch = await chainNetworkMismatch(publicClient, payment);
        if (mismatch !== null) return invalid('network_mismatch', mismatch, payment.payer);
        if (await readAuthorizationUsed(publicClient, payment)) {
          return invalid(
            'nonce_already_used',
            `nonce ${payment.nonce} of ${payment.payer} is already used on chain`,
            payment.payer,
          );
        }
        const balance = await readTokenBalance(publicClient, { asset: payment.asset, owner: payment.payer });
        if (balance < payment.amountAtomic) {
          return invalid(
            'insufficient_funds',
            `payer ${payment.payer} holds ${balance}, needs ${payment.amountAtomic}`,
            payment.payer,
          );
        }
      } catch (error) {
        throw rpcUnavailable('verify', error);
      }
      return { isValid: true, payer: payment.payer };
    },

    async settle(payload, requirements) {
      let payment: VerifiedPayment;
      try {
        // The window is judged later, and only for an authorization not yet executed: an already settled one is
        // answered with its transaction even after it expired.
        payment = await verifyLocally(payload, requirements, false);
      } catch (error) {
        const network = typeof requirements?.network === 'string' ? requirements.network : '';
        if (error instanceof X402Error) {
          const code = error.code === 'invalid_option' ? 'malformed_payment' : error.code;
          return failed(code, error.message, network, payerOf(payload));
        }
        throw error;
      }
      const running = inFlight.get(payment.reference);
      if (running !== undefined) return running;
      const attempt = settleOnChain(payment)
        .catch((error: unknown) => {
          throw error instanceof X402Error ? error : rpcUnavailable('settle', error);
        })
        .finally(() => inFlight.delete(payment.reference));
      inFlight.set(payment.reference, attempt);
      return attempt;
    },

    async supported() {
      const served = await networks();
      const kinds: SupportedKind[] = [];
      for (const network of served) {
        kinds.push({ x402Version: 2, scheme: 'exact', network });
        const v1 = v1NameOf(network, v1Names);
        if (v1 !== null) kinds.push({ x402Version: 1, scheme: 'exact', network: v1 });
      }
      const response: SupportedResponse = { kinds, extensions: [], signers: {} };
      if (signerAddress !== null) response.signers['eip155:*'] = [signerAddress];
      return response;
    },
  };
  return facilitator;
}
