/**
 * The unit of work of one account inside one write transaction. It locks the account row, then the account's
 * live lots (available or reserved credit) in consumption order; the operation then moves value between buckets
 * in memory (each move asserts its invariants and records one journal entry with the account's available balance
 * after it), and `flush` writes everything in one statement of data-modifying CTEs: the lot rows (absolute values,
 * asserted first), reservations, reservation_lots, the account's debt, entries, events and the idempotency row,
 * each CTE's row count checked. With the test-only `afterLotUpdate` fault set, the lot rows are written by a
 * statement of their own and the fault runs between it and the rest.
 */
import { type SQL, sql } from 'drizzle-orm';
import { renderSql } from '../db/drizzle-internals.js';
import { type DriverRow, statementsOf, tableRows } from '../db/ledger-db.js';
import {
  accounts,
  type BillingMode,
  type EntryKind,
  type LotBucket,
  lots as lotsTable,
  type ReservationStatus,
} from '../db/schema.js';
import { AccountNotFoundError, SystemAccountReadOnlyError } from '../errors.js';
import type { Account, Balance, HoldLot, Lot } from '../types.js';
import { assert, LedgerInvariantError } from './assert.js';
import { encodeStored } from './codec.js';
import type { IdempotencySlot, LedgerContext, Tx } from './context.js';
import {
  assertLotBuckets,
  availableOf,
  balanceOf,
  bucketField,
  consumptionOrder,
  copyLot,
  generalPoolId,
  lotExpired,
  minMicro,
} from './lots.js';
import { isSystemEntityType } from './validate.js';

/** One journal entry to insert. */
interface EntryDraft {
  lotId: string;
  reservationId: string | null;
  kind: EntryKind;
  amountMicro: bigint;
  fromBucket: LotBucket | 'external';
  toBucket: LotBucket | 'external';
  availableAfterMicro: bigint;
  memo: string | null;
}

/** One outbox event to insert (payload amounts as base-10 strings). */
export interface EventDraft {
  type: string;
  subjectId: string;
  payload: Record<string, unknown>;
}

/** A new hold to insert. */
export interface ReservationDraft {
  id: string;
  poolId: string;
  amountMicro: bigint;
  billingMode: BillingMode;
  expiresAt: Date;
  /** The meter version that set the terms (null for caller-set terms). */
  meterId: string | null;
  meterVersion: number | null;
  lots: HoldLot[];
}

/** Adds a parameter to a write statement and answers its placeholder with the cast (`$n::type`). */
export type CteParam = (value: unknown, type: string) => string;

/**
 * Rows for a CTE body from parameters, one list of values per column (`[values, type]`, all of the same length): answers
 * a FROM item aliased `v` with these column names — scalar parameters for up to `valuesRowsMax` rows, one array per
 * column beyond — so the statement text depends only on the row count up to that bound. Rows come in the order given
 * only where the body orders by a column of its own (e.g. an ordinal).
 */
export type CteRows = (
  names: readonly string[],
  columns: readonly (readonly [readonly unknown[], string])[],
) => { from: string };

/**
 * A CTE body written as SQL text (see `AccountWork.addRawWrite`): `param(value, type)` adds a parameter and answers
 * its placeholder with the cast (`$n::type`); `rows(names, columns)` adds rows (see {@link CteRows}).
 */
export type RawCteBody = (param: CteParam, rows: CteRows) => string;

/** A terminal state to write on a pending hold. */
export interface ReservationResolution {
  id: string;
  status: Exclude<ReservationStatus, 'pending'>;
  resolvedAt: Date;
  actualCostMicro: bigint | null;
  chargedMicro: bigint | null;
  overrunMicro: bigint | null;
  uncollectedMicro: bigint | null;
  /** A finalize by usage: units per dimension (base-10 strings); null otherwise. */
  usage?: Record<string, string> | null;
}

/**
 * SQL ordering the account's lots in consumption order for `poolId` (the lock order of every write).
 *
 * @example
 * tx.select().from(lots).orderBy(...consumptionOrderSql('gpu'));
 */
export function consumptionOrderSql(poolId: string): SQL[] {
  return [
    sql`case when ${lotsTable.poolId} = ${poolId} then 0 when ${lotsTable.poolId} = ${generalPoolId} then 1 else 2 end`,
    sql`${lotsTable.expiresAt} asc nulls last`,
    sql`${lotsTable.seq} asc`,
  ];
}

// The locks of a write are raw statements with constant text (prepared once per connection on postgres.js), rows
// mapped as drizzle's `select()` maps them (see `tableRows`).

/** Rows of `accounts`, as drizzle selects them. */
export const accountRows = tableRows<Account>(accounts);
/** Rows of `lots`, as drizzle selects them. */
export const lotRows = tableRows<Lot>(lotsTable);

