/**
 * The two-phase settlement of one payment on a {@link PaymentStateStore}: claim (committed) → settle with no
 * transaction open → credit in its own short transaction. One place owns what happens after each outcome.
 */
import { X402Error } from '../errors.js';
import { normalizeReason } from '../facilitator/http.js';
import type {
  AuthorizationRef,
  AuthorizationResolution,
  AuthorizationResolver,
  PaymentClaim,
  PaymentFailure,
  PaymentStateRecord,
  PaymentStateStore,
} from '../ports/payment-state-store.js';
import type { VerifiedPayment } from '../verify/verify-exact.js';
import type { Settlement } from '../wire/schemas.js';
import { assertPaymentTimings, type PaymentTimings, type ResolvedPaymentTimings, resolveTimings } from './limits.js';

/** Options of {@link settleWithStore}. */
export interface SettleWithStoreOptions<TResult> extends PaymentTimings {
  store: PaymentStateStore<TResult>;
  /** The verified payment (from the paywall). */
  payment: VerifiedPayment;
  /** Settles it (the paywall's `settle`): resolves to the settlement or rejects with an `X402Error`. */
  settle: () => Promise<Settlement>;
  /**
   * Reads the chain when a settlement fails, so a payment the chain did execute is credited (and one that can never
   * execute is failed for good). Without it a failure is recorded as watched until the authorization's
   * `validBefore`.
   */
  resolver?: AuthorizationResolver | undefined;
}

/** What {@link settleWithStore} answers on success. */
export interface SettledPayment<TResult> {
  result: TResult;
  /** The settlement (on a replay: the recorded one). */
  settlement: Settlement | null;
  /** True when the payment had already been credited: nothing was settled or applied again. */
  replayed: boolean;
  record: PaymentStateRecord<TResult>;
}

/** The authorization a record names, for an {@link AuthorizationResolver}. */
export function authorizationOf(record: PaymentStateRecord<unknown>, transaction?: string | null): AuthorizationRef {
  return {
    network: record.network,
    asset: record.asset,
    payer: record.payer,
    payTo: record.payTo,
    nonce: record.nonce,
    amountAtomic: record.amountAtomic,
    validBefore: record.validBefore,
    transaction: transaction ?? record.transaction,
  };
}

/** The settlement of an authorization the chain shows executed (when the facilitator's answer was lost). */
export function settlementFromChain(record: PaymentStateRecord<unknown>, transaction: string): Settlement {
  return {
    success: true,
    transaction,
    network: record.network,
    payer: record.payer,
    amount: record.amountAtomic.toString(),
  };
}

/** The error a failed record answers with (402 with its code). */
export function failedPaymentError(record: PaymentStateRecord<unknown>): X402Error {
  const code = normalizeReason(record.failure?.code, 'settlement_failed');
  return new X402Error(code, record.failure?.message ?? `payment ${record.reference} failed: ${code}`, {
    details: {
      reference: record.reference,
      status: record.status,
      ...(record.transaction === null ? {} : { transaction: record.transaction }),
    },
  });
}

function pendingError(record: PaymentStateRecord<unknown>, retryAfterSeconds: number, why: string): X402Error {
  return new X402Error(
    'payment_pending',
    `payment ${record.reference} is recorded and ${why}; send the same payment again later (it is credited at most once)`,
    { details: { reference: record.reference, status: record.status, retryAfterSeconds } },
  );
}

function failureOf(error: unknown): PaymentFailure {
  if (error instanceof X402Error) return { code: error.code, message: error.message };
  return { code: 'settlement_failed', message: error instanceof Error ? error.message : String(error) };
}

function replayOf<TResult>(record: PaymentStateRecord<TResult>): SettledPayment<TResult> {
  return { result: record.result as TResult, settlement: record.settlement, replayed: true, record };
}

/**
 * Settles a verified payment through its record, never holding a database transaction across the chain call:
 *
 * 1. `store.claim` (committed). `credited` → the stored answer (`replayed: true`); `failed` → the recorded failure
 *    (402); `busy` → claims again while it waits (up to `waitMs`) for the attempt holding it, taking the payment over
 *    when that attempt's lease ends, then `payment_pending` (503).
 * 2. As owner: `markSettling`, then `settle()` with no transaction open.
 * 3. Success → `markSettled` → `credit` (its own transaction, once per payment) → the result.
 * 4. The facilitator or the RPC unreachable (or any unexpected error) → the record stays as it is and is
 *    postponed for the reconciler; the error is rethrown (503 `facilitator_unavailable`).
 * 5. A refused settlement → the chain is asked (with a `resolver`): executed → credited anyway; transaction
 *    pending → postponed, 503 `payment_pending`; can never execute → failed for good; still executable → failed and
 *    watched until `validBefore`. The refusal is rethrown (402 with its code).
 *
 * @throws {X402Error} as above; a store's own typed errors (e.g. a reused reference) propagate.
 * @example
 * const { result, settlement, replayed } = await settleWithStore({ store, payment, settle, resolver });
 */
