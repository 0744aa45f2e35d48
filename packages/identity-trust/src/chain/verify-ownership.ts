import {
  type Address,
  BaseError,
  type BlockTag,
  ContractFunctionRevertedError,
  ContractFunctionZeroDataError,
  createPublicClient,
  http,
  type PublicClient,
  parseAbi,
} from 'viem';
import { type AnchorInput, normalizeAnchorInput } from '../anchor/derive-anchor.js';
import {
  ChainUnavailableError,
  InvalidArgumentError,
  OwnershipNotVerifiedError,
  type OwnershipRejection,
  quoteValue,
  UnsupportedChainError,
} from '../errors.js';

/** The one ERC-721 function read. */
export const erc721OwnerOfAbi = parseAbi(['function ownerOf(uint256 tokenId) view returns (address)']);

/** Default timeout of one RPC request, in ms. */
export const rpcTimeoutMsDefault = 5000;

/** The part of a viem public client {@link verifyOwnership} uses. */
export type OwnershipClient = Pick<PublicClient, 'readContract' | 'getChainId'>;

/** Options of {@link verifyOwnership}. */
export interface VerifyOwnershipOptions {
  client: OwnershipClient;
  /** Block to read at; default `latest` (use `finalized` on chains that have it, to ignore reorgs). */
  blockTag?: BlockTag;
}

/** What {@link verifyOwnership} found. */
export type OwnershipResult =
  | { verified: true; owner: Address }
  | { verified: false; reason: OwnershipRejection; owner: Address | null };

/**
 * Reads `ownerOf(tokenId)` on the NFT's contract through a viem public client and compares it with the claimed owner.
 * The client's chain must be the NFT's chain.
 *
 * @throws {UnsupportedChainError} `unsupported_chain` when the client serves another chain.
 * @throws {ChainUnavailableError} `chain_unavailable` when the RPC fails (refused, timeout, error answer).
 * @throws {InvalidArgumentError} / {@link InvalidAddressError} for a malformed input.
 * @example
 * const client = createPublicClient({ transport: http(rpcUrl) });
 * const result = await verifyOwnership({ chainId: 8453n, contractAddress, tokenId: 42n, ownerAddress }, { client });
 * if (!result.verified) console.log(result.reason, result.owner);
 */
export async function verifyOwnership(input: AnchorInput, options: VerifyOwnershipOptions): Promise<OwnershipResult> {
  const nft = normalizeAnchorInput(input);
  const client = options.client;
  if (client === null || typeof client !== 'object' || typeof client.readContract !== 'function') {
    throw new InvalidArgumentError('verifyOwnership needs a viem public client');
  }
  let servedChainId: bigint;
  try {
    servedChainId = BigInt(await client.getChainId());
  } catch (cause) {
    throw new ChainUnavailableError(cause);
  }
  if (servedChainId !== nft.chainId) throw new UnsupportedChainError(nft.chainId, servedChainId);
  let owner: Address;
  try {
    owner = await client.readContract({
      address: nft.contractAddress,
      abi: erc721OwnerOfAbi,
      functionName: 'ownerOf',
      args: [nft.tokenId],
      blockTag: options.blockTag ?? 'latest',
    });
  } catch (error) {
    // A revert (ERC-721 reverts for a token that does not exist) or no code at the address: no such token.
    if (
      error instanceof BaseError &&
      error.walk((e) => e instanceof ContractFunctionRevertedError || e instanceof ContractFunctionZeroDataError) !==
        null
    ) {
      return { verified: false, reason: 'token_not_found', owner: null };
    }
    throw new ChainUnavailableError(error);
  }
  if (owner.toLowerCase() !== nft.ownerAddress.toLowerCase()) return { verified: false, reason: 'not_owner', owner };
  return { verified: true, owner };
}

