/**
 * Input rules of the ledger operations. Every check runs before any I/O and throws a typed error that quotes
 * the bad value.
 */

import { type BillingMode, billingModes } from '../db/schema.js';
import { InvalidAmountError, InvalidArgumentError, quoteValue } from '../errors.js';
import {
  amountMicroMax,
  expiresAtMsMax,
  externalIdLengthMax,
  externalIdPattern,
  idempotencyKeyLengthMax,
  idempotencyKeyPattern,
  idLengthMax,
  idPattern,
  memoLengthMax,
  nameLengthMax,
  namePattern,
} from '../limits.js';

/**
 * An id of an account, lot or reservation: 1–128 of `A–Z a–z 0–9 _ . : -`.
 *
 * @throws {InvalidArgumentError}
 * @example
 * assertId('accountId', 'acc_1');
 */
export function assertId(field: string, value: unknown): asserts value is string {
  if (typeof value !== 'string' || !idPattern.test(value)) {
    throw new InvalidArgumentError(
      `${field} ${quoteValue(value)} must be 1–${idLengthMax} characters of A–Z a–z 0–9 _ . : -`,
      { details: { field, value: quoteValue(value) } },
    );
  }
}

/**
 * A pool id, source type or entity type: 1–64 of lower-case `a–z 0–9 _ . : -`, starting with a letter or digit.
 *
 * @throws {InvalidArgumentError}
 * @example
 * assertName('poolId', 'gpu');
 */
export function assertName(field: string, value: unknown): asserts value is string {
  if (typeof value !== 'string' || !namePattern.test(value)) {
    throw new InvalidArgumentError(
      `${field} ${quoteValue(value)} must be 1–${nameLengthMax} characters of a–z 0–9 _ . : - starting with a letter or digit`,
      { details: { field, value: quoteValue(value) } },
    );
  }
}

/** The entity type of the ledger's own accounts (the revenue pools); no account of it or of a `system.`, `system:`, `system-` or `system_` type is created through the API. */
export const systemEntityType = 'system';

/**
 * True for `system` and the entity types that read as a variant of it (`system.`, `system:x`, `system-x`, `system_x`).
 *
 * @example
 * isSystemEntityType('system.'); // true
 */
export function isSystemEntityType(entityType: string): boolean {
  return entityType === systemEntityType || /^system[._:-]/.test(entityType);
}

/**
 * An external id (entity id, source id): 1–255 printable ASCII characters without spaces.
 *
 * @throws {InvalidArgumentError}
 * @example
 * assertExternalId('sourceId', 'pi_123');
 */
export function assertExternalId(field: string, value: unknown): asserts value is string {
  if (typeof value !== 'string' || !externalIdPattern.test(value)) {
    throw new InvalidArgumentError(
      `${field} ${quoteValue(value)} must be 1–${externalIdLengthMax} printable ASCII characters without spaces`,
      { details: { field, value: quoteValue(value) } },
    );
  }
}

/** An idempotency key or scope: 1–255 printable ASCII characters, spaces included (`idempotencyKeyPattern`). */
function assertKeyText(field: 'idempotencyKey' | 'idempotencyScope', value: unknown): asserts value is string {
  if (typeof value !== 'string' || !idempotencyKeyPattern.test(value)) {
    throw new InvalidArgumentError(
      `${field} ${quoteValue(value)} must be 1–${idempotencyKeyLengthMax} printable ASCII characters`,
      { details: { field, value: quoteValue(value) } },
    );
  }
}

/**
 * An idempotency key: 1–255 printable ASCII characters, spaces included (`idempotencyKeyPattern`).
 *
 * @throws {InvalidArgumentError}
 * @example
 * assertIdempotencyKey('order-42');
 */
export function assertIdempotencyKey(value: unknown): asserts value is string {
  assertKeyText('idempotencyKey', value);
}

/**
 * An idempotency scope (whose keys they are, e.g. `arrakis-api:alice`): 1–255 printable ASCII characters.
 *
 * @throws {InvalidArgumentError}
 * @example
 * assertIdempotencyScope('arrakis-api:alice');
 */
export function assertIdempotencyScope(value: unknown): asserts value is string {
  assertKeyText('idempotencyScope', value);
}

/**
 * A bigint amount of micro-USD in `[minMicro, maxMicro]` (default 1 to 10^15).
 *
 * @throws {InvalidAmountError}
 * @example
 * assertAmountMicro('amountMicro', 1_500_000n);
 */
export function assertAmountMicro(
  field: string,
  value: unknown,
  bounds: { minMicro?: bigint; maxMicro?: bigint } = {},
): asserts value is bigint {
  const minMicro = bounds.minMicro ?? 1n;
  const maxMicro = bounds.maxMicro ?? amountMicroMax;
  if (typeof value !== 'bigint' || value < minMicro || value > maxMicro) {
    throw new InvalidAmountError(
      `${field} ${quoteValue(value)} must be a bigint of micro-USD from ${minMicro} to ${maxMicro}`,
      { details: { field, value: quoteValue(value) } },
    );
  }
}

