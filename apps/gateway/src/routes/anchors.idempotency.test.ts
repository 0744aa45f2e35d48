// Issue 12 item 15: the anchor writes honour `Idempotency-Key` like the ledger routes: the same key and body replay
// the first answer (status and body), the same key with another body is 409 `idempotency_key_reused`, keys are
// scoped per caller (`<aud>:<sub>`) and per operation.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nftBody } from '../testing/identity-helpers.js';
import { errorOf, type LedgerAppFixture, makeLedgerAppFixture } from '../testing/ledger-fixture.js';

const backend = process.env.DATABASE_URL ? 'Postgres' : 'PGlite';

describe(`anchor routes with Idempotency-Key on ${backend}`, () => {
  let f: LedgerAppFixture;
  const admins: Record<string, string> = {};
  let keys = 0;
  const newKey = (label: string) => {
    keys += 1;
    return { 'idempotency-key': `anchor-${label}-${keys}` };
  };
  beforeAll(async () => {
    f = await makeLedgerAppFixture();
    for (const sub of ['creator', 'alice', 'bob', 'carol']) {
      admins[sub] = await f.token('arrakis-admin', sub, { scope: 'admin' });
    }
  });
  afterAll(async () => {
    await f.close();
  });

  const bind = (accountId: string, json: object, headers: Record<string, string>, token = admins.creator) =>
    f.post(`/v1/accounts/${accountId}/anchor`, { token, json, headers });
  const request = (accountId: string, json: object, headers: Record<string, string>, token = admins.alice) =>
    f.post(`/v1/accounts/${accountId}/anchor/rotations`, { token, json, headers });
  const approve = (rid: string, headers: Record<string, string>, token = admins.bob) =>
    f.post(`/v1/anchor-rotations/${rid}/approve`, { token, headers });
  const auditLength = async (accountId: string) =>
    (
      (await (await f.get(`/v1/accounts/${accountId}/anchor/audit`, { token: f.tokens.admin })).json()) as {
        audit: unknown[];
      }
    ).audit.length;

  async function answer(response: Response): Promise<{ status: number; body: unknown }> {
    return { status: response.status, body: await response.json() };
  }

  it('bind: the same key and body replay 201 and its body; without the key the repeat is the plain 200', async () => {
    const { accountId } = await f.userAccount('bind-replay');
    const nft = nftBody();
    const headers = newKey('bind');
    const first = await answer(await bind(accountId, nft, headers));
    expect(first.status).toBe(201);
    f.clock.advance(5_000);
    expect(await answer(await bind(accountId, nft, headers))).toEqual(first);
    expect((await bind(accountId, nft, {})).status).toBe(200);
    expect(await auditLength(accountId)).toBe(1);
  });

  it('bind: the same key with another body is 409 idempotency_key_reused, and nothing is bound', async () => {
    const a = await f.userAccount('bind-a');
    const b = await f.userAccount('bind-b');
    const headers = newKey('bind-reuse');
    expect((await bind(a.accountId, nftBody(), headers)).status).toBe(201);
    await errorOf(await bind(a.accountId, nftBody(), headers), 409, 'idempotency_key_reused');
    await errorOf(await bind(b.accountId, nftBody(), headers), 409, 'idempotency_key_reused');
    await errorOf(
      await f.get(`/v1/accounts/${b.accountId}/anchor`, { token: f.tokens.service }),
      404,
      'anchor_not_found',
    );
  });

  it('keys are scoped per caller: two admins using one key each get their own answer', async () => {
    const a = await f.userAccount('scope-a');
    const b = await f.userAccount('scope-b');
    const headers = newKey('scoped');
    const byCreator = await answer(await bind(a.accountId, nftBody(), headers, admins.creator));
    const byCarol = await answer(await bind(b.accountId, nftBody(), headers, admins.carol));
    expect([byCreator.status, byCarol.status]).toEqual([201, 201]);
    expect(byCarol.body).toMatchObject({ accountId: b.accountId, createdBy: 'carol' });
    expect(await answer(await bind(a.accountId, nftBody(), headers, admins.carol))).toMatchObject({ status: 409 });
  });

  it('rotation request and approval: each replays its first answer; another body under the key is a 409', async () => {
    const { accountId } = await f.userAccount('rotate-replay');
    expect((await bind(accountId, nftBody(), {})).status).toBe(201);
    const next = { ...nftBody(), reason: 'lost key' };
    const requestKey = newKey('request');
    const requested = await answer(await request(accountId, next, requestKey));
    expect(requested.status).toBe(202);
    expect(await answer(await request(accountId, next, requestKey))).toEqual(requested);
    await errorOf(await request(accountId, { ...next, reason: 'other' }, requestKey), 409, 'idempotency_key_reused');
    const { rotationId } = requested.body as { rotationId: string };
    const approveKey = newKey('approve');
    const approved = await answer(await approve(rotationId, approveKey));
    expect(approved.status).toBe(200);
    f.clock.advance(60_000);
    expect(await answer(await approve(rotationId, approveKey))).toEqual(approved);
    expect(await auditLength(accountId)).toBe(3);

    // The approval key names that approval: approving another rotation with it is a 409, and that one stays pending.
    const other = await f.userAccount('rotate-other');
    expect((await bind(other.accountId, nftBody(), {})).status).toBe(201);
    const pending = (await (await request(other.accountId, nftBody(), {})).json()) as { rotationId: string };
    await errorOf(await approve(pending.rotationId, approveKey), 409, 'idempotency_key_reused');
    const read = await f.get(`/v1/anchor-rotations/${pending.rotationId}`, { token: f.tokens.admin });
    expect(((await read.json()) as { status: string }).status).toBe('pending');
  });

  it('a malformed key is 400 validation_failed; the anchor-token route (it writes nothing) documents no key', async () => {
    const { accountId } = await f.userAccount('bad-key');
    await errorOf(await bind(accountId, nftBody(), { 'idempotency-key': 'kl\u00e9' }), 400, 'validation_failed');
    const document = (await (await f.get('/openapi.json')).json()) as {
      paths: Record<string, { post?: { parameters?: { name: string }[] } }>;
    };
    const headerNames = (path: string) => (document.paths[path]?.post?.parameters ?? []).map((p) => p.name);
    for (const path of [
      '/v1/accounts/{id}/anchor',
      '/v1/accounts/{id}/anchor/rotations',
      '/v1/anchor-rotations/{rid}/approve',
    ]) {
      expect(headerNames(path)).toContain('idempotency-key');
    }
    expect(headerNames('/v1/accounts/{id}/anchor-token')).not.toContain('idempotency-key');
  });
});
