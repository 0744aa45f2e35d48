/**
 * Distribution checks: shares non-negative, adding up to the amount and equal to what their `distribute` entries
 * moved (summed by the database per distribution and pool); an existing rule version; the paying account's hold; one
 * charge per hold, of exactly its charge; a reversal reverses that hold's charge, and a charge's reversals never give
 * back more than a pool received.
 */
import { revenuePools } from '../../db/schema.js';
import type { Tx } from '../context.js';
import { forEachPage, micro, type VerifyRow } from './pages.js';
import type { Report } from './report.js';
import { distributeEntryMatches } from './sql.js';

const perPool = (column: (pool: string) => string) => revenuePools.map(column).join(', ');

export const distributionsQuery = `with moved as (
    select e.distribution_id, ${perPool((p) => `sum(e.amount_micro) filter (where e.memo = '${p}')::text as moved_${p}`)}
    from entries e join distributions d on d.id = e.distribution_id
    where e.kind = 'distribute' and ${distributeEntryMatches} group by e.distribution_id),
  reversed as (
    select v.reverses_id, ${perPool((p) => `sum(v.${p}_micro)::text as reversed_${p}`)}
    from distributions v join reservations r on r.id = v.reservation_id and r.account_id = v.account_id
      join distributions c on c.id = v.reverses_id and c.kind = 'charge' and c.reservation_id = v.reservation_id
        and c.rule_id = v.rule_id
    where v.kind <> 'charge' group by v.reverses_id)
  select d.id, d.kind, d.amount_micro::text as amount, d.reservation_id, d.reverses_id, d.rule_id, d.rule_version,
    ${perPool((p) => `d.${p}_micro::text as share_${p}, coalesce(m.moved_${p}, '0') as moved_${p}, rv.reversed_${p}`)},
    coalesce(rr.version = d.rule_version and rr.schema_version = d.rule_schema_version, false) as rule_ok,
    coalesce(r.account_id = d.account_id, false) as hold_ok, r.status as hold_status,
    r.charged_micro::text as hold_charged,
    coalesce(c.kind = 'charge' and c.reservation_id = d.reservation_id and c.rule_id = d.rule_id, false) as reversal_ok,
    count(*) filter (where d.kind = 'charge' and r.account_id = d.account_id) over (partition by d.reservation_id
      order by d.created_at, d.id rows between unbounded preceding and current row) as charges_so_far
  from distributions d left join revenue_rules rr on rr.id = d.rule_id
    left join reservations r on r.id = d.reservation_id left join distributions c on c.id = d.reverses_id
    left join moved m on m.distribution_id = d.id left join reversed rv on rv.reverses_id = d.id
  order by d.created_at, d.id`;

function checkShares(row: VerifyRow, report: Report): void {
  const id = row.id as string;
  const total = revenuePools.reduce((sum, pool) => sum + micro(row[`share_${pool}`]), 0n);
  const amount = micro(row.amount);
  if (total !== amount) report('distribution_shares_sum', id, `shares add up to ${total}, amount is ${amount}`);
  for (const pool of revenuePools) {
    const [share, moved] = [micro(row[`share_${pool}`]), micro(row[`moved_${pool}`])];
    if (share < 0n) report('distribution_share_negative', id, `${pool} share is negative`);
    if (moved !== share) {
      report('distribution_entries_mismatch', id, `${pool}: entries move ${moved}, share is ${share}`, { pool });
    }
    const reversed = row[`reversed_${pool}`];
    if (reversed !== null && micro(reversed) > share) {
      report('distribution_over_reversed', id, `${pool} gave back ${reversed}, received ${share}`, { pool });
    }
  }
}

function checkDistribution(row: VerifyRow, report: Report): void {
  const id = row.id as string;
  checkShares(row, report);
  if (!row.rule_ok) {
    report('distribution_rule_mismatch', id, `rule ${row.rule_id} v${row.rule_version} does not exist as recorded`);
  }
  const holdId = row.reservation_id as string;
  if (!row.hold_ok) {
    report('distribution_reservation_invalid', id, `hold ${holdId} is not the paying account's`);
  } else if (row.kind === 'charge') {
    if (Number(row.charges_so_far) > 1) report('distribution_duplicate', id, `hold ${holdId} has two charges`);
    if (row.hold_status !== 'finalized' || row.hold_charged === null || micro(row.hold_charged) !== micro(row.amount)) {
      report(
        'distribution_amount_mismatch',
        id,
        `distributes ${row.amount}, hold ${holdId} charged ${row.hold_charged}`,
      );
    }
  } else if (!row.reversal_ok) {
    report('distribution_reversal_invalid', id, `reverses ${row.reverses_id}, which is not this hold's charge`);
  }
}

/**
 * Checks every distribution (one page at a time, in time order) and answers how many there are.
 *
 * @example
 * const distributions = await verifyDistributions(tx, log.report, verifyPageSizeMax);
 */
export async function verifyDistributions(tx: Tx, report: Report, pageSizeMax: number): Promise<number> {
  let count = 0;
  await forEachPage(tx, { name: 'verify_distributions', query: distributionsQuery, pageSizeMax }, (rows) => {
    count += rows.length;
    for (const row of rows) checkDistribution(row, report);
  });
  return count;
}
