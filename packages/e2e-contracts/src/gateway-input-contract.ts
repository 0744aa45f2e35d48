import { randomBytes, randomUUID } from 'node:crypto';
import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { expectOk, stateOf, unique } from './contract-kit.js';
import type { LedgerContractContext } from './gateway-ledger-contract.js';
import { mintTestToken } from './jwt.js';
import type { AccountBody } from './schemas.js';

/**
 * Raw JSON string literals (escapes as sent on the wire) that every free-text field must refuse: a NUL, a lone high
 * surrogate, a lone low surrogate, two high surrogates in a row.
 */
export const unstorableTextLiterals: readonly string[] = [
  '"NUL \\u0000 inside"',
  '"lone high \\ud800"',
  '"lone low \\udfff x"',
  '"x\\ud800\\ud800"',
];

interface RawAnswer {
  status: number;
  body: Record<string, unknown>;
}

/** A JSON object's text with `field` set to a raw JSON literal (so an escape like `\ud800` reaches the gateway). */
function withLiteral(fields: object, field: string, literal: string): string {
  const base = JSON.stringify(fields);
  return `${base.slice(0, -1)}${base.length > 2 ? ',' : ''}${JSON.stringify(field)}:${literal}}`;
}

function expectRefusedText(answer: RawAnswer, field: string): void {
  expect(answer.status, JSON.stringify(answer.body)).toBe(400);
  expect(answer.body.error).toBe('validation_failed');
  const issues = (answer.body.details as { issues?: { path: string; code: string }[] } | undefined)?.issues ?? [];
  expect(issues.some((issue) => issue.path === field)).toBe(true);
}

const scopesOf = (token: string): string[] => {
  const scope = decodeJwt(token).scope;
  return typeof scope === 'string' ? scope.split(' ').filter((s) => s !== '') : [];
};

/** Answers of a chain-less binding that say this deployment reads the chain: the anchor cases stop there. */
const chainAnswers: readonly string[] = ['ownership_not_verified', 'unsupported_chain', 'chain_unavailable'];

/**
 * Registers the input-hardening part of the gateway contract (included in `describeGatewayContract`), issue 12:
 * a NUL or a lone UTF-16 surrogate in any free-text field (grant `reason`, rotation `reason`, rule `name` and `notes`,
 * reject and activate-now `reason`) is a 400 `validation_failed` naming the field, and nothing is written; and the
 * anchor writes honour `Idempotency-Key` like the ledger's (the same key and body replay status and body, another body
 * is a 409 `idempotency_key_reused`, keys are scoped per caller). Cases that need a scope the admin token lacks, or a
 * second admin, mint one with the signer and are skipped without it; the anchor cases stop when the deployment reads
 * the chain (random NFTs cannot pass an ownership check). Everything it creates is unique to the run.
 *
 * @example
 * ```ts
 * describeInputContract({ client: () => createGatewayClient({ baseUrl }), tokens: () => tokens, signer: () => key });
 * ```
 */
