/**
 * The payment reconciler: one pass resolves the records left half-way (`verified`, `settling`, `settled` whose lease
 * expired, postponed ones, and failed ones still watched) from what the chain says. Safe on many instances: the
 * store hands each due record to one pass (`FOR UPDATE SKIP LOCKED` and a lease).
 */
import { InvalidX402OptionError } from '../errors.js';
import { normalizeReason } from '../facilitator/http.js';
import type { Facilitator } from '../ports/facilitator.js';
import type { AuthorizationResolver, PaymentStateRecord, PaymentStateStore } from '../ports/payment-state-store.js';
import type { Settlement } from '../wire/schemas.js';
import { assertPaymentTimings, reconcileBatchSizeMax, resolveTimings } from './limits.js';
import { authorizationOf, settlementFromChain } from './two-phase.js';

/** Options of {@link reconcilePayments}. */
export interface ReconcilePaymentsOptions<TResult> {
  store: PaymentStateStore<TResult>;
  /** Reads the chain: the truth about each authorization. */
  resolver: AuthorizationResolver;
  /**
   * Settles again a payment nothing executed yet while its authorization is still valid (from the stored request).
   * Without it such a payment waits for the client's retry or its expiry.
   */
  facilitator?: Facilitator | undefined;
  /** Records per pass, 1..100. Default 100. */
  batchSize?: number | undefined;
  /** Lease of each taken record. Default 120 000 ms. */
  leaseMs?: number | undefined;
  /** When a record that cannot be resolved now is due again. Default 15 000 ms. */
  retryInMs?: number | undefined;
}

/** What one pass did, by outcome. */
export interface ReconcileReport {
  /** Records taken. */
  examined: number;
  /** Credited (the chain shows the transfer), including `resettled`. */
  credited: number;
  /** Of `credited`: settled by this pass from the stored request. */
  resettled: number;
  /** Failed (for good, or watched after a refused settlement). */
  failed: number;
  /** Left for a later pass (RPC down, transaction not mined, authorization still open). */
  postponed: number;
}

type Outcome = 'credited' | 'resettled' | 'failed' | 'postponed';

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Runs one reconciler pass: takes up to `batchSize` due records and, for each, asks the chain:
 * - executed → credited (at most once: the store's credit is keyed by the payment);
 * - transaction pending, or the RPC is down → postponed;
 * - can never execute (window passed unused, nonce used elsewhere) → failed for good;
 * - still executable → settled again through `facilitator` from the stored request when it can (then credited, or
 *   failed and watched until `validBefore`), else postponed.
 * A record that throws is postponed and the pass goes on.
 *
 * @throws {InvalidX402OptionError} when an option is invalid; never for one record's failure.
 * @example
 * const report = await reconcilePayments({ store, resolver, facilitator });
 * report.credited; // payments the chain executed that had no credits yet
 */
export async function reconcilePayments<TResult>(options: ReconcilePaymentsOptions<TResult>): Promise<ReconcileReport> {
  const timings = resolveTimings({ leaseMs: options.leaseMs, retryInMs: options.retryInMs });
  assertPaymentTimings(timings, 'reconcilePayments()');
  const batchSize = options.batchSize ?? reconcileBatchSizeMax;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > reconcileBatchSizeMax) {
    throw new InvalidX402OptionError(
      `reconcilePayments(): batchSize must be an integer in 1..${reconcileBatchSizeMax}`,
    );
  }
  const due = await options.store.takeDue({ limit: batchSize, leaseMs: timings.leaseMs });
  const report: ReconcileReport = { examined: due.length, credited: 0, resettled: 0, failed: 0, postponed: 0 };
  for (const record of due) {
    let outcome: Outcome;
    try {
      outcome = await reconcileOne(options, record, timings.retryInMs);
    } catch (error) {
      await options.store
        .postpone(
          record.reference,
          { code: 'reconcile_failed', message: message(error) },
          { retryInMs: timings.retryInMs },
        )
        .catch(() => undefined);
      outcome = 'postponed';
    }
    if (outcome === 'resettled') {
      report.resettled += 1;
      report.credited += 1;
    } else {
      report[outcome] += 1;
    }
  }
  return report;
}

async function credit<TResult>(
  store: PaymentStateStore<TResult>,
  record: PaymentStateRecord<TResult>,
  settlement: Settlement,
): Promise<void> {
  await store.markSettled(record.reference, settlement);
  await store.credit(record.reference, settlement);
}

async function reconcileOne<TResult>(
  options: ReconcilePaymentsOptions<TResult>,
  record: PaymentStateRecord<TResult>,
  retryInMs: number,
): Promise<Outcome> {
  const { store } = options;
  if (record.status === 'settled' && record.settlement !== null) {
    await credit(store, record, record.settlement);
    return 'credited';
  }
  let resolution: Awaited<ReturnType<AuthorizationResolver['resolve']>>;
  try {
    resolution = await options.resolver.resolve(authorizationOf(record));
  } catch (error) {
    await store.postpone(record.reference, { code: 'facilitator_unavailable', message: message(error) }, { retryInMs });
    return 'postponed';
  }
  switch (resolution.state) {
    case 'executed':
      await credit(store, record, record.settlement ?? settlementFromChain(record, resolution.transaction));
      return 'credited';
    case 'pending':
      await store.postpone(
        record.reference,
        { code: 'payment_pending', message: `transaction ${resolution.transaction} is not mined yet` },
        { retryInMs },
      );
      return 'postponed';
    case 'dead':
      await store.fail(
        record.reference,
        { code: resolution.reason, message: resolution.message },
        { watchUntilSeconds: null },
      );
      return 'failed';
    case 'open':
      return settleOpen(options, record, retryInMs);
  }
}

/** An authorization that is still executable: settle it again from the stored request, or wait. */
async function settleOpen<TResult>(
  options: ReconcilePaymentsOptions<TResult>,
  record: PaymentStateRecord<TResult>,
  retryInMs: number,
): Promise<Outcome> {
  const { store, facilitator } = options;
  if (record.status === 'failed' || facilitator === undefined || record.request === null) {
    const failure = record.failure ?? { code: 'payment_pending', message: 'the authorization is not executed yet' };
    await store.postpone(record.reference, failure, { retryInMs });
    return 'postponed';
  }
  await store.markSettling(record.reference);
  let answer: Awaited<ReturnType<Facilitator['settle']>>;
  try {
    answer = await facilitator.settle(record.request.payload, record.request.requirements);
  } catch (error) {
    await store.postpone(record.reference, { code: 'facilitator_unavailable', message: message(error) }, { retryInMs });
    return 'postponed';
  }
  if (answer.success && answer.transaction !== '') {
    await credit(store, record, { ...answer, success: true, payer: answer.payer ?? record.payer });
    return 'resettled';
  }
  const code = normalizeReason(answer.errorReason, 'settlement_failed');
  const failure = { code, message: answer.errorMessage ?? `settlement failed: ${code}` };
  await store.fail(record.reference, failure, { watchUntilSeconds: record.validBefore });
  return 'failed';
}
