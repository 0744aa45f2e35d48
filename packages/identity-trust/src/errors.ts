/**
 * Typed errors of @arrakis/identity-trust. Every error has a stable `code`, a message that quotes the bad value and
 * says what was expected, JSON-safe `details` and an optional `cause`.
 */

/** Stable codes of every error this package throws. */
export type IdentityErrorCode =
  | 'invalid_argument'
  | 'invalid_address'
  | 'invalid_anchor'
  | 'anchor_in_use'
  | 'account_already_anchored'
  | 'anchor_not_found'
  | 'identity_anchor_required'
  | 'anchor_mismatch'
  | 'four_eyes_violation'
  | 'rotation_not_found'
  | 'rotation_not_pending'
  | 'rotation_expired'
  | 'rotation_pending'
  | 'anchor_changed'
  | 'idempotency_key_reused'
  | 'anchor_token_invalid'
  | 'anchor_token_expired'
  | 'upstream_token_invalid'
  | 'upstream_token_expired'
  | 'wallet_proof_invalid'
  | 'ownership_not_verified'
  | 'unsupported_chain'
  | 'chain_unavailable'
  | 'invalid_signing_key';

/** JSON-safe details of an {@link IdentityError}. */
export type IdentityErrorDetails = Record<string, unknown>;

/** HTTP statuses an {@link IdentityError} maps to. */
export type IdentityHttpStatus = 400 | 401 | 403 | 404 | 409 | 422 | 500 | 503;

/**
 * The HTTP status of every error code, so a server maps codes in one place: 400 bad input, 401 an unusable anchor
 * token, 403 a rule of trust or four-eyes, 404 unknown, 409 state conflicts, 422 a chain this deployment cannot read,
 * 503 the chain's RPC is down, 500 a broken key configuration.
 *
 * @example
 * app.onError((error, c) =>
 *   error instanceof IdentityError ? c.json(error.toJSON(), identityErrorHttpStatus[error.code]) : c.json({ error: 'internal_error' }, 500),
 * );
 */
export const identityErrorHttpStatus: Readonly<Record<IdentityErrorCode, IdentityHttpStatus>> = Object.freeze({
  invalid_argument: 400,
  invalid_address: 400,
  invalid_anchor: 400,
  anchor_in_use: 409,
  account_already_anchored: 409,
  anchor_not_found: 404,
  identity_anchor_required: 403,
  anchor_mismatch: 403,
  four_eyes_violation: 403,
  rotation_not_found: 404,
  rotation_not_pending: 409,
  rotation_expired: 409,
  rotation_pending: 409,
  anchor_changed: 409,
  idempotency_key_reused: 409,
  anchor_token_invalid: 401,
  anchor_token_expired: 401,
  upstream_token_invalid: 401,
  upstream_token_expired: 401,
  wallet_proof_invalid: 403,
  ownership_not_verified: 403,
  unsupported_chain: 422,
  chain_unavailable: 503,
  invalid_signing_key: 500,
});

/** Options every error accepts after its message. */
export interface IdentityErrorOptions {
  details?: IdentityErrorDetails;
  cause?: unknown;
}

/**
 * Base error of @arrakis/identity-trust.
 *
 * @example
 * try {
 *   await identity.bindAnchor({ accountId, nft, actor: 'root' });
 * } catch (error) {
 *   if (error instanceof IdentityError && error.code === 'anchor_in_use') console.log(error.details);
 *   else throw error;
 * }
 */
export class IdentityError extends Error {
  override readonly name: string = 'IdentityError';
  readonly code: IdentityErrorCode;
  readonly details: IdentityErrorDetails;
  constructor(code: IdentityErrorCode, message: string, options: IdentityErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details ?? {};
  }

  /** The HTTP status of this error's code (see {@link identityErrorHttpStatus}). */
  get httpStatus(): IdentityHttpStatus {
    return identityErrorHttpStatus[this.code];
  }

