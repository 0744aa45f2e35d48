/**
 * SQL fragments the verify queries share, so each rule is written once: which entries replay into a lot, how an
 * entry moves a bucket, and when a `distribute` entry is a share of its distribution. Constant text only (the
 * queries run through cursors without parameters).
 */
import { buckets, type LotBucket, revenuePools } from '../../db/schema.js';
import { systemPoolAccounts } from '../../distribution/shares.js';

const quote = (value: string) => `'${value.replace(/'/g, "''")}'`;

/** The lot buckets (every bucket but `external` and `revenue`). */
export const lotBuckets = buckets.filter((b): b is LotBucket => b !== 'external' && b !== 'revenue');

/**
 * Entries (alias `e`, joined to their existing lot) that replay into the lot: every entry but `distribute` ones and
 * those naming the revenue bucket (reported, not replayed).
 */
export const replayedEntry = "e.kind <> 'distribute' and e.from_bucket <> 'revenue' and e.to_bucket <> 'revenue'";

/** What entry `e` adds to `bucket` of its lot (negative when it moves credit out of it). */
export const bucketDelta = (bucket: LotBucket): string =>
  `(case when e.to_bucket = '${bucket}' then e.amount_micro else 0 end - ` +
  `case when e.from_bucket = '${bucket}' then e.amount_micro else 0 end)`;

/** A timestamp column as epoch milliseconds, as text. */
export const epochMs = (column: string): string => `floor(extract(epoch from ${column}) * 1000)::int8::text`;

const poolAccount = `case e.memo ${Object.entries(systemPoolAccounts)
  .map(([pool, account]) => `when ${quote(pool)} then ${quote(account)}`)
  .join(' ')} when 'referrer' then d.referrer_account_id end`;

/**
 * Whether `distribute` entry `e` is a share of distribution `d` (left-joined: false when there is none): no lot, a
 * revenue pool in `memo`, the pool's account, the direction of the distribution's kind, and the distribution's
 * hold and rule version.
 */
export const distributeEntryMatches = `coalesce(d.id is not null and e.lot_id is null
  and e.memo in (${revenuePools.map(quote).join(', ')})
  and e.account_id = ${poolAccount}
  and (case when d.kind = 'charge' then e.from_bucket = 'consumed' and e.to_bucket = 'revenue'
       else e.from_bucket = 'revenue' and e.to_bucket = 'consumed' end)
  and e.reservation_id is not distinct from d.reservation_id and e.rule_id is not distinct from d.rule_id
  and e.rule_version is not distinct from d.rule_version
  and e.rule_schema_version is not distinct from d.rule_schema_version, false)`;
