import { type Anchor, type AnchorInput, assertAnchor } from '../anchor/derive-anchor.js';
import type { OwnershipVerifier } from '../chain/verify-ownership.js';
import {
  AnchorMismatchError,
  AnchorNotFoundError,
  InvalidArgumentError,
  OwnershipNotVerifiedError,
  quoteValue,
} from '../errors.js';
import {
  type IdentityWriteOptions,
  idempotencyTtlMsDefault,
  idempotencyTtlMsMax,
  idempotencyTtlMsMin,
} from '../idempotency/idempotency.js';
import type { AnchorAuditRecord, AnchorRecord, AnchorStore, RotationRecord } from '../ports/anchor-store.js';
import { type Clock, systemClock } from '../ports/clock.js';
import {
  assertTrusted,
  defaultTrustPolicy,
  evaluateTrust,
  type TrustDecision,
  type TrustOperation,
  type TrustPolicy,
} from '../trust/evaluate-trust.js';
import {
  type AnchorWritesContext,
  type ApproveRotationResult,
  approveRotation,
  assertAccountId,
  type BindAnchorResult,
  bindAnchor,
  findBindReplay,
  requestRotation,
} from './anchor-writes.js';

/** Default lifetime of a rotation request: 24 hours. */
export const rotationTtlMsDefault = 24 * 3_600_000;
/** Longest lifetime of a rotation request: 30 days. */
export const rotationTtlMsMax = 30 * 24 * 3_600_000;
/** Shortest lifetime of a rotation request: 1 minute. */
export const rotationTtlMsMin = 60_000;
/** Longest account id, in characters. */
export const accountIdLengthMax = 255;
/** Default and largest page of audit rows. */
export const auditLimitDefault = 100;
/** Default batch of `sweepIdempotencyKeys`. */
export const idempotencySweepBatchSizeDefault = 1000;
/** Largest batch of `sweepIdempotencyKeys`. */
export const idempotencySweepBatchSizeMax = 10_000;

/** Options of {@link createIdentityTrust}. */
export interface IdentityTrustOptions {
  store: AnchorStore;
  clock?: Clock;
  /** Default {@link defaultTrustPolicy}. */
  policy?: TrustPolicy;
  /** How long a rotation request waits for its approval; default 24 h, 1 minute to 30 days. */
  rotationTtlMs?: number;
  /** How long the answer of a write made with an idempotency key is kept; default 24 h, 1 minute to 30 days. */
  idempotencyTtlMs?: number;
  /**
   * When given, `ownerOf` is read on chain before a binding, a rotation request and its approval (the new NFT's
   * owner must be the claimed one), and by `verifyAnchor({ checkOwnership: true })`.
   */
  ownership?: OwnershipVerifier;
}

/** Result of {@link IdentityTrust.verifyAnchor}. */
export type AnchorVerification =
  | { verified: true; anchor: Anchor; epoch: number; checkedAt: Date; ownershipChecked: boolean }
  | {
      verified: false;
      reason: 'no_anchor' | 'anchor_mismatch' | 'ownership_lost';
      checkedAt: Date;
    };

