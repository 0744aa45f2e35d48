/**
 * The identity tables (DESIGN.md §5), kept in the ledger's database next to the ledger's tables but with their own
 * migrations (`../../drizzle`, tracked in `drizzle.__identity_migrations`). No foreign key to the ledger: account
 * ids are opaque strings here, and the package does not depend on the ledger.
 *
 * - `identity_anchors`: one anchor per account (primary key), one account per anchor (unique), one anchor per NFT
 *   (unique chain, contract, token).
 * - `identity_anchor_rotations`: four-eyes rotation requests; the approver differs from the requester (CHECK), at
 *   most one pending request per account (partial unique index).
 * - `identity_anchor_audit`: append-only (a trigger refuses UPDATE, DELETE and TRUNCATE); anchors appear only as
 *   their first 8 hex digits.
 * - `identity_idempotency_keys`: the answer of each write made with an `Idempotency-Key`, per operation and caller
 *   scope, written in the transaction of that write.
 */
import { sql } from 'drizzle-orm';
import {
  bigint,
  check,
  index,
  integer,
  numeric,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';

const at = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });
const uint256 = (name: string) => numeric(name, { precision: 78, scale: 0, mode: 'bigint' });

/** Statuses of a rotation request. */
export const rotationStatuses = ['pending', 'approved', 'expired'] as const;
/** One of {@link rotationStatuses}. */
export type RotationStatus = (typeof rotationStatuses)[number];

/** Actions recorded in the audit. */
export const auditActions = ['anchor_bound', 'rotation_requested', 'rotation_approved'] as const;
/** One of {@link auditActions}. */
export type AuditAction = (typeof auditActions)[number];

const inList = (column: string, values: readonly string[]) =>
  sql.raw(`${column} in (${values.map((v) => `'${v}'`).join(', ')})`);

const anchorFormat = (column: string) => sql.raw(`${column} ~ '^sha256:[0-9a-f]{64}$'`);
const addressFormat = (column: string) => sql.raw(`${column} ~ '^0x[0-9a-fA-F]{40}$'`);
const uint256Range = (column: string) => sql.raw(`${column} >= 0 and ${column} < 2::numeric ^ 256`);
const prefixFormat = (column: string) => sql.raw(`${column} is null or ${column} ~ '^[0-9a-f]{8}$'`);

/** One row per anchored account: the current anchor, its NFT, its epoch and who set it. */
export const identityAnchors = pgTable(
  'identity_anchors',
  {
    accountId: text('account_id').primaryKey(),
    anchor: text('anchor').notNull(),
    chainId: uint256('chain_id').notNull(),
    contractAddress: text('contract_address').notNull(),
    tokenId: uint256('token_id').notNull(),
    ownerAddress: text('owner_address').notNull(),
    /** 1 at binding, +1 at each approved rotation. */
    epoch: integer('epoch').notNull().default(1),
    /** Who set the current anchor (the binder, or the requester of the rotation that set it). */
    createdBy: text('created_by').notNull(),
    /** When the current anchor was set. */
    createdAt: at('created_at').notNull(),
  },
  (t) => [
    uniqueIndex('identity_anchors_anchor_uq').on(t.anchor),
    uniqueIndex('identity_anchors_nft_uq').on(t.chainId, sql`lower(${t.contractAddress})`, t.tokenId),
    check('identity_anchors_anchor_format', anchorFormat('anchor')),
    check('identity_anchors_contract_format', addressFormat('contract_address')),
    check('identity_anchors_owner_format', addressFormat('owner_address')),
    check('identity_anchors_chain_range', uint256Range('chain_id')),
    check('identity_anchors_token_range', uint256Range('token_id')),
    check('identity_anchors_epoch_positive', sql`${t.epoch} >= 1`),
  ],
);

