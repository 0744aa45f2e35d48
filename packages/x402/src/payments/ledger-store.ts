/**
 * The x402 ↔ billing-ledger adapter: a {@link PaymentStateStore} on `@arrakis/billing-ledger`'s payment records. Typed
 * structurally ({@link LedgerPaymentsApi}), so this package does not depend on the ledger; the ledger's `Ledger`
 * satisfies it under `strict` + `exactOptionalPropertyTypes` (a gateway type test holds it to that).
 */
import type {
  PaymentClaim,
  PaymentFailure,
  PaymentStateRecord,
  PaymentStateStore,
  PaymentStatus,
} from '../ports/payment-state-store.js';
import type { PaymentPayload, PaymentRequirements, Settlement } from '../wire/schemas.js';

/** A ledger payment record, as the adapter reads it (the ledger's `PaymentView`). */
export interface LedgerPaymentView {
  reference: string;
  status: PaymentStatus;
  payer: string;
  payTo: string | null;
  amountMicro: bigint;
  network: string | null;
  asset: string | null;
  nonce: string | null;
  validBefore: bigint | null;
  request: unknown;
  transaction: string | null;
  settlement: Record<string, unknown> | null;
  failure: PaymentFailure | null;
  attempts: number;
  createdAt: Date;
  updatedAt: Date;
}

/** What the adapter sends to `claimPayment`. */
export interface LedgerPaymentClaimInput {
  accountId: string;
  packId: string;
  payment: {
    reference: string;
    payer: string;
    amountMicro: bigint;
    network: string;
    asset: string;
    payTo: string;
    nonce: string;
    validBefore: bigint;
    request: { payload: PaymentPayload; requirements: PaymentRequirements };
  };
}

/** The ledger methods the adapter uses (`@arrakis/billing-ledger`'s `Ledger` has them). */
export interface LedgerPaymentsApi<TResult> {
  claimPayment(
    input: LedgerPaymentClaimInput,
    options: { leaseMs: number },
  ): Promise<{ kind: PaymentClaim['kind']; payment: LedgerPaymentView; result?: TResult | undefined }>;
  markPaymentSettling(reference: string): Promise<unknown>;
  recordPaymentSettlement(reference: string, settlement: Settlement): Promise<unknown>;
  creditPayment(reference: string, settlement?: Settlement): Promise<TResult & { replayed: boolean }>;
  failPayment(reference: string, failure: PaymentFailure, options: { watchUntil: Date | null }): Promise<unknown>;
  postponePayment(reference: string, failure: PaymentFailure, options: { retryAt: Date }): Promise<unknown>;
  takeDuePayments(options: { limit: number; leaseMs: number }): Promise<LedgerPaymentView[]>;
  getPayment(idOrReference: string): Promise<LedgerPaymentView>;
}

/** Which account buys which pack with the payments claimed through this store. */
export interface LedgerPurchaseTarget {
  accountId: string;
  packId: string;
}

function isRequest(value: unknown): value is { payload: PaymentPayload; requirements: PaymentRequirements } {
  if (value === null || typeof value !== 'object') return false;
  const candidate = value as Record<string, unknown>;
  return typeof candidate.payload === 'object' && typeof candidate.requirements === 'object';
}

function recordOf<TResult>(view: LedgerPaymentView, result: TResult | null): PaymentStateRecord<TResult> {
  return {
    reference: view.reference,
    status: view.status,
    network: view.network ?? '',
    asset: view.asset ?? '',
    payer: view.payer,
    payTo: view.payTo ?? '',
    nonce: view.nonce ?? '',
    amountAtomic: view.amountMicro,
    validBefore: view.validBefore ?? 0n,
    request: isRequest(view.request) ? view.request : null,
    transaction: view.transaction,
    settlement: view.settlement === null ? null : (view.settlement as unknown as Settlement),
    result,
    failure: view.failure,
    attempts: view.attempts,
    createdAtMs: view.createdAt.getTime(),
    updatedAtMs: view.updatedAt.getTime(),
  };
}

/** Latest instant a `Date` holds (year 275760): a `validBefore` beyond it is watched until then. */
const dateSecondsMax = 8_640_000_000_000n;

function dateOfSeconds(seconds: bigint): Date {
  return new Date(Number(seconds > dateSecondsMax ? dateSecondsMax : seconds) * 1000);
}

function isNotFound(error: unknown): boolean {
  return error !== null && typeof error === 'object' && (error as { code?: unknown }).code === 'payment_not_found';
}

/**
 * A {@link PaymentStateStore} on the billing ledger's payment records: the ledger mints the pack's lot when a
 * payment is credited (at most once per payment, in its own transaction). `claim` needs `target` (the account and
 * pack bought); a reconciler's store (`takeDue`, `credit`, …) does not.
 *
 * @example
 * const store = ledgerPaymentStore(ledger); // for reconcilePayments({ store, resolver, facilitator })
 */
export function ledgerPaymentStore<TResult>(
  ledger: LedgerPaymentsApi<TResult>,
  target?: LedgerPurchaseTarget,
): PaymentStateStore<TResult> {
  return {
    async claim(payment, { leaseMs, request }) {
      if (target === undefined) throw new TypeError('ledgerPaymentStore(): claim needs the purchase target');
      const answer = await ledger.claimPayment(
        {
          accountId: target.accountId,
          packId: target.packId,
          payment: {
            reference: payment.reference,
            payer: payment.payer,
            amountMicro: payment.amountAtomic,
            network: payment.network,
            asset: payment.asset,
            payTo: payment.payTo,
            nonce: payment.nonce,
            validBefore: payment.validBefore,
            request,
          },
        },
        { leaseMs },
      );
      return { kind: answer.kind, record: recordOf(answer.payment, answer.result ?? null) };
    },
    markSettling: async (reference) => void (await ledger.markPaymentSettling(reference)),
    markSettled: async (reference, settlement) => void (await ledger.recordPaymentSettlement(reference, settlement)),
    async credit(reference, settlement) {
      const result = await ledger.creditPayment(reference, settlement);
      const view = await ledger.getPayment(reference);
      return { result, record: recordOf(view, result as TResult), replayed: result.replayed };
    },
    async fail(reference, failure, { watchUntilSeconds }) {
      const watchUntil = watchUntilSeconds === null ? null : dateOfSeconds(watchUntilSeconds);
      await ledger.failPayment(reference, failure, { watchUntil });
    },
    async postpone(reference, failure, { retryInMs }) {
      await ledger.postponePayment(reference, failure, { retryAt: new Date(Date.now() + retryInMs) });
    },
    async takeDue(options) {
      return (await ledger.takeDuePayments(options)).map((view) => recordOf<TResult>(view, null));
    },
    async find(reference) {
      let view: LedgerPaymentView;
      try {
        view = await ledger.getPayment(reference);
      } catch (error) {
        if (isNotFound(error)) return null;
        throw error;
      }
      // A credited payment answers its stored result (credit on a credited payment writes nothing).
      const result = view.status === 'credited' ? await ledger.creditPayment(reference) : null;
      return recordOf(view, result);
    },
  };
}
