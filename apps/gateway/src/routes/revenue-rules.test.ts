import { ruleCooldownMsDefault } from '@arrakis/billing-ledger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLedgerSweepers } from '../ledger.js';
import { createLogger } from '../logger.js';
import { errorOf, type LedgerAppFixture, makeLedgerAppFixture } from '../testing/ledger-fixture.js';
import { RevenueRuleAuditSchema, RevenueRulePageSchema, RevenueRuleSchema } from './revenue-rules.js';

const backend = process.env.DATABASE_URL ? 'Postgres' : 'PGlite';
const split = { name: 'community first', schemaVersion: 1, commonsBps: 1000, communityBps: 6000, foundationBps: 3000 };

describe(`revenue rule routes on ${backend}`, () => {
  let f: LedgerAppFixture;
  /** Scopes of each admin (by `sub`): alice, bob and carol may write, auditor only read, viewer nothing. */
  const scopes = {
    alice: 'revenue:write',
    bob: 'admin',
    carol: 'revenue:read revenue:write',
    auditor: 'revenue:read',
    viewer: undefined,
    system: 'admin',
  } as const;
  const t: Record<keyof typeof scopes, string> = { alice: '', bob: '', carol: '', auditor: '', viewer: '', system: '' };

  /** (Re)mints every admin token at the fixture clock (after the clock moved past their lifetime). */
  async function mintTokens(): Promise<void> {
    for (const [sub, scope] of Object.entries(scopes) as [keyof typeof scopes, string | undefined][]) {
      t[sub] = await f.token('arrakis-admin', sub, scope === undefined ? {} : { scope });
    }
    await f.refreshTokens();
  }

  beforeAll(async () => {
    f = await makeLedgerAppFixture();
    await mintTokens();
  });
  afterAll(async () => {
    await f.close();
  });

  async function ok(response: Response, status: number) {
    const text = await response.text();
    expect(response.status, text).toBe(status);
    return RevenueRuleSchema.parse(JSON.parse(text));
  }

  async function propose(token = t.alice, body: Record<string, unknown> = split, headers?: Record<string, string>) {
    return f.post('/v1/revenue-rules', { token, json: body, ...(headers === undefined ? {} : { headers }) });
  }

  async function listAll(token = t.auditor) {
    const response = await f.get('/v1/revenue-rules?limit=200', { token });
    expect(response.status).toBe(200);
    return RevenueRulePageSchema.parse(await response.json()).rules;
  }

  it('GET /v1/revenue-rules/active answers the seeded rule to any revenue reader', async () => {
    for (const token of [t.auditor, t.alice, t.bob]) {
      const rule = await ok(await f.get('/v1/revenue-rules/active', { token }), 200);
      expect(rule).toMatchObject({
        id: 'rule_initial',
        status: 'active',
        schemaVersion: 1,
        commonsBps: 500,
        communityBps: 7000,
        foundationBps: 2500,
      });
    }
  });

  it('admins only, with scopes: 401 for users, services and no token; 403 insufficient_scope without the scope', async () => {
    const { token: userToken } = await f.user('rules');
    for (const path of ['/v1/revenue-rules', '/v1/revenue-rules/active', '/v1/revenue-rules/rule_initial/audit']) {
      await errorOf(await f.get(path, { token: userToken }), 401, 'wrong_audience');
      await errorOf(await f.get(path, { token: f.tokens.service }), 401, 'wrong_audience');
      await errorOf(await f.get(path), 401, 'missing_token');
      await errorOf(await f.get(path, { token: t.viewer }), 403, 'insufficient_scope');
      await errorOf(await f.get(path, { token: f.tokens.granter }), 403, 'insufficient_scope');
    }
    const before = await listAll();
    await errorOf(await propose(t.auditor), 403, 'insufficient_scope');
    await errorOf(await propose(t.viewer), 403, 'insufficient_scope');
    await errorOf(await propose(userToken), 401, 'wrong_audience');
    await errorOf(
      await f.post('/v1/revenue-rules/rule_initial/submit', { token: t.auditor }),
      403,
      'insufficient_scope',
    );
    expect(await listAll()).toEqual(before);
  });

  it('walks propose → submit → approve (four-eyes) → emergency activation by a third admin, audited', async () => {
    const draft = await ok(await propose(t.alice, { ...split, notes: 'more for the community' }), 201);
    expect(draft).toMatchObject({
      status: 'draft',
      proposedBy: 'alice',
      notes: 'more for the community',
      commonsBps: 1000,
    });
    const pending = await ok(await f.post(`/v1/revenue-rules/${draft.id}/submit`, { token: t.alice }), 200);
    expect(pending).toMatchObject({ status: 'pending_approval', submittedBy: 'alice' });
    await errorOf(
      await f.post(`/v1/revenue-rules/${draft.id}/approve`, { token: t.alice }),
      403,
      'four_eyes_violation',
    );
    const approvedAtMs = f.clock.nowMs();
    const cooling = await ok(await f.post(`/v1/revenue-rules/${draft.id}/approve`, { token: t.bob }), 200);
    expect(cooling).toMatchObject({ status: 'cooling_down', approvedBy: 'bob' });
    expect(Date.parse(cooling.activatesAt as string)).toBe(approvedAtMs + ruleCooldownMsDefault);
    await errorOf(await f.post(`/v1/revenue-rules/${draft.id}/approve`, { token: t.carol }), 409, 'invalid_transition');

    const now = (token: string, json?: unknown) =>
      f.post(`/v1/revenue-rules/${draft.id}/activate-now`, { token, ...(json === undefined ? {} : { json }) });
    await errorOf(await now(t.bob, { reason: 'urgent' }), 403, 'four_eyes_violation');
    await errorOf(await now(t.alice, { reason: 'urgent' }), 403, 'four_eyes_violation');
    await errorOf(await now(t.carol), 400, 'validation_failed');
    await errorOf(await now(t.carol, { reason: '' }), 400, 'validation_failed');
    await errorOf(await now(t.carol, { reason: '   ' }), 400, 'invalid_argument');
    await errorOf(await now(t.carol, { reason: 'x', extra: 1 }), 400, 'validation_failed');
    const previous = await ok(await f.get('/v1/revenue-rules/active', { token: t.auditor }), 200);
    const active = await ok(await now(t.carol, { reason: 'the old split pays a closed pool' }), 200);
    expect(active).toMatchObject({
      status: 'active',
      emergencyBy: 'carol',
      emergencyReason: 'the old split pays a closed pool',
    });
    expect(await ok(await f.get('/v1/revenue-rules/active', { token: t.auditor }), 200)).toEqual(active);
    expect(await ok(await f.get(`/v1/revenue-rules/${previous.id}`, { token: t.auditor }), 200)).toMatchObject({
      status: 'superseded',
    });

    const audit = await f.get(`/v1/revenue-rules/${draft.id}/audit`, { token: t.auditor });
    expect(audit.status).toBe(200);
    const trail = RevenueRuleAuditSchema.parse(await audit.json());
    expect(trail.ruleId).toBe(draft.id);
    expect(trail.audit.map((e) => [e.actor, e.fromStatus, e.toStatus, e.reason])).toEqual([
      ['alice', null, 'draft', 'more for the community'],
      ['alice', 'draft', 'pending_approval', null],
      ['bob', 'pending_approval', 'cooling_down', null],
      ['carol', 'cooling_down', 'active', 'the old split pays a closed pool'],
    ]);
    const listed = RevenueRulePageSchema.parse(
      await (await f.get('/v1/revenue-rules?status=active', { token: t.auditor })).json(),
    );
    expect(listed.rules.map((r) => r.id)).toEqual([draft.id]);
  });

  it('rejects with a reason; a rule past its cooldown is in force at read time and written by the sweeper', async () => {
    const rejected = await ok(await propose(t.bob), 201);
    await ok(await f.post(`/v1/revenue-rules/${rejected.id}/submit`, { token: t.bob }), 200);
    await errorOf(
      await f.post(`/v1/revenue-rules/${rejected.id}/reject`, { token: t.alice }),
      400,
      'validation_failed',
    );
    expect(
      await ok(
        await f.post(`/v1/revenue-rules/${rejected.id}/reject`, { token: t.alice, json: { reason: 'no' } }),
        200,
      ),
    ).toMatchObject({ status: 'rejected', rejectedBy: 'alice' });

    const rule = await ok(await propose(t.carol), 201);
    await ok(await f.post(`/v1/revenue-rules/${rule.id}/submit`, { token: t.carol }), 200);
    await ok(await f.post(`/v1/revenue-rules/${rule.id}/approve`, { token: t.alice }), 200);
    f.clock.advance(ruleCooldownMsDefault);
    await mintTokens();
    expect((await ok(await f.get('/v1/revenue-rules/active', { token: t.auditor }), 200)).id).toBe(rule.id);
    expect((await f.ledger.listRuleAudit(rule.id)).map((e) => e.toStatus)).not.toContain('active');
    await errorOf(
      await f.post(`/v1/revenue-rules/${rule.id}/reject`, { token: t.bob, json: { reason: 'too late' } }),
      409,
      'invalid_transition',
    );

    const logs: Record<string, unknown>[] = [];
    const logger = createLogger({ logLevel: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line)) });
    const sweepers = startLedgerSweepers({ ledger: f.ledger, intervalMs: 0, logger });
    await sweepers.runOnce();
    await sweepers.stop();
    expect(logs.find((l) => l.msg === 'revenue rules activated')).toMatchObject({
      activated: [rule.id],
      activeRuleId: rule.id,
    });
    const trail = await f.ledger.listRuleAudit(rule.id);
    expect(trail[trail.length - 1]).toMatchObject({ actor: 'system', fromStatus: 'cooling_down', toStatus: 'active' });
  });

  it('refuses malformed proposals with 400 and creates nothing', async () => {
    const before = await listAll();
    const invalidBodies: unknown[] = [
      {},
      { ...split, name: '' },
      { ...split, commonsBps: 1000.5, communityBps: 5999.5 },
      { ...split, commonsBps: '1000' },
      { ...split, commonsBps: -1, communityBps: 7001 },
      { ...split, commonsBps: 10_001 },
      { ...split, schemaVersion: 3 },
      { ...split, schemaVersion: '1' },
      { ...split, extra: true },
      { ...split, notes: 'n'.repeat(1001) },
    ];
    for (const body of invalidBodies)
      await errorOf(await propose(t.alice, body as Record<string, unknown>), 400, 'validation_failed');
    const refusedByTheLedger: unknown[] = [
      { ...split, commonsBps: 1001 },
      { ...split, communityBps: 5000, referrerBps: 1000 },
      { ...split, communityBps: 5000, treasuryBps: 1000 },
    ];
    for (const body of refusedByTheLedger) {
      await errorOf(await propose(t.alice, body as Record<string, unknown>), 400, 'invalid_argument');
    }
    await errorOf(await propose(t.system), 400, 'invalid_argument');
    const malformedJson = await f.post('/v1/revenue-rules', { token: t.alice, body: '{"name":' });
    expect(malformedJson.status).toBe(400);
    expect(await listAll()).toEqual(before);
    const schema2 = await ok(
      await propose(t.alice, { ...split, schemaVersion: 2, communityBps: 5000, referrerBps: 500, treasuryBps: 500 }),
      201,
    );
    expect(schema2).toMatchObject({ schemaVersion: 2, referrerBps: 500, treasuryBps: 500 });
  });

  it('replays a POST under the same Idempotency-Key; another body under the key is a 409', async () => {
    const headers = { 'idempotency-key': 'rule-propose-1' };
    const first = await ok(await propose(t.alice, { ...split, name: 'replayed' }, headers), 201);
    const replay = await ok(await propose(t.alice, { ...split, name: 'replayed' }, headers), 201);
    expect(replay).toEqual(first);
    await errorOf(await propose(t.alice, { ...split, name: 'another' }, headers), 409, 'idempotency_key_reused');
    const submitHeaders = { 'idempotency-key': 'rule-submit-1' };
    const submitted = await ok(
      await f.post(`/v1/revenue-rules/${first.id}/submit`, { token: t.alice, headers: submitHeaders }),
      200,
    );
    expect(
      await ok(await f.post(`/v1/revenue-rules/${first.id}/submit`, { token: t.alice, headers: submitHeaders }), 200),
    ).toEqual(submitted);
    await errorOf(
      await f.post(`/v1/revenue-rules/${first.id}/submit`, {
        token: t.alice,
        headers: { 'idempotency-key': 'bad key\u0001' },
      }),
      400,
      'validation_failed',
    );
    expect((await listAll()).filter((r) => r.name === 'replayed')).toHaveLength(1);
  });

  it('answers 404 for unknown rules and 400 for malformed ids, statuses, limits and cursors', async () => {
    await errorOf(await f.get('/v1/revenue-rules/rule_missing', { token: t.auditor }), 404, 'revenue_rule_not_found');
    await errorOf(
      await f.get('/v1/revenue-rules/rule_missing/audit', { token: t.auditor }),
      404,
      'revenue_rule_not_found',
    );
    await errorOf(
      await f.post('/v1/revenue-rules/rule_missing/submit', { token: t.alice }),
      404,
      'revenue_rule_not_found',
    );
    await errorOf(await f.get('/v1/revenue-rules/bad%20id', { token: t.auditor }), 400, 'validation_failed');
    await errorOf(await f.get('/v1/revenue-rules?status=live', { token: t.auditor }), 400, 'validation_failed');
    await errorOf(await f.get('/v1/revenue-rules?limit=0', { token: t.auditor }), 400, 'validation_failed');
    await errorOf(await f.get('/v1/revenue-rules?limit=201', { token: t.auditor }), 400, 'validation_failed');
    await errorOf(await f.get('/v1/revenue-rules?cursor=ZTE6NDI', { token: t.auditor }), 400, 'invalid_cursor');
  });

  it('pages through rules newest first', async () => {
    const all = await listAll();
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 50; page += 1) {
      const query: string = cursor === null ? '?limit=2' : `?limit=2&cursor=${cursor}`;
      const body = RevenueRulePageSchema.parse(
        await (await f.get(`/v1/revenue-rules${query}`, { token: t.auditor })).json(),
      );
      seen.push(...body.rules.map((r) => r.id));
      cursor = body.nextCursor;
      if (cursor === null) break;
    }
    expect(seen).toEqual(all.map((r) => r.id));
    expect(all[all.length - 1]?.id).toBe('rule_initial');
  });

  it('documents every revenue rule route in /openapi.json', async () => {
    const doc = (await (await f.get('/openapi.json')).json()) as { paths: Record<string, Record<string, unknown>> };
    for (const [path, method] of [
      ['/v1/revenue-rules', 'post'],
      ['/v1/revenue-rules', 'get'],
      ['/v1/revenue-rules/active', 'get'],
      ['/v1/revenue-rules/{id}', 'get'],
      ['/v1/revenue-rules/{id}/audit', 'get'],
      ['/v1/revenue-rules/{id}/submit', 'post'],
      ['/v1/revenue-rules/{id}/approve', 'post'],
      ['/v1/revenue-rules/{id}/reject', 'post'],
      ['/v1/revenue-rules/{id}/activate-now', 'post'],
    ] as const) {
      expect(doc.paths[path]?.[method], `${method} ${path}`).toBeDefined();
    }
  });
});
