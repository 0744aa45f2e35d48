/**
 * Opaque pagination cursors: base64url of `<kind>1:<id>`, where `id` is the bigint id of the last item seen
 * (entries for `listEntries`, events for `listEvents`). Anything else is an {@link InvalidCursorError}.
 */
import { InvalidCursorError } from '../errors.js';

/** Longest cursor string accepted (a cursor this ledger issues is ≤ 30 characters). */
export const cursorLengthMax = 64;
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
