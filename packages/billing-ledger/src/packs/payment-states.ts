/**
 * Two-phase purchases: a payment record lives through states, so no transaction or row lock is ever open while the
 * caller settles the payment (chain I/O); each step is one short READ COMMITTED transaction.
 *
 * ```
 * verified ──markPaymentSettling──▶ settling ──recordPaymentSettlement──▶ settled ──creditPayment──▶ credited
 *     │                                │                                                   ▲
 *     └────────────────────────────────┴──failPayment──▶ failed ──(the chain executed it)──┘
 * ```
 *
 * - `claimPayment` records the payment (`verified`) or takes an existing one for the caller: the record is leased to
 *   one attempt until `reconcile_after` (a claim meanwhile answers `busy`); an expired lease can be taken again.
 * - A payment buys a credit pack of the catalog (kind `pack`) or plain credit of an amount the caller names (kind
 *   `credit`, no pack); either way its terms are frozen on the record at the claim.
 * - `creditPayment` (see `payment-credit.ts`) mints the frozen terms' lot once per reference, from any state but
 *   `credited` (the chain is the truth: a payment it executed is credited, even after a failure was recorded).
 * - `failed` with `reconcile_after` set is watched (its authorization may still execute until `validBefore`): a claim
 *   before `validBefore` reopens it; with `reconcile_after` null it is final.
 * - `takeDuePayments` hands due records (lease ended, retry time reached, watch time passed) to reconcilers with
 *   `FOR UPDATE SKIP LOCKED`, leasing each: safe with many instances.
 */
import { type DriverRow, statementsOf } from '../db/ledger-db.js';
import {
  AccountNotFoundError,
  PaymentInsufficientError,
  PaymentNotFoundError,
  PaymentReferenceReusedError,
  SystemAccountReadOnlyError,
} from '../errors.js';
import { assert } from '../ledger/assert.js';
import { type LedgerContext, runWrite, type Tx } from '../ledger/context.js';
import { newId } from '../ledger/ids.js';
import {
  assertCount,
  assertDurationMs,
  assertExternalId,
  assertObject,
  isSystemEntityType,
} from '../ledger/validate.js';
import { duePaymentsBatchSizeMax, paymentLeaseMsMax } from '../limits.js';
import type {
  PaymentClaimInput,
  PaymentClaimResult,
  PaymentFailure,
  PaymentKind,
  PaymentSettlement,
  PaymentView,
} from '../types.js';
import type { CreditPackCatalog } from './catalog.js';
import {
  type ClaimPurchase,
  checkClaimInput,
  checkFailure,
  checkInstant,
  checkLeaseMs,
  checkSettlement,
  type NormalizedClaim,
} from './payment-input.js';
import { frozenTermsOf, paymentSelectList, storedResult, toPaymentView } from './payment-rows.js';

const accountKindText = 'select a.entity_type from accounts a where a.id = $1';
const insertClaimText = `insert into payments as p (id, reference, account_id, pack_id, status, payer, pay_to, amount_micro,
    network, asset, nonce, valid_before, price_micro, credits_micro, bonus_bps, lot_ttl_ms, request, attempts,
    reconcile_after, created_at, updated_at, kind)
  values ($1, $2, $3, $4::text, 'verified', $5, $6::text, $7::int8, $8::text, $9::text, $10::text, $11::text::numeric,
    $12::int8, $13::int8, $14::int4, $15::int8, $16::text::jsonb, 0, $17::timestamptz, $18::timestamptz,
    $18::timestamptz, $19::text)
  on conflict (reference) do nothing
  returning ${paymentSelectList}`;
const lockByReferenceText = `select ${paymentSelectList}, p.response::text as response from payments p
  where p.reference = $1 for update`;
const readByReferenceText = `select ${paymentSelectList} from payments p where p.reference = $1`;
/** Takes a locked record for a new attempt: `$2` is the status it gets (unchanged, or `verified` to reopen). */
const leaseText = `update payments as p set status = $2, reconcile_after = $3::timestamptz, updated_at = $4::timestamptz
  where p.id = $1 returning ${paymentSelectList}`;
const markSettlingText = `update payments as p set status = 'settling', attempts = p.attempts + 1,
    updated_at = $2::timestamptz
  where p.reference = $1 and p.status = 'verified' returning ${paymentSelectList}`;
