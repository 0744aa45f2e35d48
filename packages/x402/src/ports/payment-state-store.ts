/**
 * Two-phase payments: the record of a payment lives through states, so no database transaction or row lock is
 * ever open while a payment settles on chain, and every payment left half-way (a crash, an RPC outage, a slow
 * chain) is resolved later by a reconciler.
 *
 * ```
 * verified ──claim──▶ settling ──chain says executed──▶ settled ──short mint transaction──▶ credited
 *     │                  │
 *     └──────────────────┴──▶ failed (with a reason; watched until validBefore, then final)
 * ```
 *
 * - The claim (`verified`, then `settling` for the attempt that owns it) is committed before any chain call.
 * - Chain I/O runs with no transaction open.
 * - The effect (minting credits) runs in its own short transaction keyed by the payment, so one payment credits at
 *   most once, on any instance, after any crash.
 * - A `failed` payment stays watched until its `validBefore` has passed: an authorization that failed to settle
 *   can still be executed by anyone holding it, and one executed later is credited (failed → settled → credited).
 *   `failed` is final only when the authorization can no longer execute.
 */
import type { VerifiedPayment } from '../verify/verify-exact.js';
import type { PaymentPayload, PaymentRequirements, Settlement } from '../wire/schemas.js';

/** A JSON value: what a store keeps as an effect's result so a replay can return it. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** The states of a payment record (see the module comment). */
export type PaymentStatus = 'verified' | 'settling' | 'settled' | 'credited' | 'failed';

/** Every {@link PaymentStatus}, in lifecycle order. */
export const paymentStatuses: readonly PaymentStatus[] = Object.freeze([
  'verified',
  'settling',
  'settled',
  'credited',
  'failed',
]);

/** What a store keeps so the reconciler can settle the payment again: the x402 wire payload and requirement. */
export interface SettlementRequest {
  payload: PaymentPayload;
  requirements: PaymentRequirements;
}

/** Why a payment failed: an x402 reason code and a message. */
export interface PaymentFailure {
  code: string;
  message: string;
}

/** A payment record as a {@link PaymentStateStore} holds it. */
export interface PaymentStateRecord<TResult = unknown> {
  /** `<network>:<asset>:<payer>:<nonce>` (lower-case), unique. */
  reference: string;
  status: PaymentStatus;
  network: string;
  /** Token contract, payer and recipient, lower-case or checksummed (compare case-insensitively). */
  asset: string;
  payer: string;
  payTo: string;
  /** EIP-3009 nonce, 0x + 64 lower-case hex. */
  nonce: string;
  amountAtomic: bigint;
  /** Unix seconds after which the authorization can no longer execute. */
  validBefore: bigint;
  /** What is needed to settle again (`null` when the store was not given it). */
  request: SettlementRequest | null;
  /** The settlement transaction once known. */
  transaction: string | null;
  /** The successful settlement (status `settled` or `credited`). */
  settlement: Settlement | null;
  /** The effect's result (status `credited`). */
  result: TResult | null;
  /** The last failure (status `failed`; also kept on a postponed attempt). */
  failure: PaymentFailure | null;
  /** Settlement attempts that took the record. */
  attempts: number;
  createdAtMs: number;
  updatedAtMs: number;
}

/**
 * What a claim answers:
 * - `owner`: this caller took the record (now `settling`, or still `settled` when only the credit is missing) and
 *   must settle it and then credit, fail or postpone it;
 * - `credited`: already paid for; `record.result` is the first answer (a replay);
 * - `failed`: finally failed (the authorization can no longer execute);
 * - `busy`: another attempt holds it (its lease has not expired): wait and read it again.
 */
export type PaymentClaim<TResult = unknown> =
  | { kind: 'owner'; record: PaymentStateRecord<TResult> }
  | { kind: 'credited'; record: PaymentStateRecord<TResult> }
  | { kind: 'failed'; record: PaymentStateRecord<TResult> }
  | { kind: 'busy'; record: PaymentStateRecord<TResult> };

/** What {@link PaymentStateStore.credit} answers. */
export interface PaymentCredit<TResult = unknown> {
  result: TResult;
  record: PaymentStateRecord<TResult>;
  /** True when the payment had already been credited (nothing ran again). */
  replayed: boolean;
}

