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
  PaymentKind,
  PaymentStatus,
  ReservationStatus,
  RevenuePool,
  RevenueRuleSchemaVersion,
} from './db/schema.js';
import type { Pricing, Usage } from './meters/types.js';

export type {
  BillingMode,
  Bucket,
  DistributionKind,
  EntryKind,
  PaymentKind,
  PaymentStatus,
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
  /**
   * Whose key it is (1–255 printable ASCII, e.g. `arrakis-api:alice`): keys are unique per operation and scope, so two
   * callers using the same key never collide. Absent: the ledger-wide scope of the operation.
   */
  idempotencyScope?: string;
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
  /** The meter version that set the hold's terms and prices its usage; null for a hold with caller-set terms. */
  meterId: string | null;
  meterVersion: number | null;
  /** The usage a finalize by usage reported (units per dimension); null otherwise. */
  usage: Record<string, bigint> | null;
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

/** A hold with caller-set terms (services and admins). */
export interface RawReserveInput {
  accountId: string;
  amountMicro: bigint;
  poolId?: string;
  ttlMs?: number;
  billingMode?: BillingMode;
  meterId?: undefined;
  estimate?: undefined;
}
/**
 * A hold on the terms of the meter version in force (pool, billing mode, ttl): `max(holdMicro, cost(estimate))`
 * capped at `maxCostMicro`.
 */
export interface MeteredReserveInput {
  accountId: string;
  meterId: string;
  /** Expected usage; sizes the hold when it costs more than the meter's `holdMicro`. */
  estimate?: Usage;
  amountMicro?: undefined;
  poolId?: undefined;
  ttlMs?: undefined;
  billingMode?: undefined;
}
export type ReserveInput = RawReserveInput | MeteredReserveInput;
export interface ReserveResult {
  reservation: Reservation;
  balance: Balance;
  /** Lots touched, after the change. */
  lots: Lot[];
}

/** Finalize with a cost the caller computed. */
export interface CostFinalizeInput {
  reservationId: string;
  actualCostMicro: bigint;
  usage?: undefined;
}
/** Finalize with the usage: the cost is priced under the meter version the hold recorded. */
export interface UsageFinalizeInput {
  reservationId: string;
  usage: Usage;
  actualCostMicro?: undefined;
}
export type FinalizeInput = CostFinalizeInput | UsageFinalizeInput;
export interface FinalizeResult {
  reservation: Reservation;
  chargedMicro: bigint;
  releasedMicro: bigint;
  overrunMicro: bigint;
  uncollectedMicro: bigint;
  /** The charge's split by the rule in force at finalize; null when nothing was charged (e.g. shadow mode). */
  distribution: Distribution | null;
  /** The itemized price of the usage (finalize by usage); null when the caller gave the cost. */
  pricing: Pricing | null;
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
  /** Part of that debt paid at once by the account's other available credit (the rest stays as `balance.debtMicro`). */
  debtOffsetMicro: bigint;
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
  counts: {
    accounts: number;
    lots: number;
    reservations: number;
    entries: number;
    distributions: number;
    meteredCharges: number;
    /** Payments checked (credited ones against their lots). */
    payments: number;
  };
  violations: VerifyViolation[];
}

/**
 * A payment verified by the caller (e.g. an x402 EIP-3009 authorization), as a purchase records it. The ledger is
 * chain-agnostic: it stores these fields as given and never reads the chain.
 */
export interface VerifiedPayment {
  /** Unique reference of the payment (e.g. `network:asset:payer:nonce`): one payment mints once. */
  reference: string;
  /** Who paid (e.g. the authorizing wallet address). */
  payer: string;
  /** What was paid, in micro-USD (the token's 6-decimal units). */
  amountMicro: bigint;
  /** CAIP-2 network, e.g. `eip155:8453`. */
  network?: string | undefined;
  /** The token contract. */
  asset?: string | undefined;
  /** Who was paid (compared case-insensitively with a stored one). */
  payTo?: string | undefined;
  /** The authorization's nonce. */
  nonce?: string | undefined;
  /** Unix seconds after which the authorization can no longer execute (a failed payment is reopened only before). */
  validBefore?: bigint | undefined;
  /** Opaque JSON the caller needs to settle the payment again (≤ `paymentJsonBytesMax` serialized). */
  request?: unknown;
}

/** A claim of a payment that buys a credit pack of the catalog (kind `pack`). */
export interface PackPaymentClaimInput {
  accountId: string;
  /** The pack bought: its price, credits, bonus and lot lifetime are frozen on the record. */
  packId: string;
  creditMicro?: undefined;
  payment: VerifiedPayment;
}

/**
 * A claim of a payment that buys plain credit (kind `credit`, no pack), e.g. one paid call: the lot holds exactly
 * `creditMicro`, with no bonus and no lifetime; `payment.amountMicro` must be at least `creditMicro`.
 */
export interface CreditPaymentClaimInput {
  accountId: string;
  packId?: undefined;
  /** The credit bought, micro-USD from 1 to 10^15 and at most `payment.amountMicro`. */
  creditMicro: bigint;
  payment: VerifiedPayment;
}

/**
 * What `Ledger.claimPayment` and `Ledger.purchasePack` take: the payment and what it buys, exactly one of `packId`
 * (a credit pack) and `creditMicro` (plain credit).
 */
export type PaymentClaimInput = PackPaymentClaimInput | CreditPaymentClaimInput;

export type PurchasePackInput = PaymentClaimInput;

/**
 * The settlement of a payment as the ledger stores it: the chain transaction, and whatever else the settler answered
 * (stored as JSON, ≤ `paymentJsonBytesMax`). An x402 `Settlement` is assignable to it.
 */
export interface PaymentSettlement {
  readonly transaction: string;
  readonly network?: string | undefined;
  readonly payer?: string | undefined;
}

/** Why a payment failed or was postponed: a code (e.g. an x402 reason) and a message. */
export interface PaymentFailure {
  code: string;
  message: string;
}

/** A payment record as the ledger holds it (see `paymentStatuses`). */
export interface PaymentView {
  id: string;
  reference: string;
  status: PaymentStatus;
  accountId: string;
  /** What the payment buys: a credit pack (`pack`) or plain credit (`credit`). */
  kind: PaymentKind;
  /** The pack bought (kind `pack`); null for plain credit. */
  packId: string | null;
  payer: string;
  payTo: string | null;
  amountMicro: bigint;
  network: string | null;
  asset: string | null;
  nonce: string | null;
  validBefore: bigint | null;
  /** What the caller stored to settle again (`null` when none). */
  request: unknown | null;
  transaction: string | null;
  settlement: Record<string, unknown> | null;
  /** The lot the credit minted (status `credited`). */
  lotId: string | null;
  /** The last failure (status `failed`; also kept after a postponed attempt or a reopened failure). */
  failure: PaymentFailure | null;
  /** Times an owner moved the record from `verified` to `settling`. */
  attempts: number;
  /** When the record is due for a reconciler (a lease, a retry, a watched failure); null when nothing is left to do. */
  reconcileAfter: Date | null;
  createdAt: Date;
  updatedAt: Date;
  creditedAt: Date | null;
}

/**
 * What a claim answers (`payment` is the record after the claim):
 * - `owner`: this caller holds the record until its lease ends and must settle it (unless `payment.status` is
 *   `settled`: only the credit is missing), then credit, fail or postpone it;
 * - `credited`: already paid for; `result` is the first purchase result with `replayed: true`;
 * - `failed`: failed for good (no longer watched, or its authorization expired);
 * - `busy`: another attempt holds it (its lease has not ended): try again later.
 */
export type PaymentClaimResult =
  | { kind: 'owner'; payment: PaymentView; result?: undefined }
  | { kind: 'credited'; payment: PaymentView; result: PurchasePackResult }
  | { kind: 'failed'; payment: PaymentView; result?: undefined }
  | { kind: 'busy'; payment: PaymentView; result?: undefined };

/** Options of `Ledger.listPayments`. */
export interface ListPaymentsOptions {
  status?: PaymentStatus | undefined;
  cursor?: string | null | undefined;
  /** 1..`paymentsPageSizeMax` (500), default 50. */
  limit?: number | undefined;
}

/** A page of payments, newest first. */
export interface PaymentPage {
  payments: PaymentView[];
  /** Opaque cursor of the next page, or null at the end. */
  nextCursor: string | null;
}

export interface PurchasePackOptions extends WriteOptions {
  /**
   * Settles the payment (e.g. submits the authorization on chain). It runs with no database transaction open:
   * after the claim committed and before the credit's own short transaction. When it throws, the payment is
   * postponed (due again after the lease) and the error is rethrown; nothing is minted. Not called on a replay, nor
   * when the record is already `settled`.
   */
  settle?: (() => Promise<PaymentSettlement>) | undefined;
  /** How long this attempt holds the payment (default `paymentLeaseMsDefault`, at most `paymentLeaseMsMax`). */
  leaseMs?: number | undefined;
}

/** A recorded payment. */
export interface PaymentRecord {
  id: string;
  reference: string;
  accountId: string;
  /** What the payment bought: a credit pack (`pack`) or plain credit (`credit`). */
  kind: PaymentKind;
  /** The pack bought (kind `pack`); null for plain credit. */
  packId: string | null;
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
  /** The pack bought, with the terms frozen at the claim; null when the payment bought plain credit (kind `credit`). */
  pack: { id: string; priceMicro: bigint; bonusBps: number; lotTtlMs: number | null; creditsMicro: bigint } | null;
  payment: PaymentRecord;
  /** True when the payment had already been credited: the first result is answered and nothing is minted. */
  replayed: boolean;
}

/** Spend caps of an account (UTC day and month); null: no cap in that period. */
export interface SpendCapsInput {
  accountId: string;
  dailyCapMicro: bigint | null;
  monthlyCapMicro: bigint | null;
  /** The admin setting them (recorded and in the event). */
  actor: string;
}

/** One period's spend against its cap. */
export interface SpendPeriod {
  period: 'daily' | 'monthly';
  periodStart: Date;
  /** Pending holds plus charges of holds placed since `periodStart`. */
  spentMicro: bigint;
  capMicro: bigint | null;
}

/** An account's spend caps and its spend in the current periods. */
export interface SpendCaps {
  accountId: string;
  dailyCapMicro: bigint | null;
  monthlyCapMicro: bigint | null;
  updatedBy: string | null;
  updatedAt: Date | null;
  daily: SpendPeriod;
  monthly: SpendPeriod;
}
