/**
 * Revenue rule governance (DESIGN.md §3): propose → submit → approve (four-eyes) → cooldown → active → superseded,
 * `rejected` from pending approval or cooling down, and an emergency activation by a third admin with a reason.
 *
 * Every transition is one transaction (`runWrite`, so it takes an idempotency key) that
 * 1. takes a transaction-level advisory lock ({@link revenueRuleLockKey}), so transitions and activation runs from
 *    any number of connections or processes happen one after another and never leave two active rules or none
 *    (the partial unique index `revenue_rules_one_active_uq` is the last line);
 * 2. materializes the due activations first (the timeline of `./timeline.ts`, the same order read-time activation
 *    uses), so it acts on the state the reads already report;
 * 3. applies its own change, appends one `revenue_rule_audit` row per status change and one outbox event
 *    (`revenue_rule.proposed|submitted|approved|rejected|activated|superseded`, subject = the rule id) per row.
 */
import { randomUUID } from 'node:crypto';
import { and, eq, sql } from 'drizzle-orm';
import { execRows } from '../db/ledger-db.js';
import { events, type RevenueRuleStatus, revenueRuleAudit, revenueRules } from '../db/schema.js';
import {
  FourEyesViolationError,
  InvalidArgumentError,
  InvalidTransitionError,
  RevenueRuleNotFoundError,
} from '../errors.js';
import { assert } from '../ledger/assert.js';
import { type LedgerContext, runWrite, type Tx } from '../ledger/context.js';
import { assertId } from '../ledger/validate.js';
import { ruleCooldownMsDefault, ruleTextLengthMax } from '../limits.js';
import type { WriteOptions } from '../types.js';
import { planTimeline, type RuleRow, readTimeline, type TimelineStep, toRevenueRule } from './timeline.js';
import type {
  ActivateDueRulesResult,
  ProposeRuleInput,
  RevenueRule,
  RuleActionInput,
  RuleReasonedActionInput,
} from './types.js';
import { assertActor, assertRuleText, normalizeProposal, systemActor } from './validate.js';

/** Key of the transaction-level advisory lock every revenue rule transition takes (`pg_advisory_xact_lock`). */
export const revenueRuleLockKey = 7_340_207_112_002n;
/** Batches of due rules one materialization handles at most (each of `dueRulesPerBatchMax`). */
export const activationBatchesMax = 100;

/** The outbox event type of each status a transition reaches. */
export const revenueRuleEventTypes: Readonly<Record<RevenueRuleStatus, string>> = Object.freeze({
  draft: 'revenue_rule.proposed',
  pending_approval: 'revenue_rule.submitted',
  cooling_down: 'revenue_rule.approved',
  rejected: 'revenue_rule.rejected',
  active: 'revenue_rule.activated',
  superseded: 'revenue_rule.superseded',
});

/** One status change to audit and announce. */
interface TransitionRecord {
  rule: RuleRow;
  from: RevenueRuleStatus | null;
  to: RevenueRuleStatus;
  actor: string;
  reason: string | null;
  /** When the change took effect. */
  at: Date;
  payload?: Record<string, unknown>;
}

/** The transitions of one transaction, written together at the end (audit rows and events in one statement). */
class GovernanceWork {
  readonly tx: Tx;
  readonly now: Date;
  readonly records: TransitionRecord[] = [];
  /** What the materialization at the start of the transaction changed. */
  materialized: ActivateDueRulesResult = { activated: [], superseded: [], activeRuleId: '' };
  constructor(tx: Tx, now: Date) {
    this.tx = tx;
    this.now = now;
  }

  record(record: TransitionRecord): void {
    this.records.push(record);
  }