/** A lot with available or reserved credit (the lots a write locks up front). */
const liveLotSql = '(l.available_micro > 0 or l.reserved_micro > 0)';
/** Consumption order for the pool given by `poolSql` (see `consumptionOrder`). */
const consumptionOrderText = (poolSql: string) =>
  `case when l.pool_id = ${poolSql} then 0 when l.pool_id = '${generalPoolId}' then 1 else 2 end, l.expires_at asc nulls last, l.seq asc`;
const lockAccountText = `select ${accountRows.selectList('a')} from accounts a where a.id = $1 for update`;
const lockLiveLotsText = `select ${lotRows.selectList('l')} from lots l
  where l.account_id = $1 and ${liveLotSql} order by ${consumptionOrderText('$2')} for update`;
const holdColumnSql = (column: string) => `(select r.${column} from reservations r where r.id = $1)`;
const lockLiveLotsOfReservationText = `select ${lotRows.selectList('l')} from lots l
  where l.account_id = ${holdColumnSql('account_id')} and ${liveLotSql}
  order by ${consumptionOrderText(holdColumnSql('pool_id'))} for update`;
/** The pool of the version of meter `$2` in force at `$3` (null when none is: the reserve then refuses). */
const meterPoolSql = `(select m.pool_id from meters m where m.id = $2 and m.effective_at <= $3::timestamptz
  order by m.version desc limit 1)`;
const lockLiveLotsOfMeterText = `select ${lotRows.selectList('l')} from lots l
  where l.account_id = $1 and ${liveLotSql} order by ${consumptionOrderText(meterPoolSql)} for update`;
const lockLotsText = `select ${lotRows.selectList('l')} from lots l
  where l.account_id = $1 and l.id = any($2::text[]) order by l.seq for update`;

/**
 * Locks an account row (`FOR UPDATE`) — always the first lock a write takes.
 *
 * @throws {AccountNotFoundError}
 * @throws {SystemAccountReadOnlyError} for a system account (only distributions write to those).
 * @example
 * const account = await lockAccount(tx, 'acc_1');
 */
export async function lockAccount(tx: Tx, accountId: string): Promise<Account> {
  const [row] = await statementsOf(tx).rows(lockAccountText, [accountId]);
  if (row === undefined) throw new AccountNotFoundError(accountId);
  const account = accountRows.decode(row);
  // Every write of an account's credit or caps starts here; the revenue pools' accounts take distributions only.
  if (isSystemEntityType(account.entityType)) throw new SystemAccountReadOnlyError({ accountId });
  return account;
}

/**
 * Locks (`FOR UPDATE`) the account's live lots — those with available or reserved credit — in consumption order
 * for `poolId`.
 *
 * @example
 * const lots = await lockLiveLots(tx, 'acc_1', 'general');
 */
export async function lockLiveLots(tx: Tx, accountId: string, poolId: string): Promise<Lot[]> {
  const rows = await statementsOf(tx).rows(lockLiveLotsText, [accountId, poolId]);
  return rows.map(lotRows.decode);
}

/**
 * Locks (`FOR UPDATE`) the account's live lots in consumption order for the pool of the meter version in force at
 * `nowText` (found by subquery, so it can be pipelined with the account lock and the meter read).
 *
 * @example
 * const lots = await lockLiveLotsOfMeter(tx, 'acc_1', 'chat', now.toISOString());
 */
export async function lockLiveLotsOfMeter(tx: Tx, accountId: string, meterId: string, nowText: string): Promise<Lot[]> {
  const rows = await statementsOf(tx).rows(lockLiveLotsOfMeterText, [accountId, meterId, nowText]);
  return rows.map(lotRows.decode);
}

/**
 * Locks the account, then its live lots, and returns the unit of work over them.
 *
 * @throws {AccountNotFoundError}
 * @example
 * const work = await openAccountWork(ctx, tx, now, 'acc_1', 'general');
 */
export async function openAccountWork(
  ctx: LedgerContext,
  tx: Tx,
  now: Date,
  accountId: string,
  poolId: string,
): Promise<AccountWork> {
  // Pipelined: both statements are sent at once and the server runs them in order, so the lots are read (with a
  // fresh READ COMMITTED snapshot) only after the account lock is held — the same as awaiting them one by one,
  // with one round trip fewer.
  const [account, lots] = await Promise.all([lockAccount(tx, accountId), lockLiveLots(tx, accountId, poolId)]);
  return new AccountWork(ctx, tx, now, account, lots);
}

/**
 * Locks (`FOR UPDATE`) the live lots of the account that owns a hold, in consumption order for the hold's pool
 * (both found by subquery, so this statement can be pipelined right after the account lock).
 *
 * @example
 * const [account, stored, lots] = await Promise.all([
 *   lockAccountOfReservation(tx, id), readReservation(tx, id, { lock: true }), lockLiveLotsOfReservation(tx, id),
 * ]);
 */
