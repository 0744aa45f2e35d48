import { type Address, createPublicClient, getAddress, type Hash, http, isAddress, type PublicClient } from 'viem';
import { type Clock, nowSeconds, systemClock } from '../clock.js';
import { InvalidX402OptionError } from '../errors.js';
import type { AuthorizationRef, AuthorizationResolution, AuthorizationResolver } from '../ports/payment-state-store.js';
import {
  type AuthorizedTransfer,
  findSettlement,
  isTransactionKnown,
  readAuthorizationUsed,
  readReceipt,
  readTokenDecimals,
  receiptExecutes,
  settlementLookbackBlocksDefault,
} from './reads.js';
import { isContractAnswer, rpcUnavailable } from './rpc-error.js';

/**
 * Seconds past `validBefore` by the local clock after which an unused authorization counts as expired even when
 * the chain's latest block is older (a lagging node must not make a payment dead while a pending transaction could
 * still mine), by default.
 */
export const expiryGraceSecondsDefault = 120;
/** Largest `expiryGraceSeconds` accepted (one day). */
export const expiryGraceSecondsMax = 86_400;
/** Polling interval of the client built from `rpcUrl`, by default. */
export const resolverPollingIntervalMsDefault = 250;
/** The decimals of a token whose smallest unit is one micro-USD. */
export const microUsdDecimals = 6;

/** Where {@link rpcAuthorizationResolver} reads the chain: a JSON-RPC URL or a viem public client. */
export type RpcAuthorizationResolverSource = { rpcUrl: string } | { publicClient: PublicClient };

/** Tuning of {@link rpcAuthorizationResolver}. */
export interface RpcAuthorizationResolverOptions {
  /** How far back a used authorization's settlement is searched for. Default 100 000 blocks. */
  lookbackBlocks?: bigint;
  /** See {@link expiryGraceSecondsDefault}. Default 120. */
  expiryGraceSeconds?: number;
  /** Time source of the grace rule. Default: the wall clock. */
  clock?: Clock;
  /** Polling interval of the client built from `rpcUrl`. Default 250 ms. */
  pollingIntervalMs?: number;
}

interface ResolverSettings {
  client: PublicClient;
  lookbackBlocks: bigint;
  expiryGraceSeconds: bigint;
  clock: Clock;
}

function clientOf(source: RpcAuthorizationResolverSource, pollingIntervalMs: number | undefined): PublicClient {
  if (source === null || typeof source !== 'object')
    throw new InvalidX402OptionError('rpcAuthorizationResolver() needs { rpcUrl } or { publicClient }');
  if ('publicClient' in source) {
    const client = source.publicClient;
    if (client === null || typeof client !== 'object' || typeof client.readContract !== 'function')
      throw new InvalidX402OptionError('rpcAuthorizationResolver(): publicClient must be a viem public client');
    return client;
  }
  const { rpcUrl } = source;
  if (typeof rpcUrl !== 'string' || !/^https?:\/\/\S+$/.test(rpcUrl))
    throw new InvalidX402OptionError(
      `rpcAuthorizationResolver(): rpcUrl ${JSON.stringify(rpcUrl)} must be an http(s) URL`,
    );
  const pollingInterval = pollingIntervalMs ?? resolverPollingIntervalMsDefault;
  return createPublicClient({ transport: http(rpcUrl), pollingInterval });
}

function settingsOf(source: RpcAuthorizationResolverSource, extra: RpcAuthorizationResolverOptions): ResolverSettings {
  if (extra === null || typeof extra !== 'object')
    throw new InvalidX402OptionError('rpcAuthorizationResolver(): the second argument must be an options object');
  const { pollingIntervalMs } = extra;
  if (pollingIntervalMs !== undefined && (!Number.isInteger(pollingIntervalMs) || pollingIntervalMs < 1))
    throw new InvalidX402OptionError(
      `pollingIntervalMs ${JSON.stringify(pollingIntervalMs)} must be a positive integer`,
    );
  const lookbackBlocks = extra.lookbackBlocks ?? settlementLookbackBlocksDefault;
  if (typeof lookbackBlocks !== 'bigint' || lookbackBlocks < 0n)
    throw new InvalidX402OptionError('rpcAuthorizationResolver(): lookbackBlocks must be a bigint ≥ 0');
  const grace = extra.expiryGraceSeconds ?? expiryGraceSecondsDefault;
  if (!Number.isInteger(grace) || grace < 0 || grace > expiryGraceSecondsMax)
    throw new InvalidX402OptionError(
      `rpcAuthorizationResolver(): expiryGraceSeconds ${JSON.stringify(grace)} must be an integer in 0..${expiryGraceSecondsMax}`,
    );
  return {
    client: clientOf(source, pollingIntervalMs),
    lookbackBlocks,
    expiryGraceSeconds: BigInt(grace),
    clock: extra.clock ?? systemClock,
  };
}

