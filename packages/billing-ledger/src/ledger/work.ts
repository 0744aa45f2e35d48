/**
 * The unit of work of one account inside one write transaction. It locks the account row, then the account's
 * live lots (available or reserved credit) in consumption order; the operation then moves value between buckets
 * in memory (each move asserts its invariants and records one journal entry with the account's available balance
 * after it), and `flush` writes everything in one statement of data-modifying CTEs: the lot rows (absolute values,
 * asserted first), reservations, reservation_lots, the account's debt, entries, events and the idempotency row,
 * each CTE's row count checked. With the test-only `afterLotUpdate` fault set, the lot rows are written by a
 * statement of their own and the fault runs between it and the rest.
 */
import { and, eq, gt, inArray, or, type SQL, sql } from 'drizzle-orm';
import { execRows } from '../db/ledger-db.js';
import {
  accounts,
  type BillingMode,
  type Bucket,
  type EntryKind,
  entries,
  events,
  idempotencyKeys,
  lots as lotsTable,
  type ReservationStatus,
  reservationLots,
  reservations,
} from '../db/schema.js';
import { AccountNotFoundError } from '../errors.js';
import type { Account, Balance, HoldLot, Lot } from '../types.js';
import { assert } from './assert.js';
import { encodeStored } from './codec.js';
import type { IdempotencySlot, LedgerContext, Tx } from './context.js';
import { assertLotBuckets, availableOf, balanceOf, bucketField, copyLot, generalPoolId, lotExpired } from './lots.js';

/** One journal entry to insert. */
interface EntryDraft {
  lotId: string;
  reservationId: string | null;
  kind: EntryKind;
  amountMicro: bigint;
  fromBucket: Bucket;
  toBucket: Bucket;
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
  lots: HoldLot[];
}

