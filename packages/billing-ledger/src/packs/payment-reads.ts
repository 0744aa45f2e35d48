/**
 * Reads of payment records (operators: a payment's state, its chain transaction and the lot it minted). Each answers
 * from one statement.
 */
import { statementsOf } from '../db/ledger-db.js';
import { type PaymentStatus, paymentStatuses } from '../db/schema.js';
import { InvalidArgumentError, PaymentNotFoundError, quoteValue } from '../errors.js';
import { assert } from '../ledger/assert.js';
import type { LedgerContext } from '../ledger/context.js';
import { decodePaymentCursor, encodePaymentCursor } from '../ledger/cursor.js';
import { assertCount, assertExternalId, assertObject } from '../ledger/validate.js';
import { paymentsPageSizeDefault, paymentsPageSizeMax } from '../limits.js';
import type { ListPaymentsOptions, PaymentPage, PaymentView } from '../types.js';
import { paymentSelectList, toPaymentView } from './payment-rows.js';

const getPaymentText = `select ${paymentSelectList} from payments p where p.id = $1 or p.reference = $1
  order by (p.id = $1) desc limit 1`;
/** A page, newest first; one text per (status filter, cursor) pair so each keeps its index plan when prepared. */
const listPaymentsText = (byStatus: boolean, afterCursor: boolean) => {
  const conditions = [
    ...(byStatus ? ['p.status = $2'] : []),
    ...(afterCursor ? [`(p.created_at, p.id) < ($${byStatus ? 3 : 2}::timestamptz, $${byStatus ? 4 : 3}::text)`] : []),
  ];
  return `select ${paymentSelectList} from payments p ${conditions.length === 0 ? '' : `where ${conditions.join(' and ')}`}
    order by p.created_at desc, p.id desc limit $1`;
};
const listTexts = [
  [listPaymentsText(false, false), listPaymentsText(false, true)],
  [listPaymentsText(true, false), listPaymentsText(true, true)],
] as const;
const countByStatusText = 'select p.status, count(*)::int8 as n from payments p group by p.status';

/**
 * One payment, by its id (`pay_…`) or its reference.
 *
 * @throws {InvalidArgumentError} when the id or reference breaks its rule.
 * @throws {PaymentNotFoundError}
 * @example
 * const { status, transaction, lotId } = await ledger.getPayment('pay_3f2a…');
 */
export async function getPayment(ctx: LedgerContext, idOrReference: string): Promise<PaymentView> {
  assertExternalId('idOrReference', idOrReference);
  const [row] = await statementsOf(ctx.db).rows(getPaymentText, [idOrReference]);
  if (row === undefined) throw new PaymentNotFoundError({ reference: idOrReference });
  return toPaymentView(row);
}

function checkStatus(value: unknown): PaymentStatus | null {
  if (value === undefined) return null;
  if (typeof value !== 'string' || !(paymentStatuses as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(`status ${quoteValue(value)} must be one of ${paymentStatuses.join(', ')}`, {
      details: { field: 'status', value: quoteValue(value) },
    });
  }
  return value as PaymentStatus;
}

/**
 * Payments newest first (creation time, then id), optionally in one status, `limit` (1..500, default 50) a page;
 * pass the page's `nextCursor` as `cursor` for the next one (null at the end).
 *
 * @throws {InvalidArgumentError} when the status or the limit breaks its rule.
 * @throws {InvalidCursorError}
 * @example
 * const { payments, nextCursor } = await ledger.listPayments({ status: 'settling', limit: 20 });
 */
export async function listPayments(ctx: LedgerContext, options: ListPaymentsOptions = {}): Promise<PaymentPage> {
  assertObject('options', options);
  const status = checkStatus(options.status);
  const limit = options.limit ?? paymentsPageSizeDefault;
  assertCount('limit', limit, paymentsPageSizeMax);
  const cursor = decodePaymentCursor(options.cursor);
  const params: unknown[] = [limit + 1];
  if (status !== null) params.push(status);
  if (cursor !== null) params.push(new Date(cursor.createdAtMs).toISOString(), cursor.id);
  const text = listTexts[status === null ? 0 : 1][cursor === null ? 0 : 1];
  const rows = await statementsOf(ctx.db).rows(text, params);
  const payments = rows.slice(0, limit).map(toPaymentView);
  const last = payments[payments.length - 1];
  return {
    payments,
    nextCursor:
      rows.length > limit && last !== undefined
        ? encodePaymentCursor({ createdAtMs: last.createdAt.getTime(), id: last.id })
        : null,
  };
}

/**
 * How many payments are in each state (every state present, 0 when none): the metric of payments by state.
 *
 * @example
 * const { settling, failed } = await ledger.countPaymentsByStatus();
 */
export async function countPaymentsByStatus(ctx: LedgerContext): Promise<Record<PaymentStatus, number>> {
  const rows = await statementsOf(ctx.db).rows<{ status: string; n: unknown }>(countByStatusText, []);
  const counts = Object.fromEntries(paymentStatuses.map((status) => [status, 0])) as Record<PaymentStatus, number>;
  for (const row of rows) {
    assert(Object.hasOwn(counts, row.status), 'a payment status is one of the five', { status: String(row.status) });
    counts[row.status as PaymentStatus] = Number(row.n);
  }
  return counts;
}
