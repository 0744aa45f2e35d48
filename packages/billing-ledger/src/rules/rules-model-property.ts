/**
 * The model-based property of revenue rule governance (fast-check `fc.commands`), shared by `rules.model.test.ts`
 * (PGlite) and `rules.model.pg.test.ts` (Postgres, needs DATABASE_URL).
 *
 * Random sequences of propose (valid schema 1 or 2, or invalid) / submit / approve / reject / activate-now / advance
 * clock / activate-due commands by random actors from a small set run on the real ledger and on the reference model
 * (`rules-model.ts`). After every step:
 * - the command's outcome (result, or error code) matches the model's;
 * - the stored rows match the model's state, and at most one row is `active`;
 * - every rule read as of now (read-time activation) matches the model's view, exactly one reads `active`, and it
 *   is the one `getActiveRule()` (`effectiveRuleSql`) answers;
 * - the audit rows and `revenue_rule.*` events written since the run started are exactly the model's transitions.
 *
 * Runs share a database (a fresh one every `runsPerDatabase` runs); each run builds its model from the stored rules
 * and picks a cooldown (0, 1 h or 48 h). The clock starts a day before the seeded rule's activation (so the first
 * runs cover due rules that rank before the active rule) and moves in whole seconds offset by 500 ms from it, so no
 * generated moment ties the seeded one. Env: RULES_MODEL_RUNS (default 100), RULES_MODEL_SEED / RULES_MODEL_PATH
 * to replay a failure.
 */

import { sql } from 'drizzle-orm';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { execRows } from '../db/ledger-db.js';
import { LedgerError } from '../errors.js';
import { createLedger, type Ledger } from '../ledger/ledger.js';
import { openTestLedgerDb, type TestLedgerDbHandle } from '../testing/test-db.js';
import { revenueRuleEventTypes } from './governance.js';
import { msSql } from './rules-kit.js';
import { type ModelAudit, ModelRefusal, type ModelRule, type ModelStatus, RulesModel } from './rules-model.js';
import type { RevenueRule } from './types.js';

const numRuns = Number(process.env.RULES_MODEL_RUNS ?? 100);
const seed = process.env.RULES_MODEL_SEED === undefined ? undefined : Number(process.env.RULES_MODEL_SEED);
const path = process.env.RULES_MODEL_PATH;
const commandsMax = 12;
const runsPerDatabase = 50;
const actors = ['alice', 'bob', 'carol', 'dave'] as const;
const hourMs = 3_600_000;
const cooldownsMs = [0, hourMs, 48 * hourMs] as const;

class TestClock {
  #nowMs = 0;
  nowMs(): number {
    return this.#nowMs;
  }
  set(nowMs: number): void {
    this.#nowMs = nowMs;
  }
  advance(deltaMs: number): void {
    this.#nowMs += deltaMs;
  }
}

interface ModelState {
  model: RulesModel;
}

interface RealState {
  ledger: Ledger;
  clock: TestClock;
  handle: TestLedgerDbHandle;
  auditIdStart: bigint;
  eventIdStart: bigint;
}

type Outcome<T> = { ok: true; value: T } | { ok: false; code: string; message: string };

async function attemptReal<T>(op: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await op() };
  } catch (error) {
    if (error instanceof LedgerError) return { ok: false, code: error.code, message: error.message };
    throw error;
  }
}

function attemptModel<T>(model: RulesModel, op: (m: RulesModel) => T): Outcome<T> {
  try {
    return { ok: true, value: model.attempt(op) };
  } catch (error) {
    if (error instanceof ModelRefusal) return { ok: false, code: error.code, message: error.message };
    throw error;
  }
}

const tally = new Map<string, number>();
const note = (key: string) => tally.set(key, (tally.get(key) ?? 0) + 1);

function sameOutcome<R, M>(label: string, real: Outcome<R>, model: Outcome<M>): [R, M] | null {
  note(`${label.split(' ')[0]} → ${model.ok ? 'ok' : model.code}`);
  if (real.ok && model.ok) return [real.value, model.value];
  const text = (o: Outcome<unknown>) => (o.ok ? 'success' : `${o.code} (${o.message})`);
  if (real.ok || model.ok || real.code !== model.code) {
    throw new Error(`${label}: ledger answered ${text(real)}, model ${text(model)}`);
  }
  return null;
}

