import { type Address, getAddress, type Hex, isAddress, isHex, verifyMessage } from 'viem';
import { createSiweMessage, generateSiweNonce, parseSiweMessage } from 'viem/siwe';
import { type Anchor, assertAnchor } from '../anchor/derive-anchor.js';
import { InvalidAddressError, InvalidArgumentError, quoteValue, WalletProofInvalidError } from '../errors.js';
import type { Clock } from '../ports/clock.js';
import { systemClock } from '../ports/clock.js';
import type { NonceClaimer } from '../ports/nonce-claimer.js';

/** Longest lifetime of a wallet-proof message (`Expiration Time − Issued At`): 10 minutes. */
export const walletProofLifetimeMsMax = 10 * 60 * 1000;
/** Clock skew tolerated on `Issued At` and `Not Before`, in ms. */
export const walletProofClockSkewMs = 30_000;
/** Longest message accepted, in characters. */
export const walletProofMessageLengthMax = 4096;
/** Nonce-store scope of wallet-proof nonces. */
export const walletProofNonceScope = 'siwe';
/** The statement every anchor-binding message carries. */
export const walletProofStatement = 'Bind this NFT as the identity anchor of my Arrakis account.';

/** The resource URI naming the account a wallet proof binds to. */
export function accountResource(accountId: string): string {
  return `urn:arrakis:account:${encodeURIComponent(accountId)}`;
}

/** The resource URI naming the anchor a wallet proof binds. */
export function anchorResource(anchor: Anchor): string {
  return `urn:arrakis:anchor:${anchor}`;
}

/** What a wallet proof is about: who signs, for which account and anchor, on which site and chain. */
export interface WalletProofSubject {
  /** The site asking, an RFC 3986 authority (`api.example.com`, `localhost:3000`). */
  domain: string;
  /**
   * The URI of the signing request, e.g. `https://api.example.com/v1/accounts/acc_1/anchor`. Required to build a
   * message; when verifying, the message's URI must equal it if given.
   */
  uri?: string;
  /** Scheme of the site (`https`); when set, the message must carry it. */
  scheme?: string;
  /** The owner address, which must sign. */
  address: string;
  /** EIP-155 chain id of the NFT. */
  chainId: bigint;
  accountId: string;
  anchor: Anchor;
}

/** Options of {@link createWalletProofMessage}. */
export interface CreateWalletProofMessageOptions extends WalletProofSubject {
  /** Default: a fresh random nonce (viem's `generateSiweNonce`). */
  nonce?: string;
  /** Default: the clock's now. */
  issuedAt?: Date;
  /** Default: `issuedAt` + 5 minutes; at most 10 minutes after `issuedAt`. */
  expirationTime?: Date;
  clock?: Clock;
}

function assertSubject(subject: WalletProofSubject): { address: Address; chainId: number } {
  if (subject === null || typeof subject !== 'object')
    throw new InvalidArgumentError('expected a wallet-proof subject');
  if (typeof subject.address !== 'string' || !isAddress(subject.address, { strict: true })) {
    throw new InvalidAddressError('address', subject.address);
  }
  if (
    typeof subject.chainId !== 'bigint' ||
    subject.chainId < 1n ||
    subject.chainId > BigInt(Number.MAX_SAFE_INTEGER)
  ) {
    throw new InvalidArgumentError(
      `chainId ${quoteValue(subject.chainId)} must be a bigint in [1, 2^53 - 1] (EIP-4361 chain ids are numbers)`,
    );
  }
  if (typeof subject.accountId !== 'string' || subject.accountId.length === 0 || subject.accountId.length > 255) {
    throw new InvalidArgumentError(`accountId ${quoteValue(subject.accountId)} must be 1-255 characters`);
  }
  if (typeof subject.domain !== 'string' || subject.domain.length === 0) {
    throw new InvalidArgumentError(`domain ${quoteValue(subject.domain)} must be a non-empty authority`);
  }
  assertAnchor(subject.anchor);
  return { address: getAddress(subject.address), chainId: Number(subject.chainId) };
}

