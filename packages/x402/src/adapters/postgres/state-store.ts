import { and, asc, eq, inArray, isNotNull, lte, ne, sql } from 'drizzle-orm';
import { type Clock, systemClock } from '../../clock.js';
import { InvalidX402OptionError, X402Error } from '../../errors.js';
import {
  failureCodeLengthMax,
  failureMessageLengthMax,
  paymentLeaseMsMax,
  paymentRetryInMsMax,
  takeDueLimitMax,
} from '../../payments/limits.js';
import type {
  JsonValue,
  PaymentClaim,
  PaymentCredit,
  PaymentFailure,
  PaymentStateRecord,
  PaymentStateStore,
  SettlementRequest,
} from '../../ports/payment-state-store.js';
import type { VerifiedPayment } from '../../verify/verify-exact.js';
import type { Settlement } from '../../wire/schemas.js';
import type { AnyPgDatabase, PgTransactionOf } from './migrate.js';
import { checkDurationMs, checkReference, checkSettlement, checkVerifiedPayment } from './payment-input.js';
import { x402Payments } from './schema.js';
import { dateOfSeconds, type PaymentRow, toStateRecord } from './state-record.js';

/** Options of {@link postgresPaymentStateStore}. */
export interface PostgresPaymentStateStoreOptions<TDb extends AnyPgDatabase, TResult extends JsonValue> {
  /** A drizzle Postgres database (postgres.js or PGlite driver) where `migrateX402(db)` has run. */
  db: TDb;
  /**
   * The effect of a payment (e.g. minting credits), run once per reference inside `credit`'s short transaction
   * (the row locked `FOR UPDATE`) through `tx`; it receives the record as `settled`. Its JSON result is stored and
   * answered to every replay. When it throws, nothing is stored and the error propagates.
   */
  effect: (tx: PgTransactionOf<TDb>, record: PaymentStateRecord<TResult>) => Promise<TResult>;
  /** Time source of leases, due times and timestamps. Default: the wall clock. */
  clock?: Clock;
}

interface StoreContext<TResult> {
  db: AnyPgDatabase;
  effect: (tx: AnyPgDatabase, record: PaymentStateRecord<TResult>) => Promise<TResult>;
  clock: Clock;
}

const readCommitted = { isolationLevel: 'read committed' } as const;

function nowOf(clock: Clock): Date {
  const ms = clock.nowMs();
  if (!Number.isSafeInteger(ms) || ms < 0) throw new Error(`assertion failed: clock.nowMs() returned ${ms}`);
  return new Date(ms);
}

function unknownReference(where: string, reference: string): InvalidX402OptionError {
  return new InvalidX402OptionError(`${where}: no payment ${JSON.stringify(reference)} is recorded`, {
    details: { reference },
  });
}

function failureOf(failure: PaymentFailure, where: string): PaymentFailure {
  if (failure === null || typeof failure !== 'object')
    throw new InvalidX402OptionError(`${where}: failure must be { code, message }`);
  const { code, message } = failure;
  if (typeof code !== 'string' || code.length === 0 || code.length > failureCodeLengthMax)
    throw new InvalidX402OptionError(
      `${where}: failure.code ${JSON.stringify(code)} must be a string of 1..${failureCodeLengthMax} characters`,
    );
  if (typeof message !== 'string') throw new InvalidX402OptionError(`${where}: failure.message must be a string`);
  return { code, message: message.slice(0, failureMessageLengthMax) };
}

async function lockRow(tx: AnyPgDatabase, reference: string): Promise<PaymentRow | undefined> {
  const [row] = await tx.select().from(x402Payments).where(eq(x402Payments.reference, reference)).for('update');
  return row;
}

async function updateRow(
  tx: AnyPgDatabase,
  reference: string,
  values: Partial<typeof x402Payments.$inferInsert>,
): Promise<PaymentRow> {
  const [row] = await tx.update(x402Payments).set(values).where(eq(x402Payments.reference, reference)).returning();
  if (row === undefined) throw new Error(`assertion failed: the locked payment ${reference} disappeared`);
  return row;
}

function checkSameAuthorization(row: PaymentRow, payment: VerifiedPayment): void {
  if (
    row.payTo === payment.payTo.toLowerCase() &&
    row.amountAtomic === payment.amountAtomic &&
    row.validBefore === payment.validBefore
  )
    return;
  throw new X402Error(
    'nonce_already_used',
    `nonce ${payment.nonce} of ${payment.payer} was already used by another authorization (${row.amountAtomic} to ${row.payTo}, valid before ${row.validBefore}); this one pays ${payment.amountAtomic} to ${payment.payTo.toLowerCase()}, valid before ${payment.validBefore}`,
    { details: { reference: payment.reference } },
  );
}

