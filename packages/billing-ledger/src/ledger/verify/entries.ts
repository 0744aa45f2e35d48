/**
 * Entry checks, each entry on its own: a positive amount, a bucket move its kind may make, a hold named exactly by the
 * kinds that have one (and existing, on the entry's account), an available balance on every entry but `distribute`
 * ones, an existing lot of the entry's account, and each `distribute` entry a share of its distribution. The database
 * evaluates every rule on every entry; only the entries that break one are read, in id order.
 */
import { sql } from 'drizzle-orm';
import { execRows } from '../../db/ledger-db.js';
import type { EntryKind } from '../../db/schema.js';
import type { Tx } from '../context.js';
import { forEachPage, type VerifyRow } from './pages.js';
import type { Report } from './report.js';
import { distributeEntryMatches } from './sql.js';

/** The bucket moves each entry kind may make (`from>to`). */
export const legalMoves: Readonly<Record<EntryKind, readonly string[]>> = {
  mint: ['external>available'],
  reserve: ['available>reserved'],
  release: ['reserved>available'],
  consume: ['reserved>consumed', 'available>consumed'],
  expire_lot: ['available>expired'],
  expire_hold: ['reserved>available'],
  refund: ['available>refunded'],
  adjust: ['available>consumed'],
  distribute: ['consumed>revenue', 'revenue>consumed'],
};
const kindsWithHold = ['reserve', 'release', 'consume', 'expire_hold'];
const kindsWithoutHold = ['mint', 'expire_lot', 'refund', 'adjust'];
const list = (values: readonly string[]) => values.map((v) => `'${v}'`).join(', ');
const legalMoveRows = Object.entries(legalMoves)
  .flatMap(([kind, moves]) => moves.map((move) => `('${kind}', '${move.replace('>', "', '")}')`))
  .join(', ');

/**
 * What each entry breaks, as one boolean per rule (a `distribute` entry is checked against its distribution; any
 * other entry against its lot, and then its hold). Only the entries that break something leave the database.
 */
const entryFlags = {
  amount_invalid: 'e.amount_micro <= 0',
  move_illegal: `(e.kind, e.from_bucket, e.to_bucket) not in (${legalMoveRows})`,
  hold_missing: `e.kind in (${list(kindsWithHold)}) and e.reservation_id is null`,
  hold_unexpected: `e.kind in (${list(kindsWithoutHold)}) and e.reservation_id is not null`,
  after_invalid: "(e.kind = 'distribute') <> (e.available_after_micro is null)",
  distribution_missing: "e.kind = 'distribute' and (d.id is null or e.lot_id is not null)",
  distribution_mismatch: `e.kind = 'distribute' and d.id is not null and e.lot_id is null and not ${distributeEntryMatches}`,
  lot_null: "e.kind <> 'distribute' and e.lot_id is null",
  lot_missing: "e.kind <> 'distribute' and e.lot_id is not null and l.id is null",
  account_mismatch: "e.kind <> 'distribute' and l.id is not null and l.account_id <> e.account_id",
  revenue_move: "e.kind <> 'distribute' and l.id is not null and 'revenue' in (e.from_bucket, e.to_bucket)",
  hold_foreign: `e.kind <> 'distribute' and l.id is not null and 'revenue' not in (e.from_bucket, e.to_bucket)
    and e.reservation_id is not null and (r.id is null or r.account_id <> e.account_id)`,
} as const;
type EntryFlag = keyof typeof entryFlags;

export const entriesQuery = `select * from (
    select e.id, e.id::text as subject_id, e.account_id, e.lot_id, e.reservation_id, e.kind,
      e.amount_micro::text as amount, e.from_bucket, e.to_bucket, l.account_id as lot_account_id, d.id as distribution_id,
      ${Object.entries(entryFlags)
        .map(([flag, condition]) => `coalesce(${condition}, false) as ${flag}`)
        .join(',\n      ')}
    from entries e left join lots l on l.id = e.lot_id left join reservations r on r.id = e.reservation_id
      left join distributions d on d.id = e.distribution_id) flagged
  where ${Object.keys(entryFlags).join(' or ')}
  order by id`;

/** The violation each flag reports. */
const entryViolations: Record<
  EntryFlag,
  (row: VerifyRow) => [rule: string, message: string, details?: Record<string, string>]
> = {
  amount_invalid: (row) => ['entry_amount_invalid', `amount ${row.amount} must be positive`],
  move_illegal: (row) => {
    const move = `${row.from_bucket}>${row.to_bucket}`;
    return ['entry_move_illegal', `a ${row.kind} entry may not move ${move}`, { kind: row.kind as string, move }];
  },
  hold_missing: (row) => ['entry_reservation_missing', `a ${row.kind} entry must name its hold`],
  hold_unexpected: (row) => ['entry_reservation_unexpected', `a ${row.kind} entry must not name a hold`],
  after_invalid: () => ['entry_available_after_invalid', 'only distribute entries carry no available balance'],
  distribution_missing: () => [
    'distribution_entry_invalid',
    'a distribute entry names an existing distribution and no lot',
  ],
  distribution_mismatch: (row) => [
    'distribution_entry_invalid',
    `entry does not match distribution ${row.distribution_id}`,
    { distributionId: row.distribution_id as string },
  ],
  lot_null: (row) => ['entry_lot_missing', `a ${row.kind} entry must name its lot`],
  lot_missing: (row) => ['entry_lot_missing', `lot ${row.lot_id} does not exist`],
  account_mismatch: (row) => [
    'entry_account_mismatch',
    `entry account ${row.account_id}, lot account ${row.lot_account_id}`,
  ],
  revenue_move: () => ['entry_move_illegal', 'revenue moves only on distribute entries'],
  hold_foreign: (row) => ['entry_reservation_missing', `hold ${row.reservation_id} does not exist on this account`],
};

function checkEntry(row: VerifyRow, report: Report): void {
  for (const flag of Object.keys(entryFlags) as EntryFlag[]) {
    if (!row[flag]) continue;
    const [rule, message, details] = entryViolations[flag](row);
    report(rule, `entry:${row.subject_id}`, message, details);
  }
}

/**
 * Checks every entry on its own (the entries that break a rule, one page at a time, in id order) and answers how many
 * entries there are. The checks that replay balances are in `replay.ts`.
 *
 * @example
 * const entries = await verifyEntries(tx, log.report, verifyPageSizeMax);
 */
export async function verifyEntries(tx: Tx, report: Report, pageSizeMax: number): Promise<number> {
  await forEachPage(tx, { name: 'verify_entries', query: entriesQuery, pageSizeMax }, (rows) => {
    for (const row of rows) checkEntry(row, report);
  });
  const [counted] = await execRows<{ entries: string }>(tx, sql`select count(*)::text as entries from entries`);
  return Number(counted?.entries ?? 0);
}
