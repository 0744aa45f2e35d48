/**
 * Payment checks: every `purchase` lot was minted by the credit of one credited payment (the lot's source is the
 * payment's reference, on the payment's account, of the credits the payment froze), and every credited payment has
 * its lot (a payment that is not credited has none).
 */
import { purchaseSourceType } from '../../packs/payment-credit.js';
import type { Tx } from '../context.js';
import { forEachPage, micro, type VerifyRow } from './pages.js';
import type { Report } from './report.js';

const quotedSource = `'${purchaseSourceType.replace(/'/g, "''")}'`;

export const purchaseLotsQuery = `select l.id, l.source_id, l.account_id, l.original_micro::text as original,
    p.id as payment_id, p.status, p.reference, p.account_id as payment_account, p.credits_micro::text as credits
  from lots l left join payments p on p.lot_id = l.id
  where l.source_type = ${quotedSource}
  order by l.seq, p.id`;

export const paymentsQuery = `select p.id, p.status, p.reference, p.lot_id, p.account_id, l.id as lot_found,
    l.source_type, l.source_id, l.account_id as lot_account
  from payments p left join lots l on l.id = p.lot_id
  order by p.created_at, p.id`;

function checkPurchaseLot(row: VerifyRow, report: Report): void {
  const id = row.id as string;
  if (row.payment_id === null) {
    report('purchase_lot_without_payment', id, `purchase lot ${id} was not minted by the credit of a payment`, {
      sourceId: String(row.source_id),
    });
    return;
  }
  const details = { paymentId: String(row.payment_id) };
  if (row.status !== 'credited') {
    report('purchase_lot_payment_not_credited', id, `the payment of purchase lot ${id} is ${row.status}`, details);
  }
  if (row.reference !== row.source_id || row.payment_account !== row.account_id) {
    report('purchase_lot_payment_mismatch', id, `purchase lot ${id} is not of its payment's reference and account`, {
      ...details,
      sourceId: String(row.source_id),
      reference: String(row.reference),
    });
  }
  const [original, credits] = [micro(row.original), micro(row.credits)];
  if (original !== credits) {
    report('purchase_lot_credits_mismatch', id, `purchase lot ${id} holds ${original}, its payment froze ${credits}`, {
      ...details,
      originalMicro: `${original}`,
      creditsMicro: `${credits}`,
    });
  }
}

function checkPayment(row: VerifyRow, report: Report): void {
  const id = row.id as string;
  if (row.status !== 'credited') {
    if (row.lot_id !== null) report('payment_lot_without_credit', id, `payment ${id} is ${row.status} but names a lot`);
    return;
  }
  if (row.lot_found === null) {
    report('credited_payment_without_lot', id, `credited payment ${id} has no lot`);
    return;
  }
  if (row.source_type !== purchaseSourceType || row.source_id !== row.reference || row.lot_account !== row.account_id) {
    report('credited_payment_lot_mismatch', id, `the lot of credited payment ${id} is not its purchase lot`, {
      lotId: String(row.lot_found),
    });
  }
}

/**
 * Checks every `purchase` lot against its payment and every payment against its lot (one page at a time) and
 * answers how many payments there are.
 *
 * @example
 * const payments = await verifyPayments(tx, log.report, verifyPageSizeMax);
 */
export async function verifyPayments(tx: Tx, report: Report, pageSizeMax: number): Promise<number> {
  await forEachPage(tx, { name: 'verify_purchase_lots', query: purchaseLotsQuery, pageSizeMax }, (rows) => {
    for (const row of rows) checkPurchaseLot(row, report);
  });
  let count = 0;
  await forEachPage(tx, { name: 'verify_payments', query: paymentsQuery, pageSizeMax }, (rows) => {
    count += rows.length;
    for (const row of rows) checkPayment(row, report);
  });
  return count;
}
