import type { Address } from 'viem';
import type { Anchor, NormalizedAnchorInput } from '../anchor/derive-anchor.js';
import type { IdempotencyClaim } from '../idempotency/idempotency.js';

/** Statuses of a rotation request: `pending` until approved, or `expired` once past its expiry unapproved. */
export type RotationStatus = 'pending' | 'approved' | 'expired';

/** Actions the audit records. */
export type AnchorAuditAction = 'anchor_bound' | 'rotation_requested' | 'rotation_approved';

/** An account's current anchor and the NFT it was derived from. */
export interface AnchorRecord {
  accountId: string;
  anchor: Anchor;
  chainId: bigint;
  contractAddress: Address;
  tokenId: bigint;
  ownerAddress: Address;
  /** 1 at binding, +1 at each approved rotation. */
  epoch: number;
  /** Who set the current anchor: the binder, or the requester of the rotation that set it. */
  createdBy: string;
  /** When the current anchor was set. */
  createdAt: Date;
}

/** A four-eyes rotation request. */
export interface RotationRecord {
  id: string;
  accountId: string;
  status: RotationStatus;
  fromAnchor: Anchor;
  fromEpoch: number;
  toAnchor: Anchor;
  to: NormalizedAnchorInput;
  reason: string | null;
  requestedBy: string;
  requestedAt: Date;
  expiresAt: Date;
  approvedBy: string | null;
  approvedAt: Date | null;
}

/** One audit row. Anchors appear only as their first 8 hex digits. */
export interface AnchorAuditRecord {
  /** Increasing in the order rows were written. */
  id: bigint;
  accountId: string;
  action: AnchorAuditAction;
  actor: string;
  at: Date;
  rotationId: string | null;
  oldAnchorPrefix: string | null;
  newAnchorPrefix: string | null;
  /** On `rotation_approved`: the requester and the time of the request. */
  requestedBy: string | null;
  requestedAt: Date | null;
}

/** Input of {@link AnchorStore.bind}. */
export interface BindAnchorCommand {
  accountId: string;
  anchor: Anchor;
  nft: NormalizedAnchorInput;
  actor: string;
  now: Date;
  /** Claimed in the write's transaction when given (see {@link AnchorStore}). */
  idempotency?: IdempotencyClaim | undefined;
}

/** Input of {@link AnchorStore.requestRotation}. */
export interface RequestRotationCommand {
  rotationId: string;
  accountId: string;
  toAnchor: Anchor;
  to: NormalizedAnchorInput;
  reason: string | null;
  actor: string;
  now: Date;
  expiresAt: Date;
  /** Claimed in the write's transaction when given (see {@link AnchorStore}). */
  idempotency?: IdempotencyClaim | undefined;
}

/** Input of {@link AnchorStore.approveRotation}. */
export interface ApproveRotationCommand {
  rotationId: string;
  actor: string;
  now: Date;
  /** Claimed in the write's transaction when given (see {@link AnchorStore}). */
  idempotency?: IdempotencyClaim | undefined;
}

/** An answer stored under an idempotency key. */
export interface StoredAnswer {
  /** The result the write returned, decoded (bigints and dates restored). */
  result: unknown;
}

/**
 * Where anchors, rotation requests and the audit live. Each method is atomic, and the store itself enforces the
 * rules that need the stored state (so concurrent callers cannot slip past them):
 *
 * - `bind`: idempotent for the same account and anchor (`created: false`); `anchor_in_use` when the anchor or its
 *   NFT is bound to another account; `account_already_anchored` when the account has another anchor.
 * - `requestRotation`: `anchor_not_found`; `four_eyes_violation` (`requester_is_creator`); `anchor_in_use`;
 *   `rotation_pending` when another pending, unexpired request exists (the same request repeated by the same actor
 *   answers the pending one).
 * - `approveRotation`: `rotation_not_found`; `rotation_not_pending` (an approval repeated by the same approver
 *   answers it again); `rotation_expired` (the request is marked `expired`); `four_eyes_violation`
 *   (`approver_is_requester`, `approver_is_creator`); `anchor_in_use`.
 *
 * Idempotency: a write command with an `idempotency` claim first claims its `(scope, key)` in its own transaction.
 * When a committed write already holds the key (unexpired) with the same `requestHash`, the method answers that
 * write's stored result and writes nothing; with another hash it throws `IdempotencyKeyReusedError`. Otherwise the
 * write runs and stores its result under the key before it commits, so a key's answer exists exactly when its write
 * does. A write that throws stores nothing (an approval that finds its request expired commits the expiry, and
 * releases the key).
 *
 * The Postgres implementation is `createPostgresAnchorStore` (`@arrakis/identity-trust/postgres`).
 */
export interface AnchorStore {
  getAnchor(accountId: string): Promise<AnchorRecord | null>;
  bind(command: BindAnchorCommand): Promise<{ record: AnchorRecord; created: boolean }>;
  requestRotation(command: RequestRotationCommand): Promise<RotationRecord>;
  approveRotation(command: ApproveRotationCommand): Promise<{ rotation: RotationRecord; anchor: AnchorRecord }>;
  getRotation(rotationId: string): Promise<RotationRecord | null>;
  /** The account's audit rows, oldest first, at most `limit`. */
  listAudit(accountId: string, options: { limit: number }): Promise<AnchorAuditRecord[]>;
  /**
   * The answer a committed write stored under the claim's key (unexpired at `now`), or `null`. Read-only: lets the
   * service answer a replay before work it does outside the store (an on-chain ownership read).
   *
   * @throws {IdempotencyKeyReusedError} when the key holds the answer of another request.
   */
  findAnswer(claim: IdempotencyClaim, now: Date): Promise<StoredAnswer | null>;
  /** Deletes up to `batchSizeMax` answers expired at `now` (oldest first) and returns how many. */
  sweepAnswers(input: { now: Date; batchSizeMax: number }): Promise<{ count: number }>;
}
