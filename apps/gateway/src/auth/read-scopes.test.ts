// Issue 12 item 9: an admin token reads nothing without a read scope. Every GET route of the OpenAPI document that
// takes a bearer token is called with admin tokens that hold no usable scope; none of them may answer anything but
// 401 (the route is not for admins) or 403 insufficient_scope.
import { openApiDocumentSchema } from '@arrakis/e2e-contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf, type LedgerAppFixture, makeLedgerAppFixture } from '../testing/ledger-fixture.js';

/** A concrete path for an OpenAPI path template: every `{param}` becomes a well-formed id. */
function concrete(template: string, accountId: string): string {
  return template.replace(/\{(\w+)\}/g, (_, name: string) => (name === 'id' ? accountId : `x_${name}`));
}

/** Query strings the routes need to get past validation (the scope is checked first anyway). */
const queries: Record<string, string> = {
  '/v1/revenue/totals': '?from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z',
};

describe('admin reads need a read scope', () => {
  let f: LedgerAppFixture;
  let getPaths: string[];
  let accountId: string;
  beforeAll(async () => {
    f = await makeLedgerAppFixture();
    const document = openApiDocumentSchema.parse(await (await f.get('/openapi.json')).json());
    const paths = document.paths as Record<string, Record<string, { security?: unknown[] }>>;
    getPaths = Object.entries(paths)
      .filter(([, operations]) => (operations.get?.security ?? []).length > 0)
      .map(([path]) => path);
    accountId = (await f.userAccount('scoped-reads', '1000')).accountId;
  });
  afterAll(async () => {
    await f.close();
  });

  it('the document lists the authenticated reads this test walks', () => {
    for (const path of ['/v1/admin/whoami', '/v1/events', '/v1/accounts/{id}/entries', '/v1/meters']) {
      expect(getPaths).toContain(path);
    }
  });

  it('an admin token without a scope, or with "Admin", "x,admin", "ledger:grant" or only an `scp` claim, is 401 or 403 insufficient_scope on every authenticated GET', async () => {
    const tokens = {
      none: f.tokens.adminNoScope,
      capitalised: await f.token('arrakis-admin', 'mallory', { scope: 'Admin' }),
      commaSeparated: await f.token('arrakis-admin', 'mallory', { scope: 'x,admin' }),
      grantOnly: f.tokens.granter,
      scpClaim: await f.token('arrakis-admin', 'mallory', { claims: { scp: ['admin', 'ledger:read'] } }),
    };
    for (const template of getPaths) {
      if (template === '/v1/whoami') continue; // the caller's own token, any audience: see below
      const path = `${concrete(template, accountId)}${queries[template] ?? ''}`;
      for (const [name, token] of Object.entries(tokens)) {
        const response = await f.get(path, { token });
        const text = await response.text();
        expect([401, 403], `${name} ${path}: ${text}`).toContain(response.status);
        if (response.status === 403) expect(JSON.parse(text).error, `${name} ${path}`).toBe('insufficient_scope');
      }
    }
  });

  it('with ledger:read an admin reads accounts, balances, lots, entries, spend caps, events, meters and whoami', async () => {
    const reads = ['', '/balance', '/lots', '/entries', '/spend-caps'].map((s) => `/v1/accounts/${accountId}${s}`);
    for (const path of [...reads, '/v1/events', '/v1/meters', '/v1/admin/whoami']) {
      const response = await f.get(path, { token: f.tokens.reader });
      expect(response.status, `${path}: ${await response.clone().text()}`).toBe(200);
    }
    await errorOf(
      await f.get('/v1/reservations/res_missing/distribution', { token: f.tokens.reader }),
      404,
      'reservation_not_found',
    );
  });

  it('the 403 names the scopes that would do and the ones the token has', async () => {
    const body = await errorOf(await f.get('/v1/events', { token: f.tokens.granter }), 403, 'insufficient_scope');
    expect(body.details).toEqual({ required: ['ledger:read or admin'], granted: ['ledger:grant'] });
  });

  it('users and services read as before: a user its own account, a service any, both with no scope', async () => {
    const user = await f.userAccount('own-reads', '1000');
    for (const token of [user.token, f.tokens.service]) {
      for (const suffix of ['', '/balance', '/lots', '/entries', '/spend-caps']) {
        expect((await f.get(`/v1/accounts/${user.accountId}${suffix}`, { token })).status).toBe(200);
      }
      expect((await f.get('/v1/meters', { token })).status).toBe(200);
    }
    expect((await f.get('/v1/events', { token: f.tokens.service })).status).toBe(200);
    for (const token of [user.token, f.tokens.service, f.tokens.adminNoScope]) {
      expect((await f.get('/v1/whoami', { token })).status).toBe(200);
    }
  });
});
