/**
 * Lot checks: buckets non-negative and adding up to the original; the reserved bucket equal to what pending holds
 * hold on the lot; every bucket equal to the replay of the lot's entries (summed by the database per lot); one mint
 * of the original.
 */

import type { Tx } from '../context.js';
import { bucketField } from '../lots.js';
import { forEachPage, micro, type VerifyRow } from './pages.js';
import type { Report } from './report.js';
import { bucketDelta, lotBuckets, replayedEntry } from './sql.js';

export const lotsQuery = `with replay as (
    select e.lot_id, ${lotBuckets.map((b) => `sum(${bucketDelta(b)})::text as replayed_${b}`).join(', ')},
      sum(case when e.kind = 'mint' then e.amount_micro else 0 end)::text as minted
    from entries e join lots l on l.id = e.lot_id where ${replayedEntry} group by e.lot_id),
  pending as (
    select rl.lot_id, sum(rl.amount_micro)::text as held from reservation_lots rl
    join reservations r on r.id = rl.reservation_id where r.status = 'pending' group by rl.lot_id)
  select l.id, a.id is null as account_missing, l.original_micro::text as original,
    ${lotBuckets.map((b) => `l.${b}_micro::text as stored_${b}, coalesce(rp.replayed_${b}, '0') as replayed_${b}`).join(', ')},
    coalesce(rp.minted, '0') as minted, coalesce(p.held, '0') as pending_held
  from lots l left join accounts a on a.id = l.account_id
    left join replay rp on rp.lot_id = l.id left join pending p on p.lot_id = l.id
  order by l.seq`;

function checkLot(row: VerifyRow, report: Report): void {
  const id = row.id as string;
  if (row.account_missing) report('lot_account_missing', id, `lot ${id} has no account`);
  const original = micro(row.original);
  let total = 0n;
  for (const bucket of lotBuckets) {
    const stored = micro(row[`stored_${bucket}`]);
    total += stored;
    const field = bucketField[bucket];
    if (stored < 0n) report('lot_bucket_negative', id, `${field} is ${stored}`, { field });
  }
  if (total !== original || original <= 0n) {
    report('lot_bucket_sum', id, `buckets add up to ${total}, original is ${original}`, {
      totalMicro: `${total}`,
      originalMicro: `${original}`,
    });
  }
  const reserved = micro(row.stored_reserved);
  const pending = micro(row.pending_held);
  if (pending !== reserved) {
    report('lot_reserved_mismatch', id, `reserved is ${reserved}, pending holds hold ${pending}`, {
      reservedMicro: `${reserved}`,
      pendingHoldsMicro: `${pending}`,
    });
  }
  for (const bucket of lotBuckets) {
    const [stored, replayed] = [micro(row[`stored_${bucket}`]), micro(row[`replayed_${bucket}`])];
    if (stored !== replayed) {
      report('lot_replay_mismatch', id, `${bucket} is ${stored}, the journal gives ${replayed}`, {
        bucket,
        storedMicro: `${stored}`,
        replayedMicro: `${replayed}`,
      });
    }
  }
  const minted = micro(row.minted);
  if (minted !== original) report('lot_mint_mismatch', id, `mint entries add up to ${minted}, original is ${original}`);
}

/**
 * Checks every lot (one page at a time, in `seq` order) and answers how many there are.
 *
 * @example
 * const lots = await verifyLots(tx, log.report, verifyPageSizeMax);
 */
export async function verifyLots(tx: Tx, report: Report, pageSizeMax: number): Promise<number> {
  let count = 0;
  await forEachPage(tx, { name: 'verify_lots', query: lotsQuery, pageSizeMax }, (rows) => {
    count += rows.length;
    for (const row of rows) checkLot(row, report);
  });
  return count;
}
