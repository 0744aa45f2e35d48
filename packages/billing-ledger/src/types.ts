/**
 * The public shapes of @arrakis/billing-ledger: what every operation takes and returns.
 * Amounts are bigint micro-USD; times are `Date` (UTC). This file is the contract between the
 * ledger core, the gateway routes and the tests.
 */
import type {
  BillingMode,
  Bucket,
  DistributionKind,
  EntryKind,
  ReservationStatus,
  RevenuePool,
  RevenueRuleSchemaVersion,
} from './db/schema.js';

export type {
  BillingMode,
  Bucket,
  DistributionKind,
  EntryKind,
  ReservationStatus,
  RevenuePool,
  RevenueRuleSchemaVersion,
};

/** Options every write accepts. */
export interface WriteOptions {
  /**
   * Idempotency key (1–255 printable ASCII). A repeat with the same key and the same request returns the
   * stored result; with a different request it throws `IdempotencyKeyReusedError` (409). Kept ≥ 24 h.
   */
  idempotencyKey?: string;
}

export interface Account {
  id: string;
  entityType: string;
  entityId: string;
  debtMicro: bigint;
  createdAt: Date;
}

export interface Lot {
  id: string;
  accountId: string;
  poolId: string;
  sourceType: string;
  sourceId: string | null;
  originalMicro: bigint;
  availableMicro: bigint;
  reservedMicro: bigint;
  consumedMicro: bigint;
  expiredMicro: bigint;
  refundedMicro: bigint;
  expiresAt: Date | null;
  seq: bigint;
  createdAt: Date;
}

export interface PoolBalance {
  poolId: string;
  availableMicro: bigint;
  reservedMicro: bigint;
}

/** Balance as of now: lots past expiry count as expired whether or not a sweeper has run. */
export interface Balance {
  accountId: string;
  availableMicro: bigint;
  reservedMicro: bigint;
  debtMicro: bigint;
  pools: PoolBalance[];
  asOf: Date;
}

/** How much a hold drew from one lot, in consumption order. */
export interface HoldLot {
  lotId: string;
  amountMicro: bigint;
}

export interface Reservation {
  id: string;
  accountId: string;
  poolId: string;
  amountMicro: bigint;
  /** `expired` is reported for a pending hold past its expiry even before the sweeper runs. */
  status: ReservationStatus;
  billingMode: BillingMode;
  expiresAt: Date;
  createdAt: Date;
  resolvedAt: Date | null;
  actualCostMicro: bigint | null;
  chargedMicro: bigint | null;
  overrunMicro: bigint | null;
  uncollectedMicro: bigint | null;
  lots: HoldLot[];
}

export interface Entry {
  id: bigint;
  accountId: string;
  lotId: string | null;
  reservationId: string | null;
  kind: EntryKind;
  amountMicro: bigint;
  fromBucket: Bucket;
  toBucket: Bucket;
  /** The account's available balance after the entry; null on `distribute` entries (revenue, not credit). */
  availableAfterMicro: bigint | null;
  /** On `distribute` entries: the distribution the entry is a share of. */
  distributionId: string | null;
  ruleId: string | null;
  ruleVersion: number | null;
  ruleSchemaVersion: number | null;
  memo: string | null;
  createdAt: Date;
}

export interface LedgerEvent {
  id: bigint;
  type: string;
  accountId: string | null;
  subjectId: string;
  payload: Record<string, unknown>;
  createdAt: Date;
}

export interface Page<T> {
  items: T[];
  /** Opaque cursor for the next page, or null at the end. */
  nextCursor: string | null;
}

export interface CreateAccountInput {
  entityType: string;
  entityId: string;
}
export interface CreateAccountResult {
  account: Account;
  /** False when the (entityType, entityId) account already existed and was returned. */
  created: boolean;
}

export interface MintInput {
  accountId: string;
  amountMicro: bigint;
  /** `purchase`, `grant`, `deposit`, `x402`, … */
  sourceType: string;
  /** Unique per sourceType when set: one payment can never mint twice. */
  sourceId?: string;
  poolId?: string;
  expiresAt?: Date;
  memo?: string;
}
export interface MintResult {
  lot: Lot;
  /** Part of the mint that paid down the account's debt first. */
  debtPaidMicro: bigint;
  balance: Balance;
}

export interface ReserveInput {
  accountId: string;
  amountMicro: bigint;
  poolId?: string;
  ttlMs?: number;
  billingMode?: BillingMode;
}
export interface ReserveResult {
  reservation: Reservation;
  balance: Balance;
  /** Lots touched, after the change. */
  lots: Lot[];
}