  /**
   * The wire body `{ error, message, details }`.
   *
   * @example
   * return c.json(error.toJSON(), error.httpStatus);
   */
  toJSON(): { error: IdentityErrorCode; message: string; details: IdentityErrorDetails } {
    return { error: this.code, message: this.message, details: this.details };
  }
}

/** Quotes a value for an error message (`"abc"`, `12n`, `undefined`); never throws. */
export function quoteValue(value: unknown): string {
  if (typeof value === 'bigint') return `${value}n`;
  if (value === undefined) return 'undefined';
  if (typeof value === 'function' || typeof value === 'symbol') return String(typeof value);
  try {
    const text = JSON.stringify(value);
    if (text === undefined) return String(value);
    return text.length > 80 ? `${text.slice(0, 77)}...` : text;
  } catch {
    return `[${typeof value}]`;
  }
}

/**
 * An argument breaks a rule (wrong type, out of range, too long). Nothing was read or written.
 *
 * @example
 * throw new InvalidArgumentError('ttlSeconds 0 must be an integer in [1, 600]', { details: { field: 'ttlSeconds' } });
 */
export class InvalidArgumentError extends IdentityError {
  override readonly name = 'InvalidArgumentError';
  constructor(message: string, options: IdentityErrorOptions = {}) {
    super('invalid_argument', message, options);
  }
}

/**
 * An address is not a 20-byte hex address, or is mixed-case with a wrong EIP-55 checksum.
 *
 * @example
 * throw new InvalidAddressError('ownerAddress', '0xabc');
 */
export class InvalidAddressError extends IdentityError {
  override readonly name = 'InvalidAddressError';
  constructor(field: string, value: unknown) {
    super(
      'invalid_address',
      `${field} ${quoteValue(value)} must be a 0x-prefixed 20-byte hex address (all lower case, or with a valid EIP-55 checksum)`,
      { details: { field } },
    );
  }
}

/**
 * A string is not an anchor (`sha256:` followed by 64 lower-case hex digits).
 *
 * @example
 * throw new InvalidAnchorError('sha256:xyz');
 */
export class InvalidAnchorError extends IdentityError {
  override readonly name = 'InvalidAnchorError';
  constructor(value: unknown, field = 'anchor') {
    super('invalid_anchor', `${field} ${quoteValue(value)} must be "sha256:" followed by 64 lower-case hex digits`, {
      details: { field },
    });
  }
}

/**
 * The anchor (or its NFT) is already bound to another account: one NFT, one anchor, one account.
 *
 * @example
 * throw new AnchorInUseError('sha256:5c1f…');
 */
export class AnchorInUseError extends IdentityError {
  override readonly name = 'AnchorInUseError';
  /** The holder is not named: a caller must not learn which account holds an NFT. */
  constructor(anchor: string) {
    super('anchor_in_use', `anchor ${anchor.slice(0, 15)}… (or its NFT) is already bound to another account`, {
      details: { anchorPrefix: anchorPrefix(anchor) },
    });
  }
}

/**
 * The account already has a different anchor; changing it takes a four-eyes rotation.
 *
 * @example
 * throw new AccountAlreadyAnchoredError('acc_1');
 */
export class AccountAlreadyAnchoredError extends IdentityError {
  override readonly name = 'AccountAlreadyAnchoredError';
  constructor(accountId: string, current: string) {
    super(
      'account_already_anchored',
      `account ${quoteValue(accountId)} already has another anchor; request a rotation to change it`,
      { details: { accountId, currentAnchorPrefix: anchorPrefix(current) } },
    );
  }
}

/**
 * The account has no anchor.
 *
 * @example
 * throw new AnchorNotFoundError('acc_1');
 */
export class AnchorNotFoundError extends IdentityError {
  override readonly name = 'AnchorNotFoundError';
  constructor(accountId: string) {
    super('anchor_not_found', `account ${quoteValue(accountId)} has no anchor`, { details: { accountId } });
  }
}

/**
 * The trust policy requires an anchor for this amount and the account has none.
 *
 * @example
 * throw new IdentityAnchorRequiredError({ amountMicro: 150_000_000n, thresholdMicro: 100_000_000n, operation: 'reserve' });
 */
