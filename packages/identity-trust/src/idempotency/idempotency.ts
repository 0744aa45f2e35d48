/**
 * Idempotency keys of the identity writes (bind, rotation request, rotation approval), the same protocol as the
 * ledger's: a key is unique per operation and caller scope; the first write with a key stores its answer in its own
 * transaction; a repeat with the same request gets that answer back, with another request an
 * `IdempotencyKeyReusedError`. A write that fails stores nothing, so a retry runs again.
 *
 * Stored answers are lossless JSON text: `bigint` and `Date` are tagged (`{"$bigint":"8453"}`,
 * `{"$date":"2026-01-01T00:00:00.000Z"}`) and turned back on replay, so a replayed answer is deep-equal to the first.
 */
import { createHash } from 'node:crypto';
import { InvalidArgumentError, quoteValue } from '../errors.js';

/** Longest idempotency key or scope: 255 printable ASCII characters (the ledger's rule). */
export const idempotencyKeyLengthMax = 255;
/** How long an answer is kept for its key by default: 24 hours. */
export const idempotencyTtlMsDefault = 86_400_000;
/** Shortest accepted key lifetime: 1 minute. */
export const idempotencyTtlMsMin = 60_000;
/** Longest accepted key lifetime: 30 days. */
export const idempotencyTtlMsMax = 30 * 86_400_000;

/** The identity writes that honour an idempotency key. */
export type IdempotentOperation = 'bind' | 'request_rotation' | 'approve_rotation';

/** Options of an identity write (the ledger's `WriteOptions` have the same shape). */
export interface IdentityWriteOptions {
  /** Names one request of the caller: a repeat with it answers the first answer. 1–255 printable ASCII. */
  idempotencyKey?: string | undefined;
  /** Whose keys they are (e.g. `arrakis-admin:root`), so two callers' keys never collide. 1–255 printable ASCII. */
  idempotencyScope?: string | undefined;
}

/** What a store claims, in the transaction of a write, for the write's key. */
export interface IdempotencyClaim {
  /** `<operation>@<idempotencyScope>`, or the operation alone without a scope. */
  scope: string;
  key: string;
  /** sha256 (hex) of the canonical JSON of the operation's normalized input. */
  requestHash: string;
  /** When the key may be claimed again by another request. */
  expiresAt: Date;
}

const keyTextPattern = /^[\x20-\x7e]+$/;

function checkKeyText(field: 'idempotencyKey' | 'idempotencyScope', value: unknown): asserts value is string {
  if (typeof value === 'string' && value.length <= idempotencyKeyLengthMax && keyTextPattern.test(value)) return;
  throw new InvalidArgumentError(
    `${field} ${quoteValue(value)} must be 1-${idempotencyKeyLengthMax} printable ASCII characters`,
    { details: { field } },
  );
}

/**
 * The claim of a write with `options`, or `undefined` when it has no key.
 *
 * @throws {InvalidArgumentError} when the key or the scope is not 1–255 printable ASCII characters.
 * @example
 * ```ts
 * const claim = idempotencyClaimOf('bind', { accountId, nft, actor }, { idempotencyKey: 'k1' }, now, ttlMs);
 * ```
 */
export function idempotencyClaimOf(
  operation: IdempotentOperation,
  input: unknown,
  options: IdentityWriteOptions,
  now: Date,
  ttlMs: number,
): IdempotencyClaim | undefined {
  const { idempotencyKey, idempotencyScope } = options;
  if (idempotencyScope !== undefined) checkKeyText('idempotencyScope', idempotencyScope);
  if (idempotencyKey === undefined) return undefined;
  checkKeyText('idempotencyKey', idempotencyKey);
  return {
    scope: idempotencyScope === undefined ? operation : `${operation}@${idempotencyScope}`,
    key: idempotencyKey,
    requestHash: createHash('sha256').update(canonicalJson(input)).digest('hex'),
    expiresAt: new Date(now.getTime() + ttlMs),
  };
}

function tagged(holder: unknown, key: string, value: unknown): unknown {
  const raw = (holder as Record<string, unknown>)[key];
  if (typeof raw === 'bigint') return { $bigint: raw.toString() };
  if (raw instanceof Date) return { $date: raw.toISOString() };
  return value;
}

/**
 * Canonical JSON of a request: object keys sorted, `undefined` members left out, bigints and dates tagged.
 *
 * @example
 * ```ts
 * canonicalJson({ b: 1n, a: 'x' }); // '{"a":"x","b":{"$bigint":"1"}}'
 * ```
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, function sortedAndTagged(this: unknown, key: string, member: unknown) {
    const out = tagged(this, key, member);
    if (out === null || typeof out !== 'object' || Array.isArray(out) || out !== member) return out;
    const record = out as Record<string, unknown>;
    return Object.fromEntries(
      Object.keys(record)
        .sort()
        .map((name) => [name, record[name]]),
    );
  });
}

/**
 * The stored text of an answer (lossless JSON: bigints and dates tagged).
 *
 * @example
 * ```ts
 * encodeStoredAnswer({ epoch: 1, chainId: 8453n }); // '{"epoch":1,"chainId":{"$bigint":"8453"}}'
 * ```
 */
export function encodeStoredAnswer(answer: unknown): string {
  return JSON.stringify(answer, function taggedMember(this: unknown, key: string, member: unknown) {
    return tagged(this, key, member);
  });
}

/**
 * The answer {@link encodeStoredAnswer} stored, with its bigints and dates back.
 *
 * @example
 * ```ts
 * decodeStoredAnswer('{"chainId":{"$bigint":"8453"}}'); // { chainId: 8453n }
 * ```
 */
export function decodeStoredAnswer(text: string): unknown {
  return JSON.parse(text, (_key, value: unknown) => {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record);
    if (keys.length === 1 && typeof record.$bigint === 'string') return BigInt(record.$bigint);
    if (keys.length === 1 && typeof record.$date === 'string') return new Date(record.$date);
    return value;
  });
}
