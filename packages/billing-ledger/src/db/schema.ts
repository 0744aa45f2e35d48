/**
 * The ledger's schema (DESIGN.md §3). drizzle-kit generates the SQL migrations in `../drizzle` from
 * this file; the same migrations run on Postgres and PGlite. Amounts are `bigint` micro-USD.
 *
 * Bucket identity of a lot: available + reserved + consumed + expired + refunded = original.
 * (`refunded` extends DESIGN.md's four buckets so that `original` never changes after mint.)
 */
import { sql } from 'drizzle-orm';
import {
  bigint,
  check,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';

const micro = (name: string) => bigint(name, { mode: 'bigint' });
const at = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/** Where value sits in a lot; `external` is outside the ledger (a mint comes from it). */
export const buckets = ['external', 'available', 'reserved', 'consumed', 'expired', 'refunded'] as const;
export type Bucket = (typeof buckets)[number];

/** Journal entry kinds (DESIGN.md §3). */
export const entryKinds = [
  'mint',
  'reserve',
  'release',
  'consume',
  'expire_lot',
  'expire_hold',
  'refund',
  'distribute',
  'adjust',
] as const;
export type EntryKind = (typeof entryKinds)[number];

export const reservationStatuses = ['pending', 'finalized', 'released', 'expired'] as const;
export type ReservationStatus = (typeof reservationStatuses)[number];

export const billingModes = ['live', 'soft', 'shadow'] as const;
export type BillingMode = (typeof billingModes)[number];

const inList = (column: string, values: readonly string[]) =>
  sql.raw(`${column} in (${values.map((v) => `'${v}'`).join(', ')})`);

export const accounts = pgTable(
  'accounts',
  {
    id: text('id').primaryKey(),
    entityType: text('entity_type').notNull(),
    entityId: text('entity_id').notNull(),
    /** Outstanding debt from refunds of consumed credit; later mints pay it down first. */
    debtMicro: micro('debt_micro').notNull().default(sql`0`),
    createdAt: at('created_at').notNull(),
  },
  (t) => [
    uniqueIndex('accounts_entity_uq').on(t.entityType, t.entityId),
    check('accounts_debt_nonnegative', sql`${t.debtMicro} >= 0`),
  ],
);

export const lots = pgTable(
  'lots',
  {
    id: text('id').primaryKey(),
    accountId: text('account_id')
      .notNull()
      .references(() => accounts.id),
    poolId: text('pool_id').notNull().default('general'),
    sourceType: text('source_type').notNull(),
    sourceId: text('source_id'),
    originalMicro: micro('original_micro').notNull(),
    availableMicro: micro('available_micro').notNull(),
    reservedMicro: micro('reserved_micro').notNull().default(sql`0`),
    consumedMicro: micro('consumed_micro').notNull().default(sql`0`),
    expiredMicro: micro('expired_micro').notNull().default(sql`0`),
    refundedMicro: micro('refunded_micro').notNull().default(sql`0`),
    expiresAt: at('expires_at'),
    /** Monotonic tie-break of the consumption order. */
    seq: bigint('seq', { mode: 'bigint' }).generatedAlwaysAsIdentity().notNull(),
    createdAt: at('created_at').notNull(),
  },
  (t) => [
    uniqueIndex('lots_source_uq').on(t.sourceType, t.sourceId).where(sql`${t.sourceId} is not null`),
    uniqueIndex('lots_seq_uq').on(t.seq),
    index('lots_account_pool_idx').on(t.accountId, t.poolId),
    check('lots_original_positive', sql`${t.originalMicro} > 0`),
    check(
      'lots_buckets_nonnegative',
      sql`${t.availableMicro} >= 0 and ${t.reservedMicro} >= 0 and ${t.consumedMicro} >= 0 and ${t.expiredMicro} >= 0 and ${t.refundedMicro} >= 0`,
    ),
    check(
      'lots_buckets_sum',
      sql`${t.availableMicro} + ${t.reservedMicro} + ${t.consumedMicro} + ${t.expiredMicro} + ${t.refundedMicro} = ${t.originalMicro}`,
    ),
  ],
);

export const reservations = pgTable(
  'reservations',
  {
    id: text('id').primaryKey(),
    accountId: text('account_id')
      .notNull()
      .references(() => accounts.id),
    poolId: text('pool_id').notNull(),
    amountMicro: micro('amount_micro').notNull(),
    status: text('status', { enum: reservationStatuses }).notNull(),
    billingMode: text('billing_mode', { enum: billingModes }).notNull(),
    expiresAt: at('expires_at').notNull(),
    createdAt: at('created_at').notNull(),
    resolvedAt: at('resolved_at'),
    /** Set at finalize: the cost reported, what was charged, what exceeded the hold, what could not be charged. */
    actualCostMicro: micro('actual_cost_micro'),
    chargedMicro: micro('charged_micro'),
    overrunMicro: micro('overrun_micro'),
    uncollectedMicro: micro('uncollected_micro'),
  },
  (t) => [
    index('reservations_pending_expiry_idx').on(t.expiresAt).where(sql`${t.status} = 'pending'`),
    index('reservations_account_idx').on(t.accountId),
    check('reservations_amount_positive', sql`${t.amountMicro} > 0`),
    check('reservations_status_valid', inList('status', reservationStatuses)),
    check('reservations_mode_valid', inList('billing_mode', billingModes)),
    check('reservations_resolved_iff_terminal', sql`(${t.status} = 'pending') = (${t.resolvedAt} is null)`),
    check(
      'reservations_finalize_amounts_nonnegative',
      sql`coalesce(${t.actualCostMicro}, 0) >= 0 and coalesce(${t.chargedMicro}, 0) >= 0 and coalesce(${t.overrunMicro}, 0) >= 0 and coalesce(${t.uncollectedMicro}, 0) >= 0`,
    ),
  ],
);

export const reservationLots = pgTable(
  'reservation_lots',
  {
    reservationId: text('reservation_id')
      .notNull()
      .references(() => reservations.id),
    lotId: text('lot_id')
      .notNull()
      .references(() => lots.id),
    /** Order in which the hold drew from its lots (0-based); finalize consumes in this order. */
    position: integer('position').notNull(),
    amountMicro: micro('amount_micro').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.reservationId, t.position] }),
    uniqueIndex('reservation_lots_lot_uq').on(t.reservationId, t.lotId),
    check('reservation_lots_amount_positive', sql`${t.amountMicro} > 0`),
    check('reservation_lots_position_nonnegative', sql`${t.position} >= 0`),
  ],
);

