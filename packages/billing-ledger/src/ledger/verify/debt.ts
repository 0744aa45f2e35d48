/**
 * Debt checks: an account's debt is never negative and equals the consumed credit its refunds turned into debt (the
 * `debtAddedMicro` of its `lot.refunded` events) minus what later mints paid down (its `adjust` entries); every
 * `lot.refunded` event names its account and carries that amount.
 */
import type { Tx } from '../context.js';
import { lotRefundedEventType } from '../refund.js';
import { forEachPage, micro, type VerifyRow } from './pages.js';
import type { Report } from './report.js';
import { replayedEntry } from './sql.js';

const quotedType = `'${lotRefundedEventType.replace(/'/g, "''")}'`;
/** Refund events with their payload as a JSON object (a payload stored as a JSON string is decoded). */
const refundEvents = `(select ev.id, ev.account_id, ev.subject_id,
    case when jsonb_typeof(ev.payload) = 'string' then (ev.payload #>> '{}')::jsonb else ev.payload end as payload
  from events ev where ev.type = ${quotedType})`;
const wellFormed = `(p.account_id is not null and jsonb_typeof(p.payload -> 'debtAddedMicro') = 'string'
  and (p.payload ->> 'debtAddedMicro') ~ '^[0-9]{1,20}$')`;

export const accountsQuery = `with added as (
    select p.account_id, sum((p.payload ->> 'debtAddedMicro')::numeric)::text as added
    from ${refundEvents} p where ${wellFormed} group by p.account_id),
  paid as (
    select e.account_id, sum(e.amount_micro)::text as paid from entries e join lots l on l.id = e.lot_id
    where e.kind = 'adjust' and ${replayedEntry} group by e.account_id)
  select a.id, a.debt_micro::text as debt, coalesce(ad.added, '0') as added, coalesce(pd.paid, '0') as paid
  from accounts a left join added ad on ad.account_id = a.id left join paid pd on pd.account_id = a.id
  order by a.id`;

export const malformedEventsQuery = `select p.subject_id from ${refundEvents} p where not ${wellFormed} order by p.id`;

function checkAccount(row: VerifyRow, report: Report): void {
  const id = row.id as string;
  const debt = micro(row.debt);
  if (debt < 0n) report('account_debt_negative', id, `debt is ${debt}`);
  const expected = micro(row.added) - micro(row.paid);
  if (expected !== debt) {
    report('account_debt_mismatch', id, `debt is ${debt}, refunds minus paydowns give ${expected}`, {
      debtMicro: `${debt}`,
      expectedMicro: `${expected}`,
    });
  }
}

/**
 * Checks every account's debt and every refund event (one page at a time) and answers how many accounts there are.
 *
 * @example
 * const accounts = await verifyDebt(tx, log.report, verifyPageSizeMax);
 */
export async function verifyDebt(tx: Tx, report: Report, pageSizeMax: number): Promise<number> {
  await forEachPage(tx, { name: 'verify_refund_events', query: malformedEventsQuery, pageSizeMax }, (rows) => {
    for (const row of rows) {
      const subject = row.subject_id as string;
      report('event_payload_invalid', subject, 'a lot.refunded event must carry its account and debtAddedMicro');
    }
  });
  let count = 0;
  await forEachPage(tx, { name: 'verify_accounts', query: accountsQuery, pageSizeMax }, (rows) => {
    count += rows.length;
    for (const row of rows) checkAccount(row, report);
  });
  return count;
}
