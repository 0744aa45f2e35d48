/**
 * The read operations. Each answers from one statement (one snapshot) unless noted; expiry is applied at read time
 * with the injected clock.
 */
import { and, asc, desc, eq, gt, lt, or } from 'drizzle-orm';
import { statementsOf } from '../db/ledger-db.js';
import { accounts, entries, lots } from '../db/schema.js';
import { AccountNotFoundError, InvalidCursorError } from '../errors.js';
import { entriesPageSizeDefault, entriesPageSizeMax, eventsPageSizeDefault, eventsPageSizeMax } from '../limits.js';
import type { Account, Balance, Entry, LedgerEvent, Lot, Page, Reservation } from '../types.js';
import type { LedgerContext } from './context.js';
import { decodeCursor, decodeEventCursor, encodeCursor, encodeEventCursor } from './cursor.js';
import { balanceOf } from './lots.js';
import { readReservation, toReservation } from './reservation-view.js';
import { assertCount, assertId, assertObject } from './validate.js';

/**
 * Longest a `listEvents` call waits for committed events held back behind a transaction still running (it polls the
 * horizon); past it, the page answers what is safe and the rest comes with a later poll.
 */
export const eventsHorizonWaitMsMax = 500;
/** Pause between two reads of the horizon while waiting. */
export const eventsHorizonPollMs = 5;

/**
 * One account.
 *
 * @throws {InvalidArgumentError} when the id breaks its rule.
 * @throws {AccountNotFoundError}
 * @example
 * const account = await ledger.getAccount('acc_1');
 */
export async function getAccount(ctx: LedgerContext, accountId: string): Promise<Account> {
  assertId('accountId', accountId);
  const [account] = await ctx.db.select().from(accounts).where(eq(accounts.id, accountId));
  if (account === undefined) throw new AccountNotFoundError(accountId);
  return account;
}

async function accountWithLots(
  ctx: LedgerContext,
  accountId: string,
  includeEmpty: boolean,
): Promise<{ account: Account; lots: Lot[] }> {
  const live = or(gt(lots.availableMicro, 0n), gt(lots.reservedMicro, 0n));
  const rows = await ctx.db
    .select({ account: accounts, lot: lots })
    .from(accounts)
    .leftJoin(lots, includeEmpty ? eq(lots.accountId, accounts.id) : and(eq(lots.accountId, accounts.id), live))
    .where(eq(accounts.id, accountId))
    .orderBy(asc(lots.seq));
  const first = rows[0];
  if (first === undefined) throw new AccountNotFoundError(accountId);
  return { account: first.account, lots: rows.flatMap((row) => (row.lot === null ? [] : [row.lot])) };
}

/**
 * The account's balance now: available (unexpired lots, swept or not), reserved, debt, and per pool.
 *
 * @throws {InvalidArgumentError}
 * @throws {AccountNotFoundError}
 * @example
 * const { availableMicro, pools } = await ledger.getBalance('acc_1');
 */
export async function getBalance(ctx: LedgerContext, accountId: string): Promise<Balance> {
  assertId('accountId', accountId);
  const { account, lots: accountLots } = await accountWithLots(ctx, accountId, false);
  return balanceOf(account, accountLots, new Date(ctx.clock.nowMs()));
}

/**
 * The account's lots in mint order (`seq`), with their buckets as stored: by default only lots with available or
 * reserved credit, with `includeEmpty` all of them. A lot past its expiry keeps its available bucket until the
 * sweeper moves it; compare `expiresAt` with now (the balance already does).
 *
 * @throws {InvalidArgumentError}
 * @throws {AccountNotFoundError}
 * @example
 * const lots = await ledger.listLots('acc_1', { includeEmpty: true });
 */
export async function listLots(
  ctx: LedgerContext,
  accountId: string,
  options: { includeEmpty?: boolean } = {},
): Promise<Lot[]> {
  assertId('accountId', accountId);
  assertObject('options', options);
  return (await accountWithLots(ctx, accountId, options.includeEmpty === true)).lots;
}

/**
 * The account's journal, newest first, `limit` (1..200, default 50) entries a page; pass the page's
 * `nextCursor` as `cursor` for the next one (null at the end).
 *
 * @throws {InvalidArgumentError} when the id or limit breaks its rule.
 * @throws {InvalidCursorError}
 * @throws {AccountNotFoundError}
 * @example
 * const page = await ledger.listEntries('acc_1', { limit: 20 });
 * const next = page.nextCursor ? await ledger.listEntries('acc_1', { cursor: page.nextCursor }) : null;
 */
export async function listEntries(
  ctx: LedgerContext,
  accountId: string,
  options: { cursor?: string | null; limit?: number } = {},
): Promise<Page<Entry>> {
  assertId('accountId', accountId);
  assertObject('options', options);
  const limit = options.limit ?? entriesPageSizeDefault;
  assertCount('limit', limit, entriesPageSizeMax);
  const beforeId = decodeCursor('e', options.cursor);
  const rows = await ctx.db
    .select()
    .from(entries)
    .where(and(eq(entries.accountId, accountId), beforeId === null ? undefined : lt(entries.id, beforeId)))
    .orderBy(desc(entries.id))
    .limit(limit + 1);
  if (rows.length === 0) await getAccount(ctx, accountId);
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return { items, nextCursor: rows.length > limit && last !== undefined ? encodeCursor('e', last.id) : null };
}

