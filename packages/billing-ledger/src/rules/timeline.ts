/**
 * The activation timeline of revenue rules: the rule in force and the due `cooling_down` rules, in the order they
 * take (or took) effect. One order serves the reads and the writes, so read-time activation and the activation job
 * always agree with `effectiveRuleSql` (`./effective.ts`):
 *
 * - the order is the one `effectiveRuleSql` ranks by — `coalesce(activated_at if active else activates_at,
 *   created_at)`, then `version` — evaluated by the database (so the microseconds of a timestamp written by SQL
 *   `now()` count the same way in both);
 * - the last rule of the timeline is the rule in force (the one `effectiveRuleSql` answers); every earlier one is
 *   superseded at the moment the next one takes effect. Normally that is "the active rule, then the due rules by
 *   `activates_at`"; when a due rule ranks before the active rule (a clock behind the one that activated it) it is
 *   activated and superseded in the same step, exactly as read-time activation already treats it.
 */
import { and, asc, eq, inArray, lte, or, type SQL, sql } from 'drizzle-orm';
import type { LedgerDb } from '../db/ledger-db.js';
import { revenueRules } from '../db/schema.js';
import { assert } from '../ledger/assert.js';
import type { RevenueRule } from './types.js';

/** A row of `revenue_rules` as drizzle reads it. */
export type RuleRow = typeof revenueRules.$inferSelect;

/** Due rules one timeline read loads at most (the activation job loops over batches of this size). */
export const dueRulesPerBatchMax = 100;

/**
 * The moment a rule took (or takes) effect, as SQL: the rank `effectiveRuleSql` orders by.
 *
 * @example
 * tx.select().from(revenueRules).orderBy(timelineAtSql(), revenueRules.version);
 */
export function timelineAtSql(): SQL {
  return sql`coalesce(case when ${revenueRules.status} = 'active' then ${revenueRules.activatedAt} else ${revenueRules.activatesAt} end, ${revenueRules.createdAt})`;
}

/** The timeline at a moment: its rules in order, and whether more due rules wait beyond this batch. */
export interface Timeline {
  rules: RuleRow[];
  /** True when more due rules than the batch exist; they all rank after the batch's rules. */
  more: boolean;
}

/**
 * Reads the timeline at `now`: the active rule and the first `batchSizeMax` due `cooling_down` rules (by rank), in
 * rank order. Pass `lock: true` inside a write to lock those rows (`FOR NO KEY UPDATE`).
 *
 * @example
 * const { rules, more } = await readTimeline(tx, now, { lock: true });
 */
export async function readTimeline(
  db: LedgerDb,
  now: Date,
  options: { lock?: boolean; batchSizeMax?: number } = {},
): Promise<Timeline> {
  const batchSizeMax = options.batchSizeMax ?? dueRulesPerBatchMax;
  const nowText = now.toISOString();
  const due = sql`(select ${revenueRules.id} from ${revenueRules}
    where ${revenueRules.status} = 'cooling_down' and ${revenueRules.activatesAt} <= ${nowText}::timestamptz
    order by ${revenueRules.activatesAt} asc, ${revenueRules.version} asc limit ${batchSizeMax + 1})`;
  const query = db
    .select()
    .from(revenueRules)
    .where(
      or(
        eq(revenueRules.status, 'active'),
        and(eq(revenueRules.status, 'cooling_down'), lte(revenueRules.activatesAt, now), inArray(revenueRules.id, due)),
      ),
    )
    .orderBy(asc(timelineAtSql()), asc(revenueRules.version));
  // `no key update`: the same lock an UPDATE of the row takes, which does not block a finalize inserting a
  // distribution that references the rule (its foreign key check takes `key share`).
  const rows = options.lock ? await query.for('no key update') : await query;
  const dueRows = rows.filter((row) => row.status === 'cooling_down');
  let rules = rows;
  let more = false;
  if (dueRows.length > batchSizeMax) {
    // The extra row only tells that more exist; it ranks last among the due rules, so drop it.
    const dropped = dueRows[dueRows.length - 1] as RuleRow;
    rules = rows.filter((row) => row !== dropped);
    more = true;
  }
  assert(rules.filter((row) => row.status === 'active').length <= 1, 'at most one revenue rule is active');
  assert(rules.length > 0, 'a revenue rule must be in force at every moment');
  return { rules, more };
}

/** The moment a timeline rule took (or takes) effect (see {@link timelineAtSql}). */
export function timelineAt(row: RuleRow): Date {
  if (row.status === 'active') return row.activatedAt ?? row.createdAt;
  assert(row.status === 'cooling_down' && row.activatesAt !== null, 'a due rule has an activation time', {
    ruleId: row.id,
  });
  return row.activatesAt;
}

/** What the timeline makes of one of its rules. */
export interface TimelineStep {
  row: RuleRow;
  /** The rule was cooling down: it becomes active at `activatedAt`. */
  activates: boolean;
  activatedAt: Date;
  /** When the next rule of the timeline takes effect; null for the rule in force. */
  supersededAt: Date | null;
  /** The rule that supersedes it; null for the rule in force. */
  supersededBy: RuleRow | null;
}

/**
 * Plans the timeline: each rule but the last is superseded when the next takes effect; due rules activate at
 * their `activates_at`.
 *
 * @example
 * const steps = planTimeline(timeline.rules);
 * const inForce = steps[steps.length - 1];
 */
export function planTimeline(rules: readonly RuleRow[]): TimelineStep[] {
  return rules.map((row, index) => {
    const next = rules[index + 1];
    return {
      row,
      activates: row.status === 'cooling_down',
      activatedAt: timelineAt(row),
      supersededAt: next === undefined ? null : timelineAt(next),
      supersededBy: next ?? null,
    };
  });
}

/**
 * A rule as reads report it: its stored row, or — for a timeline rule — what the timeline makes of it.
 *
 * @example
 * const rule = toRevenueRule(row, stepsById.get(row.id));
 */
export function toRevenueRule(row: RuleRow, step?: TimelineStep): RevenueRule {
  const schemaVersion = row.schemaVersion;
  assert(schemaVersion === 1 || schemaVersion === 2, 'a rule schema version is 1 or 2', { ruleId: row.id });
  const rule: RevenueRule = {
    id: row.id,
    version: row.version,
    schemaVersion,
    name: row.name,
    notes: row.notes,
    status: row.status,
    commonsBps: row.commonsBps,
    communityBps: row.communityBps,
    foundationBps: row.foundationBps,
    referrerBps: row.referrerBps,
    treasuryBps: row.treasuryBps,
    proposedBy: row.proposedBy,
    submittedBy: row.submittedBy,
    submittedAt: row.submittedAt,
    approvedBy: row.approvedBy,
    approvedAt: row.approvedAt,
    rejectedBy: row.rejectedBy,
    rejectedAt: row.rejectedAt,
    emergencyBy: row.emergencyBy,
    emergencyReason: row.emergencyReason,
    activatesAt: row.activatesAt,
    activatedAt: row.activatedAt,
    supersededAt: row.supersededAt,
    createdAt: row.createdAt,
  };
  if (step === undefined) return rule;
  assert(step.row.id === row.id, 'a timeline step projects its own rule', { ruleId: row.id });
  return {
    ...rule,
    status: step.supersededAt === null ? 'active' : 'superseded',
    activatedAt: step.activatedAt,
    supersededAt: step.supersededAt,
  };
}
