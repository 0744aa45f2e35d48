/**
 * Typed errors of @arrakis/billing-ledger. Every error has a stable `code`, a message that quotes the bad
 * value and says what was expected, JSON-safe `details` (amounts as base-10 strings) and an optional `cause`.
 */

/** Stable codes of every error this package throws. */
export type LedgerErrorCode =
  | 'invalid_amount'
  | 'invalid_argument'
  | 'invalid_cursor'
  | 'account_not_found'
  | 'lot_not_found'
  | 'reservation_not_found'
  | 'insufficient_credits'
  | 'reservation_not_pending'
  | 'finalize_conflict'
  | 'idempotency_key_reused'
  | 'duplicate_source'
  | 'lot_has_pending_holds'
  | 'already_refunded'
  | 'four_eyes_violation'
  | 'invalid_transition'
  | 'revenue_rule_not_found'
  | 'credit_pack_not_found'
  | 'payment_insufficient'
  | 'payment_reference_reused'
  | 'payment_not_found'
  | 'payment_failed'
  | 'payment_pending'
  | 'meter_not_found'
  | 'meter_prices_empty'
  | 'meter_dimension_duplicate'
  | 'meter_price_overflow'
  | 'unknown_dimension'
  | 'invalid_usage'
  | 'reservation_not_metered'
  | 'spend_cap_exceeded'
  | 'system_account_read_only'
  | 'account_in_debt';

/** The HTTP statuses ledger errors map to. */
export type LedgerHttpStatus = 400 | 402 | 403 | 404 | 409 | 503;

/** JSON-safe details of a {@link LedgerError}. */
export type LedgerErrorDetails = Record<string, unknown>;

/**
 * The HTTP status of every error code, so the gateway maps codes in one place: 400 for bad input, 404 for unknown
 * ids, 402 for insufficient credits and refused payments, 409 for state conflicts, 503 for a payment another attempt
 * is settling (retry later).
 *
 * @example
 * app.onError((error, c) =>
 *   error instanceof LedgerError ? c.json(error.toJSON(), ledgerErrorHttpStatus[error.code]) : c.json({ error: 'internal' }, 500),
 * );
 */
export const ledgerErrorHttpStatus: Readonly<Record<LedgerErrorCode, LedgerHttpStatus>> = Object.freeze({
  invalid_amount: 400,
  invalid_argument: 400,
  invalid_cursor: 400,
  account_not_found: 404,
  lot_not_found: 404,
  reservation_not_found: 404,
  insufficient_credits: 402,
  reservation_not_pending: 409,
  finalize_conflict: 409,
  idempotency_key_reused: 409,
  duplicate_source: 409,
  lot_has_pending_holds: 409,
  already_refunded: 409,
  four_eyes_violation: 403,
  invalid_transition: 409,
  revenue_rule_not_found: 404,
  credit_pack_not_found: 404,
  payment_insufficient: 402,
  payment_reference_reused: 409,
  payment_not_found: 404,
  payment_failed: 402,
  payment_pending: 503,
  meter_not_found: 404,
  meter_prices_empty: 400,
  meter_dimension_duplicate: 400,
  meter_price_overflow: 400,
  unknown_dimension: 400,
  invalid_usage: 400,
  reservation_not_metered: 409,
  spend_cap_exceeded: 402,
  system_account_read_only: 403,
  account_in_debt: 402,
});

/**
 * Base error of @arrakis/billing-ledger.
 *
 * @example
 * try {
 *   await ledger.reserve({ accountId, amountMicro: 5_000_000n });
 * } catch (error) {
 *   if (error instanceof LedgerError && error.code === 'insufficient_credits') console.log(error.details);
 *   else throw error;
 * }
 */
