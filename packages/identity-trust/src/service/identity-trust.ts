import { randomUUID } from 'node:crypto';
import {
  type Anchor,
  type AnchorInput,
  anchorOfNormalized,
  assertAnchor,
  normalizeAnchorInput,
} from '../anchor/derive-anchor.js';
import type { OwnershipVerifier } from '../chain/verify-ownership.js';
import {
  AnchorMismatchError,
  AnchorNotFoundError,
  InvalidArgumentError,
  OwnershipNotVerifiedError,
  quoteValue,
} from '../errors.js';
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

/** Default lifetime of a rotation request: 24 hours. */
export const rotationTtlMsDefault = 24 * 3_600_000;
/** Longest lifetime of a rotation request: 30 days. */
export const rotationTtlMsMax = 30 * 24 * 3_600_000;
/** Shortest lifetime of a rotation request: 1 minute. */
export const rotationTtlMsMin = 60_000;
/** Longest actor name (a token subject), in characters. */
export const actorLengthMax = 256;
/** Longest account id, in characters. */
export const accountIdLengthMax = 255;
/** Longest rotation reason, in characters. */
export const rotationReasonLengthMax = 500;
/** Default and largest page of audit rows. */
export const auditLimitDefault = 100;

/** Options of {@link createIdentityTrust}. */
export interface IdentityTrustOptions {
  store: AnchorStore;
  clock?: Clock;
  /** Default {@link defaultTrustPolicy}. */
  policy?: TrustPolicy;
  /** How long a rotation request waits for its approval; default 24 h, 1 minute to 30 days. */
  rotationTtlMs?: number;
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
  bindAnchor(input: { accountId: string; nft: AnchorInput; actor: string }): Promise<{
    record: AnchorRecord;
    created: boolean;
  }>;
  requestRotation(input: {
    accountId: string;
    nft: AnchorInput;
    actor: string;
    reason?: string | null;
  }): Promise<RotationRecord>;
  approveRotation(input: { rotationId: string; actor: string }): Promise<{
    rotation: RotationRecord;
    anchor: AnchorRecord;
  }>;
  getRotation(rotationId: string): Promise<RotationRecord | null>;
  listAudit(accountId: string, options?: { limit?: number }): Promise<AnchorAuditRecord[]>;
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

function assertActor(actor: unknown): asserts actor is string {
  if (typeof actor !== 'string' || actor.length === 0 || actor.length > actorLengthMax || actor.trim() !== actor) {
    throw new InvalidArgumentError(
      `actor ${quoteValue(actor)} must be 1-${actorLengthMax} characters without surrounding spaces`,
      { details: { field: 'actor' } },
    );
  }
}

function assertAccountId(accountId: unknown): asserts accountId is string {
  if (typeof accountId !== 'string' || !/^[\x21-\x7e]{1,255}$/.test(accountId)) {
    throw new InvalidArgumentError(
      `accountId ${quoteValue(accountId)} must be 1-${accountIdLengthMax} visible ASCII characters`,
      {
        details: { field: 'accountId' },
      },
    );
  }
}

function newRotationId(): string {
  return `rot_${randomUUID().replaceAll('-', '')}`;
}

/**
 * Builds the identity service over an {@link AnchorStore}: binding (idempotent per account, one account per anchor
 * and per NFT), four-eyes rotations that expire, the audit, anchor verification and the trust policy.
 *
 * @throws {InvalidArgumentError} `invalid_argument` when `rotationTtlMs` is out of range or `store` is missing.
 * @example
 * const identity = createIdentityTrust({ store: createPostgresAnchorStore(db) });
 * const { record } = await identity.bindAnchor({ accountId: 'acc_1', nft, actor: 'root' });
 * const rotation = await identity.requestRotation({ accountId: 'acc_1', nft: newNft, actor: 'alice' });
 * await identity.approveRotation({ rotationId: rotation.id, actor: 'bob' });
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
  const now = () => new Date(clock.nowMs());

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

    async bindAnchor({ accountId, nft, actor }) {
      assertAccountId(accountId);
      assertActor(actor);
      const normalized = normalizeAnchorInput(nft);
      if (ownership !== undefined) await ownership.assertOwnership(normalized);
      return store.bind({ accountId, anchor: anchorOfNormalized(normalized), nft: normalized, actor, now: now() });
    },

    async requestRotation({ accountId, nft, actor, reason = null }) {
      assertAccountId(accountId);
      assertActor(actor);
      if (reason !== null && (typeof reason !== 'string' || reason.length > rotationReasonLengthMax)) {
        throw new InvalidArgumentError(`reason must be at most ${rotationReasonLengthMax} characters`);
      }
      const normalized = normalizeAnchorInput(nft);
      if (ownership !== undefined) await ownership.assertOwnership(normalized);
      const at = now();
      return store.requestRotation({
        rotationId: newRotationId(),
        accountId,
        toAnchor: anchorOfNormalized(normalized),
        to: normalized,
        reason,
        actor,
        now: at,
        expiresAt: new Date(at.getTime() + rotationTtlMs),
      });
    },

    async approveRotation({ rotationId, actor }) {
      if (typeof rotationId !== 'string' || !/^[\x21-\x7e]{1,64}$/.test(rotationId)) {
        throw new InvalidArgumentError(`rotationId ${quoteValue(rotationId)} must be 1-64 visible ASCII characters`);
      }
      assertActor(actor);
      if (ownership !== undefined) {
        // The new NFT must still belong to the claimed owner when the rotation takes effect.
        const pending = await store.getRotation(rotationId);
        if (pending !== null && pending.status === 'pending') await ownership.assertOwnership(pending.to);
      }
      return store.approveRotation({ rotationId, actor, now: now() });
    },

    async getRotation(rotationId) {
      if (typeof rotationId !== 'string' || rotationId.length === 0 || rotationId.length > 64) return null;
      return store.getRotation(rotationId);
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