/** The answer of `claim` for a row that already exists (locked). */
async function claimExisting<TResult>(
  tx: AnyPgDatabase,
  row: PaymentRow,
  at: { now: Date; leaseUntil: Date; request: SettlementRequest },
): Promise<PaymentClaim<TResult>> {
  const take = { reconcileAfter: at.leaseUntil, updatedAt: at.now, request: row.request ?? at.request };
  switch (row.status) {
    case 'credited':
      return { kind: 'credited', record: toStateRecord(row) };
    case 'failed': {
      const nowSeconds = BigInt(Math.floor(at.now.getTime() / 1000));
      if (row.reconcileAfter === null || row.validBefore <= nowSeconds)
        return { kind: 'failed', record: toStateRecord(row) };
      // Watched and still executable: try again.
      const taken = await updateRow(tx, row.reference, { ...take, status: 'verified' });
      return { kind: 'owner', record: toStateRecord(taken) };
    }
    default: {
      if (row.reconcileAfter !== null && row.reconcileAfter > at.now)
        return { kind: 'busy', record: toStateRecord(row) };
      const taken = await updateRow(tx, row.reference, take);
      return { kind: 'owner', record: toStateRecord(taken) };
    }
  }
}

async function claimPayment<TResult>(
  ctx: StoreContext<TResult>,
  payment: VerifiedPayment,
  options: { leaseMs: number; request: SettlementRequest },
): Promise<PaymentClaim<TResult>> {
  checkVerifiedPayment(payment, 'claim()');
  if (options === null || typeof options !== 'object')
    throw new InvalidX402OptionError('claim(): options { leaseMs, request } are required');
  checkDurationMs(options.leaseMs, 'claim(): leaseMs', 1, paymentLeaseMsMax);
  const { request } = options;
  if (request === null || typeof request !== 'object' || typeof request.payload !== 'object')
    throw new InvalidX402OptionError('claim(): request { payload, requirements } is required');
  const now = nowOf(ctx.clock);
  const leaseUntil = new Date(now.getTime() + options.leaseMs);
  return ctx.db.transaction(async (tx) => {
    const [inserted] = await tx
      .insert(x402Payments)
      .values({
        reference: payment.reference,
        network: payment.network,
        asset: payment.asset.toLowerCase(),
        payer: payment.payer.toLowerCase(),
        nonce: payment.nonce.toLowerCase(),
        payTo: payment.payTo.toLowerCase(),
        amountAtomic: payment.amountAtomic,
        validBefore: payment.validBefore,
        x402Version: payment.x402Version,
        signature: payment.signature,
        status: 'verified',
        request,
        reconcileAfter: leaseUntil,
        createdAt: now,
        updatedAt: now,
      })
      .onConflictDoNothing()
      .returning();
    if (inserted !== undefined) return { kind: 'owner', record: toStateRecord<TResult>(inserted) };
    const row = await lockRow(tx, payment.reference);
    if (row === undefined) {
      throw new X402Error(
        'nonce_already_used',
        `nonce ${payment.nonce} of ${payment.payer} is recorded under another reference`,
        { details: { reference: payment.reference } },
      );
    }
    checkSameAuthorization(row, payment);
    return claimExisting<TResult>(tx, row, { now, leaseUntil, request });
  }, readCommitted);
}

async function markSettlingPayment<TResult>(ctx: StoreContext<TResult>, reference: string): Promise<void> {
  checkReference(reference, 'markSettling()');
  const now = nowOf(ctx.clock);
  const changed = await ctx.db
    .update(x402Payments)
    .set({ status: 'settling', attempts: sql`${x402Payments.attempts} + 1`, updatedAt: now })
    .where(and(eq(x402Payments.reference, reference), eq(x402Payments.status, 'verified')))
    .returning({ reference: x402Payments.reference });
  if (changed.length > 0) return;
  const found = await ctx.db
    .select({ reference: x402Payments.reference })
    .from(x402Payments)
    .where(eq(x402Payments.reference, reference));
  if (found.length === 0) throw unknownReference('markSettling()', reference);
}

async function markSettledPayment<TResult>(
  ctx: StoreContext<TResult>,
  reference: string,
  settlement: Settlement,
): Promise<void> {
  checkReference(reference, 'markSettled()');
  checkSettlement(settlement, 'markSettled()');
  const now = nowOf(ctx.clock);
  await ctx.db.transaction(async (tx) => {
    const row = await lockRow(tx, reference);
    if (row === undefined) throw unknownReference('markSettled()', reference);
    if (row.status === 'credited') return;
    // Keep the lease of the attempt holding it; a failed (or unleased) one becomes due at once for its credit.
    const reconcileAfter = row.status === 'failed' || row.reconcileAfter === null ? now : row.reconcileAfter;
    await updateRow(tx, reference, {
      status: 'settled',
      settlement,
      transaction: settlement.transaction,
      reconcileAfter,
      updatedAt: now,
    });
  }, readCommitted);
}