  async flush(): Promise<void> {
    if (this.records.length === 0) return;
    const nowText = this.now.toISOString();
    const auditValues = sql.join(
      this.records.map(
        (r) =>
          sql`(${r.rule.id}, ${r.actor}, ${r.from}::text, ${r.to}, ${r.reason}::text, ${r.at.toISOString()}::timestamptz)`,
      ),
      sql`, `,
    );
    const eventValues = sql.join(
      this.records.map((r) => {
        const payload = {
          ruleId: r.rule.id,
          version: r.rule.version,
          schemaVersion: r.rule.schemaVersion,
          name: r.rule.name,
          commonsBps: r.rule.commonsBps,
          communityBps: r.rule.communityBps,
          foundationBps: r.rule.foundationBps,
          referrerBps: r.rule.referrerBps,
          treasuryBps: r.rule.treasuryBps,
          fromStatus: r.from,
          toStatus: r.to,
          actor: r.actor,
          reason: r.reason,
          at: r.at.toISOString(),
          ...r.payload,
        };
        return sql`(${revenueRuleEventTypes[r.to]}, null, ${r.rule.id}, ${JSON.stringify(payload)}::jsonb, ${nowText}::timestamptz)`;
      }),
      sql`, `,
    );
    const [counts] = await execRows<{ audit: number; events: number }>(
      this.tx,
      sql`with audit as (
          insert into ${revenueRuleAudit} (rule_id, actor, from_status, to_status, reason, created_at)
          values ${auditValues} returning 1),
        ev as (
          insert into ${events} (type, account_id, subject_id, payload, created_at)
          values ${eventValues} returning 1)
        select (select count(*) from audit)::integer as audit, (select count(*) from ev)::integer as events`,
    );
    assert(
      Number(counts?.audit) === this.records.length && Number(counts?.events) === this.records.length,
      'every rule transition writes one audit row and one event',
      { expected: `${this.records.length}`, audit: `${counts?.audit}`, events: `${counts?.events}` },
    );
  }
}

/** Updates one rule from `from` (asserted) and returns the updated row. */
async function updateRule(
  tx: Tx,
  row: RuleRow,
  from: RevenueRuleStatus,
  values: Partial<typeof revenueRules.$inferInsert>,
): Promise<RuleRow> {
  const [updated] = await tx
    .update(revenueRules)
    .set(values)
    .where(and(eq(revenueRules.id, row.id), eq(revenueRules.status, from)))
    .returning();
  assert(updated !== undefined, 'a locked rule is in the status it was read in', { ruleId: row.id, from });
  return updated;
}

/**
 * Writes one timeline (see `./timeline.ts`): every rule but the last is superseded when the next takes effect;
 * due rules activate at their `activates_at`. Returns what changed.
 */
async function applyTimeline(
  work: GovernanceWork,
  steps: readonly TimelineStep[],
): Promise<{ activated: string[]; superseded: string[] }> {
  const activated: string[] = [];
  const superseded: string[] = [];
  let previous: RuleRow | null = null;
  for (const step of steps) {
    const { row } = step;
    if (step.activates) {
      const becameActive = { ...row, status: 'active' as const, activatedAt: step.activatedAt };
      work.record({
        rule: becameActive,
        from: 'cooling_down',
        to: 'active',
        actor: systemActor,
        reason: `cooldown ended at ${step.activatedAt.toISOString()}`,
        at: step.activatedAt,
        payload: { emergency: false, supersedesRuleId: previous?.id ?? null },
      });
      activated.push(row.id);
    }
    if (step.supersededAt !== null) {
      assert(step.supersededBy !== null, 'a superseded step names its successor', { ruleId: row.id });
      const updated = await updateRule(work.tx, row, row.status, {
        status: 'superseded',
        ...(step.activates ? { activatedAt: step.activatedAt } : {}),
        supersededAt: step.supersededAt,
      });
      work.record({
        rule: updated,
        from: 'active',
        to: 'superseded',
        actor: systemActor,
        reason: `superseded by ${step.supersededBy.id} (version ${step.supersededBy.version})`,
        at: step.supersededAt,
        payload: { supersededByRuleId: step.supersededBy.id },
      });
      superseded.push(row.id);
    } else if (step.activates) {
      // The last step: every earlier rule (the previously active one among them) is superseded by now, so the
      // one-active index holds.
      await updateRule(work.tx, row, 'cooling_down', { status: 'active', activatedAt: step.activatedAt });
    }
    previous = row;
  }
  return { activated, superseded };
}

/** Materializes every due activation (in batches, in timeline order); returns what changed and the rule in force. */
async function materializeDueRules(work: GovernanceWork): Promise<ActivateDueRulesResult> {
  const result: ActivateDueRulesResult = { activated: [], superseded: [], activeRuleId: '' };
  for (let batch = 0; batch < activationBatchesMax; batch += 1) {
    const timeline = await readTimeline(work.tx, work.now, { lock: true });
    const steps = planTimeline(timeline.rules);
    const changed = await applyTimeline(work, steps);
    result.activated.push(...changed.activated);
    result.superseded.push(...changed.superseded);
    result.activeRuleId = (steps[steps.length - 1] as TimelineStep).row.id;
    if (!timeline.more) break;
  }
  return result;
}