const recordSettlementText = `update payments as p set status = 'settled', settlement = $2::text::jsonb,
    "transaction" = $3, reconcile_after = coalesce(p.reconcile_after, $4::timestamptz), updated_at = $4::timestamptz
  where p.reference = $1 and p.status <> 'credited' returning ${paymentSelectList}`;
/** Stores a failure; `$2` is the status (`failed`, or null to keep the state: a postponed attempt). */
// A settled record (the chain executed it) never becomes failed: it keeps its state, notes the failure and stays due.
const failText = `update payments as p set
    status = case when p.status = 'settled' then p.status else coalesce($2::text, p.status) end,
    failure_code = $3, failure_message = $4,
    reconcile_after = case when p.status = 'settled' then coalesce($5::timestamptz, $6::timestamptz) else $5::timestamptz end,
    updated_at = $6::timestamptz
  where p.reference = $1 and p.status <> 'credited' returning ${paymentSelectList}`;
const takeDueText = `with due as (
    select p.id, p.reconcile_after as due_at from payments p
    where p.reconcile_after <= $1::timestamptz
    order by p.reconcile_after, p.id limit $2::int4 for update skip locked)
  update payments as p set reconcile_after = $3::timestamptz, updated_at = $1::timestamptz
  from due where p.id = due.id
  returning ${paymentSelectList}, floor(extract(epoch from due.due_at) * 1000)::int8 as due_at_ms`;

const writeOp = (scope: string) => ({ scope, input: null, idempotencyKey: undefined });

/** The terms a new record freezes: of its pack (kind `pack`), or plain credit (credits = price, no bonus, no ttl). */
interface ClaimTerms {
  kind: PaymentKind;
  packId: string | null;
  priceMicro: bigint;
  creditsMicro: bigint;
  bonusBps: number;
  lotTtlMs: number | null;
}

/** The terms a new claim freezes, or the error a new claim throws (an existing record keeps its frozen terms). */
function claimTerms(catalog: CreditPackCatalog, claim: NormalizedClaim): { terms: ClaimTerms | null; error: unknown } {
  const { purchase } = claim;
  if (purchase.kind === 'credit') {
    const creditMicro = purchase.creditMicro;
    assert(creditMicro <= claim.amountMicro, 'a checked credit claim is covered by its payment', {
      reference: claim.reference,
    });
    const terms = { priceMicro: creditMicro, creditsMicro: creditMicro, bonusBps: 0, lotTtlMs: null };
    return { terms: { kind: 'credit', packId: null, ...terms }, error: null };
  }
  try {
    const pack = catalog.get(purchase.packId);
    if (claim.amountMicro < pack.priceMicro) {
      return { terms: null, error: new PaymentInsufficientError(pack.id, pack.priceMicro, claim.amountMicro) };
    }
    const { priceMicro, creditsMicro, bonusBps, lotTtlMs } = pack;
    return { terms: { kind: 'pack', packId: pack.id, priceMicro, creditsMicro, bonusBps, lotTtlMs }, error: null };
  } catch (error) {
    return { terms: null, error };
  }
}

async function checkPayingAccount(tx: Tx, accountId: string): Promise<void> {
  const [account] = await statementsOf(tx).rows<{ entity_type: string }>(accountKindText, [accountId]);
  if (account === undefined) throw new AccountNotFoundError(accountId);
  if (isSystemEntityType(account.entity_type)) throw new SystemAccountReadOnlyError({ accountId });
}

/** What a record or a claim buys, as errors name it: the pack's id, or `<micro> micro-USD of credit`. */
function purchaseLabel(purchase: ClaimPurchase): string {
  return purchase.kind === 'pack' ? purchase.packId : `${purchase.creditMicro} micro-USD of credit`;
}

/** What a stored record buys (its kind, and its pack or its frozen credits). */
function storedPurchase(stored: PaymentView, row: DriverRow): ClaimPurchase {
  if (stored.kind === 'pack') return { kind: 'pack', packId: stored.packId as string };
  return { kind: 'credit', creditMicro: frozenTermsOf(row).creditsMicro };
}

function samePurchase(a: ClaimPurchase, b: ClaimPurchase): boolean {
  if (a.kind === 'pack') return b.kind === 'pack' && a.packId === b.packId;
  return b.kind === 'credit' && a.creditMicro === b.creditMicro;
}

