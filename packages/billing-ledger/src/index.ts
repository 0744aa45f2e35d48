/**
 * @arrakis/billing-ledger — prepaid credits in lots with holds (reserve → finalize | release), an append-only
 * journal, idempotency and an event outbox, on Postgres (`@arrakis/billing-ledger/postgres`) or embedded PGlite
 * (`@arrakis/billing-ledger/pglite`). Money helpers are also at `@arrakis/billing-ledger/money`; the Hono
 * `meter()` middleware at `@arrakis/billing-ledger/hono`.
 */

export { spendPeriodStarts } from './caps/spend-caps.js';
export type { DataDirLock, DataDirLockHolder } from './db/data-dir-lock.js';
export {
  acquireDataDirLock,
  DataDirLockedError,
  dataDirLockAttemptsMax,
  dataDirLockFileName,
  dataDirLockRetryPauseMs,
  dataDirLockUnreadableStaleMs,
} from './db/data-dir-lock.js';
export type { LedgerDb, LedgerDbHandle, LedgerDbKind, LedgerSchema } from './db/ledger-db.js';
export { execRows } from './db/ledger-db.js';
export { ledgerMigrationsFolder, migrateLedger } from './db/migrate.js';
export {
  billingModes,
  buckets,
  distributionKinds,
  entryKinds,
  paymentKinds,
  paymentStatuses,
  reservationStatuses,
  revenuePools,
  revenueRuleSchemaVersions,
  revenueRuleStatuses,
} from './db/schema.js';
export type { ChargeTerms } from './distribution/distribute.js';
export { distributionsPerWriteMax } from './distribution/distribute.js';
export { poolOrder, reverseShares, splitCharge, systemPoolAccounts } from './distribution/shares.js';
export type {
  InsufficientCreditsDetails,
  LedgerErrorCode,
  LedgerErrorDetails,
  LedgerErrorOptions,
  LedgerHttpStatus,
  PaymentReferenceConflict,
  SpendCapExceededDetails,
} from './errors.js';
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
  ledgerErrorHttpStatus,
  MeterDimensionDuplicateError,
  MeterNotFoundError,
  MeterPriceOverflowError,
  MeterPricesEmptyError,
  PaymentFailedError,
  PaymentInsufficientError,
  PaymentNotFoundError,
  PaymentPendingError,
  PaymentReferenceReusedError,
  ReservationNotFoundError,
  ReservationNotMeteredError,
  ReservationNotPendingError,
  RevenueRuleNotFoundError,
  SpendCapExceededError,
  SystemAccountReadOnlyError,
  UnknownDimensionError,
} from './errors.js';
export { LedgerInvariantError } from './ledger/assert.js';
export type { LedgerFaults } from './ledger/context.js';
export { cursorLengthMax, paymentCursorLengthMax } from './ledger/cursor.js';
export type { CreateLedgerOptions, Ledger } from './ledger/ledger.js';
export {
  createLedger,
  holdTtlMsDefault,
  holdTtlMsLimitMax,
  holdTtlMsMaxDefault,
  idempotencyTtlMsDefault,
  idempotencyTtlMsMax,
  retryCountDefault,
  retryCountLimitMax,
} from './ledger/ledger.js';
export { generalPoolId } from './ledger/lots.js';
export {
  entriesPageSizeDefault,
  entriesPageSizeMax,
  eventsHorizonPollMs,
  eventsHorizonWaitMsMax,
  eventsPageSizeDefault,
  eventsPageSizeMax,
} from './ledger/reads.js';
export { lotsPerHoldMax } from './ledger/reserve.js';
export {
  idempotencySweepBatchSizeDefault,
  idempotencySweepBatchSizeMax,
  sweepBatchSizeDefault,
  sweepBatchSizeMax,
  sweepEntriesPerAccountMax,
} from './ledger/sweep.js';
export {
  idempotencyKeyLengthMax,
  idLengthMax,
  isStorableText,
  isSystemEntityType,
  memoLengthMax,
  systemEntityType,
} from './ledger/validate.js';
export { verifyPageSizeMax, verifyPagesPerQueryMax, verifyViolationsMax } from './ledger/verify.js';
export { holdFor, parseUsage, priceUsage } from './meters/pricing.js';
export type { Meter, MeterInput, MeterUnitPrice, Pricing, PricingLine, UnitPrice, Usage } from './meters/types.js';
export {
  metersListMax,
  meterTtlSecondsMax,
  meterVersionsListMax,
  perUnitsMax,
  unitPricesPerMeterMax,
  usageUnitsLimitMax,
  usageUnitsMaxDefault,
} from './meters/types.js';
export type { MicroBounds } from './money/index.js';
export {
  amountMicroMax,
  bpsTotal,
  formatMicro,
  microPerUsd,
  microToUsd,
  parseMicro,
  splitBps,
  splitPartsMax,
  usdStringLengthMax,
  usdToMicro,
  wireAmountLengthMax,
} from './money/index.js';
export type { CreditPack, CreditPackCatalog, CreditPackConfig } from './packs/catalog.js';
export {
  createCreditPackCatalog,
  creditPacksMax,
  defaultCreditPacks,
  packCreditsMicro,
  packCreditsMicroMin,
  packLotTtlMsMax,
} from './packs/catalog.js';
export { creditPaymentMemo } from './packs/payment-credit.js';
export {
  duePaymentsBatchSizeMax,
  paymentFailureMessageLengthMax,
  paymentFieldLengthMax,
  paymentJsonBytesMax,
  paymentJsonDepthMax,
  paymentLeaseMsDefault,
  paymentLeaseMsMax,
  paymentsPageSizeDefault,
  paymentsPageSizeMax,
  paymentValidBeforeMax,
} from './packs/payment-limits.js';
export { purchaseSourceType, settleErrorCode } from './packs/purchase.js';
export type { Clock } from './ports/clock.js';
export { ManualClock, systemClock } from './ports/clock.js';
export type { EffectiveRule } from './rules/effective.js';
export {
  activationBatchesMax,
  revenueRuleEventTypes,
  revenueRuleLockKey,
  ruleCooldownMsDefault,
  ruleCooldownMsMax,
} from './rules/governance.js';
export { ruleAuditEntriesMax, rulesPageSizeDefault, rulesPageSizeMax } from './rules/reads.js';
export type {
  ActivateDueRulesResult,
  ListRulesOptions,
  ProposeRuleInput,
  RevenueRule,
  RevenueRuleAuditEntry,
  RevenueRuleSchemaVersion,
  RevenueRuleStatus,
  RuleActionInput,
  RuleReasonedActionInput,
} from './rules/types.js';
export { ruleActorLengthMax, ruleNameLengthMax, ruleTextLengthMax, systemActor } from './rules/validate.js';
export type {
  Account,
  Balance,
  BillingMode,
  Bucket,
  CostFinalizeInput,
  CreateAccountInput,
  CreateAccountResult,
  CreditPaymentClaimInput,
  Distribution,
  DistributionKind,
  Entry,
  EntryKind,
  FinalizeInput,
  FinalizeResult,
  HoldLot,
  LedgerEvent,
  ListPaymentsOptions,
  Lot,
  MeteredReserveInput,
  MintInput,
  MintResult,
  PackPaymentClaimInput,
  Page,
  PaymentClaimInput,
  PaymentClaimResult,
  PaymentFailure,
  PaymentKind,
  PaymentPage,
  PaymentRecord,
  PaymentSettlement,
  PaymentStatus,
  PaymentView,
  PoolBalance,
  PoolShares,
  PoolTotal,
  PurchasePackInput,
  PurchasePackOptions,
  PurchasePackResult,
  RawReserveInput,
  ReferralAttribution,
  RefundResult,
  RefundTarget,
  ReleaseResult,
  Reservation,
  ReservationStatus,
  ReserveInput,
  ReserveResult,
  RevenuePool,
  SpendCaps,
  SpendCapsInput,
  SpendPeriod,
  SweepResult,
  UsageFinalizeInput,
  VerifiedPayment,
  VerifyReport,
  VerifyViolation,
  WriteOptions,
} from './types.js';
