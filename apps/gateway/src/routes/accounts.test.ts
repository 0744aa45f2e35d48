import {
  accountBodySchema,
  balanceBodySchema,
  entryPageBodySchema,
  grantBodySchema,
  lotListBodySchema,
  nonCanonicalAmounts,
} from '@arrakis/e2e-contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf, type LedgerAppFixture, makeLedgerAppFixture } from '../testing/ledger-fixture.js';

const backend = process.env.DATABASE_URL ? 'Postgres' : 'PGlite';

describe(`account routes on ${backend}`, () => {
  let f: LedgerAppFixture;
  beforeAll(async () => {
    f = await makeLedgerAppFixture();
  });
  afterAll(async () => {
    await f.close();
  });

  describe('POST /v1/accounts', () => {
    it('answers 201 with a new account, then 200 with the same one (service, then admin)', async () => {
      const first = await f.post('/v1/accounts', {
        token: f.tokens.service,
        json: { entityType: 'user', entityId: 'carol' },
      });
      expect(first.status).toBe(201);
      const account = accountBodySchema.parse(await first.json());
      expect(account).toMatchObject({ entityType: 'user', entityId: 'carol', debtMicro: '0' });
      expect(account.id).toMatch(/^acc_[0-9a-f]{32}$/);
      const again = await f.post('/v1/accounts', {
        token: f.tokens.admin,
        json: { entityType: 'user', entityId: 'carol' },
      });
      expect(again.status).toBe(200);
      expect(accountBodySchema.parse(await again.json())).toEqual(account);
    });

    it('replays with the same Idempotency-Key and body; another body under the key is a 409', async () => {
      const headers = { 'idempotency-key': 'create-1' };
      const json = { entityType: 'org', entityId: 'acme' };
      const first = await f.post('/v1/accounts', { token: f.tokens.service, json, headers });
      const replay = await f.post('/v1/accounts', { token: f.tokens.service, json, headers });
      expect(first.status).toBe(201);
      expect(replay.status).toBe(201);
      expect(await replay.json()).toEqual(await first.json());
      const other = await f.post('/v1/accounts', {
        token: f.tokens.service,
        json: { entityType: 'org', entityId: 'globex' },
        headers,
      });
      await errorOf(other, 409, 'idempotency_key_reused');
      // The refused request created nothing: globex is new to the ledger.
      await expect(f.ledger.createAccount({ entityType: 'org', entityId: 'globex' })).resolves.toMatchObject({
        created: true,
      });
    });

    it('refuses users (401 wrong_audience) and anonymous callers (401 missing_token)', async () => {
      const { sub, token } = await f.user('self-service');
      const json = { entityType: 'user', entityId: sub };
      await errorOf(await f.post('/v1/accounts', { token, json }), 401, 'wrong_audience');
      await errorOf(await f.post('/v1/accounts', { json }), 401, 'missing_token');
    });

    it('refuses malformed bodies with 400 and creates nothing', async () => {
      const bodies: unknown[] = [
        {},
        { entityType: 'user' },
        { entityId: 'alice' },
        { entityType: 'User', entityId: 'never-created' },
        { entityType: '', entityId: 'never-created' },
        { entityType: 'user', entityId: '' },
        { entityType: 'user', entityId: 'has space' },
        { entityType: 'user', entityId: 'x'.repeat(256) },
        { entityType: 'user', entityId: 'é' },
        { entityType: 'system', entityId: 'foundation' },
        { entityType: 'user', entityId: 'never-created', extra: true },
        { entityType: 5, entityId: 'never-created' },
        [],
        'alice',
      ];
      for (const json of bodies) {
        const response = await f.post('/v1/accounts', { token: f.tokens.service, json });
        await errorOf(response, 400, 'validation_failed');
      }
      await errorOf(
        await f.post('/v1/accounts', { token: f.tokens.service, body: '{"entityType":' }),
        400,
        'bad_request',
      );
      for (const key of ['x'.repeat(256), 'bad\u0001key', '']) {
        const response = await f.post('/v1/accounts', {
          token: f.tokens.service,
          json: { entityType: 'user', entityId: 'never-created' },
          headers: { 'idempotency-key': key },
        });
        const body = await errorOf(response, 400, 'validation_failed');
        expect(body.details).toMatchObject({ target: 'header' });
      }
      await expect(f.ledger.createAccount({ entityType: 'user', entityId: 'never-created' })).resolves.toMatchObject({
        created: true,
      });
    });
  });

  describe('reads', () => {
    it('a user reads their own account, balance, lots and entries', async () => {
      const { accountId: id, token } = await f.userAccount('reader', '2000000');
      expect(accountBodySchema.parse(await (await f.get(`/v1/accounts/${id}`, { token })).json()).id).toBe(id);
      const balance = balanceBodySchema.parse(await (await f.get(`/v1/accounts/${id}/balance`, { token })).json());
      expect(balance).toMatchObject({
        accountId: id,
        availableMicro: '2000000',
        reservedMicro: '0',
        debtMicro: '0',
        pools: [{ poolId: 'general', availableMicro: '2000000', reservedMicro: '0' }],
      });
      const lots = lotListBodySchema.parse(await (await f.get(`/v1/accounts/${id}/lots`, { token })).json());
      expect(lots.lots).toHaveLength(1);
      const entries = entryPageBodySchema.parse(await (await f.get(`/v1/accounts/${id}/entries`, { token })).json());
      expect(entries.entries.map((e) => e.kind)).toEqual(['mint']);
      expect(entries.nextCursor).toBeNull();
    });

    it("a user gets 403 forbidden on another user's account, a non-user account, and an unknown id", async () => {
      const alice = await f.userAccount('alice');
      const bob = await f.userAccount('bob');
      const orgs = await f.createAccount('org', alice.sub);
      for (const id of [bob.accountId, orgs, 'acc_00000000000000000000000000000000', 'acc_system_foundation']) {
        for (const suffix of ['', '/balance', '/lots', '/entries']) {
          const response = await f.get(`/v1/accounts/${id}${suffix}`, { token: alice.token });
          const body = await errorOf(response, 403, 'forbidden');
          expect(body.details).toEqual({ accountId: id });
        }
      }
    });

    it('services and admins read any account; an unknown id is a 404 account_not_found', async () => {
      const { accountId: id } = await f.userAccount('someone');
      for (const token of [f.tokens.service, f.tokens.admin, f.tokens.reader]) {
        expect((await f.get(`/v1/accounts/${id}`, { token })).status).toBe(200);
      }
      const system = await f.get('/v1/accounts/acc_system_treasury', { token: f.tokens.service });
      expect(accountBodySchema.parse(await system.json())).toMatchObject({
        entityType: 'system',
        entityId: 'treasury',
      });
      for (const suffix of ['', '/balance', '/lots', '/entries']) {
        const response = await f.get(`/v1/accounts/acc_missing${suffix}`, { token: f.tokens.service });
        const body = await errorOf(response, 404, 'account_not_found');
        expect(body.details).toMatchObject({ accountId: 'acc_missing' });
      }
    });

    it('bad ids are 400 validation_failed', async () => {
      for (const id of ['bad%20id', 'a'.repeat(129), 'acc!', '%C3%A9']) {
        for (const suffix of ['', '/balance', '/lots', '/entries']) {
          const response = await f.get(`/v1/accounts/${id}${suffix}`, { token: f.tokens.service });
          const body = await errorOf(response, 400, 'validation_failed');
          expect(body.details).toMatchObject({ target: 'param' });
        }
      }
    });

    it('lots hide empty ones unless includeEmpty=true', async () => {
      const { accountId: id } = await f.userAccount('spender', '1000');
      const hold = await f.reserve(id, '1000');
      await f.post(`/v1/reservations/${hold.id}/finalize`, {
        token: f.tokens.service,
        json: { actualCostMicro: '1000' },
      });
      const visible = lotListBodySchema.parse(
        await (await f.get(`/v1/accounts/${id}/lots`, { token: f.tokens.service })).json(),
      );
      expect(visible.lots).toEqual([]);
      const all = lotListBodySchema.parse(
        await (await f.get(`/v1/accounts/${id}/lots?includeEmpty=true`, { token: f.tokens.service })).json(),
      );
      expect(all.lots).toHaveLength(1);
      expect(all.lots[0]).toMatchObject({ availableMicro: '0', consumedMicro: '1000' });
      await errorOf(
        await f.get(`/v1/accounts/${id}/lots?includeEmpty=yes`, { token: f.tokens.service }),
        400,
        'validation_failed',
      );
    });

    it('entries come newest first in pages linked by nextCursor', async () => {
      const { accountId: id } = await f.userAccount('pager');
      for (const amount of ['1', '2', '3', '4', '5']) await f.grant(id, amount);
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const query: string = cursor === null ? '?limit=2' : `?limit=2&cursor=${cursor}`;
        const page = entryPageBodySchema.parse(
          await (await f.get(`/v1/accounts/${id}/entries${query}`, { token: f.tokens.service })).json(),
        );
        expect(page.entries.length).toBeLessThanOrEqual(2);
        seen.push(...page.entries.map((e) => e.amountMicro));
        cursor = page.nextCursor;
        pages += 1;
      } while (cursor !== null && pages < 10);
      expect(seen).toEqual(['5', '4', '3', '2', '1']);
      expect(pages).toBe(3);
    });

    it('bad cursors and limits are 400 (validation_failed or invalid_cursor)', async () => {
      const { accountId: id } = await f.userAccount('cursors', '1');
      for (const limit of ['0', '201', '-1', '1.5', '01', 'abc', '', '1e2', ' 5']) {
        const response = await f.get(`/v1/accounts/${id}/entries?limit=${encodeURIComponent(limit)}`, {
          token: f.tokens.service,
        });
        const body = await errorOf(response, 400, 'validation_failed');
        expect(body.details).toMatchObject({ target: 'query' });
      }
      for (const cursor of ['!!', 'a'.repeat(65), '%20']) {
        const response = await f.get(`/v1/accounts/${id}/entries?cursor=${cursor}`, { token: f.tokens.service });
        await errorOf(response, 400, 'validation_failed');
      }
      // Well-formed but not issued by this ledger (or issued for events).
      const events = await f.ledger.listEvents({ limit: 1 });
      for (const cursor of ['abc', 'ZTE6MA', events.nextCursor ?? 'djE6MQ']) {
        const response = await f.get(`/v1/accounts/${id}/entries?cursor=${cursor}`, { token: f.tokens.service });
        await errorOf(response, 400, 'invalid_cursor');
      }
    });
  });

  describe('POST /v1/accounts/:id/grants', () => {
    it('an admin with scope admin or ledger:grant mints a grant lot: 201 {lot, balance}', async () => {
      const { accountId: id } = await f.userAccount('granted');
      const expiresAt = new Date(f.clock.nowMs() + 86_400_000).toISOString();
      for (const token of [f.tokens.admin, f.tokens.granter]) {
        const response = await f.post(`/v1/accounts/${id}/grants`, {
          token,
          json: { amountMicro: '1500000', reason: 'welcome', poolId: 'gpu', expiresAt },
        });
        expect(response.status).toBe(201);
        const body = grantBodySchema.parse(await response.json());
        expect(body.lot).toMatchObject({
          accountId: id,
          sourceType: 'grant',
          poolId: 'gpu',
          originalMicro: '1500000',
          availableMicro: '1500000',
          expiresAt,
        });
      }
      const balance = await f.ledger.getBalance(id);
      expect(balance.availableMicro).toBe(3_000_000n);
      const entries = await f.ledger.listEntries(id);
      expect(entries.items[0]?.memo).toBe('grant by support: welcome');
    });

    it('needs an admin token with scope admin or ledger:grant', async () => {
      const { accountId: id, token: userToken } = await f.userAccount('no-grant');
      const json = { amountMicro: '1', reason: 'x' };
      const before = await f.snapshot(id);
      await errorOf(
        await f.post(`/v1/accounts/${id}/grants`, { token: f.tokens.adminNoScope, json }),
        403,
        'insufficient_scope',
      );
      await errorOf(
        await f.post(`/v1/accounts/${id}/grants`, { token: f.tokens.service, json }),
        401,
        'wrong_audience',
      );
      await errorOf(await f.post(`/v1/accounts/${id}/grants`, { token: userToken, json }), 401, 'wrong_audience');
      // Scope is checked before the body: a scopeless admin learns nothing from a bad body.
      await errorOf(
        await f.post(`/v1/accounts/${id}/grants`, { token: f.tokens.adminNoScope, json: { amountMicro: '1e6' } }),
        403,
        'insufficient_scope',
      );
      expect(await f.snapshot(id)).toEqual(before);
    });

    it('refuses every non-canonical amount with 400 (issue code invalid_amount) and changes nothing', async () => {
      const { accountId: id } = await f.userAccount('amounts', '1000');
      const before = await f.snapshot(id);
      for (const amountMicro of [...nonCanonicalAmounts, '0', '1000000000000001']) {
        const response = await f.post(`/v1/accounts/${id}/grants`, {
          token: f.tokens.admin,
          json: { amountMicro, reason: 'x' },
        });
        const body = await errorOf(response, 400, 'validation_failed');
        const issue = (body.details as { issues: { path: string; code: string }[] }).issues[0];
        expect(issue?.path).toBe('amountMicro');
        if (typeof amountMicro === 'string') expect(issue?.code, JSON.stringify(amountMicro)).toBe('invalid_amount');
      }
      expect(await f.snapshot(id)).toEqual(before);
      // The largest amount is accepted (above the trust threshold the account needs an identity anchor).
      const anchored = await f.post(`/v1/accounts/${id}/anchor`, {
        token: f.tokens.admin,
        json: {
          chainId: '1',
          contractAddress: `0x${'a1'.repeat(20)}`,
          tokenId: '1',
          ownerAddress: `0x${'b2'.repeat(20)}`,
        },
      });
      expect(anchored.status).toBe(201);
      const top = await f.post(`/v1/accounts/${id}/grants`, {
        token: f.tokens.admin,
        json: { amountMicro: '1000000000000000', reason: 'max' },
      });
      expect(top.status).toBe(201);
    });

    it('refuses bad expiries, pools, reasons and unknown fields with 400 and changes nothing', async () => {
      const { accountId: id } = await f.userAccount('bad-grants');
      const before = await f.snapshot(id);
      const past = new Date(f.clock.nowMs() - 1000).toISOString();
      const cases: [Record<string, unknown>, string][] = [
        [{ expiresAt: past }, 'invalid_argument'],
        [{ expiresAt: '2030-01-01T00:00:00+02:00' }, 'validation_failed'],
        [{ expiresAt: '2030-01-01' }, 'validation_failed'],
        [{ expiresAt: 'tomorrow' }, 'validation_failed'],
        [{ expiresAt: 1893456000000 }, 'validation_failed'],
        [{ poolId: 'GPU' }, 'validation_failed'],
        [{ poolId: '' }, 'validation_failed'],
        [{ reason: '' }, 'validation_failed'],
        [{ reason: '   ' }, 'validation_failed'],
        [{ reason: 'x'.repeat(501) }, 'validation_failed'],
        [{ sourceType: 'purchase' }, 'validation_failed'],
      ];
      for (const [extra, code] of cases) {
        const response = await f.post(`/v1/accounts/${id}/grants`, {
          token: f.tokens.admin,
          json: { amountMicro: '100', reason: 'x', ...extra },
        });
        await errorOf(response, 400, code);
      }
      const noReason = await f.post(`/v1/accounts/${id}/grants`, {
        token: f.tokens.admin,
        json: { amountMicro: '100' },
      });
      await errorOf(noReason, 400, 'validation_failed');
      expect(await f.snapshot(id)).toEqual(before);
    });

    it('an unknown account is a 404; a bad id a 400', async () => {
      const json = { amountMicro: '100', reason: 'x' };
      await errorOf(
        await f.post('/v1/accounts/acc_missing/grants', { token: f.tokens.admin, json }),
        404,
        'account_not_found',
      );
      await errorOf(
        await f.post('/v1/accounts/bad!id/grants', { token: f.tokens.admin, json }),
        400,
        'validation_failed',
      );
    });

    it('replays a grant with the same Idempotency-Key; another body under the key is a 409 that changes nothing', async () => {
      const { accountId: id } = await f.userAccount('idempotent');
      const headers = { 'idempotency-key': 'grant-7' };
      const json = { amountMicro: '500', reason: 'promo' };
      const first = await f.post(`/v1/accounts/${id}/grants`, { token: f.tokens.admin, json, headers });
      const replay = await f.post(`/v1/accounts/${id}/grants`, { token: f.tokens.admin, json, headers });
      expect(first.status).toBe(201);
      expect(replay.status).toBe(201);
      const a = grantBodySchema.parse(await first.json());
      const b = grantBodySchema.parse(await replay.json());
      expect(b.lot.id).toBe(a.lot.id);
      const before = await f.snapshot(id);
      expect((await f.ledger.getBalance(id)).availableMicro).toBe(500n);
      const other = await f.post(`/v1/accounts/${id}/grants`, {
        token: f.tokens.admin,
        json: { ...json, amountMicro: '501' },
        headers,
      });
      await errorOf(other, 409, 'idempotency_key_reused');
      expect(await f.snapshot(id)).toEqual(before);
    });
  });
});
