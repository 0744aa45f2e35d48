/**
 * The limits of two-phase payments, in one place (each named with its unit, `Max` last).
 */

/** How long a claim or a reconciler's take holds a payment when no `leaseMs` is given: 2 minutes. */
export const paymentLeaseMsDefault = 120_000;
/** Longest lease a claim or a take may ask for: 1 hour. */
export const paymentLeaseMsMax = 3_600_000;
/** Largest serialized JSON (UTF-8 bytes) a payment's `request` or `settlement` may hold: 16 KiB. */
export const paymentJsonBytesMax = 16_384;
/** Deepest nesting a payment's `request` or `settlement` JSON may have. */
export const paymentJsonDepthMax = 32;
/** Longest payer, network, asset, recipient, nonce, transaction or failure code accepted. */
export const paymentFieldLengthMax = 255;
/** Longest failure message stored with a failed or postponed payment. */
export const paymentFailureMessageLengthMax = 1000;
/** Largest `validBefore` accepted (unix seconds; an EIP-3009 `uint256`). */
export const paymentValidBeforeMax = 2n ** 256n - 1n;
/** Default and largest page of `listPayments`. */
export const paymentsPageSizeDefault = 50;
export const paymentsPageSizeMax = 500;
/** Most payments one `takeDuePayments` call takes. */
export const duePaymentsBatchSizeMax = 500;