export async function lockLiveLotsOfReservation(tx: Tx, reservationId: string): Promise<Lot[]> {
  const rows = await statementsOf(tx).rows(lockLiveLotsOfReservationText, [reservationId]);
  return rows.map(lotRows.decode);
}

/**
 * The unit of work over an account the caller already locked (e.g. through its hold): locks its live lots.
 *
 * @example
 * const work = await openLockedAccountWork(ctx, tx, now, account, reservation.poolId);
 */
export async function openLockedAccountWork(
  ctx: LedgerContext,
  tx: Tx,
  now: Date,
  account: Account,
  poolId: string,
): Promise<AccountWork> {
  return new AccountWork(ctx, tx, now, account, await lockLiveLots(tx, account.id, poolId));
}

/**
 * Most lots one write draws a debt offset from (one journal entry each), so a write statement stays bounded; debt
 * left over is paid by the next write that offsets, or by a mint.
 */
export const debtOffsetLotsMax = 500;

/** See the module comment. */
export class AccountWork {
  readonly account: Account;
  readonly now: Date;
  readonly nowMs: number;
  /** The lots this write sees (live lots, plus lots it added or locked), mutated in memory by {@link move}. */
  readonly lots: Lot[];
  debtMicro: bigint;
  readonly #ctx: LedgerContext;
  readonly #tx: Tx;
  readonly #lotById = new Map<string, Lot>();
  /** Lots inserted by this write (a mint), as inserted; their buckets are rebuilt by moves, not updated. */
  readonly #insertedRows = new Map<string, Lot>();
  readonly #dirtyLotIds = new Set<string>();
  readonly #entries: EntryDraft[] = [];
  readonly #events: EventDraft[] = [];
  readonly #newReservations: ReservationDraft[] = [];
  readonly #resolutions: ReservationResolution[] = [];
  readonly #extraWrites: { name: string; body: SQL | RawCteBody; expectedRows: number }[] = [];
  #lotsWritten = false;
  #availableMicro: bigint;
  /** Debt paid by {@link offsetDebt} in this write: {@link flush} emits it as one `account.debt_offset`, last. */
  #debtOffsetMicro = 0n;
  #flushed = false;

  constructor(ctx: LedgerContext, tx: Tx, now: Date, account: Account, lots: Lot[]) {
    this.#ctx = ctx;
    this.#tx = tx;
    this.now = now;
    this.nowMs = now.getTime();
    this.account = account;
    this.debtMicro = account.debtMicro;
    this.lots = [];
    for (const lot of lots) this.#track(lot);
    this.#availableMicro = availableOf(this.lots, this.nowMs);
  }

  #track(lot: Lot): Lot {
    assert(lot.accountId === this.account.id, 'a write touches only its account lots', { lotId: lot.id });
    assert(!this.#lotById.has(lot.id), 'a lot is tracked once', { lotId: lot.id });
    const copy = copyLot(lot);
    this.lots.push(copy);
    this.#lotById.set(copy.id, copy);
    return copy;
  }

  /** The tracked lot with this id (asserted present). */
  lot(lotId: string): Lot {
    const lot = this.#lotById.get(lotId);
    assert(lot !== undefined, 'the lot must be locked by this write', { lotId });
    return lot;
  }

  /** True when the lot is tracked by this write. */
  has(lotId: string): boolean {
    return this.#lotById.has(lotId);
  }

  /**
   * Locks (`FOR UPDATE`) and tracks the account lots with these ids that are not tracked yet (lots with nothing
   * available or reserved, e.g. the lots of a finalized hold); returns every requested lot.
   */
  async lockLots(lotIds: readonly string[]): Promise<Lot[]> {
    const missing = [...new Set(lotIds)].filter((id) => !this.#lotById.has(id));
    if (missing.length > 0) {
      const rows = await statementsOf(this.#tx).rows(lockLotsText, [this.account.id, missing]);
      for (const row of rows) this.#track(lotRows.decode(row));
    }
    return lotIds.map((id) => this.lot(id));
  }

  /**
   * Tracks a lot this write just inserted (a mint), starting from empty buckets so that the mint's entries
   * rebuild it; {@link flush} asserts the rebuilt buckets equal the inserted row.
   */
  addInsertedLot(row: Lot): Lot {
    this.#lotsWritten = true;
    const lot = this.#track({
      ...row,
      availableMicro: 0n,
      reservedMicro: 0n,
      consumedMicro: 0n,
      expiredMicro: 0n,
      refundedMicro: 0n,
    });
    this.#insertedRows.set(row.id, copyLot(row));
    return lot;
  }

