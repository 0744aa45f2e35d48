/**
 * The effect of a payment: one short transaction keyed by the payment that mints its lot (of its pack's terms, or
 * of the plain credit it bought), so a payment credits at most once, on any instance, after any crash (see
 * `payment-states.ts` for the states).
 */
import { type DriverRow, statementsOf } from '../db/ledger-db.js';
import { PaymentNotFoundError } from '../errors.js';
import { assert } from '../ledger/assert.js';
import { encodeStored } from '../ledger/codec.js';
import { type LedgerContext, runWrite, type Tx } from '../ledger/context.js';
import { generalPoolId } from '../ledger/lots.js';
import { mintLot } from '../ledger/mint.js';
import { assertExternalId } from '../ledger/validate.js';
import { type AccountWork, openAccountWork } from '../ledger/work.js';
import type { PaymentRecord, PaymentSettlement, PaymentView, PurchasePackResult } from '../types.js';
import { type CheckedSettlement, checkSettlement } from './payment-input.js';
import { type FrozenTerms, frozenTermsOf, paymentSelectList, storedResult, toPaymentView } from './payment-rows.js';

/** The `sourceType` of lots minted by a payment, pack or plain credit (their `sourceId` is the payment reference). */
export const purchaseSourceType = 'purchase';

/** The memo of a lot a plain-credit payment (kind `credit`) mints. */
export const creditPaymentMemo = 'x402 credit';

const lockByReferenceText = `select ${paymentSelectList}, p.response::text as response from payments p
  where p.reference = $1 for update`;

/** The event a credit emits (the payload `purchasePack` always emitted). */
function settledPayload(payment: PaymentView, record: PaymentRecord, terms: FrozenTerms): Record<string, unknown> {
  return {
    paymentId: payment.id,
    reference: payment.reference,
    accountId: payment.accountId,
    kind: payment.kind,
    packId: payment.packId,
    payer: payment.payer,
    amountMicro: payment.amountMicro.toString(),
    network: payment.network,
    asset: payment.asset,
    lotId: record.lotId,
    creditsMicro: terms.creditsMicro.toString(),
    settlement: record.settlement,
  };
}

/** Queues the credited state of the payment into the work's write statement (checked: exactly one row). */
function queueCredited(
  work: AccountWork,
  payment: PaymentView,
  result: PurchasePackResult,
  settlement: { text: string | null; transaction: string | null },
): void {
  work.addRawWrite(
    'credited_payment',
    (param) => `update payments set status = 'credited', lot_id = ${param(result.lot.id, 'text')},
        "transaction" = ${param(settlement.transaction, 'text')}, settlement = ${param(settlement.text, 'text')}::jsonb,
        response = ${param(JSON.stringify(encodeStored(result)), 'text')}::jsonb, reconcile_after = null,
        credited_at = ${param(work.now.toISOString(), 'text')}::timestamptz,
        updated_at = ${param(work.now.toISOString(), 'text')}::timestamptz
      where id = ${param(payment.id, 'text')} and status <> 'credited' returning 1`,
    1,
  );
}

/** Mints the lot of a locked, not yet credited payment and queues everything its credit writes. */
async function mintCredit(
  ctx: LedgerContext,
  row: DriverRow,
  given: CheckedSettlement | null,
  scope: { tx: Tx; now: Date },
): Promise<PurchasePackResult> {
  const payment = toPaymentView(row);
  const terms = frozenTermsOf(row);
  assert(
    payment.kind === 'pack' ||
      (terms.creditsMicro === terms.priceMicro && terms.bonusBps === 0 && terms.lotTtlMs === null),
    'a plain-credit payment mints exactly what it paid for, with no bonus and no lifetime',
    { reference: payment.reference },
  );
  const work = await openAccountWork(ctx, scope.tx, scope.now, payment.accountId, generalPoolId);
  const { lot } = await mintLot(scope.tx, work, {
    amountMicro: terms.creditsMicro,
    sourceType: purchaseSourceType,
    sourceId: payment.reference,
    poolId: generalPoolId,
    expiresAt: terms.lotTtlMs === null ? null : new Date(scope.now.getTime() + terms.lotTtlMs),
    memo: payment.kind === 'pack' ? `credit pack ${payment.packId}` : creditPaymentMemo,
  });
  assert(lot.originalMicro === terms.creditsMicro, 'a credit mints the frozen credits', {
    reference: payment.reference,
  });
  const settlementText = given?.text ?? (row.settlement === null ? null : String(row.settlement));
  const record: PaymentRecord = {
    id: payment.id,
    reference: payment.reference,
    accountId: payment.accountId,
    kind: payment.kind,
    packId: payment.packId,
    payer: payment.payer,
    amountMicro: payment.amountMicro,
    network: payment.network,
    asset: payment.asset,
    lotId: lot.id,
    settlement: settlementText === null ? null : (JSON.parse(settlementText) as Record<string, unknown>),
    createdAt: payment.createdAt,
  };
  const result: PurchasePackResult = {
    lot: work.snapshot([lot.id])[0] as PurchasePackResult['lot'],
    balance: work.balance(),
    pack: payment.packId === null ? null : { id: payment.packId, ...terms },
    payment: record,
    replayed: false,
  };
  queueCredited(work, payment, result, {
    text: settlementText,
    transaction: given?.transaction ?? payment.transaction,
  });
  work.emit('payment.settled', payment.id, settledPayload(payment, record, terms));
  await work.flush('creditPayment', null, result);
  return result;
}

/**
 * Credits a payment: in one short transaction, locks its record (`FOR UPDATE`) and, unless it is already
 * `credited`, mints ONE `purchase` lot (`sourceId` = the reference) of the terms frozen at the claim — the pack's
 * price + bonus with its lifetime, or exactly the plain credit bought (`pack: null` in the result, memo
 * `x402 credit`) — (the account's debt is paid first, as by any mint), and marks it `credited` with its lot, its settlement (the one given,
 * else the one recorded), its result and `credited_at`; emits `lot.minted` and `payment.settled`. It credits from
 * any other state, a `failed` one included (the chain is the truth: a payment it executed is credited). Concurrent
 * credits of one reference wait on the row lock: one mints, the others answer its result with `replayed: true`.
 *
 * @throws {InvalidArgumentError} when the reference or the settlement breaks its rule.
 * @throws {PaymentNotFoundError}
 * @throws {DuplicateSourceError} when a `purchase` lot of this reference was minted another way (`mint`).
 * @example
 * const { lot, balance, replayed } = await ledger.creditPayment(reference, { transaction: '0xabc' });
 */
export async function creditPayment(
  ctx: LedgerContext,
  reference: string,
  settlement?: PaymentSettlement,
): Promise<PurchasePackResult> {
  assertExternalId('reference', reference);
  const given = settlement === undefined ? null : checkSettlement(settlement);
  return runWrite(ctx, { scope: 'creditPayment', input: null, idempotencyKey: undefined }, async ({ tx, now }) => {
    const [row] = await statementsOf(tx).rows(lockByReferenceText, [reference]);
    if (row === undefined) throw new PaymentNotFoundError({ reference });
    if (row.status === 'credited') return storedResult(row);
    const result = await mintCredit(ctx, row, given, { tx, now });
    assert(result.lot.sourceId === reference, 'a credit mints the lot of its payment', { reference });
    return result;
  });
}