export class LedgerError extends Error {
  override readonly name: string = 'LedgerError';
  readonly code: LedgerErrorCode;
  readonly details: LedgerErrorDetails;
  constructor(code: LedgerErrorCode, message: string, options: { details?: LedgerErrorDetails; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details ?? {};
  }

  /** The HTTP status of this error's code (see {@link ledgerErrorHttpStatus}). */
  get httpStatus(): LedgerHttpStatus {
    return ledgerErrorHttpStatus[this.code];
  }

  /**
   * The wire body `{ error, message, details }`.
   *
   * @example
   * return c.json(error.toJSON(), error.httpStatus);
   */
  toJSON(): { error: LedgerErrorCode; message: string; details: LedgerErrorDetails } {
    return { error: this.code, message: this.message, details: this.details };
  }
}

/** Options every subclass accepts after its message. */
export interface LedgerErrorOptions {
  details?: LedgerErrorDetails;
  cause?: unknown;
}

/** Quotes a value for an error message (`"abc"`, `12n`, `undefined`, `[object]`); never throws. */
export function quoteValue(value: unknown): string {
  if (typeof value === 'bigint') return `${value}n`;
  if (value === undefined) return 'undefined';
  if (typeof value === 'function' || typeof value === 'symbol') return String(typeof value);
  try {
    const text = JSON.stringify(value);
    if (text === undefined) return String(value);
    return text.length > 80 ? `${text.slice(0, 77)}...` : text;
  } catch {
    return `[${typeof value}]`;
  }
}

/**
 * An amount is not a canonical micro-USD value in bounds (wire string, bigint, or USD decimal string).
 *
 * @example
 * throw new InvalidAmountError('amountMicro "01" must be canonical base-10 digits', { details: { field: 'amountMicro', value: '01' } });
 */
export class InvalidAmountError extends LedgerError {
  override readonly name = 'InvalidAmountError';
  constructor(message: string, options: LedgerErrorOptions = {}) {
    super('invalid_amount', message, options);
  }
}

/**
 * An argument other than an amount breaks its rule (an id, a pool, a ttl, a mode, a limit, an option).
 *
 * @example
 * throw new InvalidArgumentError('ttlMs 0 must be an integer from 1 to 86400000', { details: { field: 'ttlMs', value: 0 } });
 */
export class InvalidArgumentError extends LedgerError {
  override readonly name = 'InvalidArgumentError';
  constructor(message: string, options: LedgerErrorOptions = {}) {
    super('invalid_argument', message, options);
  }
}

/**
 * A pagination cursor is malformed or was not issued by this ledger.
 *
 * @example
 * throw new InvalidCursorError('x');
 */
export class InvalidCursorError extends LedgerError {
  override readonly name = 'InvalidCursorError';
  constructor(cursor: unknown, options: LedgerErrorOptions = {}) {
    super('invalid_cursor', `cursor ${quoteValue(cursor)} is not a cursor this ledger issued`, {
      ...options,
      details: { cursor: typeof cursor === 'string' ? cursor : quoteValue(cursor), ...options.details },
    });
  }
}

/**
 * No account has this id.
 *
 * @example
 * throw new AccountNotFoundError('acc_missing');
 */
export class AccountNotFoundError extends LedgerError {
  override readonly name = 'AccountNotFoundError';
  readonly accountId: string;
  constructor(accountId: string, options: LedgerErrorOptions = {}) {
    super('account_not_found', `account ${quoteValue(accountId)} does not exist`, {
      ...options,
      details: { accountId, ...options.details },
    });
    this.accountId = accountId;
  }
}

/**
 * No lot has this id.
 *
 * @example
 * throw new LotNotFoundError('lot_missing');
 */
export class LotNotFoundError extends LedgerError {
  override readonly name = 'LotNotFoundError';
  readonly lotId: string;
  constructor(lotId: string, options: LedgerErrorOptions = {}) {
    super('lot_not_found', `lot ${quoteValue(lotId)} does not exist`, {
      ...options,
      details: { lotId, ...options.details },
    });
    this.lotId = lotId;
  }
}

/**
 * No reservation (hold) has this id.
 *
 * @example
 * throw new ReservationNotFoundError('res_missing');
 */
export class ReservationNotFoundError extends LedgerError {
  override readonly name = 'ReservationNotFoundError';
  readonly reservationId: string;
  constructor(reservationId: string, options: LedgerErrorOptions = {}) {
    super('reservation_not_found', `reservation ${quoteValue(reservationId)} does not exist`, {
      ...options,
      details: { reservationId, ...options.details },
    });
    this.reservationId = reservationId;
  }
}

/** Details of an {@link InsufficientCreditsError}. */
export interface InsufficientCreditsDetails {
  accountId: string;
  poolId: string;
  requestedMicro: bigint;
  availableMicro: bigint;
}

/**
 * The account's usable lots (the pool, then `general`; unexpired) hold less than the amount asked for; nothing
 * was written. `details` carries requestedMicro, availableMicro, shortfallMicro (base-10 strings) and poolId.
 *
 * @example
 * throw new InsufficientCreditsError({ accountId: 'acc_1', poolId: 'general', requestedMicro: 5n, availableMicro: 2n });
 */
export class InsufficientCreditsError extends LedgerError {
  override readonly name = 'InsufficientCreditsError';
  readonly accountId: string;
  readonly poolId: string;
  readonly requestedMicro: bigint;
  readonly availableMicro: bigint;
  readonly shortfallMicro: bigint;
  constructor(input: InsufficientCreditsDetails, options: Omit<LedgerErrorOptions, 'details'> = {}) {
    const shortfallMicro = input.requestedMicro - input.availableMicro;
    super(
      'insufficient_credits',
      `account ${quoteValue(input.accountId)} has ${input.availableMicro} micro-USD available in pool ` +
        `${quoteValue(input.poolId)}, ${input.requestedMicro} requested (short by ${shortfallMicro})`,
      {
        ...options,
        details: {
          accountId: input.accountId,
          poolId: input.poolId,
          requestedMicro: input.requestedMicro.toString(),
          availableMicro: input.availableMicro.toString(),
          shortfallMicro: shortfallMicro.toString(),
        },
      },
    );
    this.accountId = input.accountId;
    this.poolId = input.poolId;
    this.requestedMicro = input.requestedMicro;
    this.availableMicro = input.availableMicro;
    this.shortfallMicro = shortfallMicro;
  }
}

/**
 * The reservation is no longer pending (finalized, released or expired) so it cannot be finalized or released.
 *
 * @example
 * throw new ReservationNotPendingError('res_1', 'expired');
 */
export class ReservationNotPendingError extends LedgerError {
  override readonly name = 'ReservationNotPendingError';
  readonly reservationId: string;
  readonly status: string;
  constructor(reservationId: string, status: string, options: LedgerErrorOptions = {}) {
    super('reservation_not_pending', `reservation ${quoteValue(reservationId)} is ${status}, not pending`, {
      ...options,
      details: { reservationId, status, ...options.details },
    });
    this.reservationId = reservationId;
    this.status = status;
  }
}

/**
 * The hold was already finalized with another cost; a repeat finalize must report the same cost.
 *
 * @example
 * throw new FinalizeConflictError('res_1', 700n, 900n);
 */
export class FinalizeConflictError extends LedgerError {
  override readonly name = 'FinalizeConflictError';
  readonly reservationId: string;
  readonly finalizedCostMicro: bigint;
  readonly requestedCostMicro: bigint;
  constructor(
    reservationId: string,
    finalizedCostMicro: bigint,
    requestedCostMicro: bigint,
    options: LedgerErrorOptions = {},
  ) {
    super(
      'finalize_conflict',
      `reservation ${quoteValue(reservationId)} was finalized with ${finalizedCostMicro} micro-USD, ` +
        `not ${requestedCostMicro}`,
      {
        ...options,
        details: {
          reservationId,
          finalizedCostMicro: finalizedCostMicro.toString(),
          requestedCostMicro: requestedCostMicro.toString(),
          ...options.details,
        },
      },
    );
    this.reservationId = reservationId;
    this.finalizedCostMicro = finalizedCostMicro;
    this.requestedCostMicro = requestedCostMicro;
  }
}

/**
 * The idempotency key was already used for this operation with a different request.
 *
 * @example
 * throw new IdempotencyKeyReusedError('mint', 'order-42');
 */
export class IdempotencyKeyReusedError extends LedgerError {
  override readonly name = 'IdempotencyKeyReusedError';
  readonly scope: string;
  readonly idempotencyKey: string;
  constructor(scope: string, idempotencyKey: string, options: LedgerErrorOptions = {}) {
    super(
      'idempotency_key_reused',
      `idempotency key ${quoteValue(idempotencyKey)} was already used for ${scope} with a different request`,
      { ...options, details: { scope, idempotencyKey, ...options.details } },
    );
    this.scope = scope;
    this.idempotencyKey = idempotencyKey;
  }
}

/**
 * A lot was already minted from this source (sourceType + sourceId); `details.lotId` names it.
 *
 * @example
 * throw new DuplicateSourceError('stripe_payment', 'pi_123', 'lot_abc');
 */
export class DuplicateSourceError extends LedgerError {
  override readonly name = 'DuplicateSourceError';
  readonly sourceType: string;
  readonly sourceId: string;
  readonly lotId: string;
  constructor(sourceType: string, sourceId: string, lotId: string, options: LedgerErrorOptions = {}) {
    super(
      'duplicate_source',
      `source ${quoteValue(sourceType)} ${quoteValue(sourceId)} was already minted as lot ${quoteValue(lotId)}`,
      { ...options, details: { sourceType, sourceId, lotId, ...options.details } },
    );
    this.sourceType = sourceType;
    this.sourceId = sourceId;
    this.lotId = lotId;
  }
}

/**
 * The lot has credit held by pending reservations (reserved > 0); release or finalize them first.
 *
 * @example
 * throw new LotHasPendingHoldsError('lot_1', 300n);
 */
export class LotHasPendingHoldsError extends LedgerError {
  override readonly name = 'LotHasPendingHoldsError';
  readonly lotId: string;
  readonly reservedMicro: bigint;
  constructor(lotId: string, reservedMicro: bigint, options: LedgerErrorOptions = {}) {
    super(
      'lot_has_pending_holds',
      `lot ${quoteValue(lotId)} has ${reservedMicro} micro-USD held by pending reservations`,
      {
        ...options,
        details: { lotId, reservedMicro: reservedMicro.toString(), ...options.details },
      },
    );
    this.lotId = lotId;
    this.reservedMicro = reservedMicro;
  }
}

/**
 * The lot was already refunded.
 *
 * @example
 * throw new AlreadyRefundedError('lot_1');
 */
export class AlreadyRefundedError extends LedgerError {
  override readonly name = 'AlreadyRefundedError';
  readonly lotId: string;
  constructor(lotId: string, options: LedgerErrorOptions = {}) {
    super('already_refunded', `lot ${quoteValue(lotId)} was already refunded`, {
      ...options,
      details: { lotId, ...options.details },
    });
    this.lotId = lotId;
  }
}

/**
 * A governance step needs a second, distinct person: the proposer approving their own rule, or the approver (or
 * proposer) activating it in an emergency.
 *
 * @example
 * throw new FourEyesViolationError('rule_1', 'alice', 'approve', 'the proposer cannot approve their own rule');
 */
export class FourEyesViolationError extends LedgerError {
  override readonly name = 'FourEyesViolationError';
  readonly ruleId: string;
  readonly actor: string;
  constructor(ruleId: string, actor: string, step: string, rule: string, options: LedgerErrorOptions = {}) {
    super('four_eyes_violation', `${quoteValue(actor)} cannot ${step} revenue rule ${quoteValue(ruleId)}: ${rule}`, {
      ...options,
      details: { ruleId, actor, step, ...options.details },
    });
    this.ruleId = ruleId;
    this.actor = actor;
  }
}

/**
 * The revenue rule is not in a state that allows this transition (e.g. approving a draft, or anything on a
 * rejected or superseded rule).
 *
 * @example
 * throw new InvalidTransitionError('rule_1', 'draft', 'approve');
 */
export class InvalidTransitionError extends LedgerError {
  override readonly name = 'InvalidTransitionError';
  readonly ruleId: string;
  readonly status: string;
  constructor(ruleId: string, status: string, step: string, options: LedgerErrorOptions = {}) {
    super('invalid_transition', `revenue rule ${quoteValue(ruleId)} is ${status}: cannot ${step} it`, {
      ...options,
      details: { ruleId, status, step, ...options.details },
    });
    this.ruleId = ruleId;
    this.status = status;
  }
}

/**
 * No revenue rule has this id.
 *
 * @example
 * throw new RevenueRuleNotFoundError('rule_missing');
 */
export class RevenueRuleNotFoundError extends LedgerError {
  override readonly name = 'RevenueRuleNotFoundError';
  readonly ruleId: string;
  constructor(ruleId: string, options: LedgerErrorOptions = {}) {
    super('revenue_rule_not_found', `revenue rule ${quoteValue(ruleId)} does not exist`, {
      ...options,
      details: { ruleId, ...options.details },
    });
    this.ruleId = ruleId;
  }
}

/**
 * The credit pack catalog has no pack with this id.
 *
 * @example
 * throw new CreditPackNotFoundError('platinum', ['starter', 'standard', 'premium']);
 */
export class CreditPackNotFoundError extends LedgerError {
  override readonly name = 'CreditPackNotFoundError';
  readonly packId: string;
  constructor(packId: string, knownPackIds: readonly string[], options: LedgerErrorOptions = {}) {
    super(
      'credit_pack_not_found',
      `credit pack ${quoteValue(packId)} does not exist (known: ${knownPackIds.join(', ')})`,
      {
        ...options,
        details: { packId, knownPackIds: [...knownPackIds], ...options.details },
      },
    );
    this.packId = packId;
  }
}

/**
 * A payment is for less than the price of what it buys; nothing was minted.
 *
 * @example
 * throw new PaymentInsufficientError('standard', 10_000_000n, 9_999_999n);
 */
export class PaymentInsufficientError extends LedgerError {
  override readonly name = 'PaymentInsufficientError';
  readonly priceMicro: bigint;
  readonly paidMicro: bigint;
  constructor(packId: string, priceMicro: bigint, paidMicro: bigint, options: LedgerErrorOptions = {}) {
    super(
      'payment_insufficient',
      `a payment of ${paidMicro} micro-USD does not cover credit pack ${quoteValue(packId)} at ${priceMicro} micro-USD`,
      {
        ...options,
        details: { packId, priceMicro: priceMicro.toString(), paidMicro: paidMicro.toString(), ...options.details },
      },
    );
    this.priceMicro = priceMicro;
    this.paidMicro = paidMicro;
  }
}

/** What differs between a payment's record and a request reusing its reference. */
export type PaymentReferenceConflict = 'account' | 'pack' | 'amount' | 'pay_to';

/**
 * A payment reference was already used with another purchase (another account or pack) or another authorization
 * (another amount or recipient); a payment is used once. `details.conflict` (when known) names what differs, with
 * the stored and the requested value (`stored`, `requested`).
 *
 * @example
 * throw new PaymentReferenceReusedError('eip155:8453:0xabc:0x01', 'acc_1', 'starter');
 * throw new PaymentReferenceReusedError('eip155:8453:0xabc:0x01', 'acc_1', 'starter', {
 *   details: { conflict: 'amount', stored: '5000000', requested: '4000000' },
 * });
 */
export class PaymentReferenceReusedError extends LedgerError {
  override readonly name = 'PaymentReferenceReusedError';
  readonly reference: string;
  constructor(reference: string, firstAccountId: string, firstPackId: string, options: LedgerErrorOptions = {}) {
    const conflict = options.details?.conflict;
    const what =
      conflict === 'amount' || conflict === 'pay_to'
        ? `with another ${conflict === 'amount' ? 'amount' : 'recipient'} (${quoteValue(options.details?.stored)}, now ${quoteValue(options.details?.requested)})`
        : `to buy ${quoteValue(firstPackId)} for account ${quoteValue(firstAccountId)}`;
    super('payment_reference_reused', `payment ${quoteValue(reference)} was already used ${what}`, {
      ...options,
      details: { reference, firstAccountId, firstPackId, ...options.details },
    });
    this.reference = reference;
  }
}

/**
 * No payment has this id or reference.
 *
 * @example
 * throw new PaymentNotFoundError({ reference: 'eip155:8453:0xusdc:0xpayer:0x01' });
 */
export class PaymentNotFoundError extends LedgerError {
  override readonly name = 'PaymentNotFoundError';
  readonly reference: string;
  constructor(input: { reference: string }, options: LedgerErrorOptions = {}) {
    super('payment_not_found', `payment ${quoteValue(input.reference)} does not exist`, {
      ...options,
      details: { reference: input.reference, ...options.details },
    });
    this.reference = input.reference;
  }
}

/**
 * The payment failed for good (its authorization can no longer execute, or it was refused): it buys nothing.
 * `details.code` is the failure's code, `details.reference` the payment.
 *
 * @example
 * throw new PaymentFailedError({ reference: 'eip155:8453:0xusdc:0xpayer:0x01', code: 'authorization_expired', message: 'validBefore passed' });
 */
export class PaymentFailedError extends LedgerError {
  override readonly name = 'PaymentFailedError';
  readonly reference: string;
  readonly failureCode: string;
  constructor(input: { reference: string; code: string; message: string }, options: LedgerErrorOptions = {}) {
    super(
      'payment_failed',
      `payment ${quoteValue(input.reference)} failed (${input.code}: ${input.message}); it buys nothing`,
      { ...options, details: { reference: input.reference, code: input.code, ...options.details } },
    );
    this.reference = input.reference;
    this.failureCode = input.code;
  }
}

/**
 * Another attempt holds the payment (it is being settled, or was postponed): nothing was done; retry after a while.
 * `details.reference` names the payment, `details.reconcileAfter` (ISO time, when known) when its hold ends.
 *
 * @example
 * throw new PaymentPendingError({ reference: 'eip155:8453:0xusdc:0xpayer:0x01', reconcileAfter: new Date() });
 */
export class PaymentPendingError extends LedgerError {
  override readonly name = 'PaymentPendingError';
  readonly reference: string;
  constructor(input: { reference: string; reconcileAfter?: Date | null }, options: LedgerErrorOptions = {}) {
    const until = input.reconcileAfter?.toISOString() ?? null;
    super(
      'payment_pending',
      `payment ${quoteValue(input.reference)} is being settled by another attempt${until === null ? '' : ` (until ${until})`}; retry later`,
      {
        ...options,
        details: {
          reference: input.reference,
          ...(until === null ? {} : { reconcileAfter: until }),
          ...options.details,
        },
      },
    );
    this.reference = input.reference;
  }
}

/**
 * No meter has this id (or no version of it is in force yet, or the version asked for does not exist).
 *
 * @example
 * throw new MeterNotFoundError({ meterId: 'chat', version: 3 });
 */
export class MeterNotFoundError extends LedgerError {
  override readonly name = 'MeterNotFoundError';
  readonly meterId: string;
  constructor(
    input: { meterId: string; version?: number; reason?: 'unknown' | 'not_in_force' },
    options: LedgerErrorOptions = {},
  ) {
    const what =
      input.version === undefined
        ? `meter ${quoteValue(input.meterId)}`
        : `version ${input.version} of meter ${quoteValue(input.meterId)}`;
    super(
      'meter_not_found',
      input.reason === 'not_in_force' ? `${what} has no version in force yet` : `${what} does not exist`,
      {
        ...options,
        details: {
          meterId: input.meterId,
          ...(input.version === undefined ? {} : { version: input.version }),
          reason: input.reason ?? 'unknown',
          ...options.details,
        },
      },
    );
    this.meterId = input.meterId;
  }
}

/**
 * A meter names no unit price.
 *
 * @example
 * throw new MeterPricesEmptyError({ meterId: 'chat' });
 */
export class MeterPricesEmptyError extends LedgerError {
  override readonly name = 'MeterPricesEmptyError';
  constructor(input: { meterId: string }, options: LedgerErrorOptions = {}) {
    super('meter_prices_empty', `meter ${quoteValue(input.meterId)} needs at least one unit price`, {
      ...options,
      details: { meterId: input.meterId, field: 'unitPrices', ...options.details },
    });
  }
}

/**
 * A meter prices the same dimension twice.
 *
 * @example
 * throw new MeterDimensionDuplicateError({ meterId: 'chat', dimension: 'output_tokens' });
 */
export class MeterDimensionDuplicateError extends LedgerError {
  override readonly name = 'MeterDimensionDuplicateError';
  constructor(input: { meterId: string; dimension: string }, options: LedgerErrorOptions = {}) {
    super(
      'meter_dimension_duplicate',
      `meter ${quoteValue(input.meterId)} prices dimension ${quoteValue(input.dimension)} twice; each dimension once`,
      { ...options, details: { meterId: input.meterId, dimension: input.dimension, ...options.details } },
    );
  }
}

/**
 * A meter's price at its largest usage (`unitsMax` of a dimension, or of all together) exceeds 10^15 micro-USD.
 *
 * @example
 * throw new MeterPriceOverflowError({ meterId: 'chat', dimension: 'request', costMicro: 10n ** 18n, maxMicro: 10n ** 15n });
 */
export class MeterPriceOverflowError extends LedgerError {
  override readonly name = 'MeterPriceOverflowError';
  constructor(
    input: { meterId: string; dimension: string | null; costMicro: bigint; maxMicro: bigint },
    options: LedgerErrorOptions = {},
  ) {
    const where =
      input.dimension === null
        ? 'all dimensions at their unitsMax'
        : `dimension ${quoteValue(input.dimension)} at its unitsMax`;
    super(
      'meter_price_overflow',
      `meter ${quoteValue(input.meterId)} would charge ${input.costMicro} micro-USD for ${where}; at most ${input.maxMicro} (lower the price or unitsMax)`,
      {
        ...options,
        details: {
          meterId: input.meterId,
          dimension: input.dimension,
          costMicro: input.costMicro.toString(),
          maxMicro: input.maxMicro.toString(),
          ...options.details,
        },
      },
    );
  }
}

/**
 * A usage names a dimension its meter does not price.
 *
 * @example
 * throw new UnknownDimensionError({ meterId: 'chat', dimension: 'images', knownDimensions: ['input_tokens'] });
 */
export class UnknownDimensionError extends LedgerError {
  override readonly name = 'UnknownDimensionError';
  readonly dimension: string;
  constructor(
    input: { meterId: string; dimension: string; knownDimensions: readonly string[] },
    options: LedgerErrorOptions = {},
  ) {
    super(
      'unknown_dimension',
      `meter ${quoteValue(input.meterId)} does not price dimension ${quoteValue(input.dimension)}; it prices ${input.knownDimensions.join(', ')}`,
      {
        ...options,
        details: {
          meterId: input.meterId,
          dimension: input.dimension,
          knownDimensions: [...input.knownDimensions],
          ...options.details,
        },
      },
    );
    this.dimension = input.dimension;
  }
}

/**
 * A usage is not a map of dimension → whole number of units in `0..unitsMax`.
 *
 * @example
 * throw new InvalidUsageError('usage output_tokens -1 must be a whole number from 0 to 1000000000', { details: { dimension: 'output_tokens' } });
 */
export class InvalidUsageError extends LedgerError {
  override readonly name = 'InvalidUsageError';
  constructor(message: string, options: LedgerErrorOptions = {}) {
    super('invalid_usage', message, options);
  }
}

/**
 * Finalize by usage on a hold placed without a meter (finalize it with `actualCostMicro`).
 *
 * @example
 * throw new ReservationNotMeteredError({ reservationId: 'res_1' });
 */
export class ReservationNotMeteredError extends LedgerError {
  override readonly name = 'ReservationNotMeteredError';
  constructor(input: { reservationId: string }, options: LedgerErrorOptions = {}) {
    super(
      'reservation_not_metered',
      `reservation ${quoteValue(input.reservationId)} was placed without a meter: finalize it with actualCostMicro, not usage`,
      { ...options, details: { reservationId: input.reservationId, ...options.details } },
    );
  }
}

/** Details of a {@link SpendCapExceededError}. */
export interface SpendCapExceededDetails {
  accountId: string;
  period: 'daily' | 'monthly';
  periodStart: Date;
  spentMicro: bigint;
  capMicro: bigint;
  requestedMicro: bigint;
}

/**
 * A hold would take the account's spend in a UTC period (day or month) past its cap; nothing was written.
 * `details` carries period, periodStart, spentMicro, capMicro, requestedMicro.
 *
 * @example
 * throw new SpendCapExceededError({ accountId: 'acc_1', period: 'daily', periodStart: new Date('2026-12-03'), spentMicro: 9n, capMicro: 10n, requestedMicro: 2n });
 */
export class SpendCapExceededError extends LedgerError {
  override readonly name = 'SpendCapExceededError';
  readonly period: 'daily' | 'monthly';
  readonly spentMicro: bigint;
  readonly capMicro: bigint;
  constructor(input: SpendCapExceededDetails, options: Omit<LedgerErrorOptions, 'details'> = {}) {
    super(
      'spend_cap_exceeded',
      `account ${quoteValue(input.accountId)} spent ${input.spentMicro} of its ${input.period} cap of ${input.capMicro} micro-USD ` +
        `since ${input.periodStart.toISOString()}; a hold of ${input.requestedMicro} would pass it`,
      {
        ...options,
        details: {
          accountId: input.accountId,
          period: input.period,
          periodStart: input.periodStart.toISOString(),
          spentMicro: input.spentMicro.toString(),
          capMicro: input.capMicro.toString(),
          requestedMicro: input.requestedMicro.toString(),
        },
      },
    );
    this.period = input.period;
    this.spentMicro = input.spentMicro;
    this.capMicro = input.capMicro;
  }
}

/**
 * A write other than a distribution hit a system account (the revenue pools' accounts): they take no grants, holds,
 * caps or refunds; only distributions (and their reversals) move value on them.
 *
 * @example
 * throw new SystemAccountReadOnlyError({ accountId: 'acc_system_treasury' });
 */
export class SystemAccountReadOnlyError extends LedgerError {
  override readonly name = 'SystemAccountReadOnlyError';
  readonly accountId: string;
  constructor(input: { accountId: string }, options: LedgerErrorOptions = {}) {
    super(
      'system_account_read_only',
      `account ${quoteValue(input.accountId)} is a system account: only revenue distributions write to it`,
      { ...options, details: { accountId: input.accountId, ...options.details } },
    );
    this.accountId = input.accountId;
  }
}

/**
 * The account owes debt (a refund clawed back credit it had already spent, more than its other credit could
 * offset): it may not place new holds until a mint or purchase pays the debt down. Nothing was written.
 * `details` carries accountId and debtMicro (base-10 string).
 *
 * @example
 * throw new AccountInDebtError({ accountId: 'acc_1', debtMicro: 1_500_000n });
 */
export class AccountInDebtError extends LedgerError {
  override readonly name = 'AccountInDebtError';
  readonly accountId: string;
  readonly debtMicro: bigint;
  constructor(input: { accountId: string; debtMicro: bigint }, options: Omit<LedgerErrorOptions, 'details'> = {}) {
    super(
      'account_in_debt',
      `account ${quoteValue(input.accountId)} owes ${input.debtMicro} micro-USD of debt: pay it down (a mint or a ` +
        'purchase) before placing new holds',
      { ...options, details: { accountId: input.accountId, debtMicro: input.debtMicro.toString() } },
    );
    this.accountId = input.accountId;
    this.debtMicro = input.debtMicro;
  }
}