/** The identity service: anchors, four-eyes rotations, trust decisions. Build it with {@link createIdentityTrust}. */
export interface IdentityTrust {
  readonly policy: TrustPolicy;
  /** True when an ownership verifier is configured. */
  readonly checksOwnership: boolean;
  getAnchor(accountId: string): Promise<AnchorRecord | null>;
  /** @throws {AnchorNotFoundError} `anchor_not_found`. */
  requireAnchor(accountId: string): Promise<AnchorRecord>;
  /**
   * Binds an NFT's anchor to an account: idempotent per account and anchor (`created: false` on a repeat), one account
   * per anchor and per NFT. With `options.idempotencyKey`, a repeat with the same key and scope answers the first
   * answer (`created` included) without reading the chain again.
   *
   * @throws {IdempotencyKeyReusedError} `idempotency_key_reused` when the key was used for another bind.
   */
  bindAnchor(
    input: { accountId: string; nft: AnchorInput; actor: string },
    options?: IdentityWriteOptions,
  ): Promise<BindAnchorResult>;
  /**
   * The answer an earlier `bindAnchor` with the same key and scope gave, or `null` (no key, or a new one): lets a
   * caller skip work it does before binding (a wallet proof claims its nonce once) when a request is repeated.
   *
   * @throws {IdempotencyKeyReusedError} `idempotency_key_reused` when the key was used for another bind.
   */
  findBindReplay(
    input: { accountId: string; nft: AnchorInput; actor: string },
    options: IdentityWriteOptions,
  ): Promise<BindAnchorResult | null>;
  /**
   * Step 1 of a four-eyes rotation. With `options.idempotencyKey`, a repeat answers the first answer.
   *
   * @throws {IdempotencyKeyReusedError} `idempotency_key_reused` when the key was used for another request.
   */
  requestRotation(
    input: { accountId: string; nft: AnchorInput; actor: string; reason?: string | null },
    options?: IdentityWriteOptions,
  ): Promise<RotationRecord>;
  /**
   * Step 2 of a four-eyes rotation. With `options.idempotencyKey`, a repeat answers the first answer.
   *
   * @throws {IdempotencyKeyReusedError} `idempotency_key_reused` when the key was used for another approval.
   */
  approveRotation(
    input: { rotationId: string; actor: string },
    options?: IdentityWriteOptions,
  ): Promise<ApproveRotationResult>;
  getRotation(rotationId: string): Promise<RotationRecord | null>;
  listAudit(accountId: string, options?: { limit?: number }): Promise<AnchorAuditRecord[]>;
  /**
   * Deletes up to `batchSizeMax` (default 1000, at most 10 000) idempotency answers past their `idempotencyTtlMs`;
   * call again while `count` equals the batch size. Safe from many processes at once.
   *
   * @throws {InvalidArgumentError} `invalid_argument` when `batchSizeMax` is out of range.
   */
  sweepIdempotencyKeys(options?: { batchSizeMax?: number }): Promise<{ count: number }>;
  verifyAnchor(input: { accountId: string; anchor: string; checkOwnership?: boolean }): Promise<AnchorVerification>;
  /** {@link evaluateTrust} for an account; the anchor is read only when the decision depends on it. */
  evaluate(input: { accountId: string; amountMicro: bigint; operation: TrustOperation }): Promise<TrustDecision>;
  /** @throws {IdentityAnchorRequiredError} `identity_anchor_required` when {@link IdentityTrust.evaluate} denies. */
  assertTrusted(input: { accountId: string; amountMicro: bigint; operation: TrustOperation }): Promise<void>;
  /**
   * Checks a presented anchor (e.g. a token claim) against the account's current anchor.
   *
   * @throws {AnchorMismatchError} `anchor_mismatch` when the account has another anchor, or none.
   */
  assertAnchorMatches(input: { accountId: string; anchor: string }): Promise<AnchorRecord>;
}

/**
 * Builds the identity service over an {@link AnchorStore}: binding (idempotent per account, one account per anchor
 * and per NFT), four-eyes rotations that expire, the audit, anchor verification and the trust policy.
 *
 * @throws {InvalidArgumentError} `invalid_argument` when `rotationTtlMs` or `idempotencyTtlMs` is out of range or
 * `store` is missing.
 * @example
 * const identity = createIdentityTrust({ store: createPostgresAnchorStore(db) });
 * const { record } = await identity.bindAnchor({ accountId: 'acc_1', nft, actor: 'root' });
 * const rotation = await identity.requestRotation({ accountId: 'acc_1', nft: newNft, actor: 'alice' });
 * await identity.approveRotation({ rotationId: rotation.id, actor: 'bob' }, { idempotencyKey: 'approve-1' });
 */