/**
 * The persistence of two-phase payments. Every method is one short transaction; none calls the chain.
 *
 * Leases: `claim` and `takeDue` give the record to one attempt until `now + leaseMs`; another claim meanwhile
 * answers `busy`, and `takeDue` skips it. A lease that expires (the process died) makes the record due again.
 */
export interface PaymentStateStore<TResult = unknown> {
  /**
   * Records the payment (`verified`) if new, and takes it for this attempt when it is `verified`, `settling` or
   * `settled` with an expired lease, or `failed` but not final while its authorization is still valid.
   * The same reference with another authorization (amount, recipient) or another purchase throws a typed error.
   */
  claim(
    payment: VerifiedPayment,
    options: { leaseMs: number; request: SettlementRequest },
  ): Promise<PaymentClaim<TResult>>;
  /**
   * `verified` → `settling` (attempts + 1): the owner calls it right before it asks the chain, so a `verified`
   * record is one nothing was ever sent for. Idempotent on `settling`.
   */
  markSettling(reference: string): Promise<void>;
  /** Any state but `credited` → `settled`, storing the settlement (its transaction). Idempotent. */
  markSettled(reference: string, settlement: Settlement): Promise<void>;
  /**
   * Applies the effect once (its own transaction, keyed by the payment): → `credited`. A credited record answers its
   * stored result with `replayed: true`. A final `failed` record must be `markSettled` first (the chain executed it
   * after all); the orchestrators always do.
   */
  credit(reference: string, settlement: Settlement): Promise<PaymentCredit<TResult>>;
  /**
   * → `failed` with the reason. `watchUntilSeconds`: the authorization's `validBefore` while it could still
   * execute (the reconciler looks again once it has passed), or `null` when it never can (final). A `settled` record
   * (the chain executed it) stays `settled` and due, with the failure noted; a `credited` one is unchanged.
   */
  fail(reference: string, failure: PaymentFailure, options: { watchUntilSeconds: bigint | null }): Promise<void>;
  /** Leaves the state as is (`settling` stays `settling`), releases the lease and makes it due in `retryInMs`. */
  postpone(reference: string, failure: PaymentFailure, options: { retryInMs: number }): Promise<void>;
  /**
   * Takes up to `limit` due records (lease expired, postponed time reached, or a watched failure past its
   * `validBefore`) with `FOR UPDATE SKIP LOCKED`, leasing each for `leaseMs`: safe with many reconcilers.
   */
  takeDue(options: { limit: number; leaseMs: number }): Promise<PaymentStateRecord<TResult>[]>;
  /** The record with this reference, or `null`. */
  find(reference: string): Promise<PaymentStateRecord<TResult> | null>;
}

/**
 * What the chain says about an authorization:
 * - `executed`: a successful transaction executed it (moving `amountAtomic` from the payer to `payTo`);
 * - `pending`: the known settlement transaction has no receipt yet;
 * - `open`: not executed and still executable (`validBefore` ahead);
 * - `dead`: it can never execute: `authorization_expired` (its window passed unused) or `nonce_already_used` (the
 *   nonce was used by another transfer or cancelled).
 */
export type AuthorizationResolution =
  | { state: 'executed'; transaction: string; blockNumber: bigint }
  | { state: 'pending'; transaction: string }
  | { state: 'open' }
  | { state: 'dead'; reason: 'authorization_expired' | 'nonce_already_used'; message: string };

/** The authorization a resolver looks up (a {@link PaymentStateRecord} has all of it). */
export interface AuthorizationRef {
  network: string;
  asset: string;
  payer: string;
  payTo: string;
  nonce: string;
  amountAtomic: bigint;
  validBefore: bigint;
  /** A settlement transaction already sent for it, when known. */
  transaction?: string | null;
}

/**
 * Reads the chain (never writes): `resolve` tells what became of an authorization, `decimals` reads a token's
 * `decimals()`. Throws `X402Error` `facilitator_unavailable` when the RPC cannot answer.
 */
export interface AuthorizationResolver {
  resolve(authorization: AuthorizationRef): Promise<AuthorizationResolution>;
  decimals(asset: string): Promise<number>;
}
