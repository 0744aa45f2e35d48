import { randomUUID } from 'node:crypto';
import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { GatewayContractSigner } from './gateway-contract.js';
import type { GatewayClient, GatewayResult } from './http-client.js';
import { mintTestToken } from './jwt.js';

/** Paths of the revenue rule routes every gateway's `/openapi.json` documents. */
export const revenueContractPaths = [
  '/v1/revenue-rules',
  '/v1/revenue-rules/active',
  '/v1/revenue-rules/{id}',
  '/v1/revenue-rules/{id}/audit',
  '/v1/revenue-rules/{id}/submit',
  '/v1/revenue-rules/{id}/approve',
  '/v1/revenue-rules/{id}/reject',
  '/v1/revenue-rules/{id}/activate-now',
] as const;

/** Revenue rule statuses. */
export const revenueRuleStatuses = [
  'draft',
  'pending_approval',
  'cooling_down',
  'active',
  'superseded',
  'rejected',
] as const;

const isoTime = z.iso.datetime({ offset: true });
const bps = z.number().int().min(0).max(10_000);

/** A revenue rule as the gateway answers it. */
export const revenueRuleBodySchema = z
  .object({
    id: z.string().min(1),
    version: z.number().int().positive(),
    schemaVersion: z.union([z.literal(1), z.literal(2)]),
    name: z.string(),
    notes: z.string().nullable(),
    status: z.enum(revenueRuleStatuses),
    commonsBps: bps,
    communityBps: bps,
    foundationBps: bps,
    referrerBps: bps,
    treasuryBps: bps,
    proposedBy: z.string(),
    submittedBy: z.string().nullable(),
    submittedAt: isoTime.nullable(),
    approvedBy: z.string().nullable(),
    approvedAt: isoTime.nullable(),
    rejectedBy: z.string().nullable(),
    rejectedAt: isoTime.nullable(),
    emergencyBy: z.string().nullable(),
    emergencyReason: z.string().nullable(),
    activatesAt: isoTime.nullable(),
    activatedAt: isoTime.nullable(),
    supersededAt: isoTime.nullable(),
    createdAt: isoTime,
  })
  .refine(
    (rule) => rule.commonsBps + rule.communityBps + rule.foundationBps + rule.referrerBps + rule.treasuryBps === 10_000,
    {
      message: 'the shares must sum to 10000 bps',
    },
  );
export type RevenueRuleBody = z.infer<typeof revenueRuleBodySchema>;

/** `GET /v1/revenue-rules`. */
export const revenueRulePageBodySchema = z.object({
  rules: z.array(revenueRuleBodySchema),
  nextCursor: z.string().nullable(),
});
export type RevenueRulePageBody = z.infer<typeof revenueRulePageBodySchema>;

/** `GET /v1/revenue-rules/{id}/audit`. */
export const revenueRuleAuditBodySchema = z.object({
  ruleId: z.string(),
  audit: z.array(
    z.object({
      id: z.string(),
      ruleId: z.string(),
      actor: z.string(),
      fromStatus: z.enum(revenueRuleStatuses).nullable(),
      toStatus: z.enum(revenueRuleStatuses),
      reason: z.string().nullable(),
      createdAt: isoTime,
    }),
  ),
});
export type RevenueRuleAuditBody = z.infer<typeof revenueRuleAuditBodySchema>;

/** What the revenue rule cases need. */
export interface RevenueContractContext {
  client: () => GatewayClient;
  /**
   * Tokens of the gateway under test; the admin token proposes. With the scope `revenue:write` or `admin` the
   * governance cases run; without it, every revenue route must refuse it with 403 `insufficient_scope`.
   */
  tokens: () =>
    | { user: string; service: string; admin: string }
    | Promise<{ user: string; service: string; admin: string }>;
  /** The gateway's signing key: enables the cases that need a second admin (four-eyes approval) or a scope-less one. */
  signer?: () => GatewayContractSigner | Promise<GatewayContractSigner>;
}

function expectError(result: GatewayResult<unknown>, status: number, code?: string): void {
  expect(result.status, JSON.stringify(result.body)).toBe(status);
  expect(result.ok).toBe(false);
  if (!result.ok) {
    if (code !== undefined) expect(result.body.error).toBe(code);
    expect(result.body.message.length).toBeGreaterThan(0);
  }
}