/** Takes the governance lock, then reads the clock (a transition never acts at a moment before the one it waited for). */
async function lockGovernance(ctx: LedgerContext, tx: Tx, startedAt: Date): Promise<Date> {
  await tx.execute(sql`select pg_advisory_xact_lock(${sql.raw(revenueRuleLockKey.toString())})`);
  return new Date(Math.max(ctx.clock.nowMs(), startedAt.getTime()));
}

/**
 * Runs one governance transaction: idempotency, the lock, due activations first, then `body`, then the audit rows
 * and events of everything it changed.
 */
async function governanceWrite<T>(
  ctx: LedgerContext,
  op: { scope: string; input: unknown; idempotencyKey: string | undefined; idempotencyScope?: string | undefined },
  body: (work: GovernanceWork) => Promise<T>,
): Promise<T> {
  return runWrite(ctx, op, async ({ tx, now: startedAt }) => {
    const now = await lockGovernance(ctx, tx, startedAt);
    const work = new GovernanceWork(tx, now);
    work.materialized = await materializeDueRules(work);
    const result = await body(work);
    await work.flush();
    return result;
  });
}

/** Locks (`FOR NO KEY UPDATE`) and reads one rule. */
async function lockRule(tx: Tx, ruleId: string): Promise<RuleRow> {
  const [row] = await tx.select().from(revenueRules).where(eq(revenueRules.id, ruleId)).for('no key update');
  if (row === undefined) throw new RevenueRuleNotFoundError(ruleId);
  return row;
}

function assertActionInput(input: RuleActionInput): void {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new InvalidArgumentError('input must be an object', { details: { field: 'input' } });
  }
  assertId('ruleId', input.ruleId);
  assertActor(input.actor);
}

/**
 * Proposes a rule: a new `draft` with the next version. Bps are integers 0–10 000 that sum to exactly 10 000;
 * schema 1 rules have no referrer or treasury share.
 *
 * @throws {InvalidArgumentError} when a field breaks its rule (nothing is written).
 * @throws {IdempotencyKeyReusedError} when the key was used with another request.
 * @example
 * const draft = await ledger.proposeRule({
 *   name: 'more for the community', schemaVersion: 1, commonsBps: 500, communityBps: 7500, foundationBps: 2000, actor: 'alice',
 * });
 */
export async function proposeRule(
  ctx: LedgerContext,
  input: ProposeRuleInput,
  options: WriteOptions = {},
): Promise<RevenueRule> {
  const proposal = normalizeProposal(input);
  return governanceWrite(
    ctx,
    {
      scope: 'revenueRule.propose',
      input: proposal,
      idempotencyKey: options.idempotencyKey,
      idempotencyScope: options.idempotencyScope,
    },
    async (work) => {
      const [row] = await work.tx
        .insert(revenueRules)
        .values({
          id: `rule_${randomUUID().replaceAll('-', '')}`,
          schemaVersion: proposal.schemaVersion,
          name: proposal.name,
          notes: proposal.notes,
          status: 'draft',
          commonsBps: proposal.commonsBps,
          communityBps: proposal.communityBps,
          foundationBps: proposal.foundationBps,
          referrerBps: proposal.referrerBps,
          treasuryBps: proposal.treasuryBps,
          proposedBy: proposal.actor,
          createdAt: work.now,
        })
        .returning();
      assert(row !== undefined, 'a proposed rule is inserted');
      work.record({ rule: row, from: null, to: 'draft', actor: proposal.actor, reason: proposal.notes, at: work.now });
      return toRevenueRule(row);
    },
  );
}

/**
 * Submits a draft for approval (`draft → pending_approval`).
 *
 * @throws {InvalidArgumentError} when the id or actor breaks its rule.
 * @throws {RevenueRuleNotFoundError}
 * @throws {InvalidTransitionError} when the rule is not a draft.
 * @example
 * await ledger.submitRule({ ruleId: draft.id, actor: 'alice' });
 */