export class IdentityAnchorRequiredError extends IdentityError {
  override readonly name = 'IdentityAnchorRequiredError';
  constructor(input: { amountMicro: bigint; thresholdMicro: bigint; operation: string; accountId?: string }) {
    super(
      'identity_anchor_required',
      `${input.operation} of ${input.amountMicro} micro-USD is above the trust threshold of ${input.thresholdMicro}; bind an identity anchor to the account first`,
      {
        details: {
          operation: input.operation,
          amountMicro: input.amountMicro.toString(),
          thresholdMicro: input.thresholdMicro.toString(),
          ...(input.accountId === undefined ? {} : { accountId: input.accountId }),
        },
      },
    );
  }
}

/**
 * A presented anchor (a token claim, a request field) is not the account's current anchor.
 *
 * @example
 * throw new AnchorMismatchError('acc_1', 'account_has_other_anchor');
 */
export class AnchorMismatchError extends IdentityError {
  override readonly name = 'AnchorMismatchError';
  readonly reason: AnchorMismatchReason;
  constructor(accountId: string, reason: AnchorMismatchReason, message?: string) {
    super(
      'anchor_mismatch',
      message ??
        (reason === 'account_has_no_anchor'
          ? `account ${quoteValue(accountId)} has no anchor, but one was presented`
          : reason === 'other_account'
            ? `the presented anchor claim belongs to another account than ${quoteValue(accountId)}`
            : `the presented anchor is not the current anchor of account ${quoteValue(accountId)}`),
      { details: { accountId, reason } },
    );
    this.reason = reason;
  }
}

/** Why an {@link AnchorMismatchError} was raised. */
export type AnchorMismatchReason = 'account_has_other_anchor' | 'account_has_no_anchor' | 'other_account';

/**
 * A four-eyes rule was broken: the approver is the requester, or the requester or approver created the anchor.
 *
 * @example
 * throw new FourEyesViolationError('approver_is_requester', 'alice');
 */
export class FourEyesViolationError extends IdentityError {
  override readonly name = 'FourEyesViolationError';
  readonly rule: FourEyesRule;
  constructor(rule: FourEyesRule, actor: string) {
    const messages: Record<FourEyesRule, string> = {
      approver_is_requester: `${quoteValue(actor)} requested this rotation and cannot approve it; another admin must`,
      approver_is_creator: `${quoteValue(actor)} created the current anchor and cannot approve its rotation`,
      requester_is_creator: `${quoteValue(actor)} created the current anchor and cannot request its rotation`,
    };
    super('four_eyes_violation', messages[rule], { details: { rule, actor } });
    this.rule = rule;
  }
}

/** The four-eyes rule an actor broke. */
export type FourEyesRule = 'approver_is_requester' | 'approver_is_creator' | 'requester_is_creator';

/**
 * No rotation request with this id.
 *
 * @example
 * throw new RotationNotFoundError('rot_1');
 */
export class RotationNotFoundError extends IdentityError {
  override readonly name = 'RotationNotFoundError';
  constructor(rotationId: string) {
    super('rotation_not_found', `rotation ${quoteValue(rotationId)} does not exist`, { details: { rotationId } });
  }
}

/**
 * The rotation was already approved (or has expired) and cannot change any more.
 *
 * @example
 * throw new RotationNotPendingError('rot_1', 'approved');
 */
export class RotationNotPendingError extends IdentityError {
  override readonly name = 'RotationNotPendingError';
  constructor(rotationId: string, status: string) {
    super('rotation_not_pending', `rotation ${quoteValue(rotationId)} is ${status}, not pending`, {
      details: { rotationId, status },
    });
  }
}

/**
 * The rotation request expired before it was approved; request a new one.
 *
 * @example
 * throw new RotationExpiredError('rot_1', new Date());
 */
export class RotationExpiredError extends IdentityError {
  override readonly name = 'RotationExpiredError';
  constructor(rotationId: string, expiresAt: Date) {
    super('rotation_expired', `rotation ${quoteValue(rotationId)} expired at ${expiresAt.toISOString()}`, {
      details: { rotationId, expiresAt: expiresAt.toISOString() },
    });
  }
}