function expectOk<T>(result: GatewayResult<T>, status: number): T {
  expect(result.status, JSON.stringify(result.body)).toBe(status);
  if (!result.ok) throw new Error(`expected ${status}, got ${result.status} ${JSON.stringify(result.body)}`);
  return result.body;
}

const scopesOf = (token: string): string[] => {
  const scope = decodeJwt(token).scope;
  return typeof scope === 'string' ? scope.split(' ').filter((s) => s !== '') : [];
};

/**
 * Registers the revenue rule part of the gateway contract (included in `describeGatewayContract`). It never makes a
 * rule active: it proposes drafts, submits them, checks the four-eyes refusals and the 409s, and rejects what it
 * submitted — with a signer it also has a second admin approve (then rejects the rule while it cools down). So it
 * can run against a long-lived gateway. Cases: the rule in force, audiences and scopes, propose (201), submit,
 * approve by the proposer (403 `four_eyes_violation`), reject, the audit trail, status filters, 400s, 404s,
 * `Idempotency-Key` replay and reuse (409), and the documented paths.
 *
 * @example
 * ```ts
 * describeRevenueRuleContract({ client: () => createGatewayClient({ baseUrl }), tokens: () => tokens });
 * ```
 */
export function describeRevenueRuleContract(context: RevenueContractContext): void {
  const { client } = context;
  const tokens = async () => context.tokens();
  const ruleOptions = { schema: revenueRuleBodySchema };
  const unique = (label: string) => `contract ${label} ${randomUUID()}`;
  const split = { schemaVersion: 1, commonsBps: 500, communityBps: 7000, foundationBps: 2500 } as const;

  async function adminMay(): Promise<{ read: boolean; write: boolean }> {
    const scopes = scopesOf((await tokens()).admin);
    const write = scopes.includes('admin') || scopes.includes('revenue:write');
    return { write, read: write || scopes.includes('revenue:read') };
  }

  async function mintAdmin(sub: string, scope?: string): Promise<string | null> {
    const signer = await context.signer?.();
    if (signer === undefined) return null;
    return mintTestToken({ ...signer, audience: 'arrakis-admin', sub, ...(scope === undefined ? {} : { scope }) });
  }

  const propose = async (body: unknown, token: string, idempotencyKey?: string) =>
    client().request('/v1/revenue-rules', {
      ...ruleOptions,
      method: 'POST',
      json: body,
      token,
      okStatuses: [201],
      ...(idempotencyKey === undefined ? {} : { headers: { 'idempotency-key': idempotencyKey } }),
    });
  const step = async (id: string, name: string, token: string, json?: unknown) =>
    client().request(`/v1/revenue-rules/${encodeURIComponent(id)}/${name}`, {
      ...ruleOptions,
      method: 'POST',
      token,
      ...(json === undefined ? {} : { json }),
    });
  const get = async (path: string, token: string) => client().request(path, { ...ruleOptions, token });

  describe('revenue rules', () => {
    it('GET /v1/revenue-rules/active answers the rule in force (shares summing to 10000)', async () => {
      const t = await tokens();
      const may = await adminMay();
      const result = await get('/v1/revenue-rules/active', t.admin);
      if (!may.read) return expectError(result, 403, 'insufficient_scope');
      const rule = expectOk(result, 200);
      expect(rule.status).toBe('active');
      expect(rule.activatedAt).not.toBeNull();
    });

    it('admin tokens only: users and services 401 wrong_audience, no token 401, no scope 403 insufficient_scope', async () => {
      const t = await tokens();
      for (const path of ['/v1/revenue-rules', '/v1/revenue-rules/active']) {
        expectError(await get(path, t.user), 401, 'wrong_audience');
        expectError(await get(path, t.service), 401, 'wrong_audience');
        expectError(await client().request(path, { ...ruleOptions, token: null }), 401, 'missing_token');
      }
      expectError(await propose({ name: unique('user'), ...split }, t.user), 401, 'wrong_audience');
      const viewer = await mintAdmin(`contract-viewer-${randomUUID()}`);
      if (viewer !== null) {
        expectError(await get('/v1/revenue-rules/active', viewer), 403, 'insufficient_scope');
        expectError(await propose({ name: unique('viewer'), ...split }, viewer), 403, 'insufficient_scope');
      }
    });

    it('propose → submit → the proposer approving is 403 four_eyes_violation → reject; every step audited', async () => {
      const t = await tokens();
      const may = await adminMay();
      if (!may.write) {
        expectError(await propose({ name: unique('no-scope'), ...split }, t.admin), 403, 'insufficient_scope');
        return;
      }
      const proposer = String(decodeJwt(t.admin).sub);
      const draft = expectOk(await propose({ name: unique('flow'), ...split, notes: 'contract test' }, t.admin), 201);
      expect(draft).toMatchObject({ status: 'draft', proposedBy: proposer, commonsBps: 500 });
      expect(expectOk(await get(`/v1/revenue-rules/${draft.id}`, t.admin), 200)).toEqual(draft);
      expect(expectOk(await step(draft.id, 'submit', t.admin), 200).status).toBe('pending_approval');
      expectError(await step(draft.id, 'submit', t.admin), 409, 'invalid_transition');
      expectError(await step(draft.id, 'approve', t.admin), 403, 'four_eyes_violation');
      const approver = await mintAdmin(`contract-approver-${randomUUID()}`, 'admin');
      const expected: [string | null, string][] = [
        [null, 'draft'],
        ['draft', 'pending_approval'],
      ];
      if (approver !== null) {
        const cooling = expectOk(await step(draft.id, 'approve', approver), 200);
        expect(cooling.status).toBe('cooling_down');
        expect(cooling.activatesAt).not.toBeNull();
        expectError(await step(draft.id, 'activate-now', approver, { reason: 'contract' }), 403, 'four_eyes_violation');
        expectError(await step(draft.id, 'activate-now', t.admin, { reason: 'contract' }), 403, 'four_eyes_violation');
        expected.push(['pending_approval', 'cooling_down']);
      }
      expectError(await step(draft.id, 'reject', t.admin), 400);
      const rejected = expectOk(await step(draft.id, 'reject', t.admin, { reason: 'contract test cleanup' }), 200);
      expect(rejected).toMatchObject({ status: 'rejected', rejectedBy: proposer });
      expected.push([approver === null ? 'pending_approval' : 'cooling_down', 'rejected']);
      expectError(await step(draft.id, 'reject', t.admin, { reason: 'again' }), 409, 'invalid_transition');
      const audit = expectOk(
        await client().request(`/v1/revenue-rules/${draft.id}/audit`, {
          schema: revenueRuleAuditBodySchema,
          token: t.admin,
        }),
        200,
      );
      expect(audit.audit.map((e) => [e.fromStatus, e.toStatus])).toEqual(expected);
      expect(audit.audit[audit.audit.length - 1]).toMatchObject({ actor: proposer, reason: 'contract test cleanup' });
      const listed = expectOk(
        await client().request('/v1/revenue-rules?status=rejected&limit=200', {
          schema: revenueRulePageBodySchema,
          token: t.admin,
        }),
        200,
      );
      expect(listed.rules.every((r) => r.status === 'rejected')).toBe(true);
    });

    it('refuses invalid proposals with 400 and unknown rules with 404', async () => {
      const t = await tokens();
      if (!(await adminMay()).write) return;
      for (const body of [
        {},
        { name: unique('sum'), ...split, commonsBps: 501 },
        { name: unique('float'), ...split, commonsBps: 499.5, communityBps: 7000.5 },
        { name: unique('string'), ...split, commonsBps: '500' },
        { name: unique('schema'), ...split, schemaVersion: 3 },
        { name: unique('referrer'), ...split, communityBps: 6000, referrerBps: 1000 },
      ]) {
        expectError(await propose(body, t.admin), 400);
      }
      expectError(await get('/v1/revenue-rules/rule_contract_missing', t.admin), 404, 'revenue_rule_not_found');
      expectError(await step('rule_contract_missing', 'submit', t.admin), 404, 'revenue_rule_not_found');
    });

    it('replays a proposal under the same Idempotency-Key; another body under the key is a 409', async () => {
      const t = await tokens();
      if (!(await adminMay()).write) return;
      const key = `contract-rule-${randomUUID()}`;
      const body = { name: unique('replay'), ...split };
      const first = expectOk(await propose(body, t.admin, key), 201);
      expect(expectOk(await propose(body, t.admin, key), 201)).toEqual(first);
      expectError(await propose({ ...body, name: unique('other') }, t.admin, key), 409, 'idempotency_key_reused');
    });

    it('documents the revenue rule routes in /openapi.json', async () => {
      const result = await client().openapi();
      expect(result.status).toBe(200);
      if (!result.ok) return;
      for (const path of revenueContractPaths) expect(Object.keys(result.body.paths)).toContain(path);
    });
  });
}
