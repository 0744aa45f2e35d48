import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execRows } from '../db/ledger-db.js';
import { createLedger } from '../ledger/ledger.js';
import { rejectsWithCode } from '../ledger/test-kit.js';
import { ruleCooldownMsDefault, ruleCooldownMsMax } from '../limits.js';
import { ManualClock } from '../ports/clock.js';
import { openRulesKit, type RulesKit } from './rules-kit.js';
import type { ProposeRuleInput, RevenueRuleStatus } from './types.js';

const backend = process.env.DATABASE_URL ? 'Postgres' : 'PGlite';
const hourMs = 3_600_000;

const split = { schemaVersion: 1, commonsBps: 1000, communityBps: 6000, foundationBps: 3000 } as const;
const proposal = (actor: string, extra: Partial<ProposeRuleInput> = {}): ProposeRuleInput => ({
  name: 'community first',
  ...split,
  actor,
  ...extra,
});

describe(`revenue rule governance on ${backend}`, () => {
  // One database for the file (opening one is slow); each test starts from whatever rule is in force, after
  // settling the due activations earlier tests left, and looks only at the rules it created.
  let kit: RulesKit;
  beforeAll(async () => {
    kit = await openRulesKit();
  });
  afterAll(async () => {
    await kit?.close();
  });

  /** Writes every due activation and answers the rule in force. */
  async function settle(): Promise<string> {
    return (await kit.ledger.activateDueRules()).activeRuleId;
  }

  /** Stored statuses of these rules, in the order given. */
  async function stored(...ids: string[]): Promise<(string | undefined)[]> {
    const rows = await kit.storedStatuses();
    return ids.map((id) => rows.find((row) => row.id === id)?.status);
  }

  /** A rule proposed by `proposer`, submitted, approved by `approver`: cooling down. */
  async function cooling(proposer = 'alice', approver = 'bob', extra: Partial<ProposeRuleInput> = {}) {
    const draft = await kit.ledger.proposeRule(proposal(proposer, extra));
    await kit.ledger.submitRule({ ruleId: draft.id, actor: proposer });
    return kit.ledger.approveRule({ ruleId: draft.id, actor: approver });
  }

  it('starts with the seeded rule in force: commons 500, community 7000, foundation 2500, schema 1', async () => {
    const active = await kit.ledger.getActiveRule();
    expect(active).toMatchObject({
      id: 'rule_initial',
      version: 1,
      schemaVersion: 1,
      status: 'active',
      commonsBps: 500,
      communityBps: 7000,
      foundationBps: 2500,
      referrerBps: 0,
      treasuryBps: 0,
    });
    expect(await kit.ledger.listRuleAudit('rule_initial')).toEqual([
      expect.objectContaining({ actor: 'system', fromStatus: null, toStatus: 'active' }),
    ]);
  });

  it('walks draft → pending_approval → cooling_down → active (read time, then written by the job) → superseded', async () => {
    const previous = await settle();
    expect(previous).toBe('rule_initial'); // the file's first transition
    const eventsBefore = (await kit.ruleEvents()).length;
    const draft = await kit.ledger.proposeRule(proposal('alice', { notes: 'more for the community' }));
    expect(draft).toMatchObject({ status: 'draft', proposedBy: 'alice', notes: 'more for the community' });
    expect(draft.id).toMatch(/^rule_[0-9a-f]{32}$/);
    expect(draft.version).toBeGreaterThan(1);
    const pending = await kit.ledger.submitRule({ ruleId: draft.id, actor: 'alice' });
    expect(pending).toMatchObject({ status: 'pending_approval', submittedBy: 'alice' });
    const approvedAtMs = kit.clock.nowMs();
    const approved = await kit.ledger.approveRule({ ruleId: draft.id, actor: 'bob' });
    expect(approved).toMatchObject({ status: 'cooling_down', approvedBy: 'bob' });
    expect(approved.activatesAt?.getTime()).toBe(approvedAtMs + ruleCooldownMsDefault);

    kit.clock.advance(ruleCooldownMsDefault - 1);
    expect((await kit.ledger.getActiveRule()).id).toBe(previous);
    expect((await kit.ledger.getRule(draft.id)).status).toBe('cooling_down');

    // The cooldown ends: in force at read time, before anything is written.
    kit.clock.advance(1);
    const dueAt = approvedAtMs + ruleCooldownMsDefault;
    expect(await kit.ledger.getActiveRule()).toMatchObject({ id: draft.id, status: 'active' });
    expect((await kit.ledger.getRule(draft.id)).activatedAt?.getTime()).toBe(dueAt);
    expect(await kit.ledger.getRule(previous)).toMatchObject({ status: 'superseded' });
    expect((await kit.ledger.getRule(previous)).supersededAt?.getTime()).toBe(dueAt);
    expect(await stored(previous, draft.id)).toEqual(['active', 'cooling_down']);

    kit.clock.advance(hourMs);
    const run = await kit.ledger.activateDueRules();
    expect(run).toEqual({ activated: [draft.id], superseded: [previous], activeRuleId: draft.id });
    expect(await stored(previous, draft.id)).toEqual(['superseded', 'active']);
    // Written with the moment the cooldown ended, not the moment the job ran.
    const active = await kit.ledger.getRule(draft.id);
    expect(active.activatedAt?.getTime()).toBe(dueAt);
    expect((await kit.ledger.getRule(previous)).supersededAt?.getTime()).toBe(dueAt);
    expect(await kit.ledger.activateDueRules()).toEqual({ activated: [], superseded: [], activeRuleId: draft.id });

    const trail = (await kit.ledger.listRuleAudit(draft.id)).map((e) => [e.actor, e.fromStatus, e.toStatus]);
    expect(trail).toEqual([
      ['alice', null, 'draft'],
      ['alice', 'draft', 'pending_approval'],
      ['bob', 'pending_approval', 'cooling_down'],
      ['system', 'cooling_down', 'active'],
    ]);
    const previousTrail = await kit.ledger.listRuleAudit(previous);
    expect(previousTrail.map((e) => [e.actor, e.fromStatus, e.toStatus]).slice(-2)).toEqual([
      ['system', null, 'active'],
      ['system', 'active', 'superseded'],
    ]);
    expect(previousTrail[previousTrail.length - 1]?.createdAt.getTime()).toBe(dueAt);

    const events = (await kit.ruleEvents()).slice(eventsBefore);
    expect(events.map((e) => [e.type, e.subject_id, e.account_id])).toEqual([
      ['revenue_rule.proposed', draft.id, null],
      ['revenue_rule.submitted', draft.id, null],
      ['revenue_rule.approved', draft.id, null],
      ['revenue_rule.superseded', previous, null],
      ['revenue_rule.activated', draft.id, null],
    ]);
    expect(events[4]?.payload).toMatchObject({
      ruleId: draft.id,
      version: draft.version,
      schemaVersion: 1,
      commonsBps: 1000,
      fromStatus: 'cooling_down',
      toStatus: 'active',
      actor: 'system',
      emergency: false,
      supersedesRuleId: previous,
    });
  });

  it('four-eyes: the proposer cannot approve (403 four_eyes_violation) and nothing changes', async () => {
    const draft = await kit.ledger.proposeRule(proposal('alice'));
    await kit.ledger.submitRule({ ruleId: draft.id, actor: 'alice' });
    const before = await kit.auditRows();
    const error = await rejectsWithCode(
      kit.ledger.approveRule({ ruleId: draft.id, actor: 'alice' }),
      'four_eyes_violation',
    );
    expect((error as unknown as { httpStatus: number }).httpStatus).toBe(403);
    expect(await kit.auditRows()).toEqual(before);
    expect((await kit.ledger.getRule(draft.id)).status).toBe('pending_approval');
  });

  it('emergency activation needs a third admin and a reason, and supersedes the rule in force at once', async () => {
    const previous = await settle();
    const rule = await cooling('alice', 'bob');
    await rejectsWithCode(
      kit.ledger.activateRuleNow({ ruleId: rule.id, actor: 'alice', reason: 'urgent' }),
      'four_eyes_violation',
    );
    await rejectsWithCode(
      kit.ledger.activateRuleNow({ ruleId: rule.id, actor: 'bob', reason: 'urgent' }),
      'four_eyes_violation',
    );
    for (const reason of ['', '   ', 'x'.repeat(1001), undefined]) {
      await rejectsWithCode(
        kit.ledger.activateRuleNow({ ruleId: rule.id, actor: 'carol', reason: reason as string }),
        'invalid_argument',
      );
    }
    expect((await kit.ledger.getRule(rule.id)).status).toBe('cooling_down');
    kit.clock.advance(hourMs);
    const nowMs = kit.clock.nowMs();
    const active = await kit.ledger.activateRuleNow({
      ruleId: rule.id,
      actor: 'carol',
      reason: 'the old split pays a closed pool',
    });
    expect(active).toMatchObject({
      status: 'active',
      emergencyBy: 'carol',
      emergencyReason: 'the old split pays a closed pool',
    });
    expect(active.activatedAt?.getTime()).toBe(nowMs);
    expect((await kit.ledger.getActiveRule()).id).toBe(rule.id);
    const replaced = await kit.ledger.getRule(previous);
    expect(replaced.status).toBe('superseded');
    expect(replaced.supersededAt?.getTime()).toBe(nowMs);
    const audit = await kit.auditRows();
    expect(audit.slice(-2).map((r) => [r.rule_id, r.actor, r.from_status, r.to_status, r.reason])).toEqual([
      [
        previous,
        'carol',
        'active',
        'superseded',
        `superseded by the emergency activation of ${rule.id} (version ${rule.version})`,
      ],
      [rule.id, 'carol', 'cooling_down', 'active', 'the old split pays a closed pool'],
    ]);
    // Already active: nothing left to activate early.
    await rejectsWithCode(
      kit.ledger.activateRuleNow({ ruleId: rule.id, actor: 'dave', reason: 'again' }),
      'invalid_transition',
    );
  });

  it('rejects from pending_approval and from cooling_down only; a rule past its cooldown is active and cannot be', async () => {
    const pendingDraft = await kit.ledger.proposeRule(proposal('alice'));
    await rejectsWithCode(
      kit.ledger.rejectRule({ ruleId: pendingDraft.id, actor: 'bob', reason: 'not yet submitted' }),
      'invalid_transition',
    );
    await kit.ledger.submitRule({ ruleId: pendingDraft.id, actor: 'alice' });
    const rejected = await kit.ledger.rejectRule({ ruleId: pendingDraft.id, actor: 'alice', reason: 'withdrawn' });
    expect(rejected).toMatchObject({ status: 'rejected', rejectedBy: 'alice' });
    for (const step of [
      () => kit.ledger.submitRule({ ruleId: pendingDraft.id, actor: 'alice' }),
      () => kit.ledger.approveRule({ ruleId: pendingDraft.id, actor: 'bob' }),
      () => kit.ledger.rejectRule({ ruleId: pendingDraft.id, actor: 'bob', reason: 'again' }),
      () => kit.ledger.activateRuleNow({ ruleId: pendingDraft.id, actor: 'carol', reason: 'now' }),
    ]) {
      await rejectsWithCode(step(), 'invalid_transition');
    }

    const previous = await settle();
    const coolingRule = await cooling('alice', 'bob');
    expect(
      await kit.ledger.rejectRule({ ruleId: coolingRule.id, actor: 'carol', reason: 'too generous' }),
    ).toMatchObject({
      status: 'rejected',
    });
    kit.clock.advance(ruleCooldownMsDefault);
    expect((await kit.ledger.getActiveRule()).id).toBe(previous);

    const late = await cooling('alice', 'bob');
    kit.clock.advance(ruleCooldownMsDefault);
    const error = await rejectsWithCode(
      kit.ledger.rejectRule({ ruleId: late.id, actor: 'carol', reason: 'too late' }),
      'invalid_transition',
    );
    expect(error.message).toContain('is active');
    // The refused transition rolled back whole, the activation it wrote first included; reads still see it active.
    expect(await stored(late.id)).toEqual(['cooling_down']);
    expect((await kit.ledger.getActiveRule()).id).toBe(late.id);
    await rejectsWithCode(
      kit.ledger.rejectRule({ ruleId: previous, actor: 'carol', reason: 'x' }),
      'invalid_transition',
    );
    expect(await kit.ledger.listRuleAudit(coolingRule.id)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          actor: 'carol',
          fromStatus: 'cooling_down',
          toStatus: 'rejected',
          reason: 'too generous',
        }),
      ]),
    );
  });

  it('activates several due rules in (activates_at, version) order, each superseding the previous', async () => {
    const previous = await settle();
    const first = await cooling('alice', 'bob');
    kit.clock.advance(hourMs);
    const second = await cooling('carol', 'dave');
    const third = await cooling('carol', 'bob'); // same activates_at as `second`: version breaks the tie
    expect(third.activatesAt).toEqual(second.activatesAt);
    kit.clock.advance(ruleCooldownMsDefault);
    expect((await kit.ledger.getActiveRule()).id).toBe(third.id);
    const run = await kit.ledger.activateDueRules();
    expect(run).toEqual({
      activated: [first.id, second.id, third.id],
      superseded: [previous, first.id, second.id],
      activeRuleId: third.id,
    });
    const [a, b, c] = await Promise.all([first, second, third].map((r) => kit.ledger.getRule(r.id)));
    expect(a).toMatchObject({ status: 'superseded', activatedAt: first.activatesAt, supersededAt: second.activatesAt });
    expect(b).toMatchObject({ status: 'superseded', activatedAt: second.activatesAt, supersededAt: third.activatesAt });
    expect(c).toMatchObject({ status: 'active', activatedAt: third.activatesAt, supersededAt: null });
    const active = await execRows<{ n: number }>(
      kit.handle.db,
      sql`select count(*)::integer as n from revenue_rules where status = 'active'`,
    );
    expect(Number(active[0]?.n)).toBe(1);
  });

  it('refuses bad proposals with invalid_argument and writes nothing', async () => {
    const bad: unknown[] = [
      { ...proposal('alice'), commonsBps: 1001 },
      { ...proposal('alice'), commonsBps: 1000.5, communityBps: 5999.5 },
      { ...proposal('alice'), commonsBps: -1000, communityBps: 8000, foundationBps: 3000 },
      { ...proposal('alice'), commonsBps: '1000' },
      { ...proposal('alice'), commonsBps: 10_001, communityBps: 0, foundationBps: -1 },
      { ...proposal('alice'), communityBps: 5000, referrerBps: 1000 },
      { ...proposal('alice'), communityBps: 5000, treasuryBps: 1000 },
      { ...proposal('alice'), schemaVersion: 3 },
      { ...proposal('alice'), schemaVersion: '1' },
      { ...proposal('alice'), actor: '' },
      { ...proposal('alice'), actor: 'system' },
      { ...proposal('alice'), actor: ' alice' },
      { ...proposal('alice'), actor: 'a'.repeat(257) },
      { ...proposal('alice'), name: '' },
      { ...proposal('alice'), name: 'two\nlines' },
      { ...proposal('alice'), name: 'n'.repeat(129) },
      { ...proposal('alice'), notes: 'n'.repeat(1001) },
      { ...proposal('alice'), notes: 5 },
      null,
      'rule',
    ];
    const before = { rules: await kit.storedStatuses(), audit: await kit.auditRows() };
    for (const input of bad) {
      await rejectsWithCode(kit.ledger.proposeRule(input as ProposeRuleInput), 'invalid_argument');
    }
    expect({ rules: await kit.storedStatuses(), audit: await kit.auditRows() }).toEqual(before);
  });

  it('accepts schema 2 rules with referrer and treasury shares', async () => {
    const draft = await kit.ledger.proposeRule(
      proposal('alice', {
        schemaVersion: 2,
        commonsBps: 500,
        communityBps: 6000,
        foundationBps: 2500,
        referrerBps: 500,
        treasuryBps: 500,
      }),
    );
    expect(draft).toMatchObject({ schemaVersion: 2, referrerBps: 500, treasuryBps: 500 });
  });

  it('replays a transition under the same idempotency key and refuses the key with another input', async () => {
    const count = (await kit.storedStatuses()).length;
    const first = await kit.ledger.proposeRule(proposal('alice'), { idempotencyKey: 'propose-1' });
    const replay = await kit.ledger.proposeRule(proposal('alice'), { idempotencyKey: 'propose-1' });
    expect(replay).toEqual(first);
    expect((await kit.storedStatuses()).length).toBe(count + 1);
    await rejectsWithCode(
      kit.ledger.proposeRule(proposal('bob'), { idempotencyKey: 'propose-1' }),
      'idempotency_key_reused',
    );
    await kit.ledger.submitRule({ ruleId: first.id, actor: 'alice' });
    const approved = await kit.ledger.approveRule({ ruleId: first.id, actor: 'bob' }, { idempotencyKey: 'approve-1' });
    expect(await kit.ledger.approveRule({ ruleId: first.id, actor: 'bob' }, { idempotencyKey: 'approve-1' })).toEqual(
      approved,
    );
    await rejectsWithCode(kit.ledger.approveRule({ ruleId: first.id, actor: 'bob' }), 'invalid_transition');
    expect((await kit.ledger.listRuleAudit(first.id)).length).toBe(3);
  });

  it('answers revenue_rule_not_found for unknown ids and invalid_argument for malformed ones', async () => {
    for (const step of [
      () => kit.ledger.submitRule({ ruleId: 'rule_missing', actor: 'alice' }),
      () => kit.ledger.approveRule({ ruleId: 'rule_missing', actor: 'alice' }),
      () => kit.ledger.rejectRule({ ruleId: 'rule_missing', actor: 'alice', reason: 'x' }),
      () => kit.ledger.activateRuleNow({ ruleId: 'rule_missing', actor: 'alice', reason: 'x' }),
      () => kit.ledger.getRule('rule_missing'),
      () => kit.ledger.listRuleAudit('rule_missing'),
    ]) {
      await rejectsWithCode(step(), 'revenue_rule_not_found');
    }
    await rejectsWithCode(kit.ledger.getRule('bad id'), 'invalid_argument');
    await rejectsWithCode(kit.ledger.submitRule({ ruleId: 'rule_initial', actor: '' }), 'invalid_argument');
  });

  it('lists rules newest first, by status as of now, with a cursor', async () => {
    const previous = await settle();
    const drafts = [];
    for (let i = 0; i < 5; i += 1) drafts.push(await kit.ledger.proposeRule(proposal('alice', { name: `r${i}` })));
    const due = await cooling('carol', 'dave');
    const page1 = await kit.ledger.listRules({ limit: 3 });
    expect(page1.items.map((r) => r.id)).toEqual([due.id, drafts[4]?.id, drafts[3]?.id]);
    const page2 = await kit.ledger.listRules({ limit: 3, cursor: page1.nextCursor });
    expect(page2.items.map((r) => r.id)).toEqual([drafts[2]?.id, drafts[1]?.id, drafts[0]?.id]);
    const all = [];
    let cursor: string | null = null;
    for (let page = 0; page < 100; page += 1) {
      const read: Awaited<ReturnType<typeof kit.ledger.listRules>> = await kit.ledger.listRules({ limit: 3, cursor });
      all.push(...read.items);
      cursor = read.nextCursor;
      if (cursor === null) break;
    }
    expect(all.map((r) => r.version)).toEqual([...all.map((r) => r.version)].sort((a, b) => b - a));
    expect(all.map((r) => r.id)).toEqual((await kit.storedStatuses()).map((r) => r.id).reverse());
    const ofStatus = async (status: RevenueRuleStatus) =>
      (await kit.ledger.listRules({ status, limit: 200 })).items.map((r) => r.id);
    expect(await ofStatus('draft')).toEqual(expect.arrayContaining(drafts.map((d) => d.id)));
    expect(await ofStatus('cooling_down')).toContain(due.id);
    expect(await ofStatus('active')).toEqual([previous]);
    kit.clock.advance(ruleCooldownMsDefault);
    // Read time: the due rule is active and the previous one superseded, before anything is written.
    expect(await ofStatus('cooling_down')).not.toContain(due.id);
    expect(await ofStatus('active')).toEqual([due.id]);
    expect(await ofStatus('superseded')).toContain(previous);
    expect(await stored(previous, due.id)).toEqual(['active', 'cooling_down']);
    await rejectsWithCode(kit.ledger.listRules({ cursor: 'ZTE6NDI' }), 'invalid_cursor');
    await rejectsWithCode(kit.ledger.listRules({ status: 'live' as never }), 'invalid_argument');
    await rejectsWithCode(kit.ledger.listRules({ limit: 0 }), 'invalid_argument');
    await rejectsWithCode(kit.ledger.listRules({ limit: 201 }), 'invalid_argument');
  });

  it('the audit table is append-only: UPDATE, DELETE and TRUNCATE fail with SQLSTATE 23001', async () => {
    const before = await kit.auditRows();
    expect(before.length).toBeGreaterThan(0);
    for (const statement of [
      sql`update revenue_rule_audit set actor = 'mallory'`,
      sql`delete from revenue_rule_audit`,
      sql`truncate revenue_rule_audit`,
    ]) {
      const error = await kit.handle.db.execute(statement).then(
        () => null,
        (e: unknown) => e,
      );
      expect(error, String(statement.queryChunks)).not.toBeNull();
      const cause =
        (error as { cause?: { code?: string; message?: string } }).cause ??
        (error as { code?: string; message?: string });
      expect(cause.code).toBe('23001');
      expect(cause.message).toContain('revenue_rule_audit is append-only');
    }
    expect(await kit.auditRows()).toEqual(before);
  });

  it('a zero cooldown activates the rule in the approving transaction', async () => {
    const previous = await settle();
    const ledger = createLedger({ db: kit.handle.db, clock: kit.clock, ruleCooldownMs: 0 });
    const draft = await ledger.proposeRule(proposal('alice'));
    await ledger.submitRule({ ruleId: draft.id, actor: 'alice' });
    const active = await ledger.approveRule({ ruleId: draft.id, actor: 'bob' });
    expect(active).toMatchObject({ status: 'active', approvedBy: 'bob' });
    expect(await stored(previous, draft.id)).toEqual(['superseded', 'active']);
  });

  it('validates ruleCooldownMs', () => {
    for (const ruleCooldownMs of [-1, 1.5, ruleCooldownMsMax + 1, Number.NaN]) {
      expect(() => createLedger({ db: kit.handle.db, ruleCooldownMs })).toThrow(/ruleCooldownMs/);
    }
    expect(() => createLedger({ db: kit.handle.db, ruleCooldownMs: ruleCooldownMsMax })).not.toThrow();
  });

  it('agrees with read-time activation when a due rule ranks before the active one (a clock behind its activation)', async () => {
    // A clock three days behind the activation of the rule in force: a rule approved now is due before that rule
    // took effect, so that rule stays in force, at read time and once written.
    const previous = await kit.ledger.getRule(await settle());
    const clock = new ManualClock((previous.activatedAt as Date).getTime() - 3 * 86_400_000);
    const ledger = createLedger({ db: kit.handle.db, clock });
    const draft = await ledger.proposeRule(proposal('alice'));
    await ledger.submitRule({ ruleId: draft.id, actor: 'alice' });
    const approved = await ledger.approveRule({ ruleId: draft.id, actor: 'bob' });
    clock.advance(ruleCooldownMsDefault + 1);
    expect((await ledger.getActiveRule()).id).toBe(previous.id);
    const early = await ledger.getRule(draft.id);
    expect(early.status).toBe('superseded');
    expect(early.activatedAt).toEqual(approved.activatesAt);
    expect(await ledger.activateDueRules()).toEqual({
      activated: [draft.id],
      superseded: [draft.id],
      activeRuleId: previous.id,
    });
    expect(await ledger.getRule(draft.id)).toEqual(early);
    expect(await ledger.getActiveRule()).toEqual(previous);
    expect((await ledger.listRuleAudit(draft.id)).slice(-2).map((e) => [e.fromStatus, e.toStatus])).toEqual([
      ['cooling_down', 'active'],
      ['active', 'superseded'],
    ]);
  });
});