function addressOf(value: unknown, field: string): Address {
  if (typeof value !== 'string' || !isAddress(value, { strict: false }))
    throw new InvalidX402OptionError(`resolve(): ${field} ${JSON.stringify(value)} is not an address`);
  return getAddress(value);
}

function transferOf(ref: AuthorizationRef): { transfer: AuthorizedTransfer; transaction: Hash | null } {
  if (ref === null || typeof ref !== 'object') throw new InvalidX402OptionError('resolve() needs an authorization');
  if (typeof ref.nonce !== 'string' || !/^0x[0-9a-fA-F]{64}$/.test(ref.nonce))
    throw new InvalidX402OptionError(`resolve(): nonce ${JSON.stringify(ref.nonce)} is not 0x + 64 hex`);
  if (typeof ref.amountAtomic !== 'bigint' || ref.amountAtomic <= 0n)
    throw new InvalidX402OptionError('resolve(): amountAtomic must be a bigint > 0');
  if (typeof ref.validBefore !== 'bigint' || ref.validBefore < 0n)
    throw new InvalidX402OptionError('resolve(): validBefore must be a bigint ≥ 0');
  const transaction = ref.transaction ?? null;
  if (transaction !== null && (typeof transaction !== 'string' || !/^0x[0-9a-fA-F]{64}$/.test(transaction)))
    throw new InvalidX402OptionError(`resolve(): transaction ${JSON.stringify(transaction)} is not a transaction hash`);
  return {
    transfer: {
      asset: addressOf(ref.asset, 'asset'),
      payer: addressOf(ref.payer, 'payer'),
      payTo: addressOf(ref.payTo, 'payTo'),
      nonce: ref.nonce.toLowerCase() as `0x${string}`,
      amountAtomic: ref.amountAtomic,
    },
    transaction: transaction === null ? null : (transaction.toLowerCase() as Hash),
  };
}

/**
 * The chain's answer for one authorization. The latest block is read first and `authorizationState` at that
 * block, so "unused at a block whose timestamp ≥ validBefore" proves nothing can ever execute it (the token
 * refuses `block.timestamp >= validBefore`, and later blocks are not older).
 */
async function resolveOnChain(
  settings: ResolverSettings,
  transfer: AuthorizedTransfer,
  transaction: Hash | null,
  validBefore: bigint,
  now: bigint,
): Promise<AuthorizationResolution> {
  const { client } = settings;
  const block = await client.getBlock({ blockTag: 'latest' });
  const used = await readAuthorizationUsed(client, transfer, { blockNumber: block.number });
  const receipt = transaction === null ? null : await readReceipt(client, transaction);
  // The known transaction first: it may have mined since the state was read.
  if (receipt !== null && receiptExecutes(receipt, transfer))
    return { state: 'executed', transaction: receipt.transactionHash, blockNumber: receipt.blockNumber };
  if (used) {
    const found = await findSettlement(client, transfer, { lookbackBlocks: settings.lookbackBlocks });
    if (found !== null) return { state: 'executed', transaction: found.transaction, blockNumber: found.blockNumber };
    return {
      state: 'dead',
      reason: 'nonce_already_used',
      message: `nonce ${transfer.nonce} of ${transfer.payer} is used on chain, and no transfer of ${transfer.amountAtomic} to ${transfer.payTo} executed it in the last ${settings.lookbackBlocks} blocks (used by another authorization, or cancelled)`,
    };
  }
  if (transaction !== null && receipt === null && (await isTransactionKnown(client, transaction)))
    return { state: 'pending', transaction };
  if (block.timestamp >= validBefore) {
    return {
      state: 'dead',
      reason: 'authorization_expired',
      message: `the authorization expired unused: block ${block.number} has timestamp ${block.timestamp} ≥ validBefore ${validBefore}`,
    };
  }
  if (now >= validBefore + settings.expiryGraceSeconds) {
    return {
      state: 'dead',
      reason: 'authorization_expired',
      message: `the authorization expired unused: now ${now} ≥ validBefore ${validBefore} + ${settings.expiryGraceSeconds} s grace (the chain's latest block ${block.number} is at ${block.timestamp})`,
    };
  }
  return { state: 'open' };
}

