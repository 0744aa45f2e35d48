/**
 * Input rules of two-phase payments: every check runs before any I/O and throws a typed error that quotes the bad
 * value (`check*` for input that may be wrong; broken invariants are `assert`s elsewhere).
 */
import { InvalidAmountError, InvalidArgumentError, quoteValue } from '../errors.js';
import {
  assertAmountMicro,
  assertDurationMs,
  assertExternalId,
  assertId,
  assertName,
  assertObject,
  checkFreeText,
} from '../ledger/validate.js';
import {
  expiresAtMsMax,
  paymentFailureMessageLengthMax,
  paymentJsonBytesMax,
  paymentJsonDepthMax,
  paymentLeaseMsDefault,
  paymentLeaseMsMax,
  paymentValidBeforeMax,
} from '../limits.js';
import type { PaymentClaimInput, PaymentFailure, PaymentKind, PaymentSettlement } from '../types.js';

/** What a claim buys: a pack of the catalog, or plain credit of `creditMicro`. */
export type ClaimPurchase = { kind: 'pack'; packId: string } | { kind: 'credit'; creditMicro: bigint };

/** A claim's input, checked and with absent optional fields as `null`. */
export interface NormalizedClaim {
  accountId: string;
  purchase: ClaimPurchase;
  reference: string;
  payer: string;
  amountMicro: bigint;
  network: string | null;
  asset: string | null;
  payTo: string | null;
  nonce: string | null;
  validBefore: bigint | null;
  /** The request as JSON text, or null when none was given. */
  requestText: string | null;
}

/** A settlement as stored: its JSON text and its transaction. */
export interface CheckedSettlement {
  text: string;
  transaction: string;
}

function optionalText(field: string, value: unknown): string | null {
  if (value === undefined) return null;
  assertExternalId(field, value);
  return value;
}

function jsonRefusal(field: string, rule: string, value: unknown, cause?: unknown): InvalidArgumentError {
  return new InvalidArgumentError(`${field} ${quoteValue(value)} ${rule}`, {
    details: { field, value: quoteValue(value), rule: 'json_document' },
    ...(cause === undefined ? {} : { cause }),
  });
}

/** Walks parsed JSON (no recursion): every string and key storable, nesting at most `paymentJsonDepthMax`. */
function checkJsonTree(field: string, root: unknown): void {
  const stack: { value: unknown; depth: number }[] = [{ value: root, depth: 0 }];
  while (stack.length > 0) {
    const { value, depth } = stack.pop() as { value: unknown; depth: number };
    if (depth > paymentJsonDepthMax) {
      throw new InvalidArgumentError(`${field} must nest at most ${paymentJsonDepthMax} levels`, {
        details: { field, rule: 'json_document' },
      });
    }
    if (typeof value === 'string') {
      checkFreeText(field, value);
    } else if (Array.isArray(value)) {
      for (const item of value) stack.push({ value: item, depth: depth + 1 });
    } else if (value !== null && typeof value === 'object') {
      for (const [key, item] of Object.entries(value)) {
        checkFreeText(`${field} key`, key);
        stack.push({ value: item, depth: depth + 1 });
      }
    }
  }
}

/**
 * A JSON document to store (`request`, `settlement`): serializable (no bigint, no cycle), at most
 * `paymentJsonBytesMax` UTF-8 bytes, nesting at most `paymentJsonDepthMax` levels, every string storable (no NUL, no
 * lone surrogate). Answers its JSON text.
 *
 * @throws {InvalidArgumentError}
 * @example
 * const text = checkJsonDocument('payment.request', { payload, requirements });
 */
export function checkJsonDocument(field: string, value: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (cause) {
    throw jsonRefusal(field, 'must be JSON-serializable (no bigint, no cycle)', value, cause);
  }
  if (text === undefined) throw jsonRefusal(field, 'must be a JSON value', value);
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > paymentJsonBytesMax) {
    throw jsonRefusal(field, `serializes to ${bytes} bytes; at most ${paymentJsonBytesMax}`, value);
  }
  checkJsonTree(field, JSON.parse(text));
  return text;
}