  /** Journal entries recorded so far (bounded by callers so one write statement stays small). */
  get entryCount(): number {
    return this.#entries.length;
  }

  /** The account's available balance after the moves so far (unexpired lots). */
  get availableMicro(): bigint {
    return this.#availableMicro;
  }

  /**
   * Moves `amountMicro` (> 0) from one bucket of a lot to another and records the journal entry.
   *
   * @example
   * work.move(lot, 'reserve', 'available', 'reserved', 500n, reservationId);
   */
  move(
    lot: Lot,
    kind: EntryKind,
    fromBucket: LotBucket | 'external',
    toBucket: LotBucket | 'external',
    amountMicro: bigint,
    reservationId: string | null,
    memo: string | null = null,
  ): void {
    assert(!this.#flushed, 'no move after flush');
    assert(this.#lotById.get(lot.id) === lot, 'moves apply to tracked lots', { lotId: lot.id });
    assert(amountMicro > 0n, 'an entry moves a positive amount', { lotId: lot.id, amountMicro: `${amountMicro}` });
    assert(fromBucket !== toBucket, 'an entry moves between two buckets', { lotId: lot.id });
    const expired = lotExpired(lot, this.nowMs);
    if (fromBucket !== 'external') {
      const field = bucketField[fromBucket];
      assert(lot[field] >= amountMicro, `${fromBucket} must cover the move`, {
        lotId: lot.id,
        bucketMicro: `${lot[field]}`,
        amountMicro: `${amountMicro}`,
      });
      lot[field] -= amountMicro;
      if (fromBucket === 'available' && !expired) this.#availableMicro -= amountMicro;
    }
    if (toBucket !== 'external') {
      lot[bucketField[toBucket]] += amountMicro;
      if (toBucket === 'available' && !expired) this.#availableMicro += amountMicro;
    }
    assert(this.#availableMicro >= 0n, 'the available balance must not go negative', { accountId: this.account.id });
    if (!this.#insertedRows.has(lot.id)) this.#dirtyLotIds.add(lot.id);
    this.#entries.push({
      lotId: lot.id,
      reservationId,
      kind,
      amountMicro,
      fromBucket,
      toBucket,
      availableAfterMicro: this.#availableMicro,
      memo,
    });
  }

  /**
   * Pays the account's debt from the available credit of the lots this write tracks — unexpired, any pool, in
   * `general` consumption order (expiring first) — moving available → consumed with one `adjust` entry per lot
   * (memo `debt offset`); answers the amount paid (0 without debt) and the lots that paid it. Every write
   * that creates debt or returns held credit to available calls it, so debt never sits beside spendable credit
   * (beyond {@link debtOffsetLotsMax} lots per write).
   *
   * @example
   * const { offsetMicro, lotIds } = work.offsetDebt();
   */
  offsetDebt(): { offsetMicro: bigint; lotIds: string[] } {
    const lotIds: string[] = [];
    if (this.debtMicro === 0n) return { offsetMicro: 0n, lotIds };
    const payers = this.lots
      .filter((lot) => lot.availableMicro > 0n && !lotExpired(lot, this.nowMs))
      .sort(consumptionOrder(generalPoolId))
      .slice(0, debtOffsetLotsMax);
    let offsetMicro = 0n;
    for (const lot of payers) {
      const takeMicro = minMicro(lot.availableMicro, this.debtMicro);
      if (takeMicro === 0n) break;
      this.move(lot, 'adjust', 'available', 'consumed', takeMicro, null, 'debt offset');
      this.debtMicro -= takeMicro;
      offsetMicro += takeMicro;
      lotIds.push(lot.id);
    }
    this.#debtOffsetMicro += offsetMicro;
    return { offsetMicro, lotIds };
  }

  /** Queues an outbox event (written by {@link flush} in the same transaction). */
  emit(type: string, subjectId: string, payload: Record<string, unknown>): void {
    this.#events.push({ type, subjectId, payload });
  }

  /** Queues a new hold. */
  addReservation(draft: ReservationDraft): void {
    this.#newReservations.push(draft);
  }

  /** Queues the terminal state of a pending hold. */
  resolveReservation(resolution: ReservationResolution): void {
    this.#resolutions.push(resolution);
  }

  /**
   * Queues one more data-modifying CTE (e.g. a finalize's distribution rows) that {@link flush} writes in the same
   * statement, after the journal entries and before the events; `expectedRows` is checked like every other CTE's.
   */
  addWrite(name: string, body: SQL, expectedRows: number): void {
    assert(!this.#flushed, 'no write queued after flush');
    assert(/^[a-z][a-z0-9_]*$/.test(name), 'a queued write has a plain name', { name });
    this.#extraWrites.push({ name, body, expectedRows });
  }

  /**
   * Like {@link addWrite}, with the CTE body written as SQL text whose values go through `param(value, type)`
   * (answers the placeholder, e.g. `$7::text[]`). Cheaper than a drizzle body (no query building per call) and,
   * with rows passed as arrays (`unnest(${param(ids, 'text[]')}, …)`), its text is the same on every call, so the
   * write statement stays one prepared statement. Times as `text` / `text[]` (ISO strings), cast in the SQL.
   *
   * @example
   * work.addRawWrite('new_rows', (param) => `insert into t (id) select unnest(${param(ids, 'text[]')}) returning 1`, ids.length);
   */
  addRawWrite(name: string, body: RawCteBody, expectedRows: number): void {
    assert(!this.#flushed, 'no write queued after flush');
    assert(/^[a-z][a-z0-9_]*$/.test(name), 'a queued write has a plain name', { name });
    this.#extraWrites.push({ name, body, expectedRows });
  }

  /** The balance after the moves so far. */
  balance(): Balance {
    return balanceOf({ id: this.account.id, debtMicro: this.debtMicro }, this.lots, this.now);
  }

  /** Copies of the tracked lots with these ids, in the order given (results must not alias the work). */
  snapshot(lotIds: readonly string[]): Lot[] {
    return lotIds.map((id) => copyLot(this.lot(id)));
  }

  /**
   * Writes everything: asserts every touched lot, then queues one statement of data-modifying CTEs — the lot rows,
   * reservations, reservation lots, the account's debt, entries, queued writes ({@link addWrite}), events and the
   * stored idempotent `result` — whose row counts are checked by the statement itself (a wrong count fails it, so
   * the transaction cannot commit) and again when it answers. The statement has one of a few texts per shape (values
   * as parameters), so postgres.js prepares it once per connection, and it is sent pipelined with the
   * COMMIT. With the test fault hook set, the lot rows are written (and awaited) first, then the hook runs.
   *
   * @example
   * await work.flush('reserve', scope.idempotency, result);
   */
  async flush(operation: string, slot: IdempotencySlot | null, result: unknown): Promise<void> {
    assert(!this.#flushed, 'a unit of work flushes once');
    this.#flushed = true;
    const statements = statementsOf(this.#tx);
    assert(this.debtMicro >= 0n, 'account debt must not be negative', { accountId: this.account.id });
    for (const [id, row] of this.#insertedRows) {
      const lot = this.lot(id);
      assertLotBuckets(lot);
      for (const field of Object.values(bucketField)) {
        assert(lot[field] === row[field], 'a minted lot row must equal what its entries build', { lotId: id, field });
      }
    }
    const dirty = [...this.#dirtyLotIds].map((id) => this.lot(id));
    for (const lot of dirty) assertLotBuckets(lot);

    let write = new WriteStatement(this.account.id, this.now);
    if (dirty.length > 0) {
      if (this.#ctx.faults.afterLotUpdate) {
        // Test mode: the lot rows are written by their own statement so the fault can strike between them and
        // the entries. In production they are the first CTE of the one write statement below.
        write.addLotUpdate(dirty);
        const text = write.text();
        const [counts] = await statements.rows(text, write.params);
        write.check(counts === undefined ? [] : [counts]);
        write = new WriteStatement(this.account.id, this.now);
        this.#lotsWritten = true;
      } else {
        write.addLotUpdate(dirty);
      }
    }
    if (this.#lotsWritten && this.#ctx.faults.afterLotUpdate) await this.#ctx.faults.afterLotUpdate(operation);

    if (this.#newReservations.length > 0) write.addReservations(this.#newReservations);
    if (this.#resolutions.length > 0) write.addResolutions(this.#resolutions);
    if (this.debtMicro !== this.account.debtMicro) write.addDebt(this.debtMicro);
    if (this.#entries.length > 0) write.addEntries(this.#entries);
    for (const extra of this.#extraWrites) {
      if (typeof extra.body === 'function') write.addRaw(extra.name, extra.body, extra.expectedRows);
      else write.addRendered(extra.name, extra.body, extra.expectedRows);
    }
    if (this.#debtOffsetMicro > 0n) {
      this.emit('account.debt_offset', this.account.id, {
        accountId: this.account.id,
        offsetMicro: this.#debtOffsetMicro.toString(),
        debtMicro: this.debtMicro.toString(),
      });
    }
    if (this.#events.length > 0) write.addEvents(this.#events);
    if (slot !== null) write.addStoredResponse(slot, result);
    if (write.isEmpty) return;
    const text = write.text();
    await statements.queueWrite(text, write.params, {
      check: (rows) => write.check(rows),
      mapError: writeCheckError,
    });
    if (slot !== null) slot.stored = true;
  }
}

/**
 * Most rows a CTE of the write statement takes as scalar parameters; more travel as arrays (see `WriteStatement`).
 * Keeps the number of distinct statement texts (each prepared once per connection) small.
 */
export const valuesRowsMax = 4;

/** Starts the message of the error a write statement raises when one of its CTEs wrote an unexpected row count. */
const writeCheckMarker = 'ledger write statement wrote unexpected row counts';

/** Turns the error a write statement raised on its own row-count check into the invariant error it stands for. */
function writeCheckError(error: unknown): unknown {
  const message = (error as { message?: unknown } | null)?.message;
  if (typeof message === 'string' && message.includes(writeCheckMarker)) {
    return new LedgerInvariantError('every row of the write statement must be written', {
      counts: message.slice(message.indexOf(writeCheckMarker) + writeCheckMarker.length).replace(/^[:\s]+|"$/g, ''),
    });
  }
  return error;
}

/**
 * One write statement: data-modifying CTEs with numbered parameters (the text depends only on which CTEs there are
 * and, up to `valuesRowsMax`, on their row counts; see `#rows`), then one row of the CTEs' row counts that fails the statement
 * when a count differs from the expected one (an `int4` cast of a text naming the counts: SQLSTATE 22P02 with
 * {@link writeCheckMarker} in the message).
 */
class WriteStatement {
  readonly params: unknown[] = [];
  readonly #ctes: { name: string; body: string; expectedRows: number }[] = [];
  readonly #accountId: string;
  readonly #now: Date;
  #accountParam: string | null = null;
  #nowParam: string | null = null;
  #text: string | undefined;

  constructor(accountId: string, now: Date) {
    this.#accountId = accountId;
    this.#now = now;
  }

  get isEmpty(): boolean {
    return this.#ctes.length === 0;
  }

  /** Adds a parameter; returns its placeholder with the cast. */
  #param(value: unknown, type: string): string {
    this.params.push(value);
    return `$${this.params.length}::${type}`;
  }

  get #account(): string {
    this.#accountParam ??= this.#param(this.#accountId, 'text');
    return this.#accountParam;
  }

  get #nowAt(): string {
    this.#nowParam ??= this.#param(this.#now.toISOString(), 'timestamptz');
    return this.#nowParam;
  }

  /**
   * The rows a CTE takes from its parameters, as a FROM item `v(names…)`, and the condition that finds each in
   * `table` by primary key (for an UPDATE). Values are driver-ready (text, or base-10 strings; times as ISO text,
   * cast where used). Up to {@link valuesRowsMax} rows travel as scalar parameters — one row as
   * `(select $1::text as id, …)`, a few as `(values (…), (…))` — beyond that as one array per column in an
   * `unnest … with ordinality` (ordered by `v.n`), so the statement text stays one of a few per shape (arrays cost
   * more per value on both sides: serialising, `array_in`). Times travel as text: drizzle sets postgres.js's
   * serializer of `timestamptz[]` to pass values through untouched, which cannot send an array.
   *
   * An UPDATE finds its rows by `keyCondition` only and states its guards (the row's account, a hold still pending)
   * with `is not distinct from` (the same as `=` on these NOT NULL columns): a prepared statement runs a generic
   * plan, and with indexable guards it prefers a BitmapAnd of `reservations_pending_expiry_idx` (every hold that was
   * pending since the last vacuum) and the account index to the primary key — a cost that grows with the tables.
   */
  #rows(
    table: string,
    names: readonly string[],
    columns: readonly (readonly [readonly unknown[], string])[],
  ): { from: string; keyCondition: string; orderBy: string } {
    const count = columns[0]?.[0].length ?? 0;
    if (count === 1) {
      const values = columns.map(([values, type]) => this.#param(values[0], type));
      return {
        from: `(select ${values.map((value, index) => `${value} as ${names[index]}`).join(', ')}) as v`,
        keyCondition: `${table}.id = ${values[0]}`,
        orderBy: '',
      };
    }
    if (count <= valuesRowsMax) {
      const rows: string[] = [];
      for (let row = 0; row < count; row += 1) {
        rows.push(`(${columns.map(([values, type]) => this.#param(values[row], type)).join(', ')})`);
      }
      return {
        from: `(values ${rows.join(', ')}) as v(${names.join(', ')})`,
        keyCondition: `${table}.id = v.id`,
        orderBy: '',
      };
    }
    const placeholders = columns.map(([values, type]) => this.#param(values, `${type}[]`));
    return {
      from: `unnest(${placeholders.join(', ')}) with ordinality as v(${names.join(', ')}, n)`,
      keyCondition: `${table}.id = v.id`,
      orderBy: ' order by v.n',
    };
  }

  #add(name: string, expectedRows: number, body: string): void {
    assert(this.#text === undefined, 'a write statement takes no CTE after it was built');
    this.#ctes.push({ name, body, expectedRows });
  }

  addLotUpdate(lots: readonly Lot[]): void {
    const values = lots.map((lot) => lot.id);
    const micro = (field: (typeof bucketField)[keyof typeof bucketField]) => lots.map((lot) => lot[field].toString());
    const { from, keyCondition } = this.#rows(
      'lots',
      ['id', 'a', 'r', 'c', 'e', 'f'],
      [
        [values, 'text'],
        [micro('availableMicro'), 'int8'],
        [micro('reservedMicro'), 'int8'],
        [micro('consumedMicro'), 'int8'],
        [micro('expiredMicro'), 'int8'],
        [micro('refundedMicro'), 'int8'],
      ],
    );
    this.#add(
      'updated_lots',
      lots.length,
      `update lots set available_micro = v.a, reserved_micro = v.r, consumed_micro = v.c, expired_micro = v.e,
        refunded_micro = v.f
      from ${from}
      where ${keyCondition} and lots.account_id is not distinct from ${this.#account}
      returning lots.id`,
    );
  }

  addReservations(drafts: readonly ReservationDraft[]): void {
    const holds = this.#rows(
      'reservations',
      ['id', 'pool_id', 'amount', 'mode', 'expires_at', 'meter_id', 'meter_version'],
      [
        [drafts.map((r) => r.id), 'text'],
        [drafts.map((r) => r.poolId), 'text'],
        [drafts.map((r) => r.amountMicro.toString()), 'int8'],
        [drafts.map((r) => r.billingMode), 'text'],
        [drafts.map((r) => r.expiresAt.toISOString()), 'text'],
        [drafts.map((r) => r.meterId), 'text'],
        [drafts.map((r) => r.meterVersion), 'int4'],
      ],
    );
    this.#add(
      'new_reservations',
      drafts.length,
      `insert into reservations (id, account_id, pool_id, amount_micro, status, billing_mode, expires_at, created_at,
        meter_id, meter_version)
      select v.id, ${this.#account}, v.pool_id, v.amount, 'pending', v.mode, v.expires_at::timestamptz, ${this.#nowAt},
        v.meter_id, v.meter_version
      from ${holds.from}${holds.orderBy} returning 1`,
    );
    const parts = drafts.flatMap((r) => r.lots.map((part, position) => ({ reservationId: r.id, position, ...part })));
    const holdLots = this.#rows(
      'reservation_lots',
      ['reservation_id', 'lot_id', 'position', 'amount'],
      [
        [parts.map((p) => p.reservationId), 'text'],
        [parts.map((p) => p.lotId), 'text'],
        [parts.map((p) => p.position), 'int4'],
        [parts.map((p) => p.amountMicro.toString()), 'int8'],
      ],
    );
    this.#add(
      'new_reservation_lots',
      parts.length,
      `insert into reservation_lots (reservation_id, lot_id, position, amount_micro)
      select v.reservation_id, v.lot_id, v.position, v.amount from ${holdLots.from}${holdLots.orderBy}
      returning 1`,
    );
  }

  addResolutions(resolutions: readonly ReservationResolution[]): void {
    const micro = (values: (bigint | null)[]) => values.map((v) => (v === null ? null : v.toString()));
    const { from, keyCondition } = this.#rows(
      'reservations',
      ['id', 'status', 'resolved_at', 'actual', 'charged', 'overrun', 'uncollected', 'usage'],
      [
        [resolutions.map((r) => r.id), 'text'],
        [resolutions.map((r) => r.status), 'text'],
        [resolutions.map((r) => r.resolvedAt.toISOString()), 'text'],
        [micro(resolutions.map((r) => r.actualCostMicro)), 'int8'],
        [micro(resolutions.map((r) => r.chargedMicro)), 'int8'],
        [micro(resolutions.map((r) => r.overrunMicro)), 'int8'],
        [micro(resolutions.map((r) => r.uncollectedMicro)), 'int8'],
        [resolutions.map((r) => (r.usage === undefined || r.usage === null ? null : JSON.stringify(r.usage))), 'text'],
      ],
    );
    this.#add(
      'resolved_reservations',
      resolutions.length,
      `update reservations set status = v.status, resolved_at = v.resolved_at::timestamptz, actual_cost_micro = v.actual,
        charged_micro = v.charged, overrun_micro = v.overrun, uncollected_micro = v.uncollected, usage = v.usage::jsonb
      from ${from}
      where ${keyCondition}
        and (reservations.account_id, reservations.status) is not distinct from (${this.#account}, 'pending')
      returning 1`,
    );
  }

  addDebt(debtMicro: bigint): void {
    this.#add(
      'account_debt',
      1,
      `update accounts set debt_micro = ${this.#param(debtMicro.toString(), 'int8')} where id = ${this.#account} returning 1`,
    );
  }

  addEntries(drafts: readonly EntryDraft[]): void {
    // Entries get their ids (the journal order) in the order they were recorded (a VALUES list is read in order; an
    // unnest is ordered by its ordinality).
    const rows = this.#rows(
      'entries',
      ['lot_id', 'reservation_id', 'kind', 'amount', 'from_bucket', 'to_bucket', 'after', 'memo'],
      [
        [drafts.map((e) => e.lotId), 'text'],
        [drafts.map((e) => e.reservationId), 'text'],
        [drafts.map((e) => e.kind), 'text'],
        [drafts.map((e) => e.amountMicro.toString()), 'int8'],
        [drafts.map((e) => e.fromBucket), 'text'],
        [drafts.map((e) => e.toBucket), 'text'],
        [drafts.map((e) => e.availableAfterMicro.toString()), 'int8'],
        [drafts.map((e) => e.memo), 'text'],
      ],
    );
    this.#add(
      'new_entries',
      drafts.length,
      `insert into entries (account_id, lot_id, reservation_id, kind, amount_micro, from_bucket, to_bucket,
        available_after_micro, memo, created_at)
      select ${this.#account}, v.lot_id, v.reservation_id, v.kind, v.amount, v.from_bucket, v.to_bucket, v.after,
        v.memo, ${this.#nowAt}
      from ${rows.from}${rows.orderBy} returning 1`,
    );
  }