export function describeInputContract(context: LedgerContractContext): void {
  const { client } = context;
  const tokens = async () => context.tokens();

  async function post(path: string, token: string, body: string | object, key?: string): Promise<RawAnswer> {
    const response = await client().raw(path, {
      method: 'POST',
      token,
      body: typeof body === 'string' ? body : JSON.stringify(body),
      ...(key === undefined ? {} : { headers: { 'idempotency-key': key } }),
    });
    return { status: response.status, body: response.text === '' ? {} : JSON.parse(response.text) };
  }

  async function get(path: string, token: string): Promise<RawAnswer> {
    const response = await client().raw(path, { token });
    return { status: response.status, body: JSON.parse(response.text) };
  }

  /** The admin token when it has one of `scopes`, else an admin minted with `admin` (null without a signer). */
  async function adminWith(scopes: readonly string[], sub?: string): Promise<string | null> {
    const admin = (await tokens()).admin;
    if (sub === undefined && scopesOf(admin).some((scope) => scopes.includes(scope))) return admin;
    const signer = await context.signer?.();
    if (signer === undefined) return null;
    const name = sub ?? `contract-admin-${randomUUID()}`;
    return mintTestToken({ ...signer, audience: 'arrakis-admin', sub: name, scope: 'admin' });
  }

  async function newAccount(label: string): Promise<AccountBody> {
    const created = await client().createAccount(
      { entityType: 'contract', entityId: unique(label) },
      { token: (await tokens()).service },
    );
    return expectOk(created, 201);
  }

  const nft = () => ({
    chainId: '1',
    contractAddress: `0x${randomBytes(20).toString('hex')}`,
    tokenId: String(1 + Math.floor(Math.random() * 1e12)),
    ownerAddress: `0x${randomBytes(20).toString('hex')}`,
  });

  describe('input: free text (no NUL, no lone surrogate) and Idempotency-Key on anchor writes', () => {
    it('a grant reason with a NUL or a lone surrogate is 400 validation_failed; balance and entries unchanged', async () => {
      const t = await tokens();
      const account = await newAccount('text-grant');
      const before = await stateOf(client(), t.service, account.id);
      for (const literal of unstorableTextLiterals) {
        const body = withLiteral({ amountMicro: '1000' }, 'reason', literal);
        expectRefusedText(await post(`/v1/accounts/${account.id}/grants`, t.admin, body), 'reason');
        const keyed = await post(`/v1/accounts/${account.id}/grants`, t.admin, body, `ct-text-${randomUUID()}`);
        expectRefusedText(keyed, 'reason');
      }
      expect(await stateOf(client(), t.service, account.id)).toEqual(before);
    });

    it('a rule name, notes, or a reject / activate-now reason with a NUL or a lone surrogate is 400; nothing changes', async () => {
      const admin = await adminWith(['admin', 'revenue:write']);
      if (admin === null) return;
      const split = { schemaVersion: 1, commonsBps: 500, communityBps: 7000, foundationBps: 2500 };
      const name = `contract text ${randomUUID()}`;
      for (const literal of unstorableTextLiterals) {
        expectRefusedText(await post('/v1/revenue-rules', admin, withLiteral(split, 'name', literal)), 'name');
        const noted = withLiteral({ ...split, name }, 'notes', literal);
        expectRefusedText(await post('/v1/revenue-rules', admin, noted), 'notes');
      }
      const drafts = await get('/v1/revenue-rules?status=draft&limit=200', admin);
      expect((drafts.body.rules as { name: string }[]).some((rule) => rule.name === name)).toBe(false);
      const draft = await post('/v1/revenue-rules', admin, { ...split, name });
      expect(draft.status, JSON.stringify(draft.body)).toBe(201);
      const id = String(draft.body.id);
      const pending = await post(`/v1/revenue-rules/${id}/submit`, admin, {});
      expect(pending.status).toBe(200);
      for (const literal of unstorableTextLiterals) {
        const body = withLiteral({}, 'reason', literal);
        expectRefusedText(await post(`/v1/revenue-rules/${id}/reject`, admin, body), 'reason');
        expectRefusedText(await post(`/v1/revenue-rules/${id}/activate-now`, admin, body), 'reason');
      }
      expect((await get(`/v1/revenue-rules/${id}`, admin)).body).toEqual(pending.body);
      expect((await post(`/v1/revenue-rules/${id}/reject`, admin, { reason: 'contract cleanup' })).status).toBe(200);
    });

    it('a rotation reason with a NUL or a lone surrogate is 400; no rotation is requested', async () => {
      const admin = await adminWith(['admin', 'identity:admin']);
      if (admin === null) return;
      const account = await newAccount('text-rotation');
      const bound = await post(`/v1/accounts/${account.id}/anchor`, admin, nft());
      if (chainAnswers.includes(String(bound.body.error))) return;
      expect(bound.status, JSON.stringify(bound.body)).toBe(201);
      for (const literal of unstorableTextLiterals) {
        const body = withLiteral(nft(), 'reason', literal);
        expectRefusedText(await post(`/v1/accounts/${account.id}/anchor/rotations`, admin, body), 'reason');
      }
      const audit = await get(`/v1/accounts/${account.id}/anchor/audit`, admin);
      expect((audit.body.audit as { action: string }[]).map((row) => row.action)).toEqual(['anchor_bound']);
    });

    it('anchor binding honours Idempotency-Key: replay (status and body), 409 for another body, scoped per caller', async () => {
      const admin = await adminWith(['admin', 'identity:admin']);
      if (admin === null) return;
      const account = await newAccount('anchor-key');
      const key = `ct-anchor-${randomUUID()}`;
      const body = nft();
      const first = await post(`/v1/accounts/${account.id}/anchor`, admin, body, key);
      if (chainAnswers.includes(String(first.body.error))) return;
      expect(first.status, JSON.stringify(first.body)).toBe(201);
      expect(await post(`/v1/accounts/${account.id}/anchor`, admin, body, key)).toEqual(first);
      const other = await newAccount('anchor-key-other');
      const reused = await post(`/v1/accounts/${other.id}/anchor`, admin, nft(), key);
      expect(reused.status).toBe(409);
      expect(reused.body.error).toBe('idempotency_key_reused');
      expect((await get(`/v1/accounts/${other.id}/anchor`, (await tokens()).service)).status).toBe(404);
      const second = await adminWith([], `contract-second-${randomUUID()}`);
      if (second === null) return;
      const theirs = await post(`/v1/accounts/${other.id}/anchor`, second, nft(), key);
      expect(theirs.status, JSON.stringify(theirs.body)).toBe(201);
    });

    it('rotation requests and approvals honour Idempotency-Key: each replays its first answer', async () => {
      const creator = await adminWith(['admin', 'identity:admin']);
      const requester = await adminWith([], `contract-requester-${randomUUID()}`);
      const approver = await adminWith([], `contract-approver-${randomUUID()}`);
      if (creator === null || requester === null || approver === null) return;
      const account = await newAccount('rotation-key');
      const bound = await post(`/v1/accounts/${account.id}/anchor`, creator, nft());
      if (chainAnswers.includes(String(bound.body.error))) return;
      const request = { ...nft(), reason: 'contract rotation' };
      const path = `/v1/accounts/${account.id}/anchor/rotations`;
      const requestKey = `ct-rotation-${randomUUID()}`;
      const requested = await post(path, requester, request, requestKey);
      expect(requested.status, JSON.stringify(requested.body)).toBe(202);
      expect(await post(path, requester, request, requestKey)).toEqual(requested);
      const reused = await post(path, requester, { ...request, reason: 'another' }, requestKey);
      expect([reused.status, reused.body.error]).toEqual([409, 'idempotency_key_reused']);
      const approvePath = `/v1/anchor-rotations/${String(requested.body.rotationId)}/approve`;
      const approveKey = `ct-approve-${randomUUID()}`;
      const approved = await post(approvePath, approver, {}, approveKey);
      expect(approved.status, JSON.stringify(approved.body)).toBe(200);
      expect(await post(approvePath, approver, {}, approveKey)).toEqual(approved);
    });
  });
}