/** What differs between a stored record and a claim reusing its reference, if anything. */
function conflictOf(stored: PaymentView, bought: ClaimPurchase, claim: NormalizedClaim) {
  if (stored.accountId !== claim.accountId)
    return { conflict: 'account', stored: stored.accountId, requested: claim.accountId };
  if (!samePurchase(bought, claim.purchase)) {
    const [storedKind, requestedKind] = [bought.kind, claim.purchase.kind];
    return {
      conflict: 'pack',
      stored: purchaseLabel(bought),
      requested: purchaseLabel(claim.purchase),
      storedKind,
      requestedKind,
    };
  }
  if (stored.amountMicro !== claim.amountMicro) {
    return { conflict: 'amount', stored: `${stored.amountMicro}`, requested: `${claim.amountMicro}` };
  }
  if (stored.payTo !== null && claim.payTo !== null && stored.payTo.toLowerCase() !== claim.payTo.toLowerCase()) {
    return { conflict: 'pay_to', stored: stored.payTo, requested: claim.payTo };
  }
  return null;
}

/** The parameters of {@link insertClaimText} for a new record of `claim` with `terms` frozen. */
function insertParams(claim: NormalizedClaim, terms: ClaimTerms, leaseEnd: string, now: Date): unknown[] {
  return [
    newId('pay'),
    claim.reference,
    claim.accountId,
    terms.packId,
    claim.payer,
    claim.payTo,
    claim.amountMicro.toString(),
    claim.network,
    claim.asset,
    claim.nonce,
    claim.validBefore?.toString() ?? null,
    terms.priceMicro.toString(),
    terms.creditsMicro.toString(),
    terms.bonusBps,
    terms.lotTtlMs?.toString() ?? null,
    claim.requestText,
    leaseEnd,
    now.toISOString(),
    terms.kind,
  ];
}

/** What a claim does with an existing record it locked: answer it, or lease it (with the status it gets). */
function decideExisting(stored: PaymentView, nowMs: number): PaymentClaimResult['kind'] | 'reopen' | 'take' {
  if (stored.status === 'credited') return 'credited';
  const due = stored.reconcileAfter !== null && stored.reconcileAfter.getTime() <= nowMs;
  if (stored.status === 'failed') {
    const nowSeconds = BigInt(Math.floor(nowMs / 1000));
    const open = stored.validBefore === null || stored.validBefore > nowSeconds;
    return stored.reconcileAfter !== null && open ? 'reopen' : 'failed';
  }
  return due ? 'take' : 'busy';
}

/**
 * Records a verified payment for a purchase — a credit pack (`packId`) or plain credit of `creditMicro` (no pack; the
 * payment's amount must cover it) — or takes an existing record for this attempt; one short transaction, committed
 * before the caller settles anything. A new reference is inserted `verified` with its terms frozen (the pack's price,
 * credits, bonus and lot lifetime; for plain credit: credits = price = `creditMicro`, no bonus, no lifetime) and
 * leased until now + `leaseMs` → `owner`. An existing one (locked `FOR UPDATE`, so concurrent claims run one after
 * another) must be the same purchase (account; the same pack, or plain credit of the same amount) and the same
 * authorization (amount; recipient when both are known, case-insensitively), else `PaymentReferenceReusedError`;
 * then: `credited` → the first result with `replayed: true`; `verified`, `settling` or `settled` whose lease ended →
 * leased again → `owner` (its state unchanged); `failed` but watched and before its `validBefore` (or with none) →
 * back to `verified`, leased → `owner`; `failed` otherwise → `failed`; a lease still running → `busy`. The pack and
 * price rules apply to a new reference only (a record keeps its frozen terms).
 *
 * @throws {InvalidArgumentError} when an id, the reference, a text field, `validBefore`, `request` or `leaseMs`
 *   breaks its rule, or when both or neither of `packId` and `creditMicro` are given (nothing is written).
 * @throws {InvalidAmountError} when payment.amountMicro or creditMicro is not a bigint in 1..10^15, or creditMicro
 *   exceeds payment.amountMicro.
 * @throws {CreditPackNotFoundError} for a new reference of an unknown pack.
 * @throws {PaymentInsufficientError} for a new reference paying less than the pack's price.
 * @throws {PaymentReferenceReusedError} when the reference was used with another purchase or authorization.
 * @throws {AccountNotFoundError}
 * @throws {SystemAccountReadOnlyError} for a system account.
 * @example
 * const claim = await ledger.claimPayment({ accountId, packId: 'starter', payment: { reference, payer, amountMicro } });
 * if (claim.kind === 'owner') await ledger.markPaymentSettling(claim.payment.reference);
 * // One paid call: the payment buys exactly its price as credit.
 * await ledger.claimPayment({ accountId, creditMicro: 20_000n, payment: { reference, payer, amountMicro: 20_000n } });
 */
