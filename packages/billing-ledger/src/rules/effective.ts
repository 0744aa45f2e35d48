/**
 * Which revenue rule governs a charge at a given moment. A `cooling_down` rule whose `activates_at` has passed is
 * active even if no activation job has run yet (read-time activation); the activation job (and every rule
 * transition) later materializes it with `activated_at = activates_at`, so both views agree.
 */
import { type Placeholder, sql } from 'drizzle-orm';
import { execRows } from '../db/ledger-db.js';
import { type RevenueRuleSchemaVersion, revenueRules } from '../db/schema.js';
import { assert } from '../ledger/assert.js';
import type { Tx } from '../ledger/context.js';

/** The fields of a rule a distribution needs. */
export interface EffectiveRule {
  id: string;
  version: number;
  schemaVersion: RevenueRuleSchemaVersion;
  commonsBps: number;
  communityBps: number;
  foundationBps: number;
  referrerBps: number;
  treasuryBps: number;
}

/**
 * The SQL that selects the rule in force at `now`: among the `active` rule and the due `cooling_down` rules, the one
 * that became (or becomes) active last — by activation time, then version. `now` may be a placeholder
 * (`sql.placeholder('now')`, filled with an ISO timestamp) for a query rendered once and prepared.
 *
 * @example
 * const [row] = await execRows(tx, effectiveRuleSql(now));
 */
export function effectiveRuleSql(now: Date | Placeholder) {
  const nowText = now instanceof Date ? now.toISOString() : now;
  return sql`select id, version, schema_version, commons_bps, community_bps, foundation_bps, referrer_bps, treasury_bps
    from ${revenueRules}
    where status = 'active' or (status = 'cooling_down' and activates_at <= ${nowText}::timestamptz)
    order by coalesce(case when status = 'active' then activated_at else activates_at end, created_at) desc, version desc
    limit 1`;
}

type EffectiveRuleRow = {
  id: string;
  version: number | string;
  schema_version: number | string;
  commons_bps: number | string;
  community_bps: number | string;
  foundation_bps: number | string;
  referrer_bps: number | string;
  treasury_bps: number | string;
};

/**
 * Maps a row of {@link effectiveRuleSql} (or `undefined` when no rule is in force) to an {@link EffectiveRule}.
 * A ledger always has a rule in force (one is seeded active by migration and a rule is only ever superseded by
 * another), so a missing rule is an invariant failure.
 *
 * @example
 * const rule = toEffectiveRule(row);
 */
export function toEffectiveRule(row: EffectiveRuleRow | undefined): EffectiveRule {
  assert(row !== undefined, 'a revenue rule must be in force at every moment');
  const schemaVersion = Number(row.schema_version);
  assert(schemaVersion === 1 || schemaVersion === 2, 'a rule schema version is 1 or 2', { ruleId: row.id });
  return {
    id: row.id,
    version: Number(row.version),
    schemaVersion,
    commonsBps: Number(row.commons_bps),
    communityBps: Number(row.community_bps),
    foundationBps: Number(row.foundation_bps),
    referrerBps: Number(row.referrer_bps),
    treasuryBps: Number(row.treasury_bps),
  };
}

/**
 * Reads the rule in force at `now` (see {@link effectiveRuleSql}).
 *
 * @example
 * const rule = await readEffectiveRule(tx, now);
 */
export async function readEffectiveRule(tx: Tx, now: Date): Promise<EffectiveRule> {
  const [row] = await execRows<EffectiveRuleRow>(tx, effectiveRuleSql(now));
  return toEffectiveRule(row);
}
