/**
 * Reads of revenue rules, as of now: a `cooling_down` rule whose cooldown has ended reads as `active` (and the rule
 * it replaces as `superseded`) before the activation job writes it. Each read is one statement that projects the
 * timeline of `./timeline.ts` in SQL: a timeline rule (active, or due) is superseded at the moment the next one by
 * rank takes effect, and the last one is the rule `effectiveRuleSql` answers.
 */
import { and, asc, desc, eq, lt, type SQL, sql } from 'drizzle-orm';
import { type RevenueRuleStatus, revenueRuleAudit, revenueRuleStatuses, revenueRules } from '../db/schema.js';
import { InvalidCursorError, RevenueRuleNotFoundError } from '../errors.js';
import { assert } from '../ledger/assert.js';
import type { LedgerContext } from '../ledger/context.js';
import { assertCount, assertId, assertObject } from '../ledger/validate.js';
import { ruleAuditEntriesMax, rulesPageSizeDefault, rulesPageSizeMax } from '../limits.js';
import type { Page } from '../types.js';
import { effectiveRuleSql } from './effective.js';
import { type RuleRow, toRevenueRule } from './timeline.js';
import type { ListRulesOptions, RevenueRule, RevenueRuleAuditEntry } from './types.js';
import { assertRuleStatus } from './validate.js';

/** A column of `revenue_rules` under a table name or alias, always qualified (select lists leave bare columns unqualified). */
function col(table: string, column: string): SQL {
  return sql`${sql.identifier(table)}.${sql.identifier(column)}`;
}

/** The rank a rule takes (or took) effect at: what `effectiveRuleSql` orders by. */
function rankSql(t: string): SQL {
  return sql`coalesce(case when ${col(t, 'status')} = 'active' then ${col(t, 'activated_at')} else ${col(t, 'activates_at')} end, ${col(t, 'created_at')})`;
}

/** The rule is on the timeline at `now`: active, or cooling down with its cooldown over. */
function onTimelineSql(t: string, nowText: string): SQL {
  return sql`(${col(t, 'status')} = 'active' or (${col(t, 'status')} = 'cooling_down' and ${col(t, 'activates_at')} <= ${nowText}::timestamptz))`;
}

/** The id of the rule in force at `now` (a scalar subquery over `effectiveRuleSql`). */
function effectiveIdSql(now: Date): SQL {
  return sql`(select e.id from (${effectiveRuleSql(now)}) as e)`;
}

const rules = 'revenue_rules';
const next = 'next_rule';

/** Selects rules with what the timeline makes of them at `now` (see {@link projected}). */
function selectProjected(ctx: LedgerContext, now: Date) {
  const nowText = now.toISOString();
  return ctx.db
    .select({
      rule: revenueRules,
      onTimeline: sql<boolean>`${onTimelineSql(rules, nowText)}`.mapWith(Boolean),
      effective: sql<boolean>`coalesce(${col(rules, 'id')} = ${effectiveIdSql(now)}, false)`.mapWith(Boolean),
      timelineAt: sql<Date>`${rankSql(rules)}`.mapWith(revenueRules.activatedAt),
      // Only timeline rules have a successor; the others skip the correlated subquery.
      nextAt: sql<Date | null>`case when ${onTimelineSql(rules, nowText)} then (
          select ${rankSql(next)} from ${revenueRules} as ${sql.identifier(next)}
          where ${onTimelineSql(next, nowText)}
            and (${rankSql(next)}, ${col(next, 'version')}) > (${rankSql(rules)}, ${col(rules, 'version')})
          order by ${rankSql(next)} asc, ${col(next, 'version')} asc limit 1) end`.mapWith(revenueRules.activatedAt),
    })
    .from(revenueRules);
}

interface ProjectedRow {
  rule: RuleRow;
  onTimeline: boolean;
  effective: boolean;
  timelineAt: Date;
  nextAt: Date | null;
}

/** A selected row as of now: timeline rules are active (the last) or superseded when the next took effect. */
function projected(row: ProjectedRow): RevenueRule {
  if (!row.onTimeline) {
    assert(!row.effective, 'the rule in force is on the timeline', { ruleId: row.rule.id });
    return toRevenueRule(row.rule);
  }
  assert(row.effective === (row.nextAt === null), 'read-time activation agrees with the timeline', {
    ruleId: row.rule.id,
  });
  return toRevenueRule(row.rule, {
    row: row.rule,
    activates: row.rule.status === 'cooling_down',
    activatedAt: row.timelineAt,
    supersededAt: row.nextAt,
    supersededBy: null,
  });
}

/**
 * One revenue rule, as of now.
 *
 * @throws {InvalidArgumentError} when the id breaks its rule.
 * @throws {RevenueRuleNotFoundError}
 * @example
 * const rule = await ledger.getRule('rule_initial');
 */
export async function getRule(ctx: LedgerContext, ruleId: string): Promise<RevenueRule> {
  assertId('ruleId', ruleId);
  const now = new Date(ctx.clock.nowMs());
  const [row] = await selectProjected(ctx, now).where(eq(revenueRules.id, ruleId));
  if (row === undefined) throw new RevenueRuleNotFoundError(ruleId);
  return projected(row);
}

/**
 * The rule in force now (read-time: a rule whose cooldown has ended is in force before the job activates it).
 * A ledger always has one: the migrations seed `rule_initial` and a rule is only superseded by another.
 *
 * @example
 * const { id, version, schemaVersion, commonsBps } = await ledger.getActiveRule();
 */
