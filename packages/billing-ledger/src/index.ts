/**
 * @arrakis/billing-ledger — prepaid credits in lots with holds (reserve → finalize | release), an append-only
 * journal, idempotency and an event outbox, on Postgres (`@arrakis/billing-ledger/postgres`) or embedded PGlite
 * (`@arrakis/billing-ledger/pglite`). Money helpers are also at `@arrakis/billing-ledger/money`; the Hono
 * `meter()` middleware at `@arrakis/billing-ledger/hono`.
 */

export type { LedgerDb, LedgerDbHandle, LedgerDbKind, LedgerSchema } from './db/ledger-db.js';
export { execRows } from './db/ledger-db.js';
export { ledgerMigrationsFolder, migrateLedger } from './db/migrate.js';
export { billingModes, buckets, entryKinds, reservationStatuses } from './db/schema.js';
export type { InsufficientCreditsDetails, LedgerErrorCode, LedgerErrorDetails, LedgerErrorOptions } from './errors.js';
export {
  AccountNotFoundError,
  AlreadyRefundedError,
  DuplicateSourceError,
  FinalizeConflictError,
  IdempotencyKeyReusedError,
  InsufficientCreditsError,
  InvalidAmountError,
  InvalidArgumentError,
  InvalidCursorError,
  LedgerError,
  LotHasPendingHoldsError,
  LotNotFoundError,
  ledgerErrorHttpStatus,
  ReservationNotFoundError,
  ReservationNotPendingError,
} from './errors.js';
export { LedgerInvariantError } from './ledger/assert.js';
export type { LedgerFaults } from './ledger/context.js';
export { cursorLengthMax } from './ledger/cursor.js';
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
export { idempotencyKeyLengthMax, idLengthMax } from './ledger/validate.js';
export { verifyViolationsMax } from './ledger/verify.js';
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
export type { Clock } from './ports/clock.js';
export { ManualClock, systemClock } from './ports/clock.js';
export type {
  Account,
  Balance,
  BillingMode,
  Bucket,
  CreateAccountInput,
  CreateAccountResult,
  Entry,
  EntryKind,
  FinalizeInput,
  FinalizeResult,
  HoldLot,
  LedgerEvent,
  Lot,
  MintInput,
  MintResult,
  Page,
  PoolBalance,
  RefundResult,
  RefundTarget,
  ReleaseResult,
  Reservation,
  ReservationStatus,
  ReserveInput,
  ReserveResult,
  SweepResult,
  VerifyReport,
  VerifyViolation,
  WriteOptions,
} from './types.js';