export async function claimPayment(
  ctx: LedgerContext,
  catalog: CreditPackCatalog,
  input: PaymentClaimInput,
  options?: { leaseMs?: number | undefined },
): Promise<PaymentClaimResult> {
  const claim = checkClaimInput(input);
  const leaseMs = checkLeaseMs(options);
  const { terms, error } = claimTerms(catalog, claim);
  return runWrite(ctx, writeOp('claimPayment'), async ({ tx, now }) => {
    const statements = statementsOf(tx);
    await checkPayingAccount(tx, claim.accountId);
    const leaseEnd = new Date(now.getTime() + leaseMs).toISOString();
    if (terms !== null) {
      const [inserted] = await statements.rows(insertClaimText, insertParams(claim, terms, leaseEnd, now));
      if (inserted !== undefined) return { kind: 'owner', payment: toPaymentView(inserted) };
    }
    const [row] = await statements.rows(lockByReferenceText, [claim.reference]);
    if (row === undefined) {
      // No record and no pack to insert one with: the pack's error (nothing was written).
      assert(terms === null, 'a payment that conflicted on insert is readable', { reference: claim.reference });
      throw error;
    }
    const stored = toPaymentView(row);
    const bought = storedPurchase(stored, row);
    const conflict = conflictOf(stored, bought, claim);
    if (conflict !== null) {
      const first = purchaseLabel(bought);
      throw new PaymentReferenceReusedError(claim.reference, stored.accountId, first, { details: conflict });
    }
    const decision = decideExisting(stored, now.getTime());
    if (decision === 'credited') return { kind: 'credited', payment: stored, result: storedResult(row) };
    if (decision === 'failed' || decision === 'busy') return { kind: decision, payment: stored };
    const status = decision === 'reopen' ? 'verified' : stored.status;
    const [leased] = await statements.rows(leaseText, [stored.id, status, leaseEnd, now.toISOString()]);
    assert(leased !== undefined, 'a locked payment can be leased', { reference: claim.reference });
    return { kind: 'owner', payment: toPaymentView(leased) };
  });
}

/** Runs one update of a payment by reference; when it changes nothing, reads the record (or throws not found). */
async function updateOrRead(
  ctx: LedgerContext,
  scope: string,
  reference: string,
  text: string,
  params: (now: Date) => unknown[],
) {
  return runWrite(ctx, writeOp(scope), async ({ tx, now }): Promise<PaymentView> => {
    const statements = statementsOf(tx);
    const [updated] = await statements.rows(text, [reference, ...params(now)]);
    if (updated !== undefined) return toPaymentView(updated);
    const [row] = await statements.rows(readByReferenceText, [reference]);
    if (row === undefined) throw new PaymentNotFoundError({ reference });
    return toPaymentView(row);
  });
}

/**
 * `verified` → `settling`, attempts + 1: the owner calls it right before it asks the chain, so a `verified` record
 * is one nothing was sent for. Any other state is left as it is (idempotent on `settling`); the answer tells which.
 *
 * @throws {InvalidArgumentError} when the reference breaks its rule.
 * @throws {PaymentNotFoundError}
 * @example
 * const { status } = await ledger.markPaymentSettling(reference); // 'settling'
 */
export async function markPaymentSettling(ctx: LedgerContext, reference: string): Promise<PaymentView> {
  assertExternalId('reference', reference);
  return updateOrRead(ctx, 'markPaymentSettling', reference, markSettlingText, (now) => [now.toISOString()]);
}

/**
 * Any state but `credited` → `settled`, storing the settlement (its JSON, extra fields included) and its
 * transaction; a record with nothing scheduled becomes due now (a reconciler credits it if the caller does not).
 * On `credited` it changes nothing. Idempotent.
 *
 * @throws {InvalidArgumentError} when the reference or the settlement breaks its rule (a transaction of 1–255
 *   printable characters; JSON of at most `paymentJsonBytesMax` bytes).
 * @throws {PaymentNotFoundError}
 * @example
 * await ledger.recordPaymentSettlement(reference, { transaction: '0xabc', network: 'eip155:8453' });
 */
