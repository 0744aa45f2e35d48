// Issue 12 item 5: a NUL or a lone UTF-16 surrogate in a free-text field is a 400 `validation_failed` (issue code
// `invalid_text`) before any store is touched — not a 500 from Postgres (22021 on `text`, jsonb refusing `\ud800`),
// and not a silent U+FFFD. JSON bodies carry a lone surrogate as the escape `\ud800`, so the bodies are sent as raw
// JSON text.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nftBody } from '../testing/identity-helpers.js';
import { errorOf, type LedgerAppFixture, makeLedgerAppFixture } from '../testing/ledger-fixture.js';

const backend = process.env.DATABASE_URL ? 'Postgres' : 'PGlite';
/** Raw JSON string literals (escapes included) a free text must refuse. */
const badLiterals = ['"NUL \\u0000 here"', '"lone high \\ud800"', '"lone low \\udfff x"', '"x\\ud800\\ud800"'];
const split = { schemaVersion: 1, commonsBps: 1000, communityBps: 6000, foundationBps: 3000 };

/** A JSON object's text with `field` set to a raw JSON literal. */
function rawBody(fields: object, field: string, literal: string): string {
  const base = JSON.stringify(fields);
  return `${base.slice(0, -1)}${base.length > 2 ? ',' : ''}${JSON.stringify(field)}:${literal}}`;
}

describe(`free text on ${backend}: NUL and lone surrogates are 400 validation_failed, nothing written`, () => {
  let f: LedgerAppFixture;
  const admins: Record<string, string> = {};
  beforeAll(async () => {
    f = await makeLedgerAppFixture();
    for (const sub of ['creator', 'alice', 'bob', 'carol']) {
      admins[sub] = await f.token('arrakis-admin', sub, { scope: 'admin' });
    }
  });
  afterAll(async () => {
    await f.close();
  });

  async function refused(response: Response, field: string): Promise<void> {
    const body = await errorOf(response, 400, 'validation_failed');
    expect(body.details).toMatchObject({ target: 'body', issues: [{ path: field, code: 'invalid_text' }] });
  }

  it('grant reason: 400, balance, lots, entries and events unchanged (with and without an Idempotency-Key)', async () => {
    const { accountId } = await f.userAccount('grant-text', '1000');
    const before = await f.snapshot(accountId);
    for (const [index, literal] of badLiterals.entries()) {
      const body = rawBody({ amountMicro: '5000' }, 'reason', literal);
      const path = `/v1/accounts/${accountId}/grants`;
      await refused(await f.post(path, { token: f.tokens.admin, body }), 'reason');
      const headers = { 'idempotency-key': `free-text-${index}` };
      await refused(await f.post(path, { token: f.tokens.admin, body, headers }), 'reason');
    }
    expect(await f.snapshot(accountId)).toEqual(before);
    // A well-formed reason with an astral character (a surrogate pair) is stored as given.
    const granted = await f.grant(accountId, '5000', { reason: 'welcome 🎉' });
    const entries = (await (await f.get(`/v1/accounts/${accountId}/entries`, { token: f.tokens.admin })).json()) as {
      entries: { lotId: string; memo: string | null }[];
    };
    expect(entries.entries.find((e) => e.lotId === granted.lot.id)?.memo).toBe('grant by root: welcome 🎉');
  });

  it('a token subject the ledger cannot store is refused by the ledger itself (no 500, nothing written)', async () => {
    const { accountId } = await f.userAccount('grant-sub', '1000');
    const before = await f.snapshot(accountId);
    const token = await f.token('arrakis-admin', 'root\ud800', { scope: 'admin' });
    const response = await f.post(`/v1/accounts/${accountId}/grants`, {
      token,
      json: { amountMicro: '5000', reason: 'fine' },
    });
    // 400 invalid_argument from the ledger's memo rule, unless the auth layer already refuses such a subject (401).
    expect([400, 401], await response.text()).toContain(response.status);
    expect(await f.snapshot(accountId)).toEqual(before);
  });

  it('rotation reason: 400, no rotation requested, the audit unchanged', async () => {
    const { accountId } = await f.userAccount('rotation-text');
    const bound = await f.post(`/v1/accounts/${accountId}/anchor`, { token: admins.creator, json: nftBody() });
    expect(bound.status).toBe(201);
    const next = nftBody();
    for (const literal of badLiterals) {
      const body = rawBody(next, 'reason', literal);
      await refused(
        await f.post(`/v1/accounts/${accountId}/anchor/rotations`, { token: admins.alice, body }),
        'reason',
      );
    }
    const audit = await f.get(`/v1/accounts/${accountId}/anchor/audit`, { token: f.tokens.admin });
    expect(((await audit.json()) as { audit: unknown[] }).audit).toHaveLength(1);
    // Nothing is pending: another admin's request is accepted.
    const other = await f.post(`/v1/accounts/${accountId}/anchor/rotations`, {
      token: admins.bob,
      json: { ...nftBody(), reason: 'lost 🔑' },
    });
    expect(other.status).toBe(202);
    expect(((await other.json()) as { reason: string }).reason).toBe('lost 🔑');
  });

  it('rule name and notes: 400, no rule proposed', async () => {
    const list = async () =>
      ((await (await f.get('/v1/revenue-rules?limit=200', { token: f.tokens.admin })).json()) as { rules: unknown[] })
        .rules.length;
    const rulesBefore = await list();
    for (const literal of badLiterals) {
      const named = rawBody(split, 'name', literal);
      await refused(await f.post('/v1/revenue-rules', { token: admins.alice, body: named }), 'name');
      const noted = rawBody({ ...split, name: 'free text' }, 'notes', literal);
      await refused(await f.post('/v1/revenue-rules', { token: admins.alice, body: noted }), 'notes');
    }
    expect(await list()).toBe(rulesBefore);
  });

  it('reject and activate-now reason: 400, the rule and its audit unchanged', async () => {
    const proposed = await f.post('/v1/revenue-rules', { token: admins.alice, json: { ...split, name: 'to refuse' } });
    const { id } = (await proposed.json()) as { id: string };
    const submitted = await f.post(`/v1/revenue-rules/${id}/submit`, { token: admins.alice });
    const pending = await submitted.json();
    for (const literal of badLiterals) {
      const body = rawBody({}, 'reason', literal);
      await refused(await f.post(`/v1/revenue-rules/${id}/reject`, { token: admins.bob, body }), 'reason');
      await refused(await f.post(`/v1/revenue-rules/${id}/activate-now`, { token: admins.carol, body }), 'reason');
    }
    expect(await (await f.get(`/v1/revenue-rules/${id}`, { token: f.tokens.admin })).json()).toEqual(pending);
    const audit = await f.get(`/v1/revenue-rules/${id}/audit`, { token: f.tokens.admin });
    expect(((await audit.json()) as { audit: unknown[] }).audit).toHaveLength(2);
  });
});
