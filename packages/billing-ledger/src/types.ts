/**
 * The public shapes of @arrakis/billing-ledger: what every operation takes and returns.
 * Amounts are bigint micro-USD; times are `Date` (UTC). This file is the contract between the
 * ledger core, the gateway routes and the tests.
 */
import type { BillingMode, Bucket, EntryKind, ReservationStatus } from './db/schema.js';

export type { BillingMode, Bucket, EntryKind, ReservationStatus };

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
  availableAfterMicro: bigint;
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
  balance: Balance;
  lots: Lot[];
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
  counts: { accounts: number; lots: number; reservations: number; entries: number };
  violations: VerifyViolation[];
}