  /** A queued raw CTE body (see `AccountWork.addRawWrite`). */
  addRaw(name: string, body: RawCteBody, expectedRows: number): void {
    this.#add(
      name,
      expectedRows,
      body(
        (value, type) => this.#param(value, type),
        (names, columns) => ({ from: this.#rows('v', names, columns).from }),
      ),
    );
  }

  /** A queued drizzle CTE body (see `AccountWork.addWrite`), its parameters numbered after the ones so far. */
  addRendered(name: string, body: SQL, expectedRows: number): void {
    const { text, params } = renderSql(body, this.params.length);
    this.params.push(...params);
    this.#add(name, expectedRows, text);
  }

  addEvents(drafts: readonly EventDraft[]): void {
    const rows = this.#rows(
      'events',
      ['type', 'subject_id', 'payload'],
      [
        [drafts.map((e) => e.type), 'text'],
        [drafts.map((e) => e.subjectId), 'text'],
        [drafts.map((e) => JSON.stringify(e.payload)), 'text'],
      ],
    );
    this.#add(
      'new_events',
      drafts.length,
      `insert into events (type, account_id, subject_id, payload, created_at)
      select v.type, ${this.#account}, v.subject_id, v.payload::jsonb, ${this.#nowAt}
      from ${rows.from}${rows.orderBy} returning 1`,
    );
  }

  addStoredResponse(slot: IdempotencySlot, result: unknown): void {
    this.#add(
      'stored_response',
      1,
      `update idempotency_keys set response = ${this.#param(JSON.stringify(encodeStored(result)), 'text')}::jsonb
      where scope = ${this.#param(slot.scope, 'text')} and key = ${this.#param(slot.key, 'text')} returning 1`,
    );
  }

  /**
   * The statement: the CTEs, then their row counts, failing when one differs from the expected count. Built once
   * (it adds the expected counts as parameters); add nothing after.
   */
  text(): string {
    this.#text ??= this.#build();
    return this.#text;
  }

  #build(): string {
    const name = (cte: { name: string }) => `"${cte.name}"`;
    const ctes = this.#ctes.map((cte) => `${name(cte)} as (${cte.body})`).join(',\n');
    const counts = this.#ctes.map((cte) => `(select count(*) from ${name(cte)})::int4 as ${name(cte)}`).join(', ');
    const expected = this.#ctes.map((cte) => `c.${name(cte)} = ${this.#param(cte.expectedRows, 'int4')}`).join(' and ');
    // `offset 0` keeps the counts subquery from being flattened (each reference would count again).
    return `with ${ctes}
select c.*, case when ${expected} then 0
  else ('${writeCheckMarker}: ' || row_to_json(c)::text)::int4 end as write_check
from (select ${counts} offset 0) as c`;
  }

  /** Asserts the counts the statement answered (it already failed by itself on a wrong count). */
  check(rows: readonly DriverRow[]): void {
    const [counts] = rows;
    assert(counts !== undefined, 'the write statement must answer its row counts');
    for (const cte of this.#ctes) {
      assert(Number(counts[cte.name]) === cte.expectedRows, `${cte.name} must write every row`, {
        expected: `${cte.expectedRows}`,
        written: `${counts[cte.name]}`,
      });
    }
  }
}