/**
 * One hold with its lots; a pending hold past its expiry reads as `expired` (sweeper or not).
 *
 * @throws {InvalidArgumentError}
 * @throws {ReservationNotFoundError}
 * @example
 * const { status, lots } = await ledger.getReservation('res_1');
 */
export async function getReservation(ctx: LedgerContext, reservationId: string): Promise<Reservation> {
  assertId('reservationId', reservationId);
  const stored = await readReservation(ctx.db, reservationId, { lock: false });
  return toReservation(stored, new Date(ctx.clock.nowMs()));
}

/** The transaction of an event (to resume a v1 cursor), or no row. */
const eventTxText = 'select tx_id::text as "txId" from events where id = $1';
/**
 * One page of the feed after `($1, $2)`: only events of transactions older than every one still running (the
 * snapshot's xmin), so no later commit can land behind the cursor.
 */
const eventsPageText = `select e.id, e.type, e.account_id as "accountId", e.subject_id as "subjectId", e.payload,
    floor(extract(epoch from e.created_at) * 1000)::int8 as "createdAtMs", e.tx_id::text as "txId"
  from events e
  where (e.tx_id, e.id) > ($1::xid8, $2::int8) and e.tx_id < pg_snapshot_xmin(pg_current_snapshot())
  order by e.tx_id, e.id limit $3`;
/** Committed events after the cursor that the horizon still holds back (a transaction older than them is running). */
const eventsHeldBackText = `select exists (select 1 from events e
  where (e.tx_id, e.id) > ($1::xid8, $2::int8) and e.tx_id >= pg_snapshot_xmin(pg_current_snapshot())) as "heldBack"`;

interface EventRow {
  id: bigint | string;
  type: string;
  accountId: string | null;
  subjectId: string;
  payload: unknown;
  createdAtMs: bigint | string;
  txId: string;
  [column: string]: unknown;
}

/** A page of the feed; a short page waits (bounded) for events that committed behind a transaction still running. */
async function readEventsPage(ctx: LedgerContext, after: [string, string], limit: number): Promise<EventRow[]> {
  const statements = statementsOf(ctx.db);
  const deadlineMs = Date.now() + eventsHorizonWaitMsMax;
  for (;;) {
    const rows = await statements.rows<EventRow>(eventsPageText, [...after, limit]);
    if (rows.length >= limit || Date.now() >= deadlineMs) return rows;
    const [held] = await statements.rows<{ heldBack: boolean }>(eventsHeldBackText, after);
    if (held?.heldBack !== true) return rows;
    await new Promise((resolve) => setTimeout(resolve, eventsHorizonPollMs));
  }
}

async function cursorPosition(ctx: LedgerContext, after: unknown): Promise<{ txId: string; id: bigint }> {
  const cursor = decodeEventCursor(after);
  if (cursor === null) return { txId: '0', id: 0n };
  if (cursor.txId !== null) return { txId: cursor.txId, id: cursor.id };
  const [row] = await statementsOf(ctx.db).rows<{ txId: string }>(eventTxText, [cursor.id.toString()]);
  if (row === undefined) throw new InvalidCursorError(after);
  return { txId: row.txId, id: cursor.id };
}

/**
 * The outbox in commit-safe order after the cursor, `limit` (1..1000, default 100) events a page. `nextCursor` is the
 * position after the last event returned (null when the page is empty: keep polling with the same `after`).
 * The feed holds back events of transactions younger than the oldest one still running, and orders by the writing
 * transaction, then id: once a page was read, no event can ever appear before its cursor, so a consumer never skips
 * one — and the read takes no lock, so it never stalls a write. A short page waits up to `eventsHorizonWaitMsMax`
 * for committed events held back by a transaction still running; a transaction left open longer anywhere on the
 * server holds the feed back (not the writes) until it ends.
 *
 * @throws {InvalidArgumentError} when limit breaks its rule.
 * @throws {InvalidCursorError}
 * @example
 * let after: string | null = null;
 * const page = await ledger.listEvents({ after, limit: 100 });
 * for (const event of page.items) handle(event);
 * after = page.nextCursor ?? after;
 */
export async function listEvents(
  ctx: LedgerContext,
  options: { after?: string | null; limit?: number } = {},
): Promise<Page<LedgerEvent>> {
  assertObject('options', options);
  const limit = options.limit ?? eventsPageSizeDefault;
  assertCount('limit', limit, eventsPageSizeMax);
  const position = await cursorPosition(ctx, options.after);
  const rows = await readEventsPage(ctx, [position.txId, position.id.toString()], limit);
  const items: LedgerEvent[] = rows.map((row) => ({
    id: BigInt(row.id),
    type: row.type,
    accountId: row.accountId,
    subjectId: row.subjectId,
    payload: (typeof row.payload === 'string' ? JSON.parse(row.payload) : row.payload) as Record<string, unknown>,
    createdAt: new Date(Number(row.createdAtMs)),
  }));
  const last = rows[rows.length - 1];
  return { items, nextCursor: last === undefined ? null : encodeEventCursor(last.txId, BigInt(last.id)) };
}