/** Checks ownership of an NFT; the port the identity service calls at bind and rotation time. */
export interface OwnershipVerifier {
  /** The chain id the RPC serves (read once, then cached). */
  chainId(): Promise<bigint>;
  /** {@link verifyOwnership} with this verifier's client. */
  verifyOwnership(input: AnchorInput): Promise<OwnershipResult>;
  /**
   * Like `verifyOwnership`, but throws when not verified.
   *
   * @throws {OwnershipNotVerifiedError} `ownership_not_verified` with `reason` `not_owner` or `token_not_found`.
   */
  assertOwnership(input: AnchorInput): Promise<void>;
}

/** Options of {@link createOwnershipVerifier}: an RPC URL, or a viem public client you own. */
export interface OwnershipVerifierOptions {
  /** `http(s)://` JSON-RPC endpoint. */
  rpcUrl?: string;
  client?: OwnershipClient;
  /** Timeout of one RPC request; default 5000 ms. */
  timeoutMs?: number;
  blockTag?: BlockTag;
}

/**
 * Builds an {@link OwnershipVerifier} over a viem public client at `rpcUrl` (HTTP transport, no retries beyond
 * viem's default, a request timeout), or over a client you pass.
 *
 * @throws {InvalidArgumentError} `invalid_argument` when neither or both of `rpcUrl` and `client` are given, or the URL is not http(s).
 * @example
 * const ownership = createOwnershipVerifier({ rpcUrl: 'http://127.0.0.1:8545' });
 * await ownership.assertOwnership({ chainId: 31337n, contractAddress, tokenId: 1n, ownerAddress });
 */
export function createOwnershipVerifier(options: OwnershipVerifierOptions): OwnershipVerifier {
  if ((options.rpcUrl === undefined) === (options.client === undefined)) {
    throw new InvalidArgumentError('createOwnershipVerifier needs exactly one of `rpcUrl` or `client`');
  }
  let client: OwnershipClient;
  if (options.client !== undefined) {
    client = options.client;
  } else {
    const rpcUrl = options.rpcUrl as string;
    if (!URL.canParse(rpcUrl) || !['http:', 'https:'].includes(new URL(rpcUrl).protocol)) {
      throw new InvalidArgumentError(`rpcUrl ${quoteValue(rpcUrl)} must be an http(s) URL`);
    }
    const timeoutMs = options.timeoutMs ?? rpcTimeoutMsDefault;
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 120_000) {
      throw new InvalidArgumentError(`timeoutMs ${quoteValue(timeoutMs)} must be an integer in [1, 120000]`);
    }
    client = createPublicClient({ transport: http(rpcUrl, { timeout: timeoutMs }) });
  }
  let chainIdPromise: Promise<bigint> | undefined;
  const cachedClient: OwnershipClient = {
    readContract: client.readContract.bind(client) as OwnershipClient['readContract'],
    getChainId: async () => {
      chainIdPromise ??= client.getChainId().then(
        (id) => BigInt(id),
        (error: unknown) => {
          chainIdPromise = undefined;
          throw error;
        },
      );
      return Number(await chainIdPromise);
    },
  };
  const verifyOptions: VerifyOwnershipOptions = {
    client: cachedClient,
    ...(options.blockTag === undefined ? {} : { blockTag: options.blockTag }),
  };
  return {
    async chainId() {
      try {
        return BigInt(await cachedClient.getChainId());
      } catch (cause) {
        throw new ChainUnavailableError(cause);
      }
    },
    verifyOwnership: (input) => verifyOwnership(input, verifyOptions),
    async assertOwnership(input) {
      const result = await verifyOwnership(input, verifyOptions);
      if (!result.verified) {
        const nft = normalizeAnchorInput(input);
        throw new OwnershipNotVerifiedError(result.reason, {
          chainId: nft.chainId,
          contractAddress: nft.contractAddress,
          tokenId: nft.tokenId,
          expected: nft.ownerAddress,
          ...(result.owner === null ? {} : { actual: result.owner }),
        });
      }
    },
  };
}