/**
 * The append-only journal: every movement of value between two buckets of one lot is one entry
 * (`amount_micro` > 0 moves from `from_bucket` to `to_bucket`). Replaying the entries of a lot
 * reproduces its buckets. A trigger (migration 0001) rejects UPDATE and DELETE.
 */
export const entries = pgTable(
  'entries',
  {
    id: bigint('id', { mode: 'bigint' }).generatedAlwaysAsIdentity().primaryKey(),
    accountId: text('account_id')
      .notNull()
      .references(() => accounts.id),
    lotId: text('lot_id').references(() => lots.id),
    reservationId: text('reservation_id').references(() => reservations.id),
    kind: text('kind', { enum: entryKinds }).notNull(),
    amountMicro: micro('amount_micro').notNull(),
    fromBucket: text('from_bucket', { enum: buckets }).notNull(),
    toBucket: text('to_bucket', { enum: buckets }).notNull(),
    /** The account's available balance (all pools, unexpired lots) after this entry. */
    availableAfterMicro: micro('available_after_micro').notNull(),
    /** For `distribute` entries: the revenue rule that governed the split. */
    ruleId: text('rule_id'),
    ruleVersion: integer('rule_version'),
    ruleSchemaVersion: integer('rule_schema_version'),
    memo: text('memo'),
    createdAt: at('created_at').notNull(),
  },
  (t) => [
    index('entries_account_id_idx').on(t.accountId, t.id),
    index('entries_lot_idx').on(t.lotId),
    check('entries_amount_positive', sql`${t.amountMicro} > 0`),
    check('entries_kind_valid', inList('kind', entryKinds)),
    check('entries_from_bucket_valid', inList('from_bucket', buckets)),
    check('entries_to_bucket_valid', inList('to_bucket', buckets)),
    check('entries_buckets_differ', sql`${t.fromBucket} <> ${t.toBucket}`),
  ],
);

export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    scope: text('scope').notNull(),
    key: text('key').notNull(),
    requestHash: text('request_hash').notNull(),
    response: jsonb('response').notNull(),
    createdAt: at('created_at').notNull(),
    expiresAt: at('expires_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.scope, t.key] }), index('idempotency_keys_expiry_idx').on(t.expiresAt)],
);

/** Transactional outbox of economic events, read with a cursor on `id`. */
export const events = pgTable(
  'events',
  {
    id: bigint('id', { mode: 'bigint' }).generatedAlwaysAsIdentity().primaryKey(),
    type: text('type').notNull(),
    accountId: text('account_id'),
    subjectId: text('subject_id').notNull(),
    payload: jsonb('payload').notNull(),
    createdAt: at('created_at').notNull(),
  },
  (t) => [index('events_account_idx').on(t.accountId, t.id)],
);