/** The fields both sides know, for comparison. */
function shapeOfRule(rule: RevenueRule) {
  return {
    id: rule.id,
    version: rule.version,
    status: rule.status,
    proposedBy: rule.proposedBy,
    approvedBy: rule.approvedBy,
    emergencyBy: rule.emergencyBy,
    activatesAtMs: rule.activatesAt?.getTime() ?? null,
    activatedAtMs: rule.activatedAt?.getTime() ?? null,
    supersededAtMs: rule.supersededAt?.getTime() ?? null,
  };
}
function shapeOfModel(rule: ModelRule) {
  return {
    id: rule.id,
    version: rule.version,
    status: rule.status,
    proposedBy: rule.proposedBy,
    approvedBy: rule.approvedBy,
    emergencyBy: rule.emergencyBy,
    activatesAtMs: rule.activatesAtMs,
    activatedAtMs: rule.activatedAtMs,
    supersededAtMs: rule.supersededAtMs,
  };
}

interface StoredRow {
  id: string;
  version: number;
  status: ModelStatus;
  proposed_by: string;
  approved_by: string | null;
  emergency_by: string | null;
  activates_ms: string | null;
  activated_ms: string | null;
  superseded_ms: string | null;
}

const msOrNull = (value: string | null) => (value === null ? null : Number(value));
const ms = (column: string) => msSql(sql.raw(column));
const parsed = <T>(value: unknown): T => (typeof value === 'string' ? JSON.parse(value) : value) as T;

const toModelRule = (row: StoredRow): ModelRule => ({
  id: row.id,
  version: Number(row.version),
  status: row.status,
  proposedBy: row.proposed_by,
  approvedBy: row.approved_by,
  emergencyBy: row.emergency_by,
  activatesAtMs: msOrNull(row.activates_ms),
  activatedAtMs: msOrNull(row.activated_ms),
  supersededAtMs: msOrNull(row.superseded_ms),
});

/**
 * In one statement: every stored rule, and the audit rows and `revenue_rule.*` events written after the run's
 * marks.
 */
async function storedState(r: RealState): Promise<{
  rules: ModelRule[];
  audit: ModelAudit[];
  events: [string, string, string | null][];
}> {
  const [row] = await execRows<{ rules: unknown; audit: unknown; events: unknown }>(
    r.handle.db,
    sql`select
      (select coalesce(json_agg(json_build_object('id', id, 'version', version, 'status', status,
          'proposed_by', proposed_by, 'approved_by', approved_by, 'emergency_by', emergency_by,
          'activates_ms', ${ms('activates_at')}, 'activated_ms', ${ms('activated_at')},
          'superseded_ms', ${ms('superseded_at')}) order by version), '[]'::json)
        from revenue_rules) as rules,
      (select coalesce(json_agg(json_build_object('ruleId', rule_id, 'actor', actor, 'from', from_status,
          'to', to_status, 'atMs', ${ms('created_at')}) order by id), '[]'::json)
        from revenue_rule_audit where id > ${r.auditIdStart.toString()}::bigint) as audit,
      (select coalesce(json_agg(json_build_array(type, subject_id, account_id) order by id), '[]'::json)
        from events where id > ${r.eventIdStart.toString()}::bigint and type like 'revenue_rule.%') as events`,
  );
  return {
    rules: parsed<StoredRow[]>(row?.rules).map(toModelRule),
    audit: parsed<(Omit<ModelAudit, 'atMs'> & { atMs: string })[]>(row?.audit).map((a) => ({
      ...a,
      atMs: Number(a.atMs),
    })),
    events: parsed<[string, string, string | null][]>(row?.events),
  };
}

const timeMs = { ops: 0, checks: 0 };

/**
 * Every read and stored fact of the rules compared with the model after a step. After a refused command
 * (`changed: false`) the stored facts suffice: nothing changed, so the reads as of the same moment are the ones
 * the previous step checked.
 */
