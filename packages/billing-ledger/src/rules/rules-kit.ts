/**
 * Test support for the revenue rule tests (not exported from the package): a fresh migrated database with a manual
 * clock that starts after the seeded rule's activation, a ledger over it, and raw readers of the rule tables.
 */
import { type SQL, sql } from 'drizzle-orm';
import { execRows } from '../db/ledger-db.js';
import { type CreateLedgerOptions, createLedger, type Ledger } from '../ledger/ledger.js';
import { ManualClock } from '../ports/clock.js';
import { openTestLedgerDb, type TestLedgerDbHandle } from '../testing/test-db.js';

export interface RulesKit {
  handle: TestLedgerDbHandle;
  clock: ManualClock;
  ledger: Ledger;
  /** When the migration activated `rule_initial` (SQL `now()` at migration time). */
  seedActivatedAtMs: number;
  /** Stored rows of `revenue_rules` (id, status) ordered by version. */
  storedStatuses(): Promise<{ id: string; status: string }[]>;
  /** Every audit row, oldest first. */
  auditRows(): Promise<AuditRow[]>;
  /** Every `revenue_rule.*` event, oldest first. */
  ruleEvents(): Promise<{ type: string; subject_id: string; account_id: string | null; payload: unknown }[]>;
  close(): Promise<void>;
}

export interface AuditRow {
  rule_id: string;
  actor: string;
  from_status: string | null;
  to_status: string;
  reason: string | null;
  /** `created_at` in milliseconds since the epoch (floored). */
  created_ms: number;
}

/** SQL: a timestamp column as a base-10 string of milliseconds since the epoch (floored). */
export function msSql(column: SQL): SQL {
  return sql`floor(extract(epoch from ${column}) * 1000)::bigint::text`;
}

/**
 * Opens a kit. The clock starts `startOffsetMs` (default one minute) after the seeded rule's activation.
 *
 * @example
 * const kit = await openRulesKit({ ruleCooldownMs: 1_000 });
 */
export async function openRulesKit(
  options: Omit<CreateLedgerOptions, 'db' | 'clock'> & { startOffsetMs?: number } = {},
): Promise<RulesKit> {
  const { startOffsetMs = 60_000, ...ledgerOptions } = options;
  const handle = await openTestLedgerDb();
  const [seed] = await execRows<{ ms: string }>(
    handle.db,
    sql`select ${msSql(sql.raw('activated_at'))} as ms from revenue_rules where id = 'rule_initial'`,
  );
  const seedActivatedAtMs = Number(seed?.ms);
  const clock = new ManualClock(seedActivatedAtMs + startOffsetMs);
  const ledger = createLedger({ ...ledgerOptions, db: handle.db, clock });
  return {
    handle,
    clock,
    ledger,
    seedActivatedAtMs,
    storedStatuses: () =>
      execRows<{ id: string; status: string }>(handle.db, sql`select id, status from revenue_rules order by version`),
    auditRows: async () =>
      (
        await execRows<Omit<AuditRow, 'created_ms'> & { created_ms: string }>(
          handle.db,
          sql`select rule_id, actor, from_status, to_status, reason, ${msSql(sql.raw('created_at'))} as created_ms
            from revenue_rule_audit order by id`,
        )
      ).map((row) => ({ ...row, created_ms: Number(row.created_ms) })),
    ruleEvents: () =>
      execRows(
        handle.db,
        sql`select type, subject_id, account_id, payload from events where type like 'revenue_rule.%' order by id`,
      ),
    close: () => handle.close(),
  };
}
