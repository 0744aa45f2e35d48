import { X402Error } from '../errors.js';
import type { PaymentTimings } from '../payments/limits.js';
import { settleWithStore } from '../payments/two-phase.js';
import type { AuthorizationResolver, PaymentStateStore } from '../ports/payment-state-store.js';
import type { FindPaidContext, OnPaid, OnPaidResult } from './paywall.js';

/** Options of {@link paidWithStore}. */
export interface PaidWithStoreOptions extends PaymentTimings {
  /**
   * Reads the chain when a settlement is refused or its answer lost (`rpcAuthorizationResolver`), so a payment the
   * chain executed is credited and one that never can is failed for good.
   */
  resolver?: AuthorizationResolver | undefined;
}

/** The two handlers of {@link x402Paywall} a payment store provides: spread them into its options. */
export interface PaidHandlers<TResult> {
  onPaid: OnPaid<TResult>;
  findPaid: (context: FindPaidContext) => Promise<OnPaidResult<TResult> | null>;
}

function sameAddress(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/**
 * `onPaid` and `findPaid` for {@link x402Paywall} on a {@link PaymentStateStore}: the payment is claimed (committed),
 * settled with no transaction open, and credited once in its own transaction (`settleWithStore`); a replay of a
 * credited payment answers its first result, inside or after the authorization's window (after it, a payment whose
 * money moved but was not credited yet is credited then; one still unresolved answers 503 `payment_pending`).
 *
 * @example
 * const store = postgresPaymentStateStore({ db, effect: async (tx, record) => mintCredits(tx, record) });
 * app.post('/v1/credits', x402Paywall({ requirements, facilitator, ...paidWithStore(store, { resolver }) }),
 *   (c) => c.json(c.get('x402').result, 201));
 */
export function paidWithStore<TResult>(
  store: PaymentStateStore<TResult>,
  options: PaidWithStoreOptions = {},
): PaidHandlers<TResult> {
  return {
    async onPaid({ payment, settle }) {
      const outcome = await settleWithStore({ ...options, store, payment, settle });
      return { result: outcome.result, replayed: outcome.replayed, settlement: outcome.settlement };
    },
    async findPaid({ payment }) {
      const record = await store.find(payment.reference);
      if (record === null || record.status === 'failed') return null;
      // The same nonce signed for another transfer is not a replay of this one.
      if (!sameAddress(record.payTo, payment.payTo) || record.amountAtomic !== payment.amountAtomic) return null;
      if (record.status === 'credited') {
        return { result: record.result as TResult, replayed: true, settlement: record.settlement };
      }
      if (record.status === 'settled' && record.settlement !== null) {
        // The money moved and the credit is missing (a crash, a failed effect): credit it now, once.
        const credit = await store.credit(record.reference, record.settlement);
        return { result: credit.result, replayed: credit.replayed, settlement: credit.record.settlement };
      }
      throw new X402Error(
        'payment_pending',
        `payment ${record.reference} is recorded and its settlement is not resolved yet; the reconciler completes it`,
        { details: { reference: record.reference, status: record.status } },
      );
    },
  };
}