/**
 * Builds the EIP-4361 (Sign-In with Ethereum) message an NFT owner signs to bind its anchor to an account: the site's
 * domain and URI, the owner address, the chain id, a nonce, issue and expiration times, a fixed statement, and two
 * resources naming the account and the anchor (so the signature cannot be used for anything else).
 *
 * @throws {InvalidArgumentError} `invalid_argument` / {@link InvalidAddressError} `invalid_address` for bad fields.
 * @example
 * const message = createWalletProofMessage({
 *   domain: 'api.example.com', uri: 'https://api.example.com/v1/accounts/acc_1/anchor',
 *   address: owner.address, chainId: 8453n, accountId: 'acc_1', anchor,
 * });
 * const signature = await owner.signMessage({ message });
 */
export function createWalletProofMessage(options: CreateWalletProofMessageOptions): string {
  const { address, chainId } = assertSubject(options);
  if (typeof options.uri !== 'string')
    throw new InvalidArgumentError('uri is required to build a wallet-proof message');
  const clock = options.clock ?? systemClock;
  const issuedAt = options.issuedAt ?? new Date(clock.nowMs());
  const expirationTime = options.expirationTime ?? new Date(issuedAt.getTime() + 5 * 60 * 1000);
  if (expirationTime.getTime() - issuedAt.getTime() > walletProofLifetimeMsMax) {
    throw new InvalidArgumentError(`a wallet proof lives at most ${walletProofLifetimeMsMax} ms`);
  }
  try {
    return createSiweMessage({
      domain: options.domain,
      address,
      statement: walletProofStatement,
      uri: options.uri,
      version: '1',
      chainId,
      nonce: options.nonce ?? generateSiweNonce(),
      issuedAt,
      expirationTime,
      resources: [accountResource(options.accountId), anchorResource(options.anchor)],
      ...(options.scheme === undefined ? {} : { scheme: options.scheme }),
    });
  } catch (cause) {
    throw new InvalidArgumentError(`cannot build the message: ${(cause as Error).message.split('\n')[0]}`, { cause });
  }
}

/** A public client that can verify smart-contract wallet signatures (ERC-1271 / ERC-6492), e.g. viem's. */
export interface MessageVerifierClient {
  verifyMessage(args: { address: Address; message: string; signature: Hex }): Promise<boolean>;
}

/** Options of {@link verifyWalletProof}. */
export interface VerifyWalletProofOptions {
  message: string;
  signature: string;
  /** What the message must say. */
  expected: WalletProofSubject;
  /** Where nonces are claimed once (e.g. `@arrakis/atomic-counter`'s `nonceStore`). */
  nonces: NonceClaimer;
  clock?: Clock;
  /**
   * Verifies through a public client (`publicClient.verifyMessage`, which accepts ERC-1271 smart wallets); default:
   * viem's pure `verifyMessage` (externally owned accounts).
   */
  client?: MessageVerifierClient;
}

/** What a verified wallet proof established. */
export interface VerifiedWalletProof {
  address: Address;
  nonce: string;
  issuedAt: Date;
  expiresAt: Date;
}

/**
 * Verifies a wallet proof: the message is a canonical EIP-4361 message for the expected domain (and scheme and URI
 * when they are given), address, chain id, statement and resources (account and anchor); it carries an expiration at most
 * 10 minutes after its issue time, and now falls in its window; the signature recovers to the address; and its
 * nonce was never used — the nonce is claimed last, until the message expires, so a refused proof burns nothing
 * and a replay fails.
 *
 * @throws {WalletProofInvalidError} `wallet_proof_invalid` with `reason`: `malformed`, `wrong_domain`,
 *   `wrong_scheme`, `wrong_uri`, `wrong_address`, `wrong_chain`, `wrong_statement`, `missing_resource`,
 *   `no_expiration`, `lifetime_too_long`, `expired`, `not_yet_valid`, `bad_signature`, `nonce_reused`.
 * @example
 * await verifyWalletProof({ message, signature, expected: { domain, uri, address, chainId, accountId, anchor }, nonces });
 */