/**
 * The account already has a pending rotation request; approve it or let it expire first.
 *
 * @example
 * throw new RotationPendingError('acc_1', 'rot_1');
 */
export class RotationPendingError extends IdentityError {
  override readonly name = 'RotationPendingError';
  constructor(accountId: string, rotationId: string) {
    super('rotation_pending', `account ${quoteValue(accountId)} already has the pending rotation ${rotationId}`, {
      details: { accountId, rotationId },
    });
  }
}

/**
 * The account's anchor changed after the rotation was requested (another rotation won); request a new one.
 *
 * @example
 * throw new AnchorChangedError('rot_1', 1, 2);
 */
export class AnchorChangedError extends IdentityError {
  override readonly name = 'AnchorChangedError';
  constructor(rotationId: string, expectedEpoch: number, actualEpoch: number) {
    super(
      'anchor_changed',
      `rotation ${quoteValue(rotationId)} was requested for anchor epoch ${expectedEpoch}, the anchor is now at epoch ${actualEpoch}`,
      { details: { rotationId, expectedEpoch, actualEpoch } },
    );
  }
}

/**
 * The idempotency key was already used, by the same caller for the same operation, with another request: a key names
 * one request. Nothing was written.
 *
 * @example
 * throw new IdempotencyKeyReusedError({ scope: 'bind@arrakis-admin:root', idempotencyKey: 'bind-1' });
 */
export class IdempotencyKeyReusedError extends IdentityError {
  override readonly name = 'IdempotencyKeyReusedError';
  readonly scope: string;
  readonly idempotencyKey: string;
  constructor(input: { scope: string; idempotencyKey: string }) {
    super(
      'idempotency_key_reused',
      `idempotency key ${quoteValue(input.idempotencyKey)} was already used for ${input.scope} with a different request`,
      { details: { scope: input.scope, idempotencyKey: input.idempotencyKey } },
    );
    this.scope = input.scope;
    this.idempotencyKey = input.idempotencyKey;
  }
}

/** Why an anchor token was refused. */
export type AnchorTokenRejection =
  | 'malformed'
  | 'unknown_key'
  | 'alg_not_allowed'
  | 'bad_signature'
  | 'wrong_type'
  | 'wrong_issuer'
  | 'wrong_audience'
  | 'not_yet_valid'
  | 'too_old'
  | 'lifetime_too_long'
  | 'missing_claim'
  | 'wrong_account'
  | 'wrong_anchor';

/**
 * An anchor token failed verification; `reason` names the rule.
 *
 * @example
 * throw new AnchorTokenInvalidError('wrong_audience', 'the token is not for "billing-svc"');
 */
export class AnchorTokenInvalidError extends IdentityError {
  override readonly name = 'AnchorTokenInvalidError';
  readonly reason: AnchorTokenRejection;
  constructor(reason: AnchorTokenRejection, message: string, options: { cause?: unknown } = {}) {
    super('anchor_token_invalid', `invalid anchor token: ${message}`, { details: { reason }, cause: options.cause });
    this.reason = reason;
  }
}

/**
 * The anchor token has expired; ask the issuer for a new one.
 *
 * @example
 * throw new AnchorTokenExpiredError();
 */
export class AnchorTokenExpiredError extends IdentityError {
  override readonly name = 'AnchorTokenExpiredError';
  constructor(options: { cause?: unknown } = {}) {
    super('anchor_token_expired', 'the anchor token has expired; get a new one', { cause: options.cause });
  }
}

/** Why a wallet proof (a signed Sign-In with Ethereum message) was refused. */
export type WalletProofRejection =
  | 'malformed'
  | 'wrong_domain'
  | 'wrong_scheme'
  | 'wrong_uri'
  | 'wrong_address'
  | 'wrong_chain'
  | 'wrong_statement'
  | 'missing_resource'
  | 'no_expiration'
  | 'lifetime_too_long'
  | 'expired'
  | 'not_yet_valid'
  | 'bad_signature'
  | 'nonce_reused';

