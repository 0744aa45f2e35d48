export type { RpcAuthorizationResolverOptions, RpcAuthorizationResolverSource } from './chain/resolver.js';
export {
  assertTokenDecimals,
  expiryGraceSecondsDefault,
  expiryGraceSecondsMax,
  microUsdDecimals,
  resolverPollingIntervalMsDefault,
  rpcAuthorizationResolver,
} from './chain/resolver.js';
export type { Clock } from './clock.js';
export { systemClock } from './clock.js';
export type { X402ErrorCode, X402HttpStatus } from './errors.js';
export { InvalidX402OptionError, isX402ErrorCode, X402Error, x402ErrorCodes, x402ErrorHttpStatus } from './errors.js';
export type { HttpFacilitatorOptions } from './facilitator/http.js';
export {
  facilitatorResponseBytesMax,
  facilitatorTimeoutMsDefault,
  httpFacilitator,
  normalizeReason,
  officialReasonCodes,
} from './facilitator/http.js';
export type { FoundSettlement, LocalFacilitator, LocalFacilitatorOptions } from './facilitator/local.js';
export {
  localFacilitator,
  pollingIntervalMsDefault,
  receiptTimeoutMsDefault,
  settlementLogsMax,
  settlementLookbackBlocksDefault,
} from './facilitator/local.js';
export { eip3009Abi } from './facilitator/token-abi.js';
export type {
  LedgerClaimedPayment,
  LedgerPaymentClaimInput,
  LedgerPaymentsApi,
  LedgerPaymentView,
  LedgerPurchaseTarget,
} from './payments/ledger-store.js';
export { checkLedgerPurchaseTarget, ledgerPaymentStore } from './payments/ledger-store.js';
export type { PaymentTimings } from './payments/limits.js';
export {
  failureCodeLengthMax,
  failureMessageLengthMax,
  paymentLeaseMsDefault,
  paymentLeaseMsMax,
  paymentPollIntervalMsDefault,
  paymentRetryInMsDefault,
  paymentRetryInMsMax,
  paymentWaitMsDefault,
  reconcileBatchSizeMax,
  takeDueLimitMax,
} from './payments/limits.js';
export type { ReconcilePaymentsOptions, ReconcileReport } from './payments/reconcile.js';
export { reconcilePayments } from './payments/reconcile.js';
export type { SettledPayment, SettleWithStoreOptions } from './payments/two-phase.js';
export { authorizationOf, failedPaymentError, settlementFromChain, settleWithStore } from './payments/two-phase.js';
export type { Facilitator } from './ports/facilitator.js';
export { isFacilitator } from './ports/facilitator.js';
export type {
  AuthorizationRef,
  AuthorizationResolution,
  AuthorizationResolver,
  JsonValue,
  PaymentClaim,
  PaymentCredit,
  PaymentFailure,
  PaymentStateRecord,
  PaymentStateStore,
  PaymentStatus,
  SettlementRequest,
} from './ports/payment-state-store.js';
export { paymentStatuses } from './ports/payment-state-store.js';
export type {
  CreatePaymentRequiredOptions,
  ExactPaymentTerms,
  ExactPaymentTermsOptions,
  ExactRequirementsOptions,
} from './requirements.js';
export {
  createPaymentRequired,
  exactPaymentTerms,
  exactRequirements,
  parseRequirements,
  parseRequirementsList,
  paymentRequiredHeaders,
  requirementsPerResponseMax,
  toV1Requirements,
} from './requirements.js';
export { authorizationMessage, tokenDomain, transferWithAuthorizationTypes } from './verify/typed-data.js';
export type { VerifiedPayment, VerifyExactPaymentOptions } from './verify/verify-exact.js';
export {
  paymentReference,
  validBeforeMarginSecondsDefault,
  validBeforeMarginSecondsMax,
  verifyExactPayment,
} from './verify/verify-exact.js';
export { parseAtomicAmount, parseUint256Field, uint256DecimalDigitsMax, uint256Max } from './wire/amount.js';
export {
  decodeBase64Json,
  decodePaymentRequiredHeader,
  decodePaymentResponseHeader,
  encodeBase64Json,
  paymentHeaderBytesMax,
} from './wire/codec.js';
export type { Eip155Network } from './wire/networks.js';
export { eip155ChainId, resolveV1NetworkNames, v1NetworkNameBytesMax, v1NetworkNamesDefault } from './wire/networks.js';
export type {
  ExactAuthorization,
  ExactEvmPayload,
  FacilitatorRequest,
  PaymentPayload,
  PaymentPayloadV1,
  PaymentPayloadV2,
  PaymentRequired,
  PaymentRequirements,
  ResourceInfo,
  Settlement,
  SettleResponse,
  SupportedKind,
  SupportedResponse,
  VerifyResponse,
  WireRequirementsV1,
  WireRequirementsV2,
} from './wire/schemas.js';
export {
  exactEvmPayloadSchema,
  exactRequirementsSchema,
  facilitatorRequestSchema,
  maxTimeoutSecondsDefault,
  maxTimeoutSecondsMax,
  paymentPayloadV1Schema,
  paymentPayloadV2Schema,
  paymentRequiredV1Schema,
  paymentRequiredV2Schema,
  resourceInfoSchema,
  settleResponseSchema,
  supportedResponseSchema,
  verifyResponseSchema,
  wireRequirementsV1Schema,
  wireRequirementsV2Schema,
} from './wire/schemas.js';