export function createIdentityTrust(options: IdentityTrustOptions): IdentityTrust {
  const { store, ownership } = options;
  if (store === null || typeof store !== 'object') throw new InvalidArgumentError('createIdentityTrust needs a store');
  const clock = options.clock ?? systemClock;
  const policy = options.policy ?? defaultTrustPolicy;
  const rotationTtlMs = options.rotationTtlMs ?? rotationTtlMsDefault;
  if (!Number.isSafeInteger(rotationTtlMs) || rotationTtlMs < rotationTtlMsMin || rotationTtlMs > rotationTtlMsMax) {
    throw new InvalidArgumentError(
      `rotationTtlMs ${quoteValue(rotationTtlMs)} must be an integer in [${rotationTtlMsMin}, ${rotationTtlMsMax}]`,
    );
  }
  const idempotencyTtlMs = options.idempotencyTtlMs ?? idempotencyTtlMsDefault;
  if (
    !Number.isSafeInteger(idempotencyTtlMs) ||
    idempotencyTtlMs < idempotencyTtlMsMin ||
    idempotencyTtlMs > idempotencyTtlMsMax
  ) {
    throw new InvalidArgumentError(
      `idempotencyTtlMs ${quoteValue(idempotencyTtlMs)} must be an integer in [${idempotencyTtlMsMin}, ${idempotencyTtlMsMax}]`,
    );
  }
  const now = () => new Date(clock.nowMs());
  const writes: AnchorWritesContext = { store, ownership, now, rotationTtlMs, idempotencyTtlMs };

  async function requireAnchor(accountId: string): Promise<AnchorRecord> {
    assertAccountId(accountId);
    const record = await store.getAnchor(accountId);
    if (record === null) throw new AnchorNotFoundError(accountId);
    return record;
  }

  async function evaluate(input: {
    accountId: string;
    amountMicro: bigint;
    operation: TrustOperation;
  }): Promise<TrustDecision> {
    assertAccountId(input.accountId);
    const withoutAnchor = evaluateTrust(
      { amountMicro: input.amountMicro, anchor: null, operation: input.operation },
      policy,
    );
    if (withoutAnchor.allowed) return withoutAnchor;
    const record = await store.getAnchor(input.accountId);
    return evaluateTrust(
      { amountMicro: input.amountMicro, anchor: record?.anchor ?? null, operation: input.operation },
      policy,
    );
  }

  return {
    policy,
    checksOwnership: ownership !== undefined,

    async getAnchor(accountId) {
      assertAccountId(accountId);
      return store.getAnchor(accountId);
    },

    requireAnchor,

    bindAnchor: (input, writeOptions) => bindAnchor(writes, input, writeOptions),
    findBindReplay: (input, writeOptions) => findBindReplay(writes, input, writeOptions),
    requestRotation: (input, writeOptions) => requestRotation(writes, input, writeOptions),
    approveRotation: (input, writeOptions) => approveRotation(writes, input, writeOptions),

    async getRotation(rotationId) {
      if (typeof rotationId !== 'string' || rotationId.length === 0 || rotationId.length > 64) return null;
      return store.getRotation(rotationId);
    },

    async sweepIdempotencyKeys(sweepOptions = {}) {
      const batchSizeMax = sweepOptions.batchSizeMax ?? idempotencySweepBatchSizeDefault;
      if (!Number.isSafeInteger(batchSizeMax) || batchSizeMax < 1 || batchSizeMax > idempotencySweepBatchSizeMax) {
        throw new InvalidArgumentError(
          `batchSizeMax ${quoteValue(batchSizeMax)} must be an integer in [1, ${idempotencySweepBatchSizeMax}]`,
        );
      }
      return store.sweepAnswers({ now: now(), batchSizeMax });
    },

    async listAudit(accountId, listOptions = {}) {
      assertAccountId(accountId);
      return store.listAudit(accountId, { limit: listOptions.limit ?? auditLimitDefault });
    },

    async verifyAnchor({ accountId, anchor, checkOwnership = false }) {
      assertAccountId(accountId);
      assertAnchor(anchor);
      const record = await store.getAnchor(accountId);
      const checkedAt = now();
      if (record === null) return { verified: false, reason: 'no_anchor', checkedAt };
      if (record.anchor !== anchor) return { verified: false, reason: 'anchor_mismatch', checkedAt };
      if (checkOwnership) {
        if (ownership === undefined) {
          throw new InvalidArgumentError('checkOwnership needs an ownership verifier (an RPC URL) to be configured');
        }
        try {
          await ownership.assertOwnership(record);
        } catch (error) {
          if (error instanceof OwnershipNotVerifiedError) {
            return { verified: false, reason: 'ownership_lost', checkedAt };
          }
          throw error;
        }
      }
      return {
        verified: true,
        anchor: record.anchor,
        epoch: record.epoch,
        checkedAt,
        ownershipChecked: checkOwnership,
      };
    },

    evaluate,

    async assertTrusted(input) {
      const decision = await evaluate(input);
      if (!decision.allowed) assertTrusted({ ...input, anchor: null }, policy, input.accountId);
    },

    async assertAnchorMatches({ accountId, anchor }) {
      assertAccountId(accountId);
      assertAnchor(anchor);
      const record = await store.getAnchor(accountId);
      if (record === null) throw new AnchorMismatchError(accountId, 'account_has_no_anchor');
      if (record.anchor !== anchor) throw new AnchorMismatchError(accountId, 'account_has_other_anchor');
      return record;
    },
  };
}
