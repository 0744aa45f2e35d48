/**
 * The journal replayed by the database: for every entry that replays into a lot, the lot's buckets after it (a
 * running sum over the lot's entries in id order) and its account's available credit after it (a running sum over
 * the account's entries). Checks that no entry overdraws the bucket it moves credit out of, and that each entry's
 * `available_after_micro` equals the account's available credit at the entry's time: the running sum less the credit
 * still in lots that had expired by then (expired lots are never usable, swept or not).
 */
import type { Tx } from '../context.js';
import { forEachPage, micro, type VerifyRow } from './pages.js';
import type { Report } from './report.js';
import { bucketDelta, epochMs, lotBuckets, replayedEntry } from './sql.js';

/**
 * Every entry that replays into a lot, with the balances after it. Only the rows a check may fail on leave the
 * database: an overdrawn bucket, a recorded balance other than the running sum, and every row of an account that has
 * lots with an expiry (its expected balance depends on which of them had expired at each entry's time).
 */
export const replayQuery = `select subject_id, account_id, lot_id, from_bucket, recorded, at_ms, expires_ms,
    from_after::text as from_after, lot_available::text as lot_available, account_available::text as account_available
  from (
    select e.id, e.id::text as subject_id, l.account_id, e.lot_id, e.from_bucket,
      e.available_after_micro::text as recorded, ${epochMs('e.created_at')} as at_ms,
      ${epochMs('l.expires_at')} as expires_ms, x.account_id is not null as account_expires,
      (case e.from_bucket ${lotBuckets.map((b) => `when '${b}' then sum(${bucketDelta(b)}) over lot_history`).join(' ')}
        end) as from_after,
      sum(${bucketDelta('available')}) over lot_history as lot_available,
      sum(${bucketDelta('available')}) over account_history as account_available,
      e.available_after_micro
    from entries e join lots l on l.id = e.lot_id
      left join (select distinct account_id from lots where expires_at is not null) x on x.account_id = l.account_id
    where ${replayedEntry}
    window lot_history as (partition by e.lot_id order by e.id rows between unbounded preceding and current row),
      account_history as (partition by l.account_id order by e.id rows between unbounded preceding and current row)
  ) replayed
  where account_expires or from_after < 0 or available_after_micro is distinct from account_available
  order by account_id, id`;

/**
 * The lots of the account being replayed that expire and still hold available credit (a lot leaves it when its
 * available credit is back to 0, e.g. once swept): the only state kept across rows, one account at a time.
 */
class ExpiringCredit {
  #accountId: string | null = null;
  readonly #byLot = new Map<string, { availableMicro: bigint; expiresAtMs: number }>();

  /** Takes the row's lot balance into account, then answers the available credit of lots expired at `atMs`. */
  expiredAt(row: VerifyRow, atMs: number): bigint {
    if (row.account_id !== this.#accountId) {
      this.#accountId = row.account_id as string;
      this.#byLot.clear();
    }
    if (row.expires_ms !== null) {
      const availableMicro = micro(row.lot_available);
      if (availableMicro === 0n) this.#byLot.delete(row.lot_id as string);
      else this.#byLot.set(row.lot_id as string, { availableMicro, expiresAtMs: Number(row.expires_ms) });
    }
    let expiredMicro = 0n;
    for (const lot of this.#byLot.values()) if (lot.expiresAtMs <= atMs) expiredMicro += lot.availableMicro;
    return expiredMicro;
  }
}

function checkRow(row: VerifyRow, expiring: ExpiringCredit, report: Report): void {
  const subject = `entry:${row.subject_id}`;
  if (row.from_after !== null && micro(row.from_after) < 0n) {
    report('entry_overdraws_bucket', subject, `${row.from_bucket} of lot ${row.lot_id} goes to ${row.from_after}`);
  }
  const available = micro(row.account_available) - expiring.expiredAt(row, Number(row.at_ms));
  const recorded = row.recorded === null ? null : micro(row.recorded);
  if (recorded !== available) {
    report('available_after_mismatch', subject, `available_after is ${recorded}, replay gives ${available}`, {
      accountId: row.account_id as string,
      recordedMicro: `${recorded}`,
      replayedMicro: `${available}`,
    });
  }
}

/**
 * Replays the journal (one page at a time, by account and then id) and checks every entry against it.
 *
 * @example
 * await verifyReplay(tx, log.report, verifyPageSizeMax);
 */
export async function verifyReplay(tx: Tx, report: Report, pageSizeMax: number): Promise<void> {
  const expiring = new ExpiringCredit();
  await forEachPage(tx, { name: 'verify_replay', query: replayQuery, pageSizeMax }, (rows) => {
    for (const row of rows) checkRow(row, expiring, report);
  });
}