async function checkAll(m: ModelState, r: RealState, changed = true): Promise<void> {
  const t0 = performance.now();
  const nowMs = r.clock.nowMs();
  const stored = await storedState(r);
  // Stored rows: exactly the model's, one active (the seeded rule and supersession keep it at one).
  expect(stored.rules.map(shapeOfModel), 'stored rules').toEqual(
    [...m.model.rules.values()].sort((a, b) => a.version - b.version).map(shapeOfModel),
  );
  expect(stored.rules.filter((row) => row.status === 'active').length, 'stored active rules').toBe(1);
  // Audit rows and events of this run: one each per model transition, in order.
  expect(stored.audit, 'audit rows').toEqual(m.model.audit);
  expect(stored.events, 'events').toEqual(m.model.audit.map((a) => [revenueRuleEventTypes[a.to], a.ruleId, null]));
  if (!changed) {
    note('refusals checked (stored facts)');
    timeMs.checks += performance.now() - t0;
    return;
  }
  // Reads as of now: the model's view; one in force, the one getActiveRule answers.
  const view = m.model.view(nowMs);
  const read: RevenueRule[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 10; page += 1) {
    const listed: Awaited<ReturnType<Ledger['listRules']>> = await r.ledger.listRules({ limit: 200, cursor });
    read.push(...listed.items);
    cursor = listed.nextCursor;
    if (cursor === null) break;
  }
  expect(read.map(shapeOfRule), 'rules read as of now').toEqual(
    [...view.values()].sort((a, b) => b.version - a.version).map(shapeOfModel),
  );
  const inForce = read.filter((rule) => rule.status === 'active');
  expect(inForce.length, 'rules in force').toBe(1);
  expect((await r.ledger.getActiveRule()).id, 'getActiveRule').toBe(m.model.activeAt(nowMs).id);
  note('steps checked');
  timeMs.checks += performance.now() - t0;
}

/** The statuses a step applies to: the picker aims at them most of the time. */
const targetStatuses: Record<Step, readonly ModelStatus[]> = {
  submit: ['draft'],
  approve: ['pending_approval'],
  reject: ['pending_approval', 'cooling_down'],
  'activate-now': ['cooling_down'],
};

/**
 * A rule id to act on: mostly a rule the step applies to (as stored: a due rule may have become active since),
 * else any recent rule, and one pick in sixteen an id that does not exist.
 */
function pickRule(m: ModelState, step: Step, index: number): string {
  if (index % 16 === 15) return 'rule_unknown';
  const recent = [...m.model.rules.values()].sort((a, b) => b.version - a.version);
  const targets = recent.filter((rule) => targetStatuses[step].includes(rule.status));
  const pool = targets.length > 0 && index % 4 !== 3 ? targets : recent.slice(0, 6);
  return (pool[index % pool.length] as ModelRule).id;
}

type ProposalKind = 'schema1' | 'schema2' | 'bad_sum' | 'schema1_with_referrer';

class ProposeCommand implements fc.AsyncCommand<ModelState, RealState> {
  constructor(
    readonly actor: string,
    readonly kind: ProposalKind,
    readonly commonsBps: number,
  ) {}
  check = () => true;
  async run(m: ModelState, r: RealState): Promise<void> {
    const communityBps = 10_000 - this.commonsBps - 2_000;
    const input = {
      name: `rule by ${this.actor}`,
      actor: this.actor,
      ...(this.kind === 'schema2'
        ? {
            schemaVersion: 2 as const,
            commonsBps: this.commonsBps,
            communityBps,
            foundationBps: 1_000,
            referrerBps: 500,
            treasuryBps: 500,
          }
        : { schemaVersion: 1 as const, commonsBps: this.commonsBps, communityBps, foundationBps: 2_000 }),
      ...(this.kind === 'bad_sum' ? { foundationBps: 2_001 } : {}),
      ...(this.kind === 'schema1_with_referrer' ? { foundationBps: 1_999, referrerBps: 1 } : {}),
    };
    const t0 = performance.now();
    const real = await attemptReal(() => r.ledger.proposeRule(input));
    timeMs.ops += performance.now() - t0;
    const nowMs = r.clock.nowMs();
    const model = attemptModel(m.model, (model) => {
      if (this.kind === 'bad_sum' || this.kind === 'schema1_with_referrer') throw new ModelRefusal('invalid_argument');
      if (!real.ok) throw new Error(`the ledger refused a valid proposal: ${real.message}`);
      return model.propose({ id: real.value.id, version: real.value.version, actor: this.actor }, nowMs);
    });
    const pair = sameOutcome(`propose ${this.kind}`, real, model);
    if (pair) expect(shapeOfRule(pair[0])).toEqual(shapeOfModel(pair[1]));
    await checkAll(m, r, pair !== null);
  }
  toString = () => `propose(${this.actor}, ${this.kind}, ${this.commonsBps})`;
}

