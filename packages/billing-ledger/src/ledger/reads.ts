/**
 * The read operations. Each answers from one statement (one snapshot) unless noted; expiry is applied at read time
 * with the injected clock.
 */
import { and, asc, desc, eq, gt, lt, or, sql } from 'drizzle-orm';
import { accounts, entries, events, lots } from '../db/schema.js';
import { AccountNotFoundError } from '../errors.js';
import type { Account, Balance, Entry, LedgerEvent, Lot, Page, Reservation } from '../types.js';
import { type LedgerContext, writeIsolationOf } from './context.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import { balanceOf } from './lots.js';
import { readReservation, toReservation } from './reservation-view.js';
import { assertCount, assertId, assertObject } from './validate.js';

/** Default and largest page of `listEntries`. */
export const entriesPageSizeDefault = 50;
export const entriesPageSizeMax = 200;
/** Default and largest page of `listEvents`. */
export const eventsPageSizeDefault = 100;
export const eventsPageSizeMax = 1000;

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

/**
 * The outbox, oldest first after the cursor, `limit` (1..1000, default 100) events a page. `nextCursor` is the
 * position after the last event returned (null when the page is empty: keep polling with the same `after`).
 * The read first takes a SHARE lock on the events table, which waits for writes that are inserting events to
 * commit, so a consumer never skips an event that commits later with a smaller id.
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
  const afterId = decodeCursor('v', options.after);
  const rows = await ctx.db.transaction(
    async (tx) => {
      await tx.execute(sql`lock table ${events} in share mode`);
      return tx
        .select()
        .from(events)
        .where(afterId === null ? undefined : gt(events.id, afterId))
        .orderBy(asc(events.id))
        .limit(limit);
    },
    await writeIsolationOf(ctx),
  );
  const items: LedgerEvent[] = rows.map((row) => ({
    ...row,
    payload: (typeof row.payload === 'string' ? JSON.parse(row.payload) : row.payload) as Record<string, unknown>,
  }));
  const last = items[items.length - 1];
  return { items, nextCursor: last === undefined ? null : encodeCursor('v', last.id) };
}
