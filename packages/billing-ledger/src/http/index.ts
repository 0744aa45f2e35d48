/**
 * `@arrakis/billing-ledger/http`: the ledger over HTTP for sibling services — `gatewayLedger()` reserves, finalizes
 * and releases holds and reads balances against a running gateway, with the in-process ledger's types and errors.
 * No dependency beyond `fetch`.
 */
// The ledger's error classes, re-exported so a service importing only this subpath can `instanceof` them: they are the
// very classes of `@arrakis/billing-ledger` (one shared module in the build), not copies.
export type { LedgerErrorCode, LedgerErrorDetails } from '../errors.js';
export {
  AccountInDebtError,
  AccountNotFoundError,
  AlreadyRefundedError,
  CreditPackNotFoundError,
  DuplicateSourceError,
  FinalizeConflictError,
  FourEyesViolationError,
  IdempotencyKeyReusedError,
  InsufficientCreditsError,
  InvalidAmountError,
  InvalidArgumentError,
  InvalidCursorError,
  InvalidTransitionError,
  InvalidUsageError,
  LedgerError,
  LotHasPendingHoldsError,
  LotNotFoundError,
  MeterDimensionDuplicateError,
  MeterNotFoundError,
  MeterPriceOverflowError,
  MeterPricesEmptyError,
  PaymentInsufficientError,
  PaymentReferenceReusedError,
  ReservationNotFoundError,
  ReservationNotMeteredError,
  ReservationNotPendingError,
  RevenueRuleNotFoundError,
  SpendCapExceededError,
  SystemAccountReadOnlyError,
  UnknownDimensionError,
} from '../errors.js';
export { wireVersionMax } from './decode.js';
export type { GatewayClientErrorCode, GatewayRequestErrorInput } from './errors.js';
export { GatewayRequestError } from './errors.js';
export type {
  GatewayLedger,
  GatewayLedgerOptions,
  GatewayLedgerTokenOptions,
  GatewayLedgerTokenSourceOptions,
} from './gateway-ledger.js';
export { gatewayLedger, gatewayLedgerTimeoutMsDefault, gatewayLedgerTimeoutMsMax } from './gateway-ledger.js';
export { isLedgerErrorCode } from './problem.js';
export type { GatewayFetch } from './transport.js';
export { gatewayResponseBytesMax } from './transport.js';
export type {
  GatewayFinalizeResult,
  GatewayReleaseResult,
  GatewayReserveResult,
  GatewayWriteOptions,
} from './types.js';
export { wireListLengthMax } from './wire.js';
