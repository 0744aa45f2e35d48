/**
 * A tiny in-memory reference model of revenue rule governance, for the model-based test. It knows nothing of SQL:
 * rules, statuses, the four-eyes rules, the cooldown and the activation timeline (the rule in force is the last
 * by (moment it took effect, version) among the active rule and the due rules; each earlier one is superseded when
 * the next takes effect). A failed command changes nothing (its transaction rolls back).
 */

export type ModelStatus = 'draft' | 'pending_approval' | 'cooling_down' | 'active' | 'superseded' | 'rejected';

export interface ModelRule {
  id: string;
  version: number;
  proposedBy: string;
  approvedBy: string | null;
  emergencyBy: string | null;
  status: ModelStatus;
  activatesAtMs: number | null;
  activatedAtMs: number | null;
  supersededAtMs: number | null;
}

export interface ModelAudit {
  ruleId: string;
  actor: string;
  from: ModelStatus | null;
  to: ModelStatus;
  atMs: number;
}

/** An expected refusal: the error code the ledger must answer. */
export class ModelRefusal extends Error {
  readonly code: string;
  constructor(code: string) {
    super(code);
    this.code = code;
  }
}

const copyRule = (rule: ModelRule): ModelRule => ({ ...rule });

export class RulesModel {
  rules: Map<string, ModelRule>;
  audit: ModelAudit[];
  readonly cooldownMs: number;

  constructor(rules: readonly ModelRule[], cooldownMs: number, audit: ModelAudit[] = []) {
    this.rules = new Map(rules.map((rule) => [rule.id, copyRule(rule)]));
    this.audit = audit;
    this.cooldownMs = cooldownMs;
  }

  clone(): RulesModel {
    return new RulesModel([...this.rules.values()], this.cooldownMs, [...this.audit]);
  }

  /** Runs `step` on a copy and keeps the copy only when it succeeds (a refused transaction changes nothing). */
  attempt<T>(step: (model: RulesModel) => T): T {
    const copy = this.clone();
    const result = step(copy);
    this.rules = copy.rules;
    this.audit = copy.audit;
    return result;
  }

  /** The moment a timeline rule took (or takes) effect. */
  static rankMs(rule: ModelRule): number {
    return (rule.status === 'active' ? rule.activatedAtMs : rule.activatesAtMs) as number;
  }

  /** The active rule and the due rules, in the order they take effect. */
  timeline(nowMs: number): ModelRule[] {
    return [...this.rules.values()]
      .filter((r) => r.status === 'active' || (r.status === 'cooling_down' && (r.activatesAtMs as number) <= nowMs))
      .sort((a, b) => RulesModel.rankMs(a) - RulesModel.rankMs(b) || a.version - b.version);
  }

  /** Writes the due activations (what every transition does first, and the job). */
  materialize(nowMs: number): { activated: string[]; superseded: string[]; activeRuleId: string } {
    const timeline = this.timeline(nowMs);
    const ranks = timeline.map(RulesModel.rankMs);
    const activated: string[] = [];
    const superseded: string[] = [];
    timeline.forEach((rule, index) => {
      if (rule.status === 'cooling_down') {
        rule.status = 'active';
        rule.activatedAtMs = rule.activatesAtMs;
        this.audit.push({
          ruleId: rule.id,
          actor: 'system',
          from: 'cooling_down',
          to: 'active',
          atMs: ranks[index] as number,
        });
        activated.push(rule.id);
      }
      const nextMs = ranks[index + 1];
      if (nextMs !== undefined) {
        rule.status = 'superseded';
        rule.supersededAtMs = nextMs;
        this.audit.push({ ruleId: rule.id, actor: 'system', from: 'active', to: 'superseded', atMs: nextMs });
        superseded.push(rule.id);
      }
    });
    const last = timeline[timeline.length - 1];
    if (last === undefined) throw new Error('model: no rule in force');
    return { activated, superseded, activeRuleId: last.id };
  }

