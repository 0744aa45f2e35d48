/**
 * Revenue rule transitions racing on real Postgres (needs DATABASE_URL): activation jobs, emergency activations,
 * approvals and rejections from three ledgers with their own pools (three gateway processes) never leave two
 * active rules or none — not at the end, and not in any snapshot a concurrent reader takes — and every rule's audit
 * trail stays one unbroken chain of transitions, each with its event.
 */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execRows } from '../db/ledger-db.js';
import { openPostgresLedgerDb, type PostgresLedgerDbHandle } from '../db/postgres.js';
import { LedgerError } from '../errors.js';
import { createLedger, type Ledger } from '../ledger/ledger.js';
import { ruleCooldownMsDefault } from '../limits.js';
import { ManualClock } from '../ports/clock.js';
import { openTestLedgerDb, type TestLedgerDbHandle } from '../testing/test-db.js';

const databaseUrl = process.env.DATABASE_URL;
const ledgerCount = 3;
const poolSize = 8;
const rounds = 12;
const hourMs = 3_600_000;

describe.skipIf(!databaseUrl)('revenue rule transitions racing on Postgres (needs DATABASE_URL)', () => {
  let handle: TestLedgerDbHandle;
  const extra: PostgresLedgerDbHandle[] = [];
  const ledgers: Ledger[] = [];
  let clock: ManualClock;
  const on = (i: number) => ledgers[i % ledgers.length] as Ledger;

  beforeAll(async () => {
    handle = await openTestLedgerDb({ databaseUrl, max: poolSize });
    clock = new ManualClock(Date.now() + 60_000);
    ledgers.push(createLedger({ db: handle.db, clock }));
    for (let i = 1; i < ledgerCount; i += 1) {
      const other = openPostgresLedgerDb({ url: handle.databaseUrl as string, max: poolSize });
      extra.push(other);
      ledgers.push(createLedger({ db: other.db, clock }));
    }
  });
  afterAll(async () => {
    for (const other of extra) await other.close();
    await handle?.close();
  });

  async function activeCount(): Promise<number> {
    const [row] = await execRows<{ n: number }>(
      handle.db,
      sql`select count(*)::integer as n from revenue_rules where status = 'active'`,
    );
    return Number(row?.n);
  }

  /** A rule cooling down, approved now (due after the default cooldown). */
  async function coolingRule(round: number, index: number): Promise<string> {
    const ledger = on(index);
    const draft = await ledger.proposeRule({
      name: `race ${round}.${index}`,
      schemaVersion: 1,
      commonsBps: 100 * (index + 1),
      communityBps: 7000,
      foundationBps: 3000 - 100 * (index + 1),
      actor: 'alice',
    });
    await ledger.submitRule({ ruleId: draft.id, actor: 'alice' });
    await ledger.approveRule({ ruleId: draft.id, actor: 'bob' });
    return draft.id;
  }

  it(`${rounds} rounds of concurrent activateDueRules, activateRuleNow, approve and reject keep one active rule`, async () => {
    const outcomes = new Map<string, number>();
    for (let round = 0; round < rounds; round += 1) {
      // Four rules: two will be due when the race starts, two still cooling (emergency or reject targets).
      const due = [await coolingRule(round, 0), await coolingRule(round, 1)];
      clock.advance(hourMs);
      const cooling = [await coolingRule(round, 2), await coolingRule(round, 3)];
      const pending = await on(round).proposeRule({
        name: `pending ${round}`,
        schemaVersion: 1,
        commonsBps: 500,
        communityBps: 7000,
        foundationBps: 2500,
        actor: 'dave',
      });
      await on(round).submitRule({ ruleId: pending.id, actor: 'dave' });
      clock.advance(ruleCooldownMsDefault - hourMs);

      let racing = true;
      const snapshots: number[] = [];
      const watcher = (async () => {
        while (racing) snapshots.push(await activeCount(), (await on(1).getActiveRule()) ? 1 : 0);
      })();
      const race = [
        ...Array.from({ length: 4 }, (_, i) => () => on(i).activateDueRules()),
        () => on(0).activateRuleNow({ ruleId: cooling[0] as string, actor: 'carol', reason: `race ${round}` }),
        () => on(1).activateRuleNow({ ruleId: cooling[1] as string, actor: 'carol', reason: `race ${round}` }),
        () => on(2).rejectRule({ ruleId: cooling[1] as string, actor: 'dave', reason: `race ${round}` }),
        () => on(0).rejectRule({ ruleId: due[1] as string, actor: 'dave', reason: 'too late' }),
        () => on(1).approveRule({ ruleId: pending.id, actor: 'carol' }),
        () => on(2).getActiveRule(),
      ];
      const results = await Promise.allSettled(race.map((step) => step()));
      racing = false;
      await watcher;
      for (const result of results) {
        if (result.status === 'rejected') {
          expect(result.reason, String(result.reason)).toBeInstanceOf(LedgerError);
          const code = (result.reason as LedgerError).code;
          expect(['invalid_transition']).toContain(code);
          outcomes.set(code, (outcomes.get(code) ?? 0) + 1);
        } else {
          outcomes.set('ok', (outcomes.get('ok') ?? 0) + 1);
        }
      }
      expect(new Set(snapshots)).toEqual(new Set([1]));
      expect(await activeCount()).toBe(1);
      // The emergency activation of cooling[0] happened after (or during) the due activations: whichever ran last
      // left one active rule, and a later job run changes nothing.
      const settled = await on(0).activateDueRules();
      expect(settled.activated).toEqual([]);
      expect((await on(2).getActiveRule()).id).toBe(settled.activeRuleId);
    }

    // Every rule's audit trail is one chain (null → draft → … → its stored status), one event per row.
    const rules = await execRows<{ id: string; status: string }>(handle.db, sql`select id, status from revenue_rules`);
    const audit = await execRows<{ rule_id: string; from_status: string | null; to_status: string }>(
      handle.db,
      sql`select rule_id, from_status, to_status from revenue_rule_audit order by id`,
    );
    for (const rule of rules) {
      const trail = audit.filter((a) => a.rule_id === rule.id);
      expect(trail[0]?.from_status, rule.id).toBeNull();
      for (let i = 1; i < trail.length; i += 1) expect(trail[i]?.from_status, rule.id).toBe(trail[i - 1]?.to_status);
      expect(trail[trail.length - 1]?.to_status, rule.id).toBe(rule.status);
      expect(trail.filter((a) => a.to_status === 'active').length, rule.id).toBeLessThanOrEqual(1);
    }
    const [events] = await execRows<{ n: number }>(
      handle.db,
      sql`select count(*)::integer as n from events where type like 'revenue_rule.%'`,
    );
    expect(Number(events?.n)).toBe(audit.length);
    expect(outcomes.get('ok')).toBeGreaterThan(0);
    console.info(`revenue rule races: ${[...outcomes].map(([k, n]) => `${k} ${n}`).join(', ')}`);
  }, 300_000);
});
