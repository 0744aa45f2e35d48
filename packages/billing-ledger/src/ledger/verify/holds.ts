/**
 * Hold checks: a hold's lots add up to it, are numbered 0..n-1 and may be drawn from (the hold's account, its pool or
 * general); its entries (summed by the database per hold and lot) match the lots it recorded and its status; a
 * finalized hold's amounts follow its billing mode and equal its consume entries; a charge is distributed.
 */
import type { Tx } from '../context.js';
import { generalPoolId, minMicro } from '../lots.js';
import { forEachPage, micro, microOrNull, type VerifyRow } from './pages.js';
import type { Report } from './report.js';
import { replayedEntry } from './sql.js';

const reservedToConsumed = "e.from_bucket = 'reserved' and e.to_bucket = 'consumed'";
const extraConsume = "e.kind = 'consume' and e.from_bucket = 'available' and e.to_bucket = 'consumed'";
/**
 * Only entries on the hold's own account count toward it (one on another account is reported by the entry checks).
 * The condition sits in the sums, not in the join: the planner would take it as independent of the join on the hold
 * and expect almost no rows, and plan the joins for that.
 */
const ownHold = 'r.account_id = e.account_id';
const sumWhere = (condition: string) => `sum(case when ${ownHold} and (${condition}) then e.amount_micro else 0 end)`;
const countWhere = (condition: string) => `count(*) filter (where ${ownHold} and (${condition}))`;

export const holdsQuery = `with flow as (
    select e.reservation_id, e.lot_id, ${countWhere("e.kind = 'reserve'")} as reserve_entries,
      ${sumWhere("e.kind = 'reserve'")} as reserved,
      ${sumWhere(`e.kind in ('release', 'expire_hold') or (${reservedToConsumed})`)} as returned,
      ${sumWhere("e.kind = 'release'")} as released, ${sumWhere("e.kind = 'expire_hold'")} as expired_hold,
      ${sumWhere(reservedToConsumed)} as from_hold, ${sumWhere(extraConsume)} as extra,
      ${countWhere(`not (${extraConsume})`)} as held_moves
    from entries e join lots l on l.id = e.lot_id join reservations r on r.id = e.reservation_id
    where ${replayedEntry} group by e.reservation_id, e.lot_id),
  hold as (
    select f.reservation_id, count(*) filter (where f.reserve_entries > 0)::int as reserve_lots,
      sum(f.released)::text as released, sum(f.expired_hold)::text as expired_hold,
      sum(f.from_hold)::text as from_hold, sum(f.extra)::text as extra,
      bool_or(f.held_moves > 0 and p.lot_id is null) as foreign_lot
    from flow f left join reservation_lots p on p.reservation_id = f.reservation_id and p.lot_id = f.lot_id
    group by f.reservation_id)
  select r.id, r.account_id, r.pool_id, r.amount_micro::text as amount, r.status, r.billing_mode,
    r.actual_cost_micro::text as actual, r.charged_micro::text as charged, r.overrun_micro::text as overrun,
    r.uncollected_micro::text as uncollected, coalesce(h.reserve_lots, 0) as reserve_lots,
    coalesce(h.released, '0') as released, coalesce(h.expired_hold, '0') as expired_hold,
    coalesce(h.from_hold, '0') as from_hold, coalesce(h.extra, '0') as extra,
    coalesce(h.foreign_lot, false) as foreign_lot,
    exists (select 1 from distributions c where c.reservation_id = r.id and c.kind = 'charge'
      and c.account_id = r.account_id) as has_charge,
    p.position, p.lot_id as part_lot_id, p.amount_micro::text as part_amount, pl.id is not null as part_lot_exists,
    pl.account_id as part_lot_account, pl.pool_id as part_lot_pool,
    coalesce(f.reserved, 0)::text as part_reserved, coalesce(f.returned, 0)::text as part_returned
  from reservations r left join hold h on h.reservation_id = r.id
    left join reservation_lots p on p.reservation_id = r.id left join lots pl on pl.id = p.lot_id
    left join flow f on f.reservation_id = p.reservation_id and f.lot_id = p.lot_id
  order by r.id, p.position`;

/** One hold: its row (with its entry totals) and one row per lot it drew from, in position order. */
interface HoldRows {
  hold: VerifyRow;
  parts: VerifyRow[];
}

/** The hold's lots: numbered, drawable, adding up to the hold, each matched by the hold's entries on it. */
function checkParts({ hold, parts }: HoldRows, report: Report): void {
  const id = hold.id as string;
  let total = 0n;
  parts.forEach((part, index) => {
    const amount = micro(part.part_amount);
    total += amount;
    if (part.position !== index) {
      report('reservation_lots_positions', id, `position ${part.position} where ${index} was expected`);
    }
    const lotPool = part.part_lot_pool;
    if (
      !part.part_lot_exists ||
      part.part_lot_account !== hold.account_id ||
      (lotPool !== hold.pool_id && lotPool !== generalPoolId)
    ) {
      report('reservation_lot_foreign', id, `lot ${part.part_lot_id} is not a lot this hold may draw from`, {
        lotId: part.part_lot_id as string,
      });
    }
    if (micro(part.part_reserved) !== amount) {
      report(
        'reservation_entries_mismatch',
        id,
        `reserve entries on lot ${part.part_lot_id} do not add up to ${amount}`,
      );
    }
    const returned = micro(part.part_returned);
    const expected = hold.status === 'pending' ? 0n : amount;
    if (returned !== expected) {
      report(
        'reservation_entries_mismatch',
        id,
        `lot ${part.part_lot_id}: ${returned} left the hold, ${expected} expected`,
      );
    }
  });
  const amount = micro(hold.amount);
  if (total !== amount) {
    report('reservation_lots_sum', id, `hold lots add up to ${total}, the hold is ${amount}`, {
      totalMicro: `${total}`,
      amountMicro: `${amount}`,
    });
  }
  if (hold.foreign_lot)
    report('reservation_entries_mismatch', id, 'an entry of this hold touches a lot it did not draw from');
  if (Number(hold.reserve_lots) !== parts.length) {
    report('reservation_entries_mismatch', id, 'reserve entries name lots the hold did not record');
  }
}