export async function submitRule(
  ctx: LedgerContext,
  input: RuleActionInput,
  options: WriteOptions = {},
): Promise<RevenueRule> {
  assertActionInput(input);
  const normalized = { ruleId: input.ruleId, actor: input.actor };
  return governanceWrite(
    ctx,
    {
      scope: 'revenueRule.submit',
      input: normalized,
      idempotencyKey: options.idempotencyKey,
      idempotencyScope: options.idempotencyScope,
    },
    async (work) => {
      const row = await lockRule(work.tx, normalized.ruleId);
      if (row.status !== 'draft') throw new InvalidTransitionError(row.id, row.status, 'submit');
      const updated = await updateRule(work.tx, row, 'draft', {
        status: 'pending_approval',
        submittedBy: normalized.actor,
        submittedAt: work.now,
      });
      work.record({
        rule: updated,
        from: 'draft',
        to: 'pending_approval',
        actor: normalized.actor,
        reason: null,
        at: work.now,
      });
      return toRevenueRule(updated);
    },
  );
}

/**
 * Approves a rule pending approval (`pending_approval → cooling_down`); it becomes active when the cooldown
 * (`ruleCooldownMs`, default 48 h) has passed — at read time at once, in the table when the activation job or the
 * next transition runs. Four-eyes: the proposer cannot approve.
 *
 * @throws {InvalidArgumentError} when the id or actor breaks its rule.
 * @throws {RevenueRuleNotFoundError}
 * @throws {InvalidTransitionError} when the rule is not pending approval.
 * @throws {FourEyesViolationError} when the actor proposed the rule.
 * @example
 * const cooling = await ledger.approveRule({ ruleId: draft.id, actor: 'bob' });
 * cooling.activatesAt; // now + 48 h
 */
export async function approveRule(
  ctx: LedgerContext,
  input: RuleActionInput,
  options: WriteOptions = {},
): Promise<RevenueRule> {
  assertActionInput(input);
  const normalized = { ruleId: input.ruleId, actor: input.actor };
  return governanceWrite(
    ctx,
    {
      scope: 'revenueRule.approve',
      input: normalized,
      idempotencyKey: options.idempotencyKey,
      idempotencyScope: options.idempotencyScope,
    },
    async (work) => {
      const row = await lockRule(work.tx, normalized.ruleId);
      if (row.status !== 'pending_approval') throw new InvalidTransitionError(row.id, row.status, 'approve');
      if (normalized.actor === row.proposedBy) {
        throw new FourEyesViolationError(
          row.id,
          normalized.actor,
          'approve',
          'the proposer cannot approve their own rule',
        );
      }
      const activatesAt = new Date(work.now.getTime() + (ctx.ruleCooldownMs ?? ruleCooldownMsDefault));
      const updated = await updateRule(work.tx, row, 'pending_approval', {
        status: 'cooling_down',
        approvedBy: normalized.actor,
        approvedAt: work.now,
        activatesAt,
      });
      work.record({
        rule: updated,
        from: 'pending_approval',
        to: 'cooling_down',
        actor: normalized.actor,
        reason: null,
        at: work.now,
        payload: { activatesAt: activatesAt.toISOString() },
      });
      if (activatesAt.getTime() > work.now.getTime()) return toRevenueRule(updated);
      // A zero cooldown: the rule is due at once, so it activates in this transaction (and is superseded at once
      // in the one case the timeline ranks it before the active rule: a clock behind the one that activated it).
      await materializeDueRules(work);
      const [activated] = await work.tx.select().from(revenueRules).where(eq(revenueRules.id, row.id));
      assert(
        activated !== undefined && (activated.status === 'active' || activated.status === 'superseded'),
        'a rule due at approval is activated',
        { ruleId: row.id },
      );
      return toRevenueRule(activated);
    },
  );
}

/**
 * Rejects a rule pending approval or cooling down (`→ rejected`, terminal). A rule whose cooldown has ended is
 * already active and cannot be rejected.
 *
 * @throws {InvalidArgumentError} when the id, actor or reason breaks its rule (reason: 1–1 000 characters).
 * @throws {RevenueRuleNotFoundError}
 * @throws {InvalidTransitionError} when the rule is not pending approval or cooling down.
 * @example
 * await ledger.rejectRule({ ruleId, actor: 'carol', reason: 'the community share is too high' });
 */
