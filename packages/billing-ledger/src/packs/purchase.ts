/**
 * Buying a credit pack, or plain credit of a given amount (e.g. one paid call), with a payment that was already
 * verified (x402 verifies; see `@arrakis/x402`), composed of the two-phase steps (`payment-states.ts`, `payment-credit.ts`): claim, settle with no transaction open, credit. A
 * replayed or concurrent purchase with the same payment mints once and answers the first result.
 */
import { PaymentFailedError, PaymentPendingError } from '../errors.js';
import type { LedgerContext } from '../ledger/context.js';
import { assertIdempotencyKey, assertIdempotencyScope, assertObject } from '../ledger/validate.js';
import { externalIdPattern } from '../limits.js';
import type { PaymentSettlement, PurchasePackInput, PurchasePackOptions, PurchasePackResult } from '../types.js';
import type { CreditPackCatalog } from './catalog.js';
import { creditPayment } from './payment-credit.js';
import { checkLeaseMs, checkSettlement, storableMessage } from './payment-input.js';
import { claimPayment, markPaymentSettling, postponePayment, recordPaymentSettlement } from './payment-states.js';

export { purchaseSourceType } from './payment-credit.js';

/** The failure code stored when `settle()` threw an error without a code of its own. */
export const settleErrorCode = 'settle_error';

/** The failure a throwing `settle()` leaves on the postponed payment: the error's `code` (if it has one) and message. */
function failureOf(error: unknown): { code: string; message: string } {
  const code = (error as { code?: unknown } | null)?.code;
  const message = (error as { message?: unknown } | null)?.message;
  return {
    code: typeof code === 'string' && externalIdPattern.test(code) ? code : settleErrorCode,
    message: storableMessage(typeof message === 'string' ? message : String(error)),
  };
}

/** Settles an owned payment (no transaction open), records the settlement and credits it. */
async function settleAndCredit(
  ctx: LedgerContext,
  reference: string,
  settle: () => Promise<PaymentSettlement>,
  leaseMs: number,
): Promise<PurchasePackResult> {
  await markPaymentSettling(ctx, reference);
  let settlement: PaymentSettlement;
  try {
    settlement = await settle();
    checkSettlement(settlement);
  } catch (error) {
    // Due again once the lease would have ended; the reconciler (or a retry then) finds out what the chain did.
    const retryAt = new Date(ctx.clock.nowMs() + leaseMs);
    await postponePayment(ctx, reference, failureOf(error), { retryAt }).catch(() => undefined);
    throw error;
  }
  await recordPaymentSettlement(ctx, reference, settlement);
  return creditPayment(ctx, reference, settlement);
}

/**
 * Buys a credit pack (`packId`) or plain credit (`creditMicro`: exactly that much, no bonus, no lifetime, `pack: null`
 * in the result; the payment must cover it) with a verified payment, keyed by `payment.reference`, in short
 * transactions with none open while `options.settle` runs: `claimPayment` (commits the record) →
 * `markPaymentSettling` → `settle()` (e.g. the chain) → `recordPaymentSettlement` → `creditPayment` (mints ONE
 * `purchase` lot of the pack's price + bonus, expiring after the pack's `lotTtlMs` when set, or of `creditMicro`;
 * debt is paid first). Without `settle` the payment is credited at once. A
 * payment already credited answers the first result with `replayed: true` and settles nothing; a record already
 * `settled` is credited without settling again. When `settle()` throws, nothing is minted: the payment is postponed
 * (due for a reconciler, or a retry, after the lease) and the error is rethrown. Emits `lot.minted` and
 * `payment.settled`. Idempotency is the payment's reference: `idempotencyKey`/`idempotencyScope` are checked but the
 * answer is keyed by the reference (the same payment always answers its first result, whatever the key).
 *
 * @throws {InvalidArgumentError} when an id, the reference, a text field, an option or the settlement breaks its
 *   rule, or when both or neither of `packId` and `creditMicro` are given (nothing is recorded).
 * @throws {InvalidAmountError} when payment.amountMicro or creditMicro is not a bigint in 1..10^15, or creditMicro
 *   exceeds payment.amountMicro (nothing is recorded).
 * @throws {CreditPackNotFoundError}
 * @throws {PaymentInsufficientError} when the payment is for less than the pack's price (nothing is recorded).
 * @throws {PaymentReferenceReusedError} when the payment already bought something else (another pack, plain credit
 *   of another amount, a pack instead of credit or the reverse), for another account, or with another amount or
 *   recipient.
 * @throws {PaymentPendingError} when another attempt holds the payment (503: retry later).
 * @throws {PaymentFailedError} when the payment failed for good (402).
 * @throws {AccountNotFoundError}
 * @example
 * const { lot, payment, replayed } = await ledger.purchasePack(
 *   {
 *     accountId,
 *     packId: 'standard',
 *     payment: { reference: 'eip155:8453:0xusdc:0xpayer:0xnonce', payer: '0xpayer', amountMicro: 10_000_000n },
 *   },
 *   { settle: async () => ({ transaction: '0xabc' }) },
 * );
 * // One paid call on a wallet's account: the lot holds exactly the 20 000 micro-USD paid.
 * await ledger.purchasePack({ accountId: walletAccountId, creditMicro: 20_000n, payment }, { settle });
 */
export async function purchasePack(
  ctx: LedgerContext,
  catalog: CreditPackCatalog,
  input: PurchasePackInput,
  options: PurchasePackOptions = {},
): Promise<PurchasePackResult> {
  assertObject('options', options as unknown);
  if (options.settle !== undefined && typeof options.settle !== 'function') {
    assertObject('options.settle (a function)', null);
  }
  if (options.idempotencyKey !== undefined) assertIdempotencyKey(options.idempotencyKey);
  if (options.idempotencyScope !== undefined) assertIdempotencyScope(options.idempotencyScope);
  const leaseMs = checkLeaseMs({ leaseMs: options.leaseMs });
  const claim = await claimPayment(ctx, catalog, input, { leaseMs });
  const { reference } = claim.payment;
  switch (claim.kind) {
    case 'credited':
      return claim.result;
    case 'failed': {
      const failure = claim.payment.failure ?? { code: 'payment_failed', message: 'the payment failed' };
      throw new PaymentFailedError({ reference, ...failure });
    }
    case 'busy':
      throw new PaymentPendingError({ reference, reconcileAfter: claim.payment.reconcileAfter });
    case 'owner':
      if (options.settle === undefined || claim.payment.status === 'settled') return creditPayment(ctx, reference);
      return settleAndCredit(ctx, reference, options.settle, leaseMs);
  }
}
