import type { Context } from 'hono';
import { InvalidX402OptionError } from '../errors.js';
import type { JsonValue, PaymentClaimStore } from '../ports/payment-claim-store.js';
import type { VerifiedPayment } from '../verify/verify-exact.js';
import type { OnPaid } from './paywall.js';

/**
 * Builds an `onPaid` that records the payment in a {@link PaymentClaimStore} and runs `effect` in the same
 * transaction, settling before commit; a replay answers the first result with `replayed: true`. The effect's
 * result is `c.get('x402').result` in the route handler.
 *
 * @throws {InvalidX402OptionError} when `store` or `effect` is missing.
 * @example
 * x402Paywall({
 *   requirements, facilitator,
 *   onPaid: onPaidWithClaimStore(store, async ({ tx, payment }) => {
 *     await tx.execute(sql`insert into credits (owner, amount_micro) values (${payment.payer}, ${payment.amountAtomic})`);
 *     return { creditedMicro: payment.amountAtomic.toString() };
 *   }),
 * });
 */
export function onPaidWithClaimStore<TTx, TResult extends JsonValue>(
  store: PaymentClaimStore<TTx>,
  effect: (context: { tx: TTx; payment: VerifiedPayment; c: Context }) => Promise<TResult>,
): OnPaid<TResult> {
  if (store === null || typeof store !== 'object' || typeof store.claim !== 'function') {
    throw new InvalidX402OptionError('onPaidWithClaimStore(): store must be a PaymentClaimStore');
  }
  if (typeof effect !== 'function')
    throw new InvalidX402OptionError('onPaidWithClaimStore(): effect must be a function');
  return async function onPaidWithClaimStore({ payment, settle, c }) {
    const outcome = await store.claim({ payment, settle, effect: (tx) => effect({ tx, payment, c }) });
    return { result: outcome.result, replayed: outcome.replayed, settlement: outcome.settlement };
  };
}
