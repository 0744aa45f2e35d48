/**
 * `@arrakis/x402/hono`: the x402 paywall middleware, the facilitator HTTP app, and the claim-store `onPaid`.
 */
export { onPaidWithClaimStore } from './claim.js';
export type { FacilitatorAppOptions } from './facilitator-app.js';
export { facilitatorApp, facilitatorRequestBytesMax } from './facilitator-app.js';
export type {
  OnPaid,
  OnPaidContext,
  OnPaidResult,
  RequirementsOption,
  X402Env,
  X402ErrorBody,
  X402PaidRequest,
  X402PaywallOptions,
  X402Variables,
} from './paywall.js';
export { x402Paywall } from './paywall.js';
export type { RespondPaymentRequiredOptions } from './respond.js';
export { respondPaymentRequired } from './respond.js';