async function creditPayment<TResult>(
  ctx: StoreContext<TResult>,
  reference: string,
  settlement: Settlement,
): Promise<PaymentCredit<TResult>> {
  checkReference(reference, 'credit()');
  checkSettlement(settlement, 'credit()');
  return ctx.db.transaction(async (tx) => {
    const row = await lockRow(tx, reference);
    if (row === undefined) throw unknownReference('credit()', reference);
    if (row.status === 'credited') {
      const record = toStateRecord<TResult>(row);
      return { result: record.result as TResult, record, replayed: true };
    }
    if (row.status === 'failed' && row.reconcileAfter === null) {
      throw new X402Error(
        'settlement_failed',
        `payment ${reference} failed finally (${row.failureCode}: ${row.failureMessage}); it cannot be credited`,
        { details: { reference, failureCode: row.failureCode } },
      );
    }
    const settled = toStateRecord<TResult>({
      ...row,
      status: 'settled',
      settlement,
      transaction: settlement.transaction,
    });
    const result = await ctx.effect(tx, settled);
    const now = nowOf(ctx.clock);
    const credited = await updateRow(tx, reference, {
      status: 'credited',
      settlement,
      transaction: settlement.transaction,
      result: (result ?? null) as JsonValue,
      reconcileAfter: null,
      creditedAt: now,
      updatedAt: now,
    });
    return { result, record: toStateRecord<TResult>(credited), replayed: false };
  }, readCommitted);
}

async function failPayment<TResult>(
  ctx: StoreContext<TResult>,
  reference: string,
  failure: PaymentFailure,
  options: { watchUntilSeconds: bigint | null },
): Promise<void> {
  checkReference(reference, 'fail()');
  const { code, message } = failureOf(failure, 'fail()');
  const watch = options?.watchUntilSeconds;
  if (watch !== null && (typeof watch !== 'bigint' || watch < 0n))
    throw new InvalidX402OptionError('fail(): watchUntilSeconds must be a bigint ≥ 0 or null');
  const now = nowOf(ctx.clock);
  await ctx.db.transaction(async (tx) => {
    const row = await lockRow(tx, reference);
    if (row === undefined) throw unknownReference('fail()', reference);
    if (row.status === 'credited') return;
    // The chain executed a settled payment: it is not failed, only its credit is missing (the failure is kept).
    if (row.status === 'settled') {
      await updateRow(tx, reference, { failureCode: code, failureMessage: message, updatedAt: now });
      return;
    }
    await updateRow(tx, reference, {
      status: 'failed',
      failureCode: code,
      failureMessage: message,
      reconcileAfter: watch === null ? null : dateOfSeconds(watch),
      updatedAt: now,
    });
  }, readCommitted);
}

async function postponePayment<TResult>(
  ctx: StoreContext<TResult>,
  reference: string,
  failure: PaymentFailure,
  options: { retryInMs: number },
): Promise<void> {
  checkReference(reference, 'postpone()');
  const { code, message } = failureOf(failure, 'postpone()');
  checkDurationMs(options?.retryInMs, 'postpone(): retryInMs', 0, paymentRetryInMsMax);
  const now = nowOf(ctx.clock);
  await ctx.db.transaction(async (tx) => {
    const row = await lockRow(tx, reference);
    if (row === undefined) throw unknownReference('postpone()', reference);
    // Nothing remains to do for a credited or finally failed payment.
    if (row.reconcileAfter === null && (row.status === 'credited' || row.status === 'failed')) return;
    await updateRow(tx, reference, {
      failureCode: code,
      failureMessage: message,
      reconcileAfter: new Date(now.getTime() + options.retryInMs),
      updatedAt: now,
    });
  }, readCommitted);
}

async function takeDuePayments<TResult>(
  ctx: StoreContext<TResult>,
  options: { limit: number; leaseMs: number },
): Promise<PaymentStateRecord<TResult>[]> {
  if (options === null || typeof options !== 'object')
    throw new InvalidX402OptionError('takeDue(): options { limit, leaseMs } are required');
  const { limit, leaseMs } = options;
  if (!Number.isInteger(limit) || limit < 1 || limit > takeDueLimitMax)
    throw new InvalidX402OptionError(
      `takeDue(): limit ${JSON.stringify(limit)} must be an integer in 1..${takeDueLimitMax}`,
    );
  checkDurationMs(leaseMs, 'takeDue(): leaseMs', 1, paymentLeaseMsMax);
  const now = nowOf(ctx.clock);
  return ctx.db.transaction(async (tx) => {
    const due = await tx
      .select({ reference: x402Payments.reference })
      .from(x402Payments)
      .where(
        and(
          isNotNull(x402Payments.reconcileAfter),
          lte(x402Payments.reconcileAfter, now),
          ne(x402Payments.status, 'credited'),
        ),
      )
      .orderBy(asc(x402Payments.reconcileAfter), asc(x402Payments.reference))
      .limit(limit)
      .for('update', { skipLocked: true });
    if (due.length === 0) return [];
    const references = due.map((row) => row.reference);
    const taken = await tx
      .update(x402Payments)
      .set({ reconcileAfter: new Date(now.getTime() + leaseMs), updatedAt: now })
      .where(inArray(x402Payments.reference, references))
      .returning();
    const order = new Map(references.map((reference, index) => [reference, index]));
    taken.sort((a, b) => (order.get(a.reference) ?? 0) - (order.get(b.reference) ?? 0));
    return taken.map((row) => toStateRecord<TResult>(row));
  }, readCommitted);
}