  /** The rules as reads report them at `nowMs` (read-time activation), without changing the model. */
  view(nowMs: number): Map<string, ModelRule> {
    const copy = this.clone();
    copy.materialize(nowMs);
    return copy.rules;
  }

  activeAt(nowMs: number): ModelRule {
    const active = [...this.view(nowMs).values()].filter((r) => r.status === 'active');
    if (active.length !== 1) throw new Error(`model: ${active.length} active rules`);
    return active[0] as ModelRule;
  }

  #rule(ruleId: string): ModelRule {
    const rule = this.rules.get(ruleId);
    if (rule === undefined) throw new ModelRefusal('revenue_rule_not_found');
    return rule;
  }

  propose(input: { id: string; version: number; actor: string }, nowMs: number): ModelRule {
    this.materialize(nowMs);
    const rule: ModelRule = {
      id: input.id,
      version: input.version,
      proposedBy: input.actor,
      approvedBy: null,
      emergencyBy: null,
      status: 'draft',
      activatesAtMs: null,
      activatedAtMs: null,
      supersededAtMs: null,
    };
    this.rules.set(rule.id, rule);
    this.audit.push({ ruleId: rule.id, actor: input.actor, from: null, to: 'draft', atMs: nowMs });
    return copyRule(rule);
  }

  submit(ruleId: string, actor: string, nowMs: number): ModelRule {
    this.materialize(nowMs);
    const rule = this.#rule(ruleId);
    if (rule.status !== 'draft') throw new ModelRefusal('invalid_transition');
    rule.status = 'pending_approval';
    this.audit.push({ ruleId, actor, from: 'draft', to: 'pending_approval', atMs: nowMs });
    return copyRule(rule);
  }

  approve(ruleId: string, actor: string, nowMs: number): ModelRule {
    this.materialize(nowMs);
    const rule = this.#rule(ruleId);
    if (rule.status !== 'pending_approval') throw new ModelRefusal('invalid_transition');
    if (actor === rule.proposedBy) throw new ModelRefusal('four_eyes_violation');
    rule.status = 'cooling_down';
    rule.approvedBy = actor;
    rule.activatesAtMs = nowMs + this.cooldownMs;
    this.audit.push({ ruleId, actor, from: 'pending_approval', to: 'cooling_down', atMs: nowMs });
    if (this.cooldownMs === 0) this.materialize(nowMs);
    return copyRule(rule);
  }

  reject(ruleId: string, actor: string, nowMs: number): ModelRule {
    this.materialize(nowMs);
    const rule = this.#rule(ruleId);
    if (rule.status !== 'pending_approval' && rule.status !== 'cooling_down') {
      throw new ModelRefusal('invalid_transition');
    }
    this.audit.push({ ruleId, actor, from: rule.status, to: 'rejected', atMs: nowMs });
    rule.status = 'rejected';
    return copyRule(rule);
  }

  activateNow(ruleId: string, actor: string, nowMs: number): ModelRule {
    this.materialize(nowMs);
    const rule = this.#rule(ruleId);
    if (rule.status !== 'cooling_down') throw new ModelRefusal('invalid_transition');
    if (actor === rule.proposedBy || actor === rule.approvedBy) throw new ModelRefusal('four_eyes_violation');
    const current = [...this.rules.values()].find((r) => r.status === 'active');
    if (current === undefined) throw new Error('model: no active rule');
    current.status = 'superseded';
    current.supersededAtMs = nowMs;
    this.audit.push({ ruleId: current.id, actor, from: 'active', to: 'superseded', atMs: nowMs });
    rule.status = 'active';
    rule.activatesAtMs = nowMs;
    rule.activatedAtMs = nowMs;
    rule.emergencyBy = actor;
    this.audit.push({ ruleId, actor, from: 'cooling_down', to: 'active', atMs: nowMs });
    return copyRule(rule);
  }
}