export async function recordPaymentSettlement(
  ctx: LedgerContext,
  reference: string,
  settlement: PaymentSettlement,
): Promise<PaymentView> {
  assertExternalId('reference', reference);
  const checked = checkSettlement(settlement);
  return updateOrRead(ctx, 'recordPaymentSettlement', reference, recordSettlementText, (now) => [
    checked.text,
    checked.transaction,
    now.toISOString(),
  ]);
}

/**
 * `verified` or `settling` (or a failed record) → `failed`, storing the failure. `watchUntil`: when a reconciler
 * looks again (the authorization's `validBefore` while it could still execute), or `null` when it never can (final).
 * On `credited` it changes nothing (a credit is never undone); a `settled` record (the chain executed it) stays
 * `settled`, notes the failure and stays due, so its credit cannot be lost.
 *
 * @throws {InvalidArgumentError} when the reference, the failure or `watchUntil` breaks its rule.
 * @throws {PaymentNotFoundError}
 * @example
 * await ledger.failPayment(reference, { code: 'authorization_expired', message: 'validBefore passed unused' }, { watchUntil: null });
 */
export async function failPayment(
  ctx: LedgerContext,
  reference: string,
  failure: PaymentFailure,
  options: { watchUntil: Date | null },
): Promise<PaymentView> {
  assertExternalId('reference', reference);
  const { code, message } = checkFailure(failure);
  assertObject('options', options);
  const watchUntil = checkInstant('options.watchUntil', options.watchUntil, true);
  return updateOrRead(ctx, 'failPayment', reference, failText, (now) => [
    'failed',
    code,
    message,
    watchUntil?.toISOString() ?? null,
    now.toISOString(),
  ]);
}

/**
 * Leaves the state as it is (`settling` stays `settling`), stores the failure and makes the record due at `retryAt`
 * (releasing the lease). On `credited` it changes nothing.
 *
 * @throws {InvalidArgumentError} when the reference, the failure or `retryAt` breaks its rule.
 * @throws {PaymentNotFoundError}
 * @example
 * await ledger.postponePayment(reference, { code: 'facilitator_unavailable', message: 'RPC down' }, { retryAt: new Date(Date.now() + 60_000) });
 */
export async function postponePayment(
  ctx: LedgerContext,
  reference: string,
  failure: PaymentFailure,
  options: { retryAt: Date },
): Promise<PaymentView> {
  assertExternalId('reference', reference);
  const { code, message } = checkFailure(failure);
  assertObject('options', options);
  const retryAt = checkInstant('options.retryAt', options.retryAt, false) as Date;
  return updateOrRead(ctx, 'postponePayment', reference, failText, (now) => [
    null,
    code,
    message,
    retryAt.toISOString(),
    now.toISOString(),
  ]);
}

/**
 * Takes up to `limit` (1..500) due payments — `reconcile_after` passed: a lease ended, a postponed retry is due, a
 * watched failure's time came — oldest due first, with `FOR UPDATE SKIP LOCKED`, and leases each until now +
 * `leaseMs`, in one statement: concurrent reconcilers (on any instance) take disjoint records.
 *
 * @throws {InvalidArgumentError} when `limit` or `leaseMs` breaks its rule.
 * @example
 * for (const payment of await ledger.takeDuePayments({ limit: 50, leaseMs: 60_000 })) await reconcile(payment);
 */
export async function takeDuePayments(
  ctx: LedgerContext,
  options: { limit: number; leaseMs: number },
): Promise<PaymentView[]> {
  assertObject('options', options);
  assertCount('limit', options.limit, duePaymentsBatchSizeMax);
  assertDurationMs('leaseMs', options.leaseMs, paymentLeaseMsMax);
  const { limit, leaseMs } = options;
  return runWrite(ctx, writeOp('takeDuePayments'), async ({ tx, now }) => {
    const rows = await statementsOf(tx).rows(takeDueText, [
      now.toISOString(),
      limit,
      new Date(now.getTime() + leaseMs).toISOString(),
    ]);
    return rows.sort(byDueThenId).map(toPaymentView);
  });
}

function byDueThenId(a: DriverRow, b: DriverRow): number {
  const [dueA, dueB] = [Number(a.due_at_ms), Number(b.due_at_ms)];
  if (dueA !== dueB) return dueA - dueB;
  return String(a.id) < String(b.id) ? -1 : String(a.id) > String(b.id) ? 1 : 0;
}
