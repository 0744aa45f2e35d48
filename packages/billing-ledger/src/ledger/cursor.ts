/**
 * Opaque pagination cursors: base64url of `<kind>1:<id>`, where `id` is the bigint id of the last item seen
 * (entries for `listEntries`, events for `listEvents`); events also have a `v2` form (transaction and id) and payments
 * a `p1` form (creation time and id, `listPayments`). Anything else is an {@link InvalidCursorError}.
 */
import { InvalidCursorError } from '../errors.js';
import { cursorLengthMax, idPattern, paymentCursorLengthMax } from '../limits.js';

const idMax = 2n ** 63n - 1n;

/** What a cursor points into: `e` entries, `v` events. */
export type CursorKind = 'e' | 'v';

/**
 * Encodes the id of the last item of a page as an opaque cursor.
 *
 * @example
 * encodeCursor('e', 42n); // 'ZTE6NDI'
 */
export function encodeCursor(kind: CursorKind, id: bigint): string {
  return Buffer.from(`${kind}1:${id}`, 'utf8').toString('base64url');
}

/**
 * Decodes a cursor this ledger issued; `undefined` and `null` mean "from the start".
 *
 * @throws {InvalidCursorError} when the cursor is not a string this ledger issued for `kind`.
 * @example
 * decodeCursor('e', encodeCursor('e', 42n)); // 42n
 */
export function decodeCursor(kind: CursorKind, cursor: unknown): bigint | null {
  if (cursor === undefined || cursor === null) return null;
  if (typeof cursor !== 'string' || cursor.length === 0 || cursor.length > cursorLengthMax) {
    throw new InvalidCursorError(cursor);
  }
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw new InvalidCursorError(cursor);
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const match = /^([ev])1:([1-9][0-9]{0,18})$/.exec(text);
  if (!match || match[1] !== kind) throw new InvalidCursorError(cursor);
  const id = BigInt(match[2] as string);
  if (id > idMax || encodeCursor(kind, id) !== cursor) throw new InvalidCursorError(cursor);
  return id;
}

/** Where an events feed stands: after the event `id` of transaction `txId` (null: a v1 cursor, by id only). */
export interface EventCursor {
  txId: string | null;
  id: bigint;
}

/**
 * Encodes the position after one event of the feed (its transaction and id).
 *
 * @example
 * encodeEventCursor('742', 42n);
 */
export function encodeEventCursor(txId: string, id: bigint): string {
  return Buffer.from(`v2:${txId}:${id}`, 'utf8').toString('base64url');
}

/**
 * Decodes an events cursor: the current form (transaction and id), or a v1 cursor (id only) issued before the feed
 * was ordered by transaction; `undefined` and `null` mean "from the start".
 *
 * @throws {InvalidCursorError}
 * @example
 * decodeEventCursor(encodeEventCursor('742', 42n)); // { txId: '742', id: 42n }
 */
export function decodeEventCursor(cursor: unknown): EventCursor | null {
  if (cursor === undefined || cursor === null) return null;
  if (typeof cursor === 'string' && cursor.length <= cursorLengthMax && /^[A-Za-z0-9_-]+$/.test(cursor)) {
    const match = /^v2:([1-9][0-9]{0,19}):([1-9][0-9]{0,18})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (match) {
      const txId = match[1] as string;
      const id = BigInt(match[2] as string);
      if (BigInt(txId) < 2n ** 64n && id <= idMax && encodeEventCursor(txId, id) === cursor) return { txId, id };
      throw new InvalidCursorError(cursor);
    }
  }
  const id = decodeCursor('v', cursor);
  return id === null ? null : { txId: null, id };
}

/** Where a newest-first list of payments stands: after the payment `id` created at `createdAtMs`. */
export interface PaymentCursor {
  createdAtMs: number;
  id: string;
}

/**
 * Encodes the position after one payment of a newest-first list (its creation time and id).
 *
 * @example
 * encodePaymentCursor({ createdAtMs: 1_767_225_600_000, id: 'pay_1' });
 */
export function encodePaymentCursor(cursor: PaymentCursor): string {
  return Buffer.from(`p1:${cursor.createdAtMs}:${cursor.id}`, 'utf8').toString('base64url');
}

/**
 * Decodes a payments cursor this ledger issued; `undefined` and `null` mean "from the start".
 *
 * @throws {InvalidCursorError} when the cursor is not one this ledger issued for payments.
 * @example
 * decodePaymentCursor(encodePaymentCursor({ createdAtMs: 1, id: 'pay_1' })); // { createdAtMs: 1, id: 'pay_1' }
 */
export function decodePaymentCursor(cursor: unknown): PaymentCursor | null {
  if (cursor === undefined || cursor === null) return null;
  if (typeof cursor !== 'string' || cursor.length === 0 || cursor.length > paymentCursorLengthMax) {
    throw new InvalidCursorError(cursor);
  }
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw new InvalidCursorError(cursor);
  const match = /^p1:(0|[1-9][0-9]{0,14}):(.*)$/s.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match || !idPattern.test(match[2] as string)) throw new InvalidCursorError(cursor);
  const decoded = { createdAtMs: Number(match[1]), id: match[2] as string };
  if (encodePaymentCursor(decoded) !== cursor) throw new InvalidCursorError(cursor);
  return decoded;
}