/**
 * A {@link PaymentStateStore} on Postgres (or PGlite) through drizzle, on the `x402_payments` table (create it with
 * `migrateX402(db)`), for users without the billing ledger. Every method is one short READ COMMITTED transaction
 * and none calls the chain:
 * - `claim` inserts the payment `verified` leased until now + `leaseMs` and answers `owner`; an existing row is
 *   locked `FOR UPDATE` and answers `credited`, `failed` (final: unwatched, or its `validBefore` passed), `busy`
 *   (lease running), or `owner` (lease expired on `verified`/`settling`/`settled`; or a watched `failed` still
 *   executable, back to `verified`). Another authorization under the same reference (another `payTo`, amount or
 *   `validBefore`) throws `X402Error` `nonce_already_used`.
 * - `markSettling`: `verified` → `settling`, attempts + 1 (else unchanged).
 * - `markSettled`: any state but `credited` → `settled` with the settlement.
 * - `credit`: runs `effect` once per reference with the row locked, then `credited`; a credited row replays.
 * - `fail`: → `failed`, watched until `watchUntilSeconds` (then due) or final (`null`); a `credited` row is left as
 *   is, and a `settled` one stays `settled` (the chain executed it) with the failure noted.
 * - `postpone`: state kept, failure noted, due in `retryInMs`.
 * - `takeDue`: up to `limit` due rows, `FOR UPDATE SKIP LOCKED`, each leased for `leaseMs`.
 *
 * @throws {InvalidX402OptionError} when built without a drizzle database or an effect; when a method gets a bad
 *   argument or an unknown reference.
 * @example
 * const store = postgresPaymentStateStore({
 *   db,
 *   effect: async (tx, record) => {
 *     const [lot] = await tx.insert(credits).values({ owner: record.payer, amountMicro: record.amountAtomic }).returning();
 *     return { lotId: String(lot.id) };
 *   },
 * });
 * const claim = await store.claim(payment, { leaseMs: 120_000, request: { payload, requirements } });
 * if (claim.kind === 'owner') {
 *   await store.markSettling(claim.record.reference);
 *   const settlement = await settle();
 *   await store.markSettled(claim.record.reference, settlement);
 *   const { result } = await store.credit(claim.record.reference, settlement);
 * }
 */
export function postgresPaymentStateStore<TDb extends AnyPgDatabase, TResult extends JsonValue>(
  options: PostgresPaymentStateStoreOptions<TDb, TResult>,
): PaymentStateStore<TResult> {
  if (options === null || typeof options !== 'object')
    throw new InvalidX402OptionError('postgresPaymentStateStore() needs an options object');
  const { db, effect } = options;
  if (db === null || typeof db !== 'object' || typeof (db as { transaction?: unknown }).transaction !== 'function')
    throw new InvalidX402OptionError('postgresPaymentStateStore(): db must be a drizzle Postgres database');
  if (typeof effect !== 'function')
    throw new InvalidX402OptionError('postgresPaymentStateStore(): effect must be a function (tx, record) => result');
  const ctx: StoreContext<TResult> = {
    db,
    effect: (tx, record) => effect(tx as PgTransactionOf<TDb>, record),
    clock: options.clock ?? systemClock,
  };
  return {
    claim: (payment, claimOptions) => claimPayment(ctx, payment, claimOptions),
    markSettling: (reference) => markSettlingPayment(ctx, reference),
    markSettled: (reference, settlement) => markSettledPayment(ctx, reference, settlement),
    credit: (reference, settlement) => creditPayment(ctx, reference, settlement),
    fail: (reference, failure, failOptions) => failPayment(ctx, reference, failure, failOptions),
    postpone: (reference, failure, postponeOptions) => postponePayment(ctx, reference, failure, postponeOptions),
    takeDue: (takeOptions) => takeDuePayments(ctx, takeOptions),
    async find(reference) {
      checkReference(reference, 'find()');
      const [row] = await db.select().from(x402Payments).where(eq(x402Payments.reference, reference));
      return row === undefined ? null : toStateRecord<TResult>(row);
    },
  };
}