export async function settleWithStore<TResult>(
  options: SettleWithStoreOptions<TResult>,
): Promise<SettledPayment<TResult>> {
  const timings = resolveTimings(options);
  assertPaymentTimings(timings, 'settleWithStore()');
  const { store, payment } = options;
  const claim = await store.claim(payment, {
    leaseMs: timings.leaseMs,
    request: { payload: payment.payload, requirements: payment.requirements },
  });
  return answerClaim(options, timings, claim);
}

async function answerClaim<TResult>(
  options: SettleWithStoreOptions<TResult>,
  timings: ResolvedPaymentTimings,
  claim: PaymentClaim<TResult>,
): Promise<SettledPayment<TResult>> {
  switch (claim.kind) {
    case 'credited':
      return replayOf(claim.record);
    case 'failed':
      throw failedPaymentError(claim.record);
    case 'busy':
      return waitForOtherAttempt(options, timings, claim.record);
    case 'owner':
      return settleAsOwner(options, timings, claim.record);
  }
}

async function creditSettled<TResult>(
  store: PaymentStateStore<TResult>,
  record: PaymentStateRecord<TResult>,
  settlement: Settlement,
): Promise<SettledPayment<TResult>> {
  await store.markSettled(record.reference, settlement);
  const credit = await store.credit(record.reference, settlement);
  return {
    result: credit.result,
    settlement: credit.replayed ? (credit.record.settlement ?? settlement) : settlement,
    replayed: credit.replayed,
    record: credit.record,
  };
}

async function settleAsOwner<TResult>(
  options: SettleWithStoreOptions<TResult>,
  timings: ResolvedPaymentTimings,
  record: PaymentStateRecord<TResult>,
): Promise<SettledPayment<TResult>> {
  const { store } = options;
  if (record.status === 'settled' && record.settlement !== null) {
    // Settled before a crash, never credited: only the credit is missing.
    return creditSettled(store, record, record.settlement);
  }
  await store.markSettling(record.reference);
  let settlement: Settlement;
  try {
    settlement = await options.settle();
  } catch (error) {
    return afterRefusedOrLost(options, timings, record, error);
  }
  return creditSettled(store, record, settlement);
}

function isOutcomeUnknown(error: unknown): boolean {
  return !(error instanceof X402Error) || error.code === 'facilitator_unavailable' || error.code === 'payment_pending';
}

async function afterRefusedOrLost<TResult>(
  options: SettleWithStoreOptions<TResult>,
  timings: ResolvedPaymentTimings,
  record: PaymentStateRecord<TResult>,
  error: unknown,
): Promise<SettledPayment<TResult>> {
  const { store, resolver } = options;
  const failure = failureOf(error);
  if (isOutcomeUnknown(error)) {
    await store.postpone(record.reference, failure, { retryInMs: timings.retryInMs });
    throw error;
  }
  const sent = (error as X402Error).details?.transaction;
  let resolution: AuthorizationResolution | null = null;
  if (resolver !== undefined) {
    resolution = await resolver
      .resolve(authorizationOf(record, typeof sent === 'string' && sent !== '' ? sent : null))
      .catch(() => null);
  }
  if (resolution?.state === 'executed') {
    return creditSettled(store, record, settlementFromChain(record, resolution.transaction));
  }
  if (resolution?.state === 'pending') {
    await store.postpone(record.reference, failure, { retryInMs: timings.retryInMs });
    throw pendingError(record, Math.ceil(timings.retryInMs / 1000), 'its settlement transaction is not mined yet');
  }
  const final = resolution?.state === 'dead';
  await store.fail(record.reference, failure, { watchUntilSeconds: final ? null : record.validBefore });
  throw error;
}

/**
 * Waits for the attempt holding the payment: claims it again every `pollIntervalMs` (a claim of a held record writes
 * nothing), so it answers as soon as the holder credited or failed it, and takes it over if the holder's lease ends
 * (the holder died). After `waitMs`, `payment_pending`.
 */
async function waitForOtherAttempt<TResult>(
  options: SettleWithStoreOptions<TResult>,
  timings: ResolvedPaymentTimings,
  record: PaymentStateRecord<TResult>,
): Promise<SettledPayment<TResult>> {
  const { store, payment } = options;
  const deadline = Date.now() + timings.waitMs;
  let current = record;
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, timings.pollIntervalMs));
    const claim = await store.claim(payment, {
      leaseMs: timings.leaseMs,
      request: { payload: payment.payload, requirements: payment.requirements },
    });
    if (claim.kind !== 'busy') return answerClaim(options, timings, claim);
    current = claim.record;
  }
  throw pendingError(current, Math.ceil(timings.retryInMs / 1000), 'another attempt is settling it');
}
