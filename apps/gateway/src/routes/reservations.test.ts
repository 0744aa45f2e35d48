import {
  finalizeBodySchema,
  nonCanonicalAmounts,
  releaseBodySchema,
  reservationBodySchema,
  reserveBodySchema,
} from '@arrakis/e2e-contracts';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { errorOf, type LedgerAppFixture, makeLedgerAppFixture } from '../testing/ledger-fixture.js';

const backend = process.env.DATABASE_URL ? 'Postgres' : 'PGlite';

describe(`reservation routes on ${backend}`, () => {
  let f: LedgerAppFixture;
  /** A fresh user account with 5 000 000 micro-USD for each test. */
  let alice: string;
  let aliceToken: string;
  beforeAll(async () => {
    f = await makeLedgerAppFixture();
  });
  afterAll(async () => {
    await f.close();
  });
  beforeEach(async () => {
    const user = await f.userAccount('alice', '5000000');
    alice = user.accountId;
    aliceToken = user.token;
  });

  const finalize = (id: string, actualCostMicro: unknown, headers?: Record<string, string>) =>
    f.post(`/v1/reservations/${id}/finalize`, { token: f.tokens.service, json: { actualCostMicro }, headers });
  const release = (id: string, headers?: Record<string, string>) =>
    f.post(`/v1/reservations/${id}/release`, { token: f.tokens.service, headers });

  describe('POST /v1/reservations', () => {
    it('a service holds credit: 201 {id, status, amountMicro, expiresAt, lots, balance}', async () => {
      const response = await f.post('/v1/reservations', {
        token: f.tokens.service,
        json: { accountId: alice, amountMicro: '1200000', ttlSeconds: 60, billingMode: 'soft' },
      });
      expect(response.status).toBe(201);
      const body = reserveBodySchema.parse(await response.json());
      expect(body).toMatchObject({
        accountId: alice,
        status: 'pending',
        amountMicro: '1200000',
        billingMode: 'soft',
        poolId: 'general',
        expiresAt: new Date(f.clock.nowMs() + 60_000).toISOString(),
        resolvedAt: null,
      });
      expect(body.lots).toEqual([{ lotId: expect.any(String), amountMicro: '1200000' }]);
      expect(body.balance).toMatchObject({ availableMicro: '3800000', reservedMicro: '1200000' });
      expect(body).toMatchObject({ meterId: null, meterVersion: null, usage: null });
    });

    it('an account in debt is refused every hold: 402 account_in_debt, nothing written', async () => {
      const { lot } = await f.ledger.mint({ accountId: alice, amountMicro: 100n, sourceType: 'purchase' });
      // Spend everything (the grant of 5 000 000 and the purchase), then refund the purchase: its 100 are owed.
      const all = await f.reserve(alice, '5000100');
      expect((await finalize(all.id, '5000100')).status).toBe(200);
      await f.ledger.refund({ lotId: lot.id });
      const before = await f.snapshot(alice);
      const refused = await f.post('/v1/reservations', {
        token: f.tokens.service,
        json: { accountId: alice, amountMicro: '1' },
      });
      const body = await errorOf(refused, 402, 'account_in_debt');
      expect(body.details).toEqual({ accountId: alice, debtMicro: '100' });
      expect(await f.snapshot(alice)).toEqual(before);
    });

    it('draws from the named pool first, then general, in consumption order', async () => {
      const gpu = await f.grant(alice, '1000', { poolId: 'gpu' });
      const hold = await f.reserve(alice, '3000', { poolId: 'gpu' });
      expect(hold.lots[0]).toEqual({ lotId: gpu.lot.id, amountMicro: '1000' });
      expect(hold.lots[1]?.amountMicro).toBe('2000');
    });

    it('a user holds credit on their own account through a meter, and gets 403 on any other (nothing changes)', async () => {
      const meter = await f.createMeter(`own-${alice.toLowerCase().replace(/[^a-z0-9]/g, '')}`);
      const own = await f.post('/v1/reservations', {
        token: aliceToken,
        json: { accountId: alice, meterId: meter.id },
      });
      expect(own.status).toBe(201);
      const bob = await f.userAccount('bob', '1000');
      const before = await f.snapshot(alice);
      const stolen = await f.post('/v1/reservations', {
        token: bob.token,
        json: { accountId: alice, meterId: meter.id },
      });
      await errorOf(stolen, 403, 'forbidden');
      const unknown = await f.post('/v1/reservations', {
        token: bob.token,
        json: { accountId: 'acc_missing', meterId: meter.id },
      });
      await errorOf(unknown, 403, 'forbidden');
      expect(await f.snapshot(alice)).toEqual(before);
    });

    it('admins hold credit too, raw or through a meter', async () => {
      const meter = await f.createMeter(`admin-${alice.toLowerCase().replace(/[^a-z0-9]/g, '')}`);
      const raw = await f.post('/v1/reservations', {
        token: f.tokens.admin,
        json: { accountId: alice, amountMicro: '1' },
      });
      expect(raw.status).toBe(201);
      const metered = await f.reserveByMeter(alice, meter.id, f.tokens.admin);
      expect(metered).toMatchObject({ amountMicro: '10000', meterId: meter.id, meterVersion: 1 });
    });

    it('more than the balance is a 402 insufficient_credits with the shortfall, and changes nothing', async () => {
      const before = await f.snapshot(alice);
      const response = await f.post('/v1/reservations', {
        token: f.tokens.service,
        json: { accountId: alice, amountMicro: '5000001' },
      });
      const body = await errorOf(response, 402, 'insufficient_credits');
      expect(body.details).toEqual({
        accountId: alice,
        poolId: 'general',
        requestedMicro: '5000001',
        availableMicro: '5000000',
        shortfallMicro: '1',
      });
      expect(await f.snapshot(alice)).toEqual(before);
    });

    it('an unknown account is a 404 for a service', async () => {
      const response = await f.post('/v1/reservations', {
        token: f.tokens.service,
        json: { accountId: 'acc_missing', amountMicro: '1' },
      });
      await errorOf(response, 404, 'account_not_found');
    });

    it('refuses malformed bodies and amounts with 400 and changes nothing', async () => {
      const before = await f.snapshot(alice);
      const bodies: unknown[] = [
        ...nonCanonicalAmounts.map((amountMicro) => ({ accountId: alice, amountMicro })),
        { accountId: alice, amountMicro: '0' },
        { accountId: alice },
        { amountMicro: '1' },
        { accountId: 'bad id', amountMicro: '1' },
        { accountId: 'a'.repeat(129), amountMicro: '1' },
        { accountId: alice, amountMicro: '1', ttlSeconds: 0 },
        { accountId: alice, amountMicro: '1', ttlSeconds: 1.5 },
        { accountId: alice, amountMicro: '1', ttlSeconds: '60' },
        { accountId: alice, amountMicro: '1', ttlSeconds: 86_401 },
        { accountId: alice, amountMicro: '1', billingMode: 'free' },
        { accountId: alice, amountMicro: '1', poolId: 'GPU' },
        { accountId: alice, amountMicro: '1', unknown: 1 },
      ];
      for (const json of bodies) {
        const response = await f.post('/v1/reservations', { token: f.tokens.service, json });
        await errorOf(response, 400, 'validation_failed');
      }
      await errorOf(await f.post('/v1/reservations', { token: f.tokens.service, body: 'nope' }), 400, 'bad_request');
      const badKey = await f.post('/v1/reservations', {
        token: f.tokens.service,
        json: { accountId: alice, amountMicro: '1' },
        headers: { 'idempotency-key': 'k'.repeat(256) },
      });
      await errorOf(badKey, 400, 'validation_failed');
      expect(await f.snapshot(alice)).toEqual(before);
    });

    it('replays with the same Idempotency-Key; another body under it is a 409 that changes nothing', async () => {
      const headers = { 'idempotency-key': 'job-42' };
      const json = { accountId: alice, amountMicro: '1000' };
      const first = reserveBodySchema.parse(
        await (await f.post('/v1/reservations', { token: f.tokens.service, json, headers })).json(),
      );
      const again = await f.post('/v1/reservations', { token: f.tokens.service, json, headers });
      expect(again.status).toBe(201);
      expect(reserveBodySchema.parse(await again.json()).id).toBe(first.id);
      expect((await f.ledger.getBalance(alice)).reservedMicro).toBe(1000n);
      const before = await f.snapshot(alice);
      const other = await f.post('/v1/reservations', {
        token: f.tokens.service,
        json: { ...json, amountMicro: '1001' },
        headers,
      });
      await errorOf(other, 409, 'idempotency_key_reused');
      expect(await f.snapshot(alice)).toEqual(before);
    });
  });

  describe('finalize', () => {
    it('charges the cost in recorded order, releases the rest, and splits the charge by the rule in force', async () => {
      const hold = await f.reserve(alice, '1000000');
      const response = await finalize(hold.id, '600000');
      expect(response.status).toBe(200);
      const body = finalizeBodySchema.parse(await response.json());
      expect(body).toMatchObject({
        id: hold.id,
        status: 'finalized',
        actualCostMicro: '600000',
        chargedMicro: '600000',
        releasedMicro: '400000',
        overrunMicro: '0',
        uncollectedMicro: '0',
      });
      // The seeded rule: commons 500, community 7000, foundation 2500 bps.
      expect(body.distribution).toMatchObject({
        kind: 'charge',
        reservationId: hold.id,
        amountMicro: '600000',
        ruleId: 'rule_initial',
        ruleVersion: 1,
        ruleSchemaVersion: 1,
        shares: { commons: '30000', community: '420000', foundation: '150000', referrer: '0', treasury: '0' },
      });
      expect(body.balance).toMatchObject({ availableMicro: '4400000', reservedMicro: '0' });
      expect(body.reservation).toMatchObject({ status: 'finalized', chargedMicro: '600000', lots: hold.lots });
    });

    it('a cost of 0 releases everything; a cost over the hold follows the mode (live records the overrun)', async () => {
      const zero = finalizeBodySchema.parse(await (await finalize((await f.reserve(alice, '1000')).id, '0')).json());
      expect(zero).toMatchObject({ chargedMicro: '0', releasedMicro: '1000' });
      const live = finalizeBodySchema.parse(await (await finalize((await f.reserve(alice, '1000')).id, '1500')).json());
      expect(live).toMatchObject({ chargedMicro: '1000', releasedMicro: '0', overrunMicro: '500' });
      const soft = finalizeBodySchema.parse(
        await (await finalize((await f.reserve(alice, '1000', { billingMode: 'soft' })).id, '1500')).json(),
      );
      expect(soft).toMatchObject({ chargedMicro: '1500', overrunMicro: '500', uncollectedMicro: '0' });
      const shadow = finalizeBodySchema.parse(
        await (await finalize((await f.reserve(alice, '1000', { billingMode: 'shadow' })).id, '700')).json(),
      );
      expect(shadow).toMatchObject({ chargedMicro: '0', releasedMicro: '1000', distribution: null });
      expect(zero.distribution).toBeNull();
    });

    it('a repeat with the same cost answers the first result; another cost is a 409 finalize_conflict', async () => {
      const hold = await f.reserve(alice, '1000');
      const first = await (await finalize(hold.id, '400')).json();
      const again = await finalize(hold.id, '400');
      expect(again.status).toBe(200);
      const { balance: _b1, ...firstRest } = finalizeBodySchema.parse(first);
      const { balance: _b2, ...againRest } = finalizeBodySchema.parse(await again.json());
      expect(againRest).toEqual(firstRest);
      const before = await f.snapshot(alice);
      const conflict = await errorOf(await finalize(hold.id, '401'), 409, 'finalize_conflict');
      expect(conflict.details).toMatchObject({ finalizedCostMicro: '400', requestedCostMicro: '401' });
      await errorOf(await release(hold.id), 409, 'reservation_not_pending');
      expect(await f.snapshot(alice)).toEqual(before);
    });

    it('refuses bad amounts, ids and bodies with 400; unknown holds with 404; nothing changes', async () => {
      const hold = await f.reserve(alice, '1000');
      const before = await f.snapshot(alice);
      for (const amount of [...nonCanonicalAmounts, '00', '-0', undefined]) {
        await errorOf(await finalize(hold.id, amount), 400, 'validation_failed');
      }
      await errorOf(
        await f.post(`/v1/reservations/${hold.id}/finalize`, {
          token: f.tokens.service,
          json: { actualCostMicro: '1', extra: true },
        }),
        400,
        'validation_failed',
      );
      await errorOf(await finalize('bad id', '1'), 400, 'validation_failed');
      await errorOf(await finalize('res_missing', '1'), 404, 'reservation_not_found');
      await errorOf(await finalize(hold.id, '1', { 'idempotency-key': ' ' }), 400, 'validation_failed');
      const user = await f.post(`/v1/reservations/${hold.id}/finalize`, {
        token: aliceToken,
        json: { actualCostMicro: '1' },
      });
      await errorOf(user, 401, 'wrong_audience');
      expect(await f.snapshot(alice)).toEqual(before);
    });

    it('an expired hold reads as expired and cannot be finalized or released (409)', async () => {
      const hold = await f.reserve(alice, '1000', { ttlSeconds: 30 });
      f.clock.advance(30_001);
      await f.refreshTokens();
      const read = reservationBodySchema.parse(
        await (await f.get(`/v1/reservations/${hold.id}`, { token: f.tokens.service })).json(),
      );
      expect(read.status).toBe('expired');
      const before = await f.snapshot(alice);
      const body = await errorOf(await finalize(hold.id, '1'), 409, 'reservation_not_pending');
      expect(body.details).toMatchObject({ status: 'expired' });
      await errorOf(await release(hold.id), 409, 'reservation_not_pending');
      expect(await f.snapshot(alice)).toEqual(before);
    });
  });

  describe('release and read', () => {
    it('release gives the hold back (200), is idempotent, and a released hold cannot be finalized (409)', async () => {
      const hold = await f.reserve(alice, '2000000');
      const response = await release(hold.id);
      expect(response.status).toBe(200);
      const body = releaseBodySchema.parse(await response.json());
      expect(body).toMatchObject({ id: hold.id, status: 'released', releasedMicro: '2000000', lots: hold.lots });
      expect(body.balance).toMatchObject({ availableMicro: '5000000', reservedMicro: '0' });
      const again = await release(hold.id);
      expect(again.status).toBe(200);
      expect(releaseBodySchema.parse(await again.json()).status).toBe('released');
      const before = await f.snapshot(alice);
      await errorOf(await finalize(hold.id, '1'), 409, 'reservation_not_pending');
      expect(await f.snapshot(alice)).toEqual(before);
    });

    it('GET /v1/reservations/:id answers the hold with its status and lots (services only)', async () => {
      const hold = await f.reserve(alice, '1000');
      const response = await f.get(`/v1/reservations/${hold.id}`, { token: f.tokens.service });
      expect(response.status).toBe(200);
      expect(reservationBodySchema.parse(await response.json())).toMatchObject({
        id: hold.id,
        status: 'pending',
        amountMicro: '1000',
        lots: hold.lots,
      });
      await errorOf(await f.get(`/v1/reservations/${hold.id}`, { token: aliceToken }), 401, 'wrong_audience');
      await errorOf(
        await f.get('/v1/reservations/res_missing', { token: f.tokens.service }),
        404,
        'reservation_not_found',
      );
      await errorOf(await f.get('/v1/reservations/res%20x', { token: f.tokens.service }), 400, 'validation_failed');
      await errorOf(await release('res_missing'), 404, 'reservation_not_found');
      await errorOf(await release('bad!'), 400, 'validation_failed');
    });
  });
});