/**
 * A wallet proof failed; `reason` names the rule (a replayed nonce is `nonce_reused`).
 *
 * @example
 * throw new WalletProofInvalidError('wrong_domain', 'the message is for "evil.example"');
 */
export class WalletProofInvalidError extends IdentityError {
  override readonly name = 'WalletProofInvalidError';
  readonly reason: WalletProofRejection;
  constructor(reason: WalletProofRejection, message: string, options: { cause?: unknown } = {}) {
    super('wallet_proof_invalid', `invalid wallet proof: ${message}`, { details: { reason }, cause: options.cause });
    this.reason = reason;
  }
}

/** Why ownership was not verified. */
export type OwnershipRejection = 'not_owner' | 'token_not_found';

/**
 * `ownerOf(tokenId)` on chain is not the claimed owner (or the token does not exist).
 *
 * @example
 * throw new OwnershipNotVerifiedError('not_owner', { tokenId: 7n, expected: '0xA…', actual: '0xB…' });
 */
export class OwnershipNotVerifiedError extends IdentityError {
  override readonly name = 'OwnershipNotVerifiedError';
  readonly reason: OwnershipRejection;
  constructor(
    reason: OwnershipRejection,
    input: { chainId: bigint; contractAddress: string; tokenId: bigint; expected: string; actual?: string },
  ) {
    super(
      'ownership_not_verified',
      reason === 'token_not_found'
        ? `token ${input.tokenId} of ${input.contractAddress} on chain ${input.chainId} does not exist (ownerOf reverted)`
        : `token ${input.tokenId} of ${input.contractAddress} on chain ${input.chainId} is owned by ${input.actual}, not ${input.expected}`,
      {
        details: {
          reason,
          chainId: input.chainId.toString(),
          contractAddress: input.contractAddress,
          tokenId: input.tokenId.toString(),
          expectedOwner: input.expected,
          ...(input.actual === undefined ? {} : { actualOwner: input.actual }),
        },
      },
    );
    this.reason = reason;
  }
}

/**
 * The chain asked for is not the chain the configured RPC serves.
 *
 * @example
 * throw new UnsupportedChainError(8453n, 31337n);
 */
export class UnsupportedChainError extends IdentityError {
  override readonly name = 'UnsupportedChainError';
  constructor(requested: bigint, served: bigint | undefined) {
    super(
      'unsupported_chain',
      served === undefined
        ? `no RPC is configured to check ownership on chain ${requested}`
        : `chain ${requested} cannot be checked here: the configured RPC serves chain ${served}`,
      {
        details: {
          chainId: requested.toString(),
          ...(served === undefined ? {} : { servedChainId: served.toString() }),
        },
      },
    );
  }
}

/**
 * The chain's RPC failed (refused, timed out, answered an error); `cause` holds the transport error.
 *
 * @example
 * throw new ChainUnavailableError(cause);
 */
export class ChainUnavailableError extends IdentityError {
  override readonly name = 'ChainUnavailableError';
  constructor(cause: unknown) {
    super('chain_unavailable', 'the chain RPC is unavailable; retry later', {
      details: { dependency: 'chain' },
      cause,
    });
  }
}

/**
 * A signing key is unusable (not a private ES256 / EdDSA JWK, no `kid`, duplicate `kid`).
 *
 * @example
 * throw new InvalidSigningKeyError('key 0 has no "kid"');
 */
export class InvalidSigningKeyError extends IdentityError {
  override readonly name = 'InvalidSigningKeyError';
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('invalid_signing_key', message, { cause: options.cause });
  }
}

/**
 * The first 8 hex digits of an anchor, the part audits and logs keep.
 *
 * @example
 * anchorPrefix('sha256:5c1f09ab…'); // '5c1f09ab'
 */
export function anchorPrefix(anchor: string): string {
  return anchor.startsWith('sha256:') ? anchor.slice(7, 15) : anchor.slice(0, 8);
}
