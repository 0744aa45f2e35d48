/**
 * @arrakis/billing-ledger — prepaid credits in lots with holds (reserve → finalize | release), an append-only
 * journal, idempotency and an event outbox, on Postgres (`@arrakis/billing-ledger/postgres`) or embedded PGlite
 * (`@arrakis/billing-ledger/pglite`). Money helpers are also at `@arrakis/billing-ledger/money`; the Hono
 * `meter()` middleware at `@arrakis/billing-ledger/hono`. Every input and size limit is also at
 * `@arrakis/billing-ledger/limits`.
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
export type { CreateLedgerOptions, Ledger } from './ledger/ledger.js';
export { createLedger } from './ledger/ledger.js';
export { generalPoolId } from './ledger/lots.js';
export { eventsHorizonPollMs, eventsHorizonWaitMsMax } from './ledger/reads.js';
export { sweepEntriesPerAccountMax } from './ledger/sweep.js';
export { isStorableText, isSystemEntityType, systemEntityType } from './ledger/validate.js';
export { verifyPageSizeMax, verifyPagesPerQueryMax } from './ledger/verify.js';
export {
  amountMicroMax,
  creditPacksMax,
  cursorLengthMax,
  dimensionLengthMax,
  dimensionPattern,
  distributionsPerWriteMax,
  duePaymentsBatchSizeMax,
  entriesPageSizeDefault,
  entriesPageSizeMax,
  eventsPageSizeDefault,
  eventsPageSizeMax,
  expiresAtMsMax,
  externalIdLengthMax,
  externalIdPattern,
  holdTtlMsDefault,
  holdTtlMsLimitMax,
  holdTtlMsMaxDefault,
  idempotencyKeyLengthMax,
  idempotencyKeyPattern,
  idempotencySweepBatchSizeDefault,
  idempotencySweepBatchSizeMax,
  idempotencyTtlMsDefault,
  idempotencyTtlMsMax,
  idLengthMax,
  idPattern,
  lotsPerHoldMax,
  memoLengthMax,
  metersListMax,
  meterTtlMsMax,
  meterTtlSecondsMax,
  meterVersionsListMax,
  nameLengthMax,
  namePattern,
  packCreditsMicroMin,
  packLotTtlMsMax,
  paymentCursorLengthMax,
  paymentFailureMessageLengthMax,
  paymentFieldLengthMax,
  paymentJsonBytesMax,
  paymentJsonDepthMax,
  paymentLeaseMsDefault,
  paymentLeaseMsMax,
  paymentsPageSizeDefault,
  paymentsPageSizeMax,
  paymentValidBeforeMax,
  perUnitsMax,
  retryCountDefault,
  retryCountLimitMax,
  ruleActorLengthMax,
  ruleAuditEntriesMax,
  ruleCooldownMsDefault,
  ruleCooldownMsMax,
  ruleNameLengthMax,
  rulesPageSizeDefault,
  rulesPageSizeMax,
  ruleTextLengthMax,
  splitPartsMax,
  sweepBatchSizeDefault,
  sweepBatchSizeMax,
  unitPricesPerMeterMax,
  usageUnitsLimitMax,
  usageUnitsMaxDefault,
  usdStringLengthMax,
  verifyViolationsMax,
  wireAmountLengthMax,
  wireHoldTtlMsMax,
  wireIdLengthMax,
  wireTtlSecondsMax,
} from './limits.js';
export { holdFor, parseUsage, priceUsage } from './meters/pricing.js';
export type { Meter, MeterInput, MeterUnitPrice, Pricing, PricingLine, UnitPrice, Usage } from './meters/types.js';
export type { MicroBounds } from './money/index.js';
export { bpsTotal, formatMicro, microPerUsd, microToUsd, parseMicro, splitBps, usdToMicro } from './money/index.js';
export type { CreditPack, CreditPackCatalog, CreditPackConfig } from './packs/catalog.js';
export { createCreditPackCatalog, defaultCreditPacks, packCreditsMicro } from './packs/catalog.js';
export { creditPaymentMemo } from './packs/payment-credit.js';
export { purchaseSourceType, settleErrorCode } from './packs/purchase.js';
export type { Clock } from './ports/clock.js';
export { ManualClock, systemClock } from './ports/clock.js';
export type { EffectiveRule } from './rules/effective.js';
export { activationBatchesMax, revenueRuleEventTypes, revenueRuleLockKey } from './rules/governance.js';
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
export { systemActor } from './rules/validate.js';
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
