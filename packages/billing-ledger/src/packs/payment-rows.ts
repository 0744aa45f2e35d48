/**
 * Rows of `payments` read by raw statements (constant SQL text, prepared once per connection): the select list, and
 * the mapping to {@link PaymentView} and to what a credit needs. Amounts, `valid_before` and JSON travel as text and
 * times as epoch milliseconds, so both drivers answer the same values.
 */
import type { DriverRow } from '../db/ledger-db.js';
import { type PaymentKind, type PaymentStatus, paymentKinds, paymentStatuses } from '../db/schema.js';
import { assert } from '../ledger/assert.js';
import { decodeStored } from '../ledger/codec.js';
import type { PaymentRecord, PaymentView, PurchasePackResult } from '../types.js';

const epochMs = (column: string) => `floor(extract(epoch from p.${column}) * 1000)::int8`;

/** The columns of a payment row under alias `p` (see the module comment); `response` is selected apart. */
export const paymentSelectList = `p.id, p.reference, p.status, p.account_id, p.kind, p.pack_id, p.payer, p.pay_to,
  p.amount_micro::text as amount_micro, p.network, p.asset, p.nonce, p.valid_before::text as valid_before,
  p.price_micro::text as price_micro, p.credits_micro::text as credits_micro, p.bonus_bps,
  p.lot_ttl_ms::text as lot_ttl_ms, p.request::text as request, p."transaction" as transaction,
  p.settlement::text as settlement, p.lot_id, p.failure_code, p.failure_message, p.attempts,
  ${epochMs('reconcile_after')} as reconcile_after_ms, ${epochMs('created_at')} as created_at_ms,
  ${epochMs('updated_at')} as updated_at_ms, ${epochMs('credited_at')} as credited_at_ms`;

/** The terms a payment froze when it was claimed (of its pack; plain credit: credits = price, no bonus, no ttl). */
export interface FrozenTerms {
  priceMicro: bigint;
  creditsMicro: bigint;
  bonusBps: number;
  lotTtlMs: number | null;
}

const textOrNull = (value: unknown): string | null => (value === null || value === undefined ? null : String(value));
const dateOrNull = (value: unknown): Date | null =>
  value === null || value === undefined ? null : new Date(Number(value));
const jsonOrNull = (value: unknown): unknown =>
  value === null || value === undefined ? null : JSON.parse(String(value));

function statusOf(value: unknown): PaymentStatus {
  assert(
    typeof value === 'string' && (paymentStatuses as readonly string[]).includes(value),
    'a payment status is one of the five',
    {
      status: String(value),
    },
  );
  return value as PaymentStatus;
}

function kindOf(value: unknown): PaymentKind {
  assert(
    typeof value === 'string' && (paymentKinds as readonly string[]).includes(value),
    'a payment kind is pack or credit',
    { kind: String(value) },
  );
  return value as PaymentKind;
}

/**
 * The view of a payment row selected with {@link paymentSelectList}.
 *
 * @example
 * const view = toPaymentView(row);
 */
export function toPaymentView(row: DriverRow): PaymentView {
  const failureCode = textOrNull(row.failure_code);
  const settlement = jsonOrNull(row.settlement);
  const validBefore = textOrNull(row.valid_before);
  const kind = kindOf(row.kind);
  const packId = textOrNull(row.pack_id);
  assert((kind === 'pack') === (packId !== null), 'a pack payment names its pack, a credit payment none', {
    id: String(row.id),
  });
  return {
    id: String(row.id),
    reference: String(row.reference),
    status: statusOf(row.status),
    accountId: String(row.account_id),
    kind,
    packId,
    payer: String(row.payer),
    payTo: textOrNull(row.pay_to),
    amountMicro: BigInt(String(row.amount_micro)),
    network: textOrNull(row.network),
    asset: textOrNull(row.asset),
    nonce: textOrNull(row.nonce),
    validBefore: validBefore === null ? null : BigInt(validBefore),
    request: jsonOrNull(row.request),
    transaction: textOrNull(row.transaction),
    settlement: settlement === null ? null : (settlement as Record<string, unknown>),
    lotId: textOrNull(row.lot_id),
    failure: failureCode === null ? null : { code: failureCode, message: String(row.failure_message ?? '') },
    attempts: Number(row.attempts),
    reconcileAfter: dateOrNull(row.reconcile_after_ms),
    createdAt: new Date(Number(row.created_at_ms)),
    updatedAt: new Date(Number(row.updated_at_ms)),
    creditedAt: dateOrNull(row.credited_at_ms),
  };
}

/**
 * The pack terms frozen on a payment row.
 *
 * @example
 * const { creditsMicro, lotTtlMs } = frozenTermsOf(row);
 */
export function frozenTermsOf(row: DriverRow): FrozenTerms {
  const lotTtlMs = textOrNull(row.lot_ttl_ms);
  return {
    priceMicro: BigInt(String(row.price_micro)),
    creditsMicro: BigInt(String(row.credits_micro)),
    bonusBps: Number(row.bonus_bps),
    lotTtlMs: lotTtlMs === null ? null : Number(lotTtlMs),
  };
}

/**
 * The purchase result stored on a credited payment row (selected with `p.response::text as response`), as a replay
 * answers it (`replayed: true`). A result stored before payments had kinds (all packs) gets the row's `kind`.
 *
 * @example
 * return storedResult(row);
 */
export function storedResult(row: DriverRow): PurchasePackResult {
  const response = jsonOrNull(row.response);
  assert(response !== null, 'a credited payment holds its result', { paymentId: String(row.id) });
  const stored = decodeStored(response) as PurchasePackResult;
  const payment = stored.payment as Partial<PaymentRecord> | undefined;
  if (payment !== undefined && payment !== null && payment.kind === undefined) {
    return { ...stored, payment: { ...stored.payment, kind: kindOf(row.kind) }, replayed: true };
  }
  return { ...stored, replayed: true };
}
