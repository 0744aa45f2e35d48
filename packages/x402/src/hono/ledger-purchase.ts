import { InvalidX402OptionError } from '../errors.js';
import {
  checkLedgerPurchaseTarget,
  type LedgerPaymentsApi,
  type LedgerPurchaseTarget,
  ledgerPaymentStore,
} from '../payments/ledger-store.js';
import { type PaidHandlers, type PaidWithStoreOptions, paidWithStore } from './paid-with-store.js';

/**
 * Options of {@link ledgerPurchase}: the account and what it buys — a credit pack (`packId`) or plain credit
 * (`creditMicro`) — plus the two-phase options.
 */
export type LedgerPurchaseOptions = LedgerPurchaseTarget & PaidWithStoreOptions;

/**
 * The x402 ↔ billing-ledger adapter for a purchase route: `onPaid` and `findPaid` for {@link x402Paywall} that buy
 * `packId`, or `creditMicro` of plain credit (e.g. one paid call: the unused part stays credit on the account), for
 * `accountId` with the payment. The ledger records the claim (committed) before the settlement, the settlement runs
 * with no transaction open, and the lot is minted once in its own transaction; a replay (also after the
 * authorization's window) answers the first purchase result.
 *
 * @throws {InvalidX402OptionError} when the target breaks a rule: no account id, both or neither of `packId` and
 *   `creditMicro`, an empty `packId` or a `creditMicro` that is not a positive bigint.
 * @example
 * app.post('/v1/credit-packs/starter/purchase', x402Paywall({
 *   requirements: terms.forAmount(5_000_000n),
 *   facilitator,
 *   ...ledgerPurchase(ledger, { accountId, packId: 'starter', resolver }),
 * }), (c) => c.json(c.get('x402').result, 201));
 * // Pay per call: the payment buys exactly the call's hold as credit on the payer's wallet account.
 * x402Paywall({
 *   requirements: terms.forAmount(holdMicro),
 *   facilitator,
 *   ...ledgerPurchase(ledger, { accountId: walletAccountId, creditMicro: holdMicro, resolver }),
 * });
 */
export function ledgerPurchase<TResult>(
  ledger: LedgerPaymentsApi<TResult>,
  options: LedgerPurchaseOptions,
): PaidHandlers<TResult> {
  if (options === null || typeof options !== 'object') {
    throw new InvalidX402OptionError('ledgerPurchase() needs an options object { accountId, packId | creditMicro }');
  }
  const { accountId, packId, creditMicro, ...rest } = options;
  const target = checkLedgerPurchaseTarget({ accountId, packId, creditMicro });
  return paidWithStore(ledgerPaymentStore(ledger, target), rest);
}