export async function rejectRule(
  ctx: LedgerContext,
  input: RuleReasonedActionInput,
  options: WriteOptions = {},
): Promise<RevenueRule> {
  assertActionInput(input);
  assertRuleText('reason', input.reason, { max: ruleTextLengthMax });
  const normalized = { ruleId: input.ruleId, actor: input.actor, reason: input.reason };
  return governanceWrite(
    ctx,
    {
      scope: 'revenueRule.reject',
      input: normalized,
      idempotencyKey: options.idempotencyKey,
      idempotencyScope: options.idempotencyScope,
    },
    async (work) => {
      const row = await lockRule(work.tx, normalized.ruleId);
      if (row.status !== 'pending_approval' && row.status !== 'cooling_down') {
        throw new InvalidTransitionError(row.id, row.status, 'reject');
      }
      const updated = await updateRule(work.tx, row, row.status, {
        status: 'rejected',
        rejectedBy: normalized.actor,
        rejectedAt: work.now,
      });
      work.record({
        rule: updated,
        from: row.status,
        to: 'rejected',
        actor: normalized.actor,
        reason: normalized.reason,
        at: work.now,
      });
      return toRevenueRule(updated);
    },
  );
}

/**
 * Emergency activation: activates a cooling-down rule now, before its cooldown ends, superseding the rule in
 * force. Needs a third person: the actor can be neither the proposer nor the approver; and a reason.
 *
 * @throws {InvalidArgumentError} when the id, actor or reason breaks its rule (reason: 1–1 000 characters).
 * @throws {RevenueRuleNotFoundError}
 * @throws {InvalidTransitionError} when the rule is not cooling down.
 * @throws {FourEyesViolationError} when the actor proposed or approved the rule.
 * @example
 * await ledger.activateRuleNow({ ruleId, actor: 'carol', reason: 'the old split pays a closed pool' });
 */
export async function activateRuleNow(
  ctx: LedgerContext,
  input: RuleReasonedActionInput,
  options: WriteOptions = {},
): Promise<RevenueRule> {
  assertActionInput(input);
  assertRuleText('reason', input.reason, { max: ruleTextLengthMax });
  const normalized = { ruleId: input.ruleId, actor: input.actor, reason: input.reason };
  return governanceWrite(
    ctx,
    {
      scope: 'revenueRule.activateNow',
      input: normalized,
      idempotencyKey: options.idempotencyKey,
      idempotencyScope: options.idempotencyScope,
    },
    async (work) => {
      const row = await lockRule(work.tx, normalized.ruleId);
      if (row.status !== 'cooling_down') throw new InvalidTransitionError(row.id, row.status, 'activate');
      if (normalized.actor === row.proposedBy) {
        throw new FourEyesViolationError(
          row.id,
          normalized.actor,
          'activate',
          'the proposer cannot activate their own rule early',
        );
      }
      if (normalized.actor === row.approvedBy) {
        throw new FourEyesViolationError(
          row.id,
          normalized.actor,
          'activate',
          'an emergency activation needs an admin other than the approver',
        );
      }
      const [current] = await work.tx
        .select()
        .from(revenueRules)
        .where(eq(revenueRules.status, 'active'))
        .for('no key update');
      assert(current !== undefined, 'a revenue rule is active before an emergency activation');
      const superseded = await updateRule(work.tx, current, 'active', {
        status: 'superseded',
        supersededAt: work.now,
      });
      work.record({
        rule: superseded,
        from: 'active',
        to: 'superseded',
        actor: normalized.actor,
        reason: `superseded by the emergency activation of ${row.id} (version ${row.version})`,
        at: work.now,
        payload: { supersededByRuleId: row.id },
      });
      const activated = await updateRule(work.tx, row, 'cooling_down', {
        status: 'active',
        activatesAt: work.now,
        activatedAt: work.now,
        emergencyBy: normalized.actor,
        emergencyReason: normalized.reason,
      });
      work.record({
        rule: activated,
        from: 'cooling_down',
        to: 'active',
        actor: normalized.actor,
        reason: normalized.reason,
        at: work.now,
        payload: { emergency: true, supersedesRuleId: current.id },
      });
      return toRevenueRule(activated);
    },
  );
}

/**
 * The activation job: activates every `cooling_down` rule whose cooldown has ended, in `(activates_at, version)`
 * order, each superseding the previous one (`activated_at` = `superseded_at` of the previous = its `activates_at`),
 * audited as `system`. Safe to run from any number of processes at once (they take the governance lock in turn);
 * a run with nothing due changes nothing.
 *
 * @example
 * const { activated, activeRuleId } = await ledger.activateDueRules();
 */
export async function activateDueRules(ctx: LedgerContext): Promise<ActivateDueRulesResult> {
  return governanceWrite(
    ctx,
    { scope: 'revenueRule.activateDue', input: {}, idempotencyKey: undefined },
    async (work) => work.materialized,
  );
}