export async function getActiveRule(ctx: LedgerContext): Promise<RevenueRule> {
  const now = new Date(ctx.clock.nowMs());
  const rows = await selectProjected(ctx, now).where(sql`${revenueRules.id} = ${effectiveIdSql(now)}`);
  assert(rows.length === 1, 'a revenue rule is in force at every moment');
  const rule = projected(rows[0] as ProjectedRow);
  assert(rule.status === 'active', 'the rule in force reads as active', { ruleId: rule.id });
  return rule;
}

const cursorPrefix = 'r1:';

function encodeRuleCursor(version: number): string {
  return Buffer.from(`${cursorPrefix}${version}`, 'utf8').toString('base64url');
}

function decodeRuleCursor(cursor: unknown): number | null {
  if (cursor === undefined || cursor === null) return null;
  if (typeof cursor !== 'string' || cursor.length === 0 || cursor.length > 32 || !/^[A-Za-z0-9_-]+$/.test(cursor)) {
    throw new InvalidCursorError(cursor);
  }
  const match = /^r1:([1-9][0-9]{0,9})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  const version = match === null ? Number.NaN : Number(match[1]);
  if (!Number.isSafeInteger(version) || version > 2_147_483_647 || encodeRuleCursor(version) !== cursor) {
    throw new InvalidCursorError(cursor);
  }
  return version;
}

/** SQL: the rule's status as of now is `status`. */
function statusAsOfSql(status: RevenueRuleStatus, now: Date): SQL {
  const nowText = now.toISOString();
  const onTimeline = onTimelineSql(rules, nowText);
  const effective = sql`${col(rules, 'id')} = ${effectiveIdSql(now)}`;
  switch (status) {
    case 'active':
      return effective;
    case 'superseded':
      return sql`(${revenueRules.status} = 'superseded' or (${onTimeline} and not (${effective})))`;
    case 'cooling_down':
      return sql`(${revenueRules.status} = 'cooling_down' and ${revenueRules.activatesAt} > ${nowText}::timestamptz)`;
    default:
      return sql`${revenueRules.status} = ${status}`;
  }
}

/**
 * Revenue rules, newest (highest version) first, optionally only those in one status as of now; cursor-paginated.
 *
 * @throws {InvalidArgumentError} when the status or limit breaks its rule.
 * @throws {InvalidCursorError} when the cursor was not issued by `listRules`.
 * @example
 * const { items, nextCursor } = await ledger.listRules({ status: 'pending_approval' });
 */
export async function listRules(ctx: LedgerContext, options: ListRulesOptions = {}): Promise<Page<RevenueRule>> {
  assertObject('options', options);
  if (options.status !== undefined) assertRuleStatus(options.status);
  const limit = options.limit ?? rulesPageSizeDefault;
  assertCount('limit', limit, rulesPageSizeMax);
  const beforeVersion = decodeRuleCursor(options.cursor);
  const now = new Date(ctx.clock.nowMs());
  const rows = await selectProjected(ctx, now)
    .where(
      and(
        options.status === undefined ? undefined : statusAsOfSql(options.status, now),
        beforeVersion === null ? undefined : lt(revenueRules.version, beforeVersion),
      ),
    )
    .orderBy(desc(revenueRules.version))
    .limit(limit + 1);
  const page = rows.slice(0, limit);
  const items = page.map(projected);
  if (options.status !== undefined) {
    for (const rule of items) {
      assert(rule.status === options.status, 'a status filter returns rules in that status', { ruleId: rule.id });
    }
  }
  const last = page[page.length - 1];
  return { items, nextCursor: rows.length > limit && last !== undefined ? encodeRuleCursor(last.rule.version) : null };
}

/**
 * The audit trail of one rule, oldest first: every transition with its actor, statuses, reason and time. A rule
 * that is active only at read time has no activation row until the job (or the next transition) writes it.
 *
 * @throws {InvalidArgumentError} when the id breaks its rule.
 * @throws {RevenueRuleNotFoundError}
 * @example
 * for (const entry of await ledger.listRuleAudit(ruleId)) console.log(entry.actor, entry.fromStatus, '→', entry.toStatus);
 */
export async function listRuleAudit(ctx: LedgerContext, ruleId: string): Promise<RevenueRuleAuditEntry[]> {
  assertId('ruleId', ruleId);
  const rows = await ctx.db
    .select({ exists: sql<number>`1`, audit: revenueRuleAudit })
    .from(revenueRules)
    .leftJoin(revenueRuleAudit, eq(revenueRuleAudit.ruleId, revenueRules.id))
    .where(eq(revenueRules.id, ruleId))
    .orderBy(asc(revenueRuleAudit.id))
    .limit(ruleAuditEntriesMax);
  if (rows.length === 0) throw new RevenueRuleNotFoundError(ruleId);
  return rows.flatMap(({ audit }) => {
    if (audit === null) return [];
    const known = revenueRuleStatuses as readonly (string | null)[];
    assert(
      known.includes(audit.toStatus) && (audit.fromStatus === null || known.includes(audit.fromStatus)),
      'an audit row names known statuses',
      { auditId: `${audit.id}` },
    );
    return [
      {
        id: audit.id,
        ruleId: audit.ruleId,
        actor: audit.actor,
        fromStatus: audit.fromStatus as RevenueRuleStatus | null,
        toStatus: audit.toStatus as RevenueRuleStatus,
        reason: audit.reason,
        createdAt: audit.createdAt,
      },
    ];
  });
}