export interface FinalizeInput {
  reservationId: string;
  actualCostMicro: bigint;
}
export interface FinalizeResult {
  reservation: Reservation;
  chargedMicro: bigint;
  releasedMicro: bigint;
  overrunMicro: bigint;
  uncollectedMicro: bigint;
  /** The charge's split by the rule in force at finalize; null when nothing was charged (e.g. shadow mode). */
  distribution: Distribution | null;
  balance: Balance;
  lots: Lot[];
}

/** A share per revenue pool, in micro-USD (the foundation takes the remainder). */
export type PoolShares = Record<RevenuePool, bigint>;

/**
 * A charge split by a revenue rule (`kind: 'charge'`), or the part of one given back when the lot that paid it was
 * refunded (`kind: 'reversal'`). The shares sum to `amountMicro`.
 */
export interface Distribution {
  id: string;
  kind: DistributionKind;
  reservationId: string;
  /** The paying account. */
  accountId: string;
  /** For a reversal: the charge distribution it reverses. */
  reversesId: string | null;
  /** For a reversal: the refunded lot. */
  lotId: string | null;
  amountMicro: bigint;
  ruleId: string;
  ruleVersion: number;
  ruleSchemaVersion: RevenueRuleSchemaVersion;
  shares: PoolShares;
  referrerAccountId: string | null;
  createdAt: Date;
}

/** Who referred an account; an active attribution earns the referrer share of schema 2 rules. */
export interface ReferralAttribution {
  accountId: string;
  referrerAccountId: string;
  active: boolean;
  createdAt: Date;
  endedAt: Date | null;
}

/** Totals of one revenue pool over a time range. */
export interface PoolTotal {
  pool: RevenuePool;
  /** Shares of charges in the range. */
  distributedMicro: bigint;
  /** Shares given back by reversals in the range. */
  reversedMicro: bigint;
  /** distributed − reversed. */
  netMicro: bigint;
}

export interface ReleaseResult {
  reservation: Reservation;
  releasedMicro: bigint;
  balance: Balance;
  lots: Lot[];
}

export type RefundTarget = { lotId: string } | { sourceType: string; sourceId: string };
export interface RefundResult {
  lot: Lot;
  /** Unspent credit clawed back (available → refunded). */
  refundedMicro: bigint;
  /** Consumed credit recorded as debt on the account. */
  debtAddedMicro: bigint;
  /** Reversals of the distributions of the charges the lot had paid for (one per charge). */
  reversals: Distribution[];
  balance: Balance;
}

export interface SweepResult {
  /** Holds expired or lots whose available part was moved to expired. */
  count: number;
  amountMicro: bigint;
}

export interface VerifyViolation {
  rule: string;
  subjectId: string;
  message: string;
  details?: Record<string, string>;
}
export interface VerifyReport {
  ok: boolean;
  checkedAt: Date;
  counts: { accounts: number; lots: number; reservations: number; entries: number; distributions: number };
  violations: VerifyViolation[];
}

/** A payment verified by the caller (e.g. an x402 EIP-3009 authorization), as a purchase records it. */
export interface VerifiedPayment {
  /** Unique reference of the payment (e.g. `network:asset:payer:nonce`): one payment mints once. */
  reference: string;
  /** Who paid (e.g. the authorizing wallet address). */
  payer: string;
  /** What was paid, in micro-USD (the token's 6-decimal units). */
  amountMicro: bigint;
  /** CAIP-2 network, e.g. `eip155:8453`. */
  network?: string;
  /** The token contract. */
  asset?: string;
}

export interface PurchasePackInput {
  accountId: string;
  packId: string;
  payment: VerifiedPayment;
}

export interface PurchasePackOptions extends WriteOptions {
  /**
   * Settles the payment (e.g. submits the authorization on chain) inside the purchase's transaction, after the
   * payment and the lot are written and before the commit; throwing rolls everything back. Its JSON-safe result
   * is stored as the payment's settlement. Not called on a replay.
   */
  settle?: () => Promise<Record<string, unknown>>;
}

/** A recorded payment. */
export interface PaymentRecord {
  id: string;
  reference: string;
  accountId: string;
  packId: string;
  payer: string;
  amountMicro: bigint;
  network: string | null;
  asset: string | null;
  lotId: string;
  settlement: Record<string, unknown> | null;
  createdAt: Date;
}

export interface PurchasePackResult {
  lot: Lot;
  balance: Balance;
  pack: { id: string; priceMicro: bigint; bonusBps: number; lotTtlMs: number | null; creditsMicro: bigint };
  payment: PaymentRecord;
  /** True when the payment had already bought this pack: the first result is answered and nothing is minted. */
  replayed: boolean;
}