type Step = 'submit' | 'approve' | 'reject' | 'activate-now';

class TransitionCommand implements fc.AsyncCommand<ModelState, RealState> {
  constructor(
    readonly step: Step,
    readonly ruleIndex: number,
    readonly actor: string,
  ) {}
  check = () => true;
  async run(m: ModelState, r: RealState): Promise<void> {
    const ruleId = pickRule(m, this.step, this.ruleIndex);
    const nowMs = r.clock.nowMs();
    const actor = this.actor;
    const reason = `${this.step} by ${actor}`;
    const t0 = performance.now();
    const real = await attemptReal(() => {
      switch (this.step) {
        case 'submit':
          return r.ledger.submitRule({ ruleId, actor });
        case 'approve':
          return r.ledger.approveRule({ ruleId, actor });
        case 'reject':
          return r.ledger.rejectRule({ ruleId, actor, reason });
        default:
          return r.ledger.activateRuleNow({ ruleId, actor, reason });
      }
    });
    timeMs.ops += performance.now() - t0;
    const model = attemptModel(m.model, (model) => {
      switch (this.step) {
        case 'submit':
          return model.submit(ruleId, actor, nowMs);
        case 'approve':
          return model.approve(ruleId, actor, nowMs);
        case 'reject':
          return model.reject(ruleId, actor, nowMs);
        default:
          return model.activateNow(ruleId, actor, nowMs);
      }
    });
    const pair = sameOutcome(`${this.step} ${ruleId === 'rule_unknown' ? 'unknown' : ''}`.trim(), real, model);
    if (pair) expect(shapeOfRule(pair[0])).toEqual(shapeOfModel(pair[1]));
    await checkAll(m, r, pair !== null);
  }
  toString = () => `${this.step}(#${this.ruleIndex}, ${this.actor})`;
}

class AdvanceCommand implements fc.AsyncCommand<ModelState, RealState> {
  constructor(readonly deltaMs: number) {}
  check = () => true;
  async run(m: ModelState, r: RealState): Promise<void> {
    r.clock.advance(this.deltaMs);
    note('advance');
    await checkAll(m, r);
  }
  toString = () => `advance(${this.deltaMs})`;
}

class ActivateDueCommand implements fc.AsyncCommand<ModelState, RealState> {
  check = () => true;
  async run(m: ModelState, r: RealState): Promise<void> {
    const nowMs = r.clock.nowMs();
    const real = await attemptReal(() => r.ledger.activateDueRules());
    const model = attemptModel(m.model, (model) => model.materialize(nowMs));
    const pair = sameOutcome('activate-due', real, model);
    if (pair) expect(pair[0]).toEqual(pair[1]);
    await checkAll(m, r);
  }
  toString = () => 'activateDue()';
}

const actorArb = fc.constantFrom(...actors);
const commandArbs = [
  fc
    .tuple(
      actorArb,
      fc.constantFrom<ProposalKind>(
        'schema1',
        'schema1',
        'schema1',
        'schema2',
        'schema2',
        'bad_sum',
        'schema1_with_referrer',
      ),
      fc.integer({ min: 0, max: 8_000 }),
    )
    .map((a) => new ProposeCommand(...a)),
  ...(['submit', 'submit', 'approve', 'approve', 'reject', 'activate-now', 'activate-now'] as const).map((step) =>
    fc.tuple(fc.nat({ max: 63 }), actorArb).map(([index, actor]) => new TransitionCommand(step, index, actor)),
  ),
  fc
    .constantFrom(1_000, 60_000, hourMs, 24 * hourMs, 47 * hourMs + 59 * 60_000 + 59_000, 48 * hourMs, 72 * hourMs)
    .map((d) => new AdvanceCommand(d)),
  fc.constant(null).map(() => new ActivateDueCommand()),
];