/** A terminal state to write on a pending hold. */
export interface ReservationResolution {
  id: string;
  status: Exclude<ReservationStatus, 'pending'>;
  resolvedAt: Date;
  actualCostMicro: bigint | null;
  chargedMicro: bigint | null;
  overrunMicro: bigint | null;
  uncollectedMicro: bigint | null;
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

/**
 * Locks an account row (`FOR UPDATE`) — always the first lock a write takes.
 *
 * @throws {AccountNotFoundError}
 * @example
 * const account = await lockAccount(tx, 'acc_1');
 */
export async function lockAccount(tx: Tx, accountId: string): Promise<Account> {
  const [account] = await tx.select().from(accounts).where(eq(accounts.id, accountId)).for('update');
  if (account === undefined) throw new AccountNotFoundError(accountId);
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
  return tx
    .select()
    .from(lotsTable)
    .where(
      and(eq(lotsTable.accountId, accountId), or(gt(lotsTable.availableMicro, 0n), gt(lotsTable.reservedMicro, 0n))),
    )
    .orderBy(...consumptionOrderSql(poolId))
    .for('update');
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
  const ofHold = (column: SQL) =>
    sql`(select ${column} from ${reservations} where ${reservations.id} = ${reservationId})`;
  return tx
    .select()
    .from(lotsTable)
    .where(
      and(
        eq(lotsTable.accountId, ofHold(sql`${reservations.accountId}`)),
        or(gt(lotsTable.availableMicro, 0n), gt(lotsTable.reservedMicro, 0n)),
      ),
    )
    .orderBy(
      sql`case when ${lotsTable.poolId} = ${ofHold(sql`${reservations.poolId}`)} then 0 when ${lotsTable.poolId} = ${generalPoolId} then 1 else 2 end`,
      sql`${lotsTable.expiresAt} asc nulls last`,
      sql`${lotsTable.seq} asc`,
    )
    .for('update');
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
  #lotsWritten = false;
  #availableMicro: bigint;
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
      const rows = await this.#tx
        .select()
        .from(lotsTable)
        .where(and(eq(lotsTable.accountId, this.account.id), inArray(lotsTable.id, missing)))
        .orderBy(lotsTable.seq)
        .for('update');
      for (const row of rows) this.#track(row);
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
    fromBucket: Bucket,
    toBucket: Bucket,
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

  /** The balance after the moves so far. */
  balance(): Balance {
    return balanceOf({ id: this.account.id, debtMicro: this.debtMicro }, this.lots, this.now);
  }

  /** Copies of the tracked lots with these ids, in the order given (results must not alias the work). */
  snapshot(lotIds: readonly string[]): Lot[] {
    return lotIds.map((id) => copyLot(this.lot(id)));
  }

  /**
   * Writes everything: asserts every touched lot, updates the lot rows, runs the test fault hook, then writes
   * reservations, reservation lots, the account's debt, entries, events and the stored idempotent `result`.
   *
   * @example
   * await work.flush('reserve', scope.idempotency, result);
   */
  async flush(operation: string, slot: IdempotencySlot | null, result: unknown): Promise<void> {
    assert(!this.#flushed, 'a unit of work flushes once');
    this.#flushed = true;
    const tx = this.#tx;
    const nowText = this.now.toISOString();
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

    const ctes: { name: string; body: SQL; expectedRows: number }[] = [];
    if (dirty.length > 0) {
      const values = sql.join(
        dirty.map(
          (lot) =>
            sql`(${lot.id}::text, ${lot.availableMicro.toString()}::bigint, ${lot.reservedMicro.toString()}::bigint, ${lot.consumedMicro.toString()}::bigint, ${lot.expiredMicro.toString()}::bigint, ${lot.refundedMicro.toString()}::bigint)`,
        ),
        sql`, `,
      );
      const lotUpdate = sql`update ${lotsTable} set available_micro = v.a, reserved_micro = v.r, consumed_micro = v.c,
            expired_micro = v.e, refunded_micro = v.f
          from (values ${values}) as v(id, a, r, c, e, f)
          where ${lotsTable.id} = v.id and ${lotsTable.accountId} = ${this.account.id}
          returning ${lotsTable.id}`;
      if (this.#ctx.faults.afterLotUpdate) {
        // Test mode: the lot rows are written by their own statement so the fault can strike between them and
        // the entries. In production they are the first CTE of the one write statement below (one round trip).
        const updated = await execRows(tx, lotUpdate);
        assert(updated.length === dirty.length, 'every touched lot row must be updated', {
          expected: `${dirty.length}`,
          updated: `${updated.length}`,
        });
        this.#lotsWritten = true;
      } else {
        ctes.push({ name: 'updated_lots', expectedRows: dirty.length, body: lotUpdate });
      }
    }
    if (this.#lotsWritten && this.#ctx.faults.afterLotUpdate) await this.#ctx.faults.afterLotUpdate(operation);

    if (this.#newReservations.length > 0) {
      ctes.push({
        name: 'new_reservations',
        expectedRows: this.#newReservations.length,
        body: sql`insert into ${reservations} (id, account_id, pool_id, amount_micro, status, billing_mode, expires_at, created_at)
          values ${sql.join(
            this.#newReservations.map(
              (r) =>
                sql`(${r.id}, ${this.account.id}, ${r.poolId}, ${r.amountMicro.toString()}::bigint, 'pending', ${r.billingMode}, ${r.expiresAt.toISOString()}::timestamptz, ${nowText}::timestamptz)`,
            ),
            sql`, `,
          )} returning 1`,
      });
      const parts = this.#newReservations.flatMap((r) =>
        r.lots.map((part, position) => ({ reservationId: r.id, position, ...part })),
      );
      ctes.push({
        name: 'new_reservation_lots',
        expectedRows: parts.length,
        body: sql`insert into ${reservationLots} (reservation_id, lot_id, position, amount_micro)
          values ${sql.join(
            parts.map(
              (p) => sql`(${p.reservationId}, ${p.lotId}, ${p.position}::integer, ${p.amountMicro.toString()}::bigint)`,
            ),
            sql`, `,
          )} returning 1`,
      });
    }
    if (this.#resolutions.length > 0) {
      const micro = (v: bigint | null) => (v === null ? null : v.toString());
      ctes.push({
        name: 'resolved_reservations',
        expectedRows: this.#resolutions.length,
        body: sql`update ${reservations} set status = v.status, resolved_at = v.resolved_at,
            actual_cost_micro = v.actual, charged_micro = v.charged, overrun_micro = v.overrun,
            uncollected_micro = v.uncollected
          from (values ${sql.join(
            this.#resolutions.map(
              (r) =>
                sql`(${r.id}::text, ${r.status}::text, ${r.resolvedAt.toISOString()}::timestamptz, ${micro(r.actualCostMicro)}::bigint, ${micro(r.chargedMicro)}::bigint, ${micro(r.overrunMicro)}::bigint, ${micro(r.uncollectedMicro)}::bigint)`,
            ),
            sql`, `,
          )}) as v(id, status, resolved_at, actual, charged, overrun, uncollected)
          where ${reservations.id} = v.id and ${reservations.accountId} = ${this.account.id}
            and ${reservations.status} = 'pending'
          returning 1`,
      });
    }
    if (this.debtMicro !== this.account.debtMicro) {
      ctes.push({
        name: 'account_debt',
        expectedRows: 1,
        body: sql`update ${accounts} set debt_micro = ${this.debtMicro.toString()}::bigint
          where ${accounts.id} = ${this.account.id} returning 1`,
      });
    }
    if (this.#entries.length > 0) {
      ctes.push({
        name: 'new_entries',
        expectedRows: this.#entries.length,
        body: sql`insert into ${entries} (account_id, lot_id, reservation_id, kind, amount_micro, from_bucket, to_bucket,
            available_after_micro, memo, created_at)
          values ${sql.join(
            this.#entries.map(
              (e) =>
                sql`(${this.account.id}, ${e.lotId}, ${e.reservationId}::text, ${e.kind}, ${e.amountMicro.toString()}::bigint, ${e.fromBucket}, ${e.toBucket}, ${e.availableAfterMicro.toString()}::bigint, ${e.memo}::text, ${nowText}::timestamptz)`,
            ),
            sql`, `,
          )} returning 1`,
      });
    }
    if (this.#events.length > 0) {
      ctes.push({
        name: 'new_events',
        expectedRows: this.#events.length,
        body: sql`insert into ${events} (type, account_id, subject_id, payload, created_at)
          values ${sql.join(
            this.#events.map(
              (e) =>
                sql`(${e.type}, ${this.account.id}, ${e.subjectId}, ${JSON.stringify(e.payload)}::jsonb, ${nowText}::timestamptz)`,
            ),
            sql`, `,
          )} returning 1`,
      });
    }
    if (slot !== null) {
      ctes.push({
        name: 'stored_response',
        expectedRows: 1,
        body: sql`update ${idempotencyKeys} set response = ${JSON.stringify(encodeStored(result))}::jsonb
          where ${idempotencyKeys.scope} = ${slot.scope} and ${idempotencyKeys.key} = ${slot.key} returning 1`,
      });
    }
    if (ctes.length === 0) return;
    const statement = sql`with ${sql.join(
      ctes.map((cte) => sql`${sql.identifier(cte.name)} as (${cte.body})`),
      sql`, `,
    )} select ${sql.join(
      ctes.map(
        (cte) => sql`(select count(*) from ${sql.identifier(cte.name)})::integer as ${sql.identifier(cte.name)}`,
      ),
      sql`, `,
    )}`;
    const [counts] = await execRows<Record<string, number>>(tx, statement);
    assert(counts !== undefined, 'the write statement must answer its row counts');
    for (const cte of ctes) {
      assert(Number(counts[cte.name]) === cte.expectedRows, `${cte.name} must write every row`, {
        expected: `${cte.expectedRows}`,
        written: `${counts[cte.name]}`,
      });
    }
    if (slot !== null) slot.stored = true;
  }
}