/** Exactly one of `packId` and `creditMicro` (an absent or `undefined` field is not given). */
function checkPurchaseChoice(input: PaymentClaimInput): PaymentKind {
  const hasPack = input.packId !== undefined;
  const hasCredit = input.creditMicro !== undefined;
  if (hasPack === hasCredit) {
    throw new InvalidArgumentError(
      `a payment buys exactly one of packId and creditMicro; got ${hasPack ? `both (packId ${quoteValue(input.packId)}, creditMicro ${quoteValue(input.creditMicro)})` : 'neither'}`,
      {
        details: {
          field: 'packId',
          rule: 'pack_or_credit',
          packId: quoteValue(input.packId),
          creditMicro: quoteValue(input.creditMicro),
        },
      },
    );
  }
  return hasPack ? 'pack' : 'credit';
}

/** What the claim buys, checked against the payment's amount (a credit is at most what was paid). */
function checkPurchase(input: PaymentClaimInput, amountMicro: bigint): ClaimPurchase {
  if (checkPurchaseChoice(input) === 'pack') {
    assertName('packId', input.packId);
    return { kind: 'pack', packId: input.packId };
  }
  const { creditMicro } = input;
  assertAmountMicro('creditMicro', creditMicro);
  if (creditMicro > amountMicro) {
    throw new InvalidAmountError(
      `creditMicro ${creditMicro} must be at most payment.amountMicro ${amountMicro}: a payment buys at most its own amount of credit`,
      { details: { field: 'creditMicro', value: quoteValue(creditMicro), paidMicro: amountMicro.toString() } },
    );
  }
  return { kind: 'credit', creditMicro };
}

/**
 * A claim's input (the rules `purchasePack` always had, plus the authorization's fields and what it buys: exactly one
 * of `packId` and `creditMicro`), normalized.
 *
 * @throws {InvalidArgumentError} when an id, the reference, a text field, `validBefore` or `request` breaks its rule,
 *   or when both or neither of `packId` and `creditMicro` are given.
 * @throws {InvalidAmountError} when payment.amountMicro or creditMicro is not a bigint in 1..10^15, or creditMicro
 *   exceeds payment.amountMicro.
 * @example
 * const claim = checkClaimInput({ accountId, packId: 'starter', payment: { reference, payer, amountMicro } });
 * const perCall = checkClaimInput({ accountId, creditMicro: 20_000n, payment: { reference, payer, amountMicro: 20_000n } });
 */
export function checkClaimInput(input: PaymentClaimInput): NormalizedClaim {
  assertObject('input', input);
  assertId('accountId', input.accountId);
  assertObject('payment', input.payment);
  const { payment } = input;
  assertExternalId('payment.reference', payment.reference);
  assertExternalId('payment.payer', payment.payer);
  assertAmountMicro('payment.amountMicro', payment.amountMicro);
  const purchase = checkPurchase(input, payment.amountMicro);
  const validBefore = payment.validBefore;
  if (
    validBefore !== undefined &&
    (typeof validBefore !== 'bigint' || validBefore < 0n || validBefore > paymentValidBeforeMax)
  ) {
    throw new InvalidArgumentError(
      `payment.validBefore ${quoteValue(validBefore)} must be a bigint of unix seconds from 0 to 2^256 - 1`,
      { details: { field: 'payment.validBefore', value: quoteValue(validBefore) } },
    );
  }
  return {
    accountId: input.accountId,
    purchase,
    reference: payment.reference,
    payer: payment.payer,
    amountMicro: payment.amountMicro,
    network: optionalText('payment.network', payment.network),
    asset: optionalText('payment.asset', payment.asset),
    payTo: optionalText('payment.payTo', payment.payTo),
    nonce: optionalText('payment.nonce', payment.nonce),
    validBefore: validBefore ?? null,
    requestText:
      payment.request === undefined || payment.request === null
        ? null
        : checkJsonDocument('payment.request', payment.request),
  };
}