/** Four-eyes rotation requests (`pending` → `approved` | `expired`). */
export const identityAnchorRotations = pgTable(
  'identity_anchor_rotations',
  {
    id: text('id').primaryKey(),
    accountId: text('account_id').notNull(),
    status: text('status').$type<RotationStatus>().notNull(),
    fromAnchor: text('from_anchor').notNull(),
    /** The anchor epoch the request was made against; approval fails when the anchor moved on. */
    fromEpoch: integer('from_epoch').notNull(),
    toAnchor: text('to_anchor').notNull(),
    toChainId: uint256('to_chain_id').notNull(),
    toContractAddress: text('to_contract_address').notNull(),
    toTokenId: uint256('to_token_id').notNull(),
    toOwnerAddress: text('to_owner_address').notNull(),
    reason: text('reason'),
    requestedBy: text('requested_by').notNull(),
    requestedAt: at('requested_at').notNull(),
    expiresAt: at('expires_at').notNull(),
    approvedBy: text('approved_by'),
    approvedAt: at('approved_at'),
  },
  (t) => [
    uniqueIndex('identity_anchor_rotations_one_pending_uq').on(t.accountId).where(sql`${t.status} = 'pending'`),
    index('identity_anchor_rotations_account_idx').on(t.accountId, t.requestedAt),
    check('identity_anchor_rotations_status', inList('status', rotationStatuses)),
    check('identity_anchor_rotations_from_format', anchorFormat('from_anchor')),
    check('identity_anchor_rotations_to_format', anchorFormat('to_anchor')),
    check('identity_anchor_rotations_contract_format', addressFormat('to_contract_address')),
    check('identity_anchor_rotations_owner_format', addressFormat('to_owner_address')),
    check('identity_anchor_rotations_chain_range', uint256Range('to_chain_id')),
    check('identity_anchor_rotations_token_range', uint256Range('to_token_id')),
    check('identity_anchor_rotations_epoch_positive', sql`${t.fromEpoch} >= 1`),
    check('identity_anchor_rotations_changes_anchor', sql`${t.toAnchor} <> ${t.fromAnchor}`),
    check('identity_anchor_rotations_expiry', sql`${t.expiresAt} > ${t.requestedAt}`),
    check('identity_anchor_rotations_four_eyes', sql`${t.approvedBy} is null or ${t.approvedBy} <> ${t.requestedBy}`),
    check(
      'identity_anchor_rotations_approval',
      sql`(${t.status} = 'approved') = (${t.approvedBy} is not null and ${t.approvedAt} is not null)`,
    ),
  ],
);

/** The append-only audit of bindings and rotations (a trigger refuses UPDATE, DELETE, TRUNCATE). */
export const identityAnchorAudit = pgTable(
  'identity_anchor_audit',
  {
    id: bigint('id', { mode: 'bigint' }).primaryKey().generatedAlwaysAsIdentity(),
    accountId: text('account_id').notNull(),
    action: text('action').$type<AuditAction>().notNull(),
    actor: text('actor').notNull(),
    at: at('at').notNull(),
    rotationId: text('rotation_id'),
    /** First 8 hex digits of the anchor before the action (null for a first binding). */
    oldAnchorPrefix: text('old_anchor_prefix'),
    /** First 8 hex digits of the anchor after the action (or proposed by it). */
    newAnchorPrefix: text('new_anchor_prefix'),
    /** On `rotation_approved`: who requested it and when, so one row holds both actors and both times. */
    requestedBy: text('requested_by'),
    requestedAt: at('requested_at'),
  },
  (t) => [
    index('identity_anchor_audit_account_idx').on(t.accountId, t.id),
    check('identity_anchor_audit_action', inList('action', auditActions)),
    check('identity_anchor_audit_old_prefix', prefixFormat('old_anchor_prefix')),
    check('identity_anchor_audit_new_prefix', prefixFormat('new_anchor_prefix')),
  ],
);

/**
 * Answers of identity writes made with an idempotency key: one row per `(scope, key)` (scope =
 * `<operation>@<caller>`), inserted by the write's own transaction with `response` null, then given the answer (lossless
 * JSON text) before that transaction commits. An expired row may be claimed again by a new request.
 */
export const identityIdempotencyKeys = pgTable(
  'identity_idempotency_keys',
  {
    scope: text('scope').notNull(),
    key: text('key').notNull(),
    /** sha256 (hex) of the canonical JSON of the write's normalized input. */
    requestHash: text('request_hash').notNull(),
    /** The stored answer; null only inside the transaction of the write that claimed the key. */
    response: text('response'),
    createdAt: at('created_at').notNull(),
    expiresAt: at('expires_at').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.scope, t.key] }),
    index('identity_idempotency_keys_expiry_idx').on(t.expiresAt),
    check('identity_idempotency_keys_hash_format', sql.raw(`request_hash ~ '^[0-9a-f]{64}$'`)),
    check('identity_idempotency_keys_expiry', sql`${t.expiresAt} > ${t.createdAt}`),
  ],
);
