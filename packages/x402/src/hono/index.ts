/**
 * `@arrakis/x402/hono`: the x402 paywall middleware, the facilitator HTTP app, and the two-phase `onPaid` helpers
 * (`paidWithStore`, `ledgerPurchase`).
 */
export type { FacilitatorAppOptions } from './facilitator-app.js';
export { facilitatorApp, facilitatorRequestBytesMax } from './facilitator-app.js';
export type { LedgerPurchaseOptions } from './ledger-purchase.js';
export { ledgerPurchase } from './ledger-purchase.js';
export type { PaidHandlers, PaidWithStoreOptions } from './paid-with-store.js';
export { paidWithStore } from './paid-with-store.js';
export type {
  FindPaidContext,
  FreeOfCharge,
  OnPaid,
  OnPaidContext,
  OnPaidResult,
  RequirementsAnswer,
  RequirementsOption,
  X402Env,
  X402ErrorBody,
  X402PaidRequest,
  X402PaywallOptions,
  X402Variables,
} from './paywall.js';
export { freeOfCharge, x402Paywall } from './paywall.js';
export type { RespondPaymentRequiredOptions } from './respond.js';
export { respondPaymentRequired } from './respond.js';