/**
 * An {@link AuthorizationResolver} that reads the chain over JSON-RPC (never writes):
 * - `resolve(ref)`: `executed` when `authorizationState` is used and a transaction executed this very transfer
 *   (the known `ref.transaction`, or one found by its `AuthorizationUsed` log within `lookbackBlocks`); `dead
 *   nonce_already_used` when used by something else; `pending` when unused and `ref.transaction` has no receipt
 *   but the node knows it; `dead authorization_expired` when unused and the latest block's timestamp ≥
 *   `validBefore`, or the clock is past `validBefore + expiryGraceSeconds`; else `open`.
 * - `decimals(asset)`: the token's ERC-20 `decimals()`.
 *
 * @throws {InvalidX402OptionError} when the options (when built) or an argument (when called) are invalid, or
 *   when `decimals()` is called on an address without that function.
 * @throws {X402Error} `facilitator_unavailable` (when called) when the RPC cannot answer.
 * @example
 * const resolver = rpcAuthorizationResolver({ rpcUrl: 'http://127.0.0.1:8545' });
 * const answer = await resolver.resolve(record); // { state: 'executed', transaction: '0x…', blockNumber: 12n }
 */
export function rpcAuthorizationResolver(
  source: RpcAuthorizationResolverSource,
  extra: RpcAuthorizationResolverOptions = {},
): AuthorizationResolver {
  const settings = settingsOf(source, extra);
  return {
    async resolve(ref) {
      const { transfer, transaction } = transferOf(ref);
      const now = nowSeconds(settings.clock);
      try {
        return await resolveOnChain(settings, transfer, transaction, ref.validBefore, now);
      } catch (error) {
        throw rpcUnavailable('resolve', error);
      }
    },
    async decimals(asset) {
      const address = addressOf(asset, 'asset');
      try {
        return await readTokenDecimals(settings.client, address);
      } catch (error) {
        if (isContractAnswer(error)) {
          throw new InvalidX402OptionError(
            `asset ${address} has no ERC-20 decimals() (the call reverted or found no code)`,
            {
              cause: error,
              details: { asset: address },
            },
          );
        }
        throw rpcUnavailable('decimals', error);
      }
    },
  };
}

/**
 * Reads the token's `decimals()` and checks it is `expected` (6): prices are micro-USD and an amount is paid in the
 * token's smallest unit, so one unit must be one micro-USD — an 18-decimal token would sell 1 USD for 10⁻¹² of a
 * token. Call it at start, and refuse to start when it throws. Returns the decimals.
 *
 * @throws {InvalidX402OptionError} naming the asset, its decimals and the rule, when they differ (or the asset has
 *   no `decimals()`).
 * @throws {X402Error} `facilitator_unavailable` when the RPC cannot answer.
 * @example
 * await assertTokenDecimals(rpcAuthorizationResolver({ rpcUrl }), usdcAddress); // 6, or throws
 */
export async function assertTokenDecimals(
  resolver: AuthorizationResolver,
  asset: string,
  expected: number = microUsdDecimals,
): Promise<number> {
  if (!Number.isInteger(expected) || expected < 0 || expected > 255)
    throw new InvalidX402OptionError(
      `assertTokenDecimals(): expected ${JSON.stringify(expected)} must be an integer in 0..255`,
    );
  const decimals = await resolver.decimals(asset);
  if (decimals !== expected) {
    throw new InvalidX402OptionError(
      `asset ${asset} has ${decimals} decimals, expected ${expected}: amounts are paid in the token's smallest unit, and with 6 decimals one unit is one micro-USD (the unit of prices); with ${decimals} every price would be off by a factor 10^${Math.abs(decimals - expected)}`,
      { details: { asset, decimals, expected } },
    );
  }
  return decimals;
}
