/**
 * Gateway error answers `{ error, message, details }` whose code is a ledger error code, turned back into the very
 * class the in-process ledger throws. One table, one entry per `LedgerErrorCode` (the compiler refuses a table
 * without a new code): each rebuilds its error from the JSON `details` the gateway sent (`toJSON()` of the ledger
 * error, bigints as base-10 strings, dates as ISO strings).
 */
import {
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
  type LedgerError,
  type LedgerErrorCode,
  type LedgerErrorDetails,
  LotHasPendingHoldsError,
  LotNotFoundError,
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
} from '../errors.js';
import { wireVersionMax } from './decode.js';
import {
  readDigits,
  readInteger,
  readMember,
  readText,
  readTextList,
  readTextOrNull,
  readTime,
  type WireObject,
} from './wire.js';

/**
 * A gateway error answer with a ledger code: its message and its details (an object; `{}` when absent).
 *
 * @example
 * const problem: LedgerProblem = { message: 'reservation "res_1" does not exist', details: { reservationId: 'res_1' } };
 */
export interface LedgerProblem {
  message: string;
  details: WireObject;
}

type LedgerErrorFactory = (problem: LedgerProblem) => LedgerError;

const at = 'details';
const text = (d: WireObject, key: string) => readText(d, key, at);
const micro = (d: WireObject, key: string) => readDigits(d[key], `${at}.${key}`);
const withDetails = (p: LedgerProblem) => ({ details: { ...p.details } as LedgerErrorDetails });
const periods = { daily: true, monthly: true } as const;
const meterReasons = { unknown: true, not_in_force: true } as const;

/** The version of a `meter_not_found`, when the gateway named one. */
function versionOf(d: WireObject): { version?: number } {
  return d.version === undefined ? {} : { version: readInteger(d, 'version', at, 1, wireVersionMax) };
}

/**
 * Every ledger code → how to rebuild its error. Codes whose class takes a message keep the gateway's; the others
 * rebuild theirs from the details (and {@link ledgerErrorFromProblem} then sets the gateway's message on them).
 */
