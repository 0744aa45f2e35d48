/**
 * The ledger's schema (DESIGN.md §3). drizzle-kit generates the SQL migrations in `../drizzle` from
 * this file; the same migrations run on Postgres and PGlite. Amounts are `bigint` micro-USD.
 *
 * Bucket identity of a lot: available + reserved + consumed + expired + refunded = original.
 * (`refunded` extends DESIGN.md's four buckets so that `original` never changes after mint.)
 */
import { sql } from 'drizzle-orm';
import {
  type AnyPgColumn,
  bigint,
  boolean,
  check,
  customType,
  foreignKey,
  index,
  integer,
  jsonb,
  numeric,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';

const micro = (name: string) => bigint(name, { mode: 'bigint' });
const at = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/**
 * Where value sits. Five are buckets of a lot; `external` is outside the ledger (a mint comes from it); `revenue` is
 * a revenue pool's share of charges (`distribute` entries, on a system or referrer account, with no lot).
 */
export const buckets = ['external', 'available', 'reserved', 'consumed', 'expired', 'refunded', 'revenue'] as const;
export type Bucket = (typeof buckets)[number];
/** The buckets of a lot (where a lot's original sits). */
export type LotBucket = Exclude<Bucket, 'external' | 'revenue'>;

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

/** Revenue rule states (DESIGN.md §3): draft → pending_approval → cooling_down → active → superseded; rejected. */
export const revenueRuleStatuses = [
  'draft',
  'pending_approval',
  'cooling_down',
  'active',
  'superseded',
  'rejected',
] as const;
export type RevenueRuleStatus = (typeof revenueRuleStatuses)[number];

/** Rule schema versions: 1 uses commons/community/foundation; 2 adds referrer and treasury. */
export const revenueRuleSchemaVersions = [1, 2] as const;
export type RevenueRuleSchemaVersion = (typeof revenueRuleSchemaVersions)[number];

/** The revenue pools a charge is split into; `foundation` takes the remainder. */
export const revenuePools = ['commons', 'community', 'foundation', 'referrer', 'treasury'] as const;
export type RevenuePool = (typeof revenuePools)[number];

/** A distribution is a charge's split, or the reversal of part of one (a refund of the lot it consumed). */
export const distributionKinds = ['charge', 'reversal'] as const;
export type DistributionKind = (typeof distributionKinds)[number];

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

/**
 * The price book: one row per meter version (immutable; a trigger rejects UPDATE, DELETE and TRUNCATE). The version
 * in force at a time is the highest version whose `effective_at` has passed; versions take force in order.
 * `unit_prices` is `[{dimension, priceMicro, perUnits, unitsMax}]` with amounts as base-10 strings.
 */
export const meters = pgTable(
  'meters',
  {
    id: text('id').notNull(),
    version: integer('version').notNull(),
    poolId: text('pool_id').notNull(),
    billingMode: text('billing_mode', { enum: billingModes }).notNull(),
    holdMicro: micro('hold_micro').notNull(),
    maxCostMicro: micro('max_cost_micro'),
    ttlSeconds: integer('ttl_seconds'),
    unitPrices: jsonb('unit_prices').notNull(),
    effectiveAt: at('effective_at').notNull(),
    createdBy: text('created_by').notNull(),
    createdAt: at('created_at').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.id, t.version] }),
    check('meters_version_positive', sql`${t.version} >= 1`),
    check('meters_mode_valid', inList('billing_mode', billingModes)),
    check('meters_hold_positive', sql`${t.holdMicro} > 0`),
    check('meters_hold_within_cap', sql`${t.maxCostMicro} is null or ${t.maxCostMicro} >= ${t.holdMicro}`),
    check('meters_ttl_positive', sql`${t.ttlSeconds} is null or ${t.ttlSeconds} > 0`),
    check(
      'meters_prices_array',
      sql`jsonb_typeof(${t.unitPrices}) = 'array' and jsonb_array_length(${t.unitPrices}) > 0`,
    ),
  ],
);

/**
 * Spend caps of an account, per UTC day and UTC month (null: no cap in that period), set by an admin. A reserve whose
 * hold would take the period's spend (pending holds plus charges of holds placed in the period) past a cap is refused.
 */