/**
 * Each run starts with a rule on its way (proposed, submitted, then approved by a random admin — the proposer one
 * time in four, a four-eyes refusal), so the random commands that follow often find something to act on.
 */
const preludeArb = fc
  .tuple(actorArb, actorArb, fc.constantFrom<ProposalKind>('schema1', 'schema2'), fc.integer({ min: 0, max: 8_000 }))
  .map(([proposer, approver, kind, commonsBps]) => [
    new ProposeCommand(proposer, kind, commonsBps),
    new TransitionCommand('submit', 0, proposer),
    new TransitionCommand('approve', 0, approver),
  ]);

/**
 * Declares the property on one kind of database (`databaseUrl` undefined = PGlite in memory).
 *
 * @example
 * describeRulesModel('PGlite', undefined);
 */
export function describeRulesModel(name: string, databaseUrl: string | undefined): void {
  describe(`revenue rules vs reference model on ${name}`, () => {
    let handle: TestLedgerDbHandle | undefined;
    let runsOnDatabase = 0;
    const clock = new TestClock();
    afterAll(async () => {
      await handle?.close();
    });

    async function databaseForRun(): Promise<TestLedgerDbHandle> {
      if (handle === undefined || runsOnDatabase >= runsPerDatabase) {
        await handle?.close();
        handle = await openTestLedgerDb({ databaseUrl });
        runsOnDatabase = 0;
        const [seedRow] = await execRows<{ ms: string }>(
          handle.db,
          sql`select ${msSql(sql.raw('activated_at'))} as ms from revenue_rules where id = 'rule_initial'`,
        );
        clock.set(Number(seedRow?.ms) - 24 * hourMs + 500);
      }
      runsOnDatabase += 1;
      return handle;
    }

    it(`${numRuns} runs of up to ${commandsMax} commands match the model step by step`, async () => {
      const startedAtMs = Date.now();
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...cooldownsMs),
          preludeArb,
          fc.commands(commandArbs, { maxCommands: commandsMax, size: 'max' }),
          async (cooldownMs, prelude, commands) => {
            const db = await databaseForRun();
            const ledger = createLedger({ db: db.db, clock, ruleCooldownMs: cooldownMs });
            const [marks] = await execRows<{ audit: string; events: string }>(
              db.db,
              sql`select (select coalesce(max(id), 0) from revenue_rule_audit)::text as audit,
                (select coalesce(max(id), 0) from events)::text as events`,
            );
            const real: RealState = {
              ledger,
              clock,
              handle: db,
              auditIdStart: BigInt(marks?.audit ?? '0'),
              eventIdStart: BigInt(marks?.events ?? '0'),
            };
            const state: ModelState = { model: new RulesModel((await storedState(real)).rules, cooldownMs) };
            for (const command of prelude) await command.run(state, real);
            await fc.asyncModelRun(() => ({ model: state, real }), commands);
          },
        ),
        { numRuns, ...(seed === undefined ? {} : { seed }), ...(path === undefined ? {} : { path }) },
      );
      console.info(
        `revenue rules model on ${name}: ${numRuns} runs in ${((Date.now() - startedAtMs) / 1000).toFixed(1)} s ` +
          `(operations ${(timeMs.ops / 1000).toFixed(1)} s, checks ${(timeMs.checks / 1000).toFixed(1)} s); outcomes:\n` +
          [...tally.entries()]
            .sort(([x], [y]) => (x < y ? -1 : 1))
            .map(([key, n]) => `  ${key}: ${n}`)
            .join('\n'),
      );
      tally.clear();
      timeMs.ops = 0;
      timeMs.checks = 0;
    }, 3_600_000);
  });
}
