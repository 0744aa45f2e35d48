import { type LedgerPaymentsApi, type LedgerPurchaseTarget, ledgerPaymentStore } from '../payments/ledger-store.js';
import { type PaidHandlers, type PaidWithStoreOptions, paidWithStore } from './paid-with-store.js';

/** Options of {@link ledgerPurchase}: the account and pack bought, plus the two-phase options. */
export interface LedgerPurchaseOptions extends LedgerPurchaseTarget, PaidWithStoreOptions {}

/**
 * The x402 ↔ billing-ledger adapter for a purchase route: `onPaid` and `findPaid` for {@link x402Paywall} that buy
 * `packId` for `accountId` with the payment. The ledger records the claim (committed) before the settlement, the
 * settlement runs with no transaction open, and the pack's lot is minted once in its own transaction; a replay
 * (also after the authorization's window) answers the first purchase result.
 *
 * @example
 * app.post('/v1/credit-packs/starter/purchase', x402Paywall({
 *   requirements: terms.forAmount(5_000_000n),
 *   facilitator,
 *   ...ledgerPurchase(ledger, { accountId, packId: 'starter', resolver }),
 * }), (c) => c.json(c.get('x402').result, 201));
 */
export function ledgerPurchase<TResult>(
  ledger: LedgerPaymentsApi<TResult>,
  options: LedgerPurchaseOptions,
): PaidHandlers<TResult> {
  const { accountId, packId, ...rest } = options;
  return paidWithStore(ledgerPaymentStore(ledger, { accountId, packId }), rest);
}