export const spendCaps = pgTable(
  'spend_caps',
  {
    accountId: text('account_id')
      .primaryKey()
      .references(() => accounts.id),
    dailyCapMicro: micro('daily_cap_micro'),
    monthlyCapMicro: micro('monthly_cap_micro'),
    updatedBy: text('updated_by').notNull(),
    updatedAt: at('updated_at').notNull(),
  },
  (t) => [
    check('spend_caps_positive', sql`coalesce(${t.dailyCapMicro}, 1) > 0 and coalesce(${t.monthlyCapMicro}, 1) > 0`),
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
    /** The meter version that set the hold's terms and prices its usage (null: a raw hold with caller terms). */
    meterId: text('meter_id'),
    meterVersion: integer('meter_version'),
    /** Set at finalize by usage: units per dimension (base-10 strings), priced under the meter version. */
    usage: jsonb('usage'),
  },
  (t) => [
    index('reservations_pending_expiry_idx').on(t.expiresAt).where(sql`${t.status} = 'pending'`),
    // By account and time: the spend of a capped account in a period (and any lookup by account).
    index('reservations_account_time_idx').on(t.accountId, t.createdAt),
    foreignKey({ columns: [t.meterId, t.meterVersion], foreignColumns: [meters.id, meters.version] }),
    check('reservations_meter_pair', sql`(${t.meterId} is null) = (${t.meterVersion} is null)`),
    check('reservations_usage_metered', sql`${t.usage} is null or ${t.meterId} is not null`),
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
    /**
     * The account's available balance (all pools, unexpired lots) after this entry; null on `distribute` entries,
     * which move revenue, never credit.
     */
    availableAfterMicro: micro('available_after_micro'),
    /** For `distribute` entries: the distribution (a row of `distributions`) the entry is a share of. */
    distributionId: text('distribution_id').references((): AnyPgColumn => distributions.id),
    /** For `distribute` entries: the revenue rule that governed the split. */
    ruleId: text('rule_id'),
    ruleVersion: integer('rule_version'),
    ruleSchemaVersion: integer('rule_schema_version'),
    memo: text('memo'),
    createdAt: at('created_at').notNull(),
  },
  (t) => [
    index('entries_account_id_idx').on(t.accountId, t.id),
    // Only entries that name a lot are found by lot (a refund's charges, a lot's history, the lot foreign key):
    // `distribute` entries name none and stay out of it. No index serves distribute entries by distribution or
    // time: no query reads them that way (totals come from `distributions`), and every one would cost each finalize.
    index('entries_lot_idx').on(t.lotId).where(sql`${t.lotId} is not null`),
    check('entries_amount_positive', sql`${t.amountMicro} > 0`),
    check('entries_kind_valid', inList('kind', entryKinds)),
    check('entries_from_bucket_valid', inList('from_bucket', buckets)),
    check('entries_to_bucket_valid', inList('to_bucket', buckets)),
    check('entries_buckets_differ', sql`${t.fromBucket} <> ${t.toBucket}`),
    check('entries_available_after_iff_credit', sql`(${t.kind} = 'distribute') = (${t.availableAfterMicro} is null)`),
    check(
      'entries_distribution_shape',
      sql`(${t.kind} = 'distribute') = (${t.distributionId} is not null and ${t.ruleId} is not null and ${t.lotId} is null)`,
    ),
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

/** A Postgres `xid8` (a 64-bit transaction id), as its base-10 text. */
const xid8 = customType<{ data: string; driverData: string }>({ dataType: () => 'xid8' });

/**
 * Transactional outbox of economic events. The feed reads in `(tx_id, id)` order, only events of transactions older
 * than every transaction still running (the snapshot's xmin): that set never grows behind a cursor, so a consumer
 * never skips an event that commits later with a smaller id — and no reader waits for a writer.
 */
export const events = pgTable(
  'events',
  {
    id: bigint('id', { mode: 'bigint' }).generatedAlwaysAsIdentity().primaryKey(),
    type: text('type').notNull(),
    accountId: text('account_id'),
    subjectId: text('subject_id').notNull(),
    payload: jsonb('payload').notNull(),
    createdAt: at('created_at').notNull(),
    /** The writing transaction (`pg_current_xact_id()`): the feed's order and visibility horizon. */
    txId: xid8('tx_id').notNull().default(sql`pg_current_xact_id()`),
  },
  (t) => [index('events_account_idx').on(t.accountId, t.id), index('events_feed_idx').on(t.txId, t.id)],
);

/**
 * Versioned revenue rules (DESIGN.md §3). The pool bps sum to 10 000; schema 1 rules leave referrer and treasury at
 * zero; a partial unique index allows one `active` rule. `version` is a monotonic number given at proposal.
 */
export const revenueRules = pgTable(
  'revenue_rules',
  {
    id: text('id').primaryKey(),
    version: integer('version').generatedAlwaysAsIdentity().notNull(),
    schemaVersion: integer('schema_version').notNull(),
    name: text('name').notNull(),
    notes: text('notes'),
    status: text('status', { enum: revenueRuleStatuses }).notNull(),
    commonsBps: integer('commons_bps').notNull(),
    communityBps: integer('community_bps').notNull(),
    foundationBps: integer('foundation_bps').notNull(),
    referrerBps: integer('referrer_bps').notNull().default(0),
    treasuryBps: integer('treasury_bps').notNull().default(0),
    proposedBy: text('proposed_by').notNull(),
    submittedBy: text('submitted_by'),
    submittedAt: at('submitted_at'),
    approvedBy: text('approved_by'),
    approvedAt: at('approved_at'),
    rejectedBy: text('rejected_by'),
    rejectedAt: at('rejected_at'),
    /** Set when a second distinct admin activated the rule before its cooldown ended. */
    emergencyBy: text('emergency_by'),
    emergencyReason: text('emergency_reason'),
    /** When the rule becomes (or became) active: approval + cooldown, or the emergency activation time. */
    activatesAt: at('activates_at'),
    activatedAt: at('activated_at'),
    supersededAt: at('superseded_at'),
    createdAt: at('created_at').notNull(),
  },
  (t) => [
    uniqueIndex('revenue_rules_version_uq').on(t.version),
    uniqueIndex('revenue_rules_one_active_uq').on(t.status).where(sql`${t.status} = 'active'`),
    index('revenue_rules_due_idx').on(t.activatesAt).where(sql`${t.status} = 'cooling_down'`),
    check('revenue_rules_status_valid', inList('status', revenueRuleStatuses)),
    check('revenue_rules_schema_valid', sql`${t.schemaVersion} in (1, 2)`),
    check(
      'revenue_rules_bps_range',
      sql`${t.commonsBps} between 0 and 10000 and ${t.communityBps} between 0 and 10000 and ${t.foundationBps} between 0 and 10000 and ${t.referrerBps} between 0 and 10000 and ${t.treasuryBps} between 0 and 10000`,
    ),
    check(
      'revenue_rules_bps_sum',
      sql`${t.commonsBps} + ${t.communityBps} + ${t.foundationBps} + ${t.referrerBps} + ${t.treasuryBps} = 10000`,
    ),
    check(
      'revenue_rules_schema1_fields',
      sql`${t.schemaVersion} = 2 or (${t.referrerBps} = 0 and ${t.treasuryBps} = 0)`,
    ),
    check('revenue_rules_four_eyes', sql`${t.approvedBy} is null or ${t.approvedBy} <> ${t.proposedBy}`),
    check(
      'revenue_rules_emergency_distinct',
      sql`${t.emergencyBy} is null or (${t.emergencyBy} <> ${t.proposedBy} and ${t.emergencyBy} <> ${t.approvedBy} and ${t.emergencyReason} is not null)`,
    ),
  ],
);

/** Every transition of every revenue rule; append-only (a trigger rejects UPDATE, DELETE and TRUNCATE). */
export const revenueRuleAudit = pgTable(
  'revenue_rule_audit',
  {
    id: bigint('id', { mode: 'bigint' }).generatedAlwaysAsIdentity().primaryKey(),
    ruleId: text('rule_id')
      .notNull()
      .references(() => revenueRules.id),
    actor: text('actor').notNull(),
    fromStatus: text('from_status'),
    toStatus: text('to_status').notNull(),
    reason: text('reason'),
    createdAt: at('created_at').notNull(),
  },
  (t) => [index('revenue_rule_audit_rule_idx').on(t.ruleId, t.id)],
);

/**
 * One row per distributed charge (kind `charge`, one per finalized hold with a charge) and per reversal (kind
 * `reversal`: a refunded lot gives back its part of a charge). The pool shares sum to the amount (CHECK); each
 * non-zero share is also one `distribute` journal entry on the pool's account carrying this id.
 */
export const distributions = pgTable(
  'distributions',
  {
    id: text('id').primaryKey(),
    kind: text('kind', { enum: distributionKinds }).notNull(),
    reservationId: text('reservation_id')
      .notNull()
      .references(() => reservations.id),
    /** The paying account. */
    accountId: text('account_id')
      .notNull()
      .references(() => accounts.id),
    /** For a reversal: the charge it reverses and the refunded lot. */
    reversesId: text('reverses_id'),
    lotId: text('lot_id').references(() => lots.id),
    amountMicro: micro('amount_micro').notNull(),
    ruleId: text('rule_id')
      .notNull()
      .references(() => revenueRules.id),
    ruleVersion: integer('rule_version').notNull(),
    ruleSchemaVersion: integer('rule_schema_version').notNull(),
    commonsMicro: micro('commons_micro').notNull(),
    communityMicro: micro('community_micro').notNull(),
    foundationMicro: micro('foundation_micro').notNull(),
    referrerMicro: micro('referrer_micro').notNull(),
    treasuryMicro: micro('treasury_micro').notNull(),
    /** The account paid the referrer share, when there was one. */
    referrerAccountId: text('referrer_account_id').references(() => accounts.id),
    createdAt: at('created_at').notNull(),
  },
  (t) => [
    uniqueIndex('distributions_charge_uq').on(t.reservationId).where(sql`${t.kind} = 'charge'`),
    index('distributions_reverses_idx').on(t.reversesId).where(sql`${t.reversesId} is not null`),
    index('distributions_time_idx').on(t.createdAt),
    check('distributions_kind_valid', inList('kind', distributionKinds)),
    check('distributions_amount_positive', sql`${t.amountMicro} > 0`),
    check(
      'distributions_shares_nonnegative',
      sql`${t.commonsMicro} >= 0 and ${t.communityMicro} >= 0 and ${t.foundationMicro} >= 0 and ${t.referrerMicro} >= 0 and ${t.treasuryMicro} >= 0`,
    ),
    check(
      'distributions_shares_sum',
      sql`${t.commonsMicro} + ${t.communityMicro} + ${t.foundationMicro} + ${t.referrerMicro} + ${t.treasuryMicro} = ${t.amountMicro}`,
    ),
    check(
      'distributions_reversal_shape',
      sql`(${t.kind} = 'charge') = (${t.reversesId} is null) and (${t.kind} = 'charge') = (${t.lotId} is null)`,
    ),
    check('distributions_referrer_account', sql`${t.referrerMicro} = 0 or ${t.referrerAccountId} is not null`),
  ],
);

/**
 * The states of a payment record (two-phase purchases; see `src/packs/payment-states.ts`): `verified` (claimed,
 * nothing sent to the chain yet), `settling` (its owner is asking the chain), `settled` (the chain executed it; the
 * credit is missing), `credited` (its lot is minted: absorbing), `failed` (with a reason; watched while
 * `reconcile_after` is set, final when it is null).
 */
export const paymentStatuses = ['verified', 'settling', 'settled', 'credited', 'failed'] as const;
export type PaymentStatus = (typeof paymentStatuses)[number];

/**
 * What a payment buys: `pack`, a credit pack of the catalog (`pack_id` names it), or `credit`, plain credit of an
 * amount the caller names (no pack: `pack_id` null, credits = price, no bonus, no lot lifetime), e.g. one paid call.
 */
export const paymentKinds = ['pack', 'credit'] as const;
export type PaymentKind = (typeof paymentKinds)[number];

/**
 * Verified payments and what they buy ({@link paymentKinds}: a credit pack, or plain credit), unique on the payment's
 * reference, so one payment mints once. A record lives through {@link paymentStatuses}; the terms (`price_micro`,
 * `credits_micro`, `bonus_bps`, `lot_ttl_ms`) are frozen when the payment is claimed, so its credit mints them even
 * if the catalog changed since.
 * `reconcile_after` is when the record is due for a reconciler (an attempt's lease, a postponed retry, or how long a
 * failed authorization stays watched); null when nothing is left to do. `response` holds the purchase result,
 * answered again on a replay.
 */
export const payments = pgTable(
  'payments',
  {
    id: text('id').primaryKey(),
    reference: text('reference').notNull(),
    accountId: text('account_id')
      .notNull()
      .references(() => accounts.id),
    kind: text('kind', { enum: paymentKinds }).notNull(),
    /** The pack bought (kind `pack`); null for plain credit (kind `credit`). */
    packId: text('pack_id'),
    status: text('status', { enum: paymentStatuses }).notNull(),
    payer: text('payer').notNull(),
    payTo: text('pay_to'),
    amountMicro: micro('amount_micro').notNull(),
    network: text('network'),
    asset: text('asset'),
    nonce: text('nonce'),
    /** Unix seconds after which the authorization can no longer execute (null: unknown). */
    validBefore: numeric('valid_before', { precision: 78, scale: 0, mode: 'bigint' }),
    priceMicro: micro('price_micro').notNull(),
    creditsMicro: micro('credits_micro').notNull(),
    bonusBps: integer('bonus_bps').notNull(),
    lotTtlMs: bigint('lot_ttl_ms', { mode: 'number' }),
    /** Opaque JSON the caller needs to settle the payment again. */
    request: jsonb('request'),
    transaction: text('transaction'),
    lotId: text('lot_id').references(() => lots.id),
    settlement: jsonb('settlement'),
    response: jsonb('response'),
    failureCode: text('failure_code'),
    failureMessage: text('failure_message'),
    attempts: integer('attempts').notNull().default(0),
    reconcileAfter: at('reconcile_after'),
    createdAt: at('created_at').notNull(),
    updatedAt: at('updated_at').notNull(),
    creditedAt: at('credited_at'),
  },
  (t) => [
    uniqueIndex('payments_reference_uq').on(t.reference),
    index('payments_account_idx').on(t.accountId),
    index('payments_due_idx').on(t.reconcileAfter).where(sql`${t.reconcileAfter} is not null`),
    index('payments_status_created_idx').on(t.status, t.createdAt, t.id),
    index('payments_created_idx').on(t.createdAt, t.id),
    check('payments_amount_positive', sql`${t.amountMicro} > 0`),
    check('payments_status_valid', inList('status', paymentStatuses)),
    check('payments_kind_valid', inList('kind', paymentKinds)),
    check(
      'payments_kind_terms',
      sql`(${t.kind} = 'pack') = (${t.packId} is not null) and (${t.kind} <> 'credit' or (${t.creditsMicro} = ${t.priceMicro} and ${t.bonusBps} = 0 and ${t.lotTtlMs} is null))`,
    ),
    check('payments_terms_positive', sql`${t.priceMicro} > 0 and ${t.creditsMicro} >= ${t.priceMicro}`),
    check('payments_amount_covers_price', sql`${t.amountMicro} >= ${t.priceMicro}`),
    check('payments_bonus_bps_range', sql`${t.bonusBps} between 0 and 10000`),
    check('payments_lot_ttl_positive', sql`${t.lotTtlMs} is null or ${t.lotTtlMs} > 0`),
    check('payments_valid_before_nonnegative', sql`${t.validBefore} is null or ${t.validBefore} >= 0`),
    check('payments_attempts_nonnegative', sql`${t.attempts} >= 0`),
    check('payments_failure_pair', sql`(${t.failureCode} is null) = (${t.failureMessage} is null)`),
    check('payments_failed_has_failure', sql`${t.status} <> 'failed' or ${t.failureCode} is not null`),
    check('payments_settled_has_transaction', sql`${t.status} <> 'settled' or ${t.transaction} is not null`),
    check(
      'payments_credited_shape',
      sql`(${t.status} = 'credited') = (${t.creditedAt} is not null) and (${t.status} <> 'credited' or (${t.lotId} is not null and ${t.response} is not null and ${t.reconcileAfter} is null))`,
    ),
    check('payments_lot_iff_credited', sql`(${t.status} = 'credited') = (${t.lotId} is not null)`),
    check(
      'payments_open_is_due',
      sql`${t.status} not in ('verified', 'settling', 'settled') or ${t.reconcileAfter} is not null`,
    ),
  ],
);

/** Who referred an account; an active attribution earns the referrer share under schema 2 rules. */
export const referralAttributions = pgTable(
  'referral_attributions',
  {
    accountId: text('account_id')
      .primaryKey()
      .references(() => accounts.id),
    referrerAccountId: text('referrer_account_id')
      .notNull()
      .references(() => accounts.id),
    active: boolean('active').notNull().default(true),
    createdAt: at('created_at').notNull(),
    endedAt: at('ended_at'),
  },
  (t) => [check('referral_not_self', sql`${t.accountId} <> ${t.referrerAccountId}`)],
);