export async function verifyWalletProof(options: VerifyWalletProofOptions): Promise<VerifiedWalletProof> {
  const { message, signature, expected, nonces } = options;
  const { address, chainId } = assertSubject(expected);
  if (typeof message !== 'string' || message.length === 0 || message.length > walletProofMessageLengthMax) {
    throw new WalletProofInvalidError('malformed', `the message must be 1-${walletProofMessageLengthMax} characters`);
  }
  if (typeof signature !== 'string' || !isHex(signature, { strict: true }) || signature.length > 2 + 2 * 4096) {
    throw new WalletProofInvalidError('malformed', 'the signature must be 0x-prefixed hex');
  }
  const parsed = parseSiweMessage(message);
  let canonical: string | undefined;
  try {
    canonical =
      parsed.address === undefined ||
      parsed.domain === undefined ||
      parsed.uri === undefined ||
      parsed.nonce === undefined ||
      parsed.chainId === undefined ||
      parsed.version !== '1'
        ? undefined
        : createSiweMessage({ ...parsed, address: parsed.address, version: '1' } as Parameters<
            typeof createSiweMessage
          >[0]);
  } catch {
    canonical = undefined;
  }
  // Re-serialising must give the same text: no trailing lines, no field the parser skipped.
  if (canonical === undefined || canonical !== message) {
    throw new WalletProofInvalidError('malformed', 'the message is not a canonical EIP-4361 message');
  }
  if (parsed.domain !== expected.domain) {
    throw new WalletProofInvalidError(
      'wrong_domain',
      `the message is for ${quoteValue(parsed.domain)}, not ${quoteValue(expected.domain)}`,
    );
  }
  if (expected.scheme !== undefined && parsed.scheme !== expected.scheme) {
    throw new WalletProofInvalidError('wrong_scheme', `the message's scheme must be ${quoteValue(expected.scheme)}`);
  }
  if (expected.uri !== undefined && parsed.uri !== expected.uri) {
    throw new WalletProofInvalidError('wrong_uri', `the message's URI must be ${quoteValue(expected.uri)}`);
  }
  if (parsed.address === undefined || getAddress(parsed.address) !== address) {
    throw new WalletProofInvalidError('wrong_address', `the message must be signed in as ${address}`);
  }
  if (parsed.chainId !== chainId) {
    throw new WalletProofInvalidError('wrong_chain', `the message is for chain ${parsed.chainId}, not ${chainId}`);
  }
  if (parsed.statement !== walletProofStatement) {
    throw new WalletProofInvalidError('wrong_statement', `the statement must be ${quoteValue(walletProofStatement)}`);
  }
  const resources = parsed.resources ?? [];
  for (const resource of [accountResource(expected.accountId), anchorResource(expected.anchor)]) {
    if (!resources.includes(resource)) {
      throw new WalletProofInvalidError(
        'missing_resource',
        `the message must list the resource ${quoteValue(resource)}`,
      );
    }
  }
  const nowMs = (options.clock ?? systemClock).nowMs();
  const issuedAt = parsed.issuedAt;
  const expiresAt = parsed.expirationTime;
  if (issuedAt === undefined || Number.isNaN(issuedAt.getTime())) {
    throw new WalletProofInvalidError('malformed', 'the message needs a valid "Issued At"');
  }
  if (expiresAt === undefined || Number.isNaN(expiresAt.getTime())) {
    throw new WalletProofInvalidError('no_expiration', 'the message needs an "Expiration Time"');
  }
  if (expiresAt.getTime() - issuedAt.getTime() > walletProofLifetimeMsMax) {
    throw new WalletProofInvalidError(
      'lifetime_too_long',
      `a wallet proof lives at most ${walletProofLifetimeMsMax / 1000} seconds`,
    );
  }
  if (expiresAt.getTime() <= nowMs) {
    throw new WalletProofInvalidError('expired', `the message expired at ${expiresAt.toISOString()}`);
  }
  const notBefore = parsed.notBefore;
  if (
    issuedAt.getTime() > nowMs + walletProofClockSkewMs ||
    (notBefore !== undefined && notBefore.getTime() > nowMs + walletProofClockSkewMs)
  ) {
    throw new WalletProofInvalidError('not_yet_valid', 'the message is not valid yet');
  }
  let valid: boolean;
  try {
    const args = { address, message, signature: signature as Hex };
    valid = options.client === undefined ? await verifyMessage(args) : await options.client.verifyMessage(args);
  } catch (cause) {
    throw new WalletProofInvalidError('bad_signature', 'the signature cannot be verified', { cause });
  }
  if (!valid) throw new WalletProofInvalidError('bad_signature', `the signature was not made by ${address}`);
  const nonce = parsed.nonce as string;
  if (!(await nonces.claim(nonce, { scope: walletProofNonceScope, expiresAtMs: expiresAt.getTime() }))) {
    throw new WalletProofInvalidError('nonce_reused', `the nonce ${quoteValue(nonce)} was already used`);
  }
  return { address, nonce, issuedAt, expiresAt };
}