/** A hold that is not finalized: nothing consumed, no amounts recorded, only its own kind of return entries. */
function checkUnfinalized(hold: VerifyRow, report: Report): void {
  const id = hold.id as string;
  const status = hold.status as string;
  const charged = micro(hold.from_hold) + micro(hold.extra);
  if (charged !== 0n) report('reservation_charged_mismatch', id, `a ${status} hold has ${charged} consumed`);
  if ([hold.actual, hold.charged, hold.overrun, hold.uncollected].some((v) => v !== null)) {
    report('reservation_outcome_invalid', id, 'only finalized holds record amounts');
  }
  if (status !== 'expired' && micro(hold.expired_hold) !== 0n) {
    report('reservation_entries_mismatch', id, `a ${status} hold has expire_hold entries`);
  }
  if (status !== 'released' && micro(hold.released) !== 0n) {
    report('reservation_entries_mismatch', id, `a ${status} hold has release entries`);
  }
}

/** A finalized hold: its recorded amounts follow its billing mode and equal its consume entries. */
function checkFinalized(hold: VerifyRow, report: Report): void {
  const id = hold.id as string;
  if (micro(hold.expired_hold) !== 0n)
    report('reservation_entries_mismatch', id, 'a finalized hold has expire_hold entries');
  const [actual, recordedCharged, overrun, uncollected] = [
    hold.actual,
    hold.charged,
    hold.overrun,
    hold.uncollected,
  ].map(microOrNull);
  if (actual == null || recordedCharged == null || overrun == null || uncollected == null) {
    report('reservation_outcome_invalid', id, 'a finalized hold must record cost, charge, overrun and uncollected');
    return;
  }
  const [fromHold, extra, amount] = [micro(hold.from_hold), micro(hold.extra), micro(hold.amount)];
  const charged = fromHold + extra;
  if (recordedCharged !== charged) {
    report('reservation_charged_mismatch', id, `charged ${recordedCharged}, consume entries add up to ${charged}`, {
      chargedMicro: `${recordedCharged}`,
      consumedMicro: `${charged}`,
    });
  }
  const expectedOverrun = actual > amount ? actual - amount : 0n;
  const fromHoldExpected = hold.billing_mode === 'shadow' ? 0n : minMicro(actual, amount);
  const rules: [boolean, string][] = [
    [overrun === expectedOverrun, `overrun ${overrun} should be ${expectedOverrun}`],
    [fromHold === fromHoldExpected, `${fromHold} consumed from the hold, ${fromHoldExpected} expected`],
  ];
  if (hold.billing_mode === 'shadow') {
    rules.push([charged === 0n && uncollected === 0n, 'a shadow hold charges nothing and leaves nothing uncollected']);
  } else {
    rules.push([recordedCharged + uncollected === actual, 'charged + uncollected must equal the cost']);
    if (hold.billing_mode === 'live') rules.push([extra === 0n, 'a live hold never charges beyond the hold']);
    else rules.push([extra <= expectedOverrun, 'a soft hold charges at most the overrun beyond the hold']);
  }
  for (const [holds, message] of rules) if (!holds) report('reservation_outcome_invalid', id, message);
}

function checkHold(rows: HoldRows, report: Report): void {
  const { hold } = rows;
  checkParts(rows, report);
  if (hold.status !== 'finalized') {
    checkUnfinalized(hold, report);
    return;
  }
  checkFinalized(hold, report);
  const charged = microOrNull(hold.charged) ?? 0n;
  if (charged > 0n && !hold.has_charge) {
    report('distribution_missing', hold.id as string, `hold charged ${charged} and distributed nothing`);
  }
}

/**
 * Checks every hold (one page at a time, in id order; a hold's rows may span two pages) and answers how many there
 * are.
 *
 * @example
 * const reservations = await verifyHolds(tx, log.report, verifyPageSizeMax);
 */
export async function verifyHolds(tx: Tx, report: Report, pageSizeMax: number): Promise<number> {
  let count = 0;
  let current: HoldRows | undefined;
  await forEachPage(tx, { name: 'verify_holds', query: holdsQuery, pageSizeMax }, (rows) => {
    for (const row of rows) {
      if (current === undefined || current.hold.id !== row.id) {
        if (current !== undefined) checkHold(current, report);
        current = { hold: row, parts: [] };
        count += 1;
      }
      if (row.part_lot_id !== null) current.parts.push(row);
    }
  });
  if (current !== undefined) checkHold(current, report);
  return count;
}