const ledgerErrorFactories: { readonly [C in LedgerErrorCode]: LedgerErrorFactory } = {
  invalid_amount: (p) => new InvalidAmountError(p.message, withDetails(p)),
  invalid_argument: (p) => new InvalidArgumentError(p.message, withDetails(p)),
  invalid_cursor: (p) => new InvalidCursorError(text(p.details, 'cursor'), withDetails(p)),
  account_not_found: (p) => new AccountNotFoundError(text(p.details, 'accountId'), withDetails(p)),
  lot_not_found: (p) => new LotNotFoundError(text(p.details, 'lotId'), withDetails(p)),
  reservation_not_found: (p) => new ReservationNotFoundError(text(p.details, 'reservationId'), withDetails(p)),
  insufficient_credits: ({ details: d }) =>
    new InsufficientCreditsError({
      accountId: text(d, 'accountId'),
      poolId: text(d, 'poolId'),
      requestedMicro: micro(d, 'requestedMicro'),
      availableMicro: micro(d, 'availableMicro'),
    }),
  reservation_not_pending: (p) =>
    new ReservationNotPendingError(text(p.details, 'reservationId'), text(p.details, 'status'), withDetails(p)),
  finalize_conflict: (p) =>
    new FinalizeConflictError(
      text(p.details, 'reservationId'),
      micro(p.details, 'finalizedCostMicro'),
      micro(p.details, 'requestedCostMicro'),
      withDetails(p),
    ),
  idempotency_key_reused: (p) =>
    new IdempotencyKeyReusedError(text(p.details, 'scope'), text(p.details, 'idempotencyKey'), withDetails(p)),
  duplicate_source: (p) =>
    new DuplicateSourceError(
      text(p.details, 'sourceType'),
      text(p.details, 'sourceId'),
      text(p.details, 'lotId'),
      withDetails(p),
    ),
  lot_has_pending_holds: (p) =>
    new LotHasPendingHoldsError(text(p.details, 'lotId'), micro(p.details, 'reservedMicro'), withDetails(p)),
  already_refunded: (p) => new AlreadyRefundedError(text(p.details, 'lotId'), withDetails(p)),
  // The rule broken is only in the message, which the gateway's replaces.
  four_eyes_violation: (p) =>
    new FourEyesViolationError(
      text(p.details, 'ruleId'),
      text(p.details, 'actor'),
      text(p.details, 'step'),
      '',
      withDetails(p),
    ),
  invalid_transition: (p) =>
    new InvalidTransitionError(
      text(p.details, 'ruleId'),
      text(p.details, 'status'),
      text(p.details, 'step'),
      withDetails(p),
    ),
  revenue_rule_not_found: (p) => new RevenueRuleNotFoundError(text(p.details, 'ruleId'), withDetails(p)),
  credit_pack_not_found: (p) =>
    new CreditPackNotFoundError(text(p.details, 'packId'), readTextList(p.details, 'knownPackIds', at), withDetails(p)),
  payment_insufficient: (p) =>
    new PaymentInsufficientError(
      text(p.details, 'packId'),
      micro(p.details, 'priceMicro'),
      micro(p.details, 'paidMicro'),
      withDetails(p),
    ),
  payment_reference_reused: (p) =>
    new PaymentReferenceReusedError(
      text(p.details, 'reference'),
      text(p.details, 'firstAccountId'),
      text(p.details, 'firstPackId'),
      withDetails(p),
    ),
  payment_not_found: (p) => new PaymentNotFoundError({ reference: text(p.details, 'reference') }, withDetails(p)),
  // The failure's message is only in the error's message, which the gateway's replaces.
  payment_failed: (p) =>
    new PaymentFailedError(
      { reference: text(p.details, 'reference'), code: text(p.details, 'code'), message: '' },
      withDetails(p),
    ),
  payment_pending: (p) =>
    new PaymentPendingError(
      {
        reference: text(p.details, 'reference'),
        reconcileAfter: p.details.reconcileAfter === undefined ? null : readTime(p.details, 'reconcileAfter', at),
      },
      withDetails(p),
    ),
  meter_not_found: (p) =>
    new MeterNotFoundError(
      {
        meterId: text(p.details, 'meterId'),
        ...versionOf(p.details),
        ...(p.details.reason === undefined ? {} : { reason: readMember(p.details, 'reason', at, meterReasons) }),
      },
      withDetails(p),
    ),
  meter_prices_empty: (p) => new MeterPricesEmptyError({ meterId: text(p.details, 'meterId') }, withDetails(p)),
  meter_dimension_duplicate: (p) =>
    new MeterDimensionDuplicateError(
      { meterId: text(p.details, 'meterId'), dimension: text(p.details, 'dimension') },
      withDetails(p),
    ),
  meter_price_overflow: (p) =>
    new MeterPriceOverflowError(
      {
        meterId: text(p.details, 'meterId'),
        dimension: readTextOrNull(p.details, 'dimension', at),
        costMicro: micro(p.details, 'costMicro'),
        maxMicro: micro(p.details, 'maxMicro'),
      },
      withDetails(p),
    ),
  unknown_dimension: (p) =>
    new UnknownDimensionError(
      {
        meterId: text(p.details, 'meterId'),
        dimension: text(p.details, 'dimension'),
        knownDimensions: readTextList(p.details, 'knownDimensions', at),
      },
      withDetails(p),
    ),
  invalid_usage: (p) => new InvalidUsageError(p.message, withDetails(p)),
  reservation_not_metered: (p) =>
    new ReservationNotMeteredError({ reservationId: text(p.details, 'reservationId') }, withDetails(p)),
  spend_cap_exceeded: ({ details: d }) =>
    new SpendCapExceededError({
      accountId: text(d, 'accountId'),
      period: readMember(d, 'period', at, periods),
      periodStart: readTime(d, 'periodStart', at),
      spentMicro: micro(d, 'spentMicro'),
      capMicro: micro(d, 'capMicro'),
      requestedMicro: micro(d, 'requestedMicro'),
    }),
  system_account_read_only: (p) =>
    new SystemAccountReadOnlyError({ accountId: text(p.details, 'accountId') }, withDetails(p)),
  account_in_debt: ({ details: d }) =>
    new AccountInDebtError({ accountId: text(d, 'accountId'), debtMicro: micro(d, 'debtMicro') }),
};

/**
 * True when `code` is one of the ledger's error codes (so the answer becomes the ledger's own error class).
 *
 * @example
 * isLedgerErrorCode('insufficient_credits'); // true
 * isLedgerErrorCode('rate_limited'); // false
 */
export function isLedgerErrorCode(code: string): code is LedgerErrorCode {
  return Object.hasOwn(ledgerErrorFactories, code);
}

/**
 * Rebuilds the ledger error of a gateway answer: the same class, code and details the in-process ledger throws, with
 * the gateway's message; details the class does not set itself (e.g. the `pack` and `purchaseUrl` a 402 offers) are
 * kept.
 *
 * @throws {WireShapeError} when `details` lack a field the error needs (the caller reports a malformed answer).
 * @example
 * const error = ledgerErrorFromProblem('reservation_not_found', { message, details: { reservationId: 'res_1' } });
 * error instanceof ReservationNotFoundError; // true
 */
export function ledgerErrorFromProblem(code: LedgerErrorCode, problem: LedgerProblem): LedgerError {
  const error = ledgerErrorFactories[code](problem);
  error.message = problem.message;
  for (const [key, value] of Object.entries(problem.details)) {
    if (!Object.hasOwn(error.details, key)) error.details[key] = value;
  }
  return error;
}