/**
 * A lease: `leaseMs` of an options object, 1..`paymentLeaseMsMax` (default `paymentLeaseMsDefault`).
 *
 * @throws {InvalidArgumentError}
 * @example
 * const leaseMs = checkLeaseMs(options);
 */
export function checkLeaseMs(options: { leaseMs?: number | undefined } | undefined): number {
  if (options === undefined) return paymentLeaseMsDefault;
  assertObject('options', options);
  const leaseMs = options.leaseMs ?? paymentLeaseMsDefault;
  assertDurationMs('leaseMs', leaseMs, paymentLeaseMsMax);
  return leaseMs;
}

/**
 * A settlement: an object whose `transaction` is 1–255 printable ASCII characters, optional `network` and `payer`
 * text, and JSON of at most `paymentJsonBytesMax` bytes (stored whole, extra fields included).
 *
 * @throws {InvalidArgumentError}
 * @example
 * const { text, transaction } = checkSettlement({ transaction: '0xabc', network: 'eip155:8453' });
 */
export function checkSettlement(settlement: PaymentSettlement): CheckedSettlement {
  assertObject('settlement', settlement);
  assertExternalId('settlement.transaction', settlement.transaction);
  optionalText('settlement.network', settlement.network);
  optionalText('settlement.payer', settlement.payer);
  return { text: checkJsonDocument('settlement', settlement), transaction: settlement.transaction };
}

/**
 * A failure: `code` 1–255 printable ASCII characters, `message` a storable string of at most
 * `paymentFailureMessageLengthMax` characters.
 *
 * @throws {InvalidArgumentError}
 * @example
 * checkFailure({ code: 'authorization_expired', message: 'validBefore passed unused' });
 */
export function checkFailure(failure: PaymentFailure): PaymentFailure {
  assertObject('failure', failure);
  assertExternalId('failure.code', failure.code);
  if (typeof failure.message !== 'string' || failure.message.length > paymentFailureMessageLengthMax) {
    throw new InvalidArgumentError(
      `failure.message ${quoteValue(failure.message)} must be a string of at most ${paymentFailureMessageLengthMax} characters`,
      { details: { field: 'failure.message', value: quoteValue(failure.message) } },
    );
  }
  checkFreeText('failure.message', failure.message);
  return { code: failure.code, message: failure.message };
}

/**
 * A point in time given as a `Date` (valid, from the epoch to year 9999), or `null` when `nullable`.
 *
 * @throws {InvalidArgumentError}
 * @example
 * checkInstant('options.retryAt', new Date(), false);
 */
export function checkInstant(field: string, value: unknown, nullable: boolean): Date | null {
  if (value === null && nullable) return null;
  const ms = value instanceof Date ? value.getTime() : Number.NaN;
  if (!Number.isFinite(ms) || ms < 0 || ms > expiresAtMsMax) {
    throw new InvalidArgumentError(
      `${field} ${quoteValue(value)} must be a valid Date before year 10000${nullable ? ', or null' : ''}`,
      { details: { field, value: quoteValue(value) } },
    );
  }
  return new Date(ms);
}

/**
 * A failure message made storable: at most `paymentFailureMessageLengthMax` characters, unstorable characters
 * (NUL, lone surrogates) replaced by U+FFFD. For messages the ledger did not write (a settler's error).
 *
 * @example
 * storableMessage('chain unreachable'); // 'chain unreachable'
 */
export function storableMessage(message: string): string {
  // Cut first (a surrogate pair cut in half becomes a lone surrogate, replaced next).
  const cut = message.slice(0, paymentFailureMessageLengthMax);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to find the NUL.
  return cut.replace(/\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}
