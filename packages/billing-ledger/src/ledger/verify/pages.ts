/**
 * How `verify()` reads: every query runs once, inside the verifier's snapshot transaction, through a server-side
 * cursor fetched {@link verifyPageSizeMax} rows at a time. The database does the joins, sorts and aggregates (spilling
 * to disk past its `work_mem`); the process holds one page at a time, whatever the size of the ledger.
 */
import { sql } from 'drizzle-orm';
import { type DriverRow, execRows } from '../../db/ledger-db.js';
import { assert } from '../assert.js';
import type { Tx } from '../context.js';

/** Rows fetched from the database per page while verifying. */
export const verifyPageSizeMax = 5000;
/** Pages one verify query may fetch (5 × 10^10 rows: far past any ledger; a bound on the loop, not a limit). */
export const verifyPagesPerQueryMax = 10_000_000;

/** A row of a verify query: text for micro-USD amounts and ids that are bigints, as each query casts them. */
export type VerifyRow = DriverRow;

/**
 * Runs `query` (constant SQL text, no parameters) through a cursor named `name` and hands its rows to `onPage`,
 * `pageSizeMax` rows at a time, in the query's order. Closes the cursor before returning.
 *
 * @example
 * const cursor = { name: 'verify_lots', query: 'select id from lots order by seq', pageSizeMax: verifyPageSizeMax };
 * await forEachPage(tx, cursor, (rows) => rows.forEach(check));
 */
export async function forEachPage(
  tx: Tx,
  cursor: { name: string; query: string; pageSizeMax: number },
  onPage: (rows: VerifyRow[]) => void | Promise<void>,
): Promise<void> {
  const { name, query, pageSizeMax } = cursor;
  assert(/^[a-z_]+$/.test(name), 'a verify cursor name is lower-case letters and underscores', { name });
  assert(Number.isSafeInteger(pageSizeMax) && pageSizeMax >= 1, 'a verify page holds at least one row');
  await execRows(tx, sql.raw(`declare ${name} no scroll cursor for ${query}`));
  for (let page = 0; page < verifyPagesPerQueryMax; page += 1) {
    const rows = await execRows<VerifyRow>(tx, sql.raw(`fetch forward ${pageSizeMax} from ${name}`));
    if (rows.length > 0) await onPage(rows);
    if (rows.length < pageSizeMax) {
      await execRows(tx, sql.raw(`close ${name}`));
      return;
    }
  }
  assert(false, `verify query ${name} passed ${verifyPagesPerQueryMax} pages`);
}

/**
 * Plans the rest of the transaction for reading every row: cursors optimized for their last row, not their first
 * (`cursor_tuple_fraction` 1), and no nested-loop joins. Every verify query reads whole tables, so hash and merge joins
 * are the right plans; a row estimate that is off by orders of magnitude (as one of a join on two columns can be)
 * must not turn a join into a nested loop over 10^5 × 10^5 rows.
 *
 * @example
 * await planForFullReads(tx);
 */
export async function planForFullReads(tx: Tx): Promise<void> {
  await execRows(tx, sql.raw('set local cursor_tuple_fraction = 1'));
  await execRows(tx, sql.raw('set local enable_nestloop = off'));
}

/** A micro-USD amount (or sum) a verify query selected as text. */
export const micro = (value: unknown): bigint => BigInt(value as string);
/** A nullable micro-USD amount a verify query selected as text. */
export const microOrNull = (value: unknown): bigint | null => (value === null ? null : BigInt(value as string));