/**
 * An integer number of milliseconds in `[1, maxMs]`.
 *
 * @throws {InvalidArgumentError}
 * @example
 * assertDurationMs('ttlMs', 60_000, 86_400_000);
 */
export function assertDurationMs(field: string, value: unknown, maxMs: number): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > maxMs) {
    throw new InvalidArgumentError(`${field} ${quoteValue(value)} must be an integer from 1 to ${maxMs}`, {
      details: { field, value: quoteValue(value) },
    });
  }
}

/**
 * A page size: an integer in `[1, max]`.
 *
 * @throws {InvalidArgumentError}
 * @example
 * assertCount('limit', 50, 200);
 */
export function assertCount(field: string, value: unknown, max: number): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > max) {
    throw new InvalidArgumentError(`${field} ${quoteValue(value)} must be an integer from 1 to ${max}`, {
      details: { field, value: quoteValue(value) },
    });
  }
}

/**
 * A billing mode: `live`, `soft` or `shadow`.
 *
 * @throws {InvalidArgumentError}
 * @example
 * assertBillingMode('soft');
 */
export function assertBillingMode(value: unknown): asserts value is BillingMode {
  if (typeof value !== 'string' || !(billingModes as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(`billingMode ${quoteValue(value)} must be one of ${billingModes.join(', ')}`, {
      details: { field: 'billingMode', value: quoteValue(value) },
    });
  }
}

/**
 * A lot expiry: a valid `Date` after `nowMs` and no later than year 9999.
 *
 * @throws {InvalidArgumentError}
 * @example
 * assertFutureDate('expiresAt', new Date('2027-01-01'), Date.now());
 */
export function assertFutureDate(field: string, value: unknown, nowMs: number): asserts value is Date {
  const ms = value instanceof Date ? value.getTime() : Number.NaN;
  if (!Number.isFinite(ms) || ms <= nowMs || ms > expiresAtMsMax) {
    throw new InvalidArgumentError(
      `${field} ${value instanceof Date && Number.isFinite(ms) ? value.toISOString() : quoteValue(value)} must be a Date after now (${new Date(nowMs).toISOString()}) and before year 10000`,
      {
        details: {
          field,
          value: value instanceof Date && Number.isFinite(ms) ? value.toISOString() : quoteValue(value),
        },
      },
    );
  }
}

/**
 * What no stored text may hold: a NUL (Postgres `text` refuses it, SQLSTATE 22021) or a UTF-16 surrogate without its
 * pair (`jsonb` refuses it, and `text` silently stores U+FFFD in its place). Code units, not code points: no `u` flag.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to find the NUL.
const unstorableTextPattern = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * True when `value` is text the ledger can store as given: no NUL and no lone UTF-16 surrogate (the rule of every
 * free-text field: memos, rule names, notes and reasons, actors).
 *
 * @example
 * isStorableText('welcome grant'); // true
 * isStorableText('a\u0000b'); // false
 * isStorableText('\ud800'); // false
 */
export function isStorableText(value: string): boolean {
  return !unstorableTextPattern.test(value);
}

/**
 * A free text must be storable as given ({@link isStorableText}): a NUL or a lone UTF-16 surrogate is refused before
 * any I/O instead of failing in the database (or being replaced by U+FFFD).
 *
 * @throws {InvalidArgumentError} naming the field.
 * @example
 * checkFreeText('memo', 'welcome grant');
 */
export function checkFreeText(field: string, value: string): void {
  if (isStorableText(value)) return;
  throw new InvalidArgumentError(
    `${field} ${quoteValue(value)} must not contain a NUL character or an unpaired UTF-16 surrogate`,
    { details: { field, value: quoteValue(value), rule: 'free_text' } },
  );
}

/**
 * A free-text memo: a string of at most 1000 characters, without a NUL or a lone surrogate ({@link checkFreeText}).
 *
 * @throws {InvalidArgumentError}
 * @example
 * assertMemo('welcome grant');
 */
export function assertMemo(value: unknown): asserts value is string {
  if (typeof value !== 'string' || value.length > memoLengthMax) {
    throw new InvalidArgumentError(
      `memo ${quoteValue(value)} must be a string of at most ${memoLengthMax} characters`,
      {
        details: { field: 'memo', value: quoteValue(value) },
      },
    );
  }
  checkFreeText('memo', value);
}

/**
 * An options object or input object (not null, not an array).
 *
 * @throws {InvalidArgumentError}
 * @example
 * assertObject('input', { accountId: 'acc_1' });
 */
export function assertObject(field: string, value: unknown): asserts value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidArgumentError(`${field} ${quoteValue(value)} must be an object`, {
      details: { field, value: quoteValue(value) },
    });
  }
}
