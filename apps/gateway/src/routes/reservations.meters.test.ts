import { finalizeBodySchema, reserveBodySchema } from '@arrakis/e2e-contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf, type LedgerAppFixture, makeLedgerAppFixture } from '../testing/ledger-fixture.js';

const backend = process.env.DATABASE_URL ? 'Postgres' : 'PGlite';

/** $2.50 per million input tokens, $12.50 per million output tokens, $0.0001 a request. */
const tokenPrices = [
  { dimension: 'input_tokens', priceMicro: '2500000', perUnits: '1000000' },
  { dimension: 'output_tokens', priceMicro: '12500000', perUnits: '1000000' },
  { dimension: 'request', priceMicro: '100', perUnits: '1' },
];

describe(`metered holds, finalize by usage, caps and scoped keys on ${backend}`, () => {
  let f: LedgerAppFixture;
  let meters = 0;
  const meterId = (label: string) => {
    meters += 1;
    return `${label}-${meters}`;
  };
  beforeAll(async () => {
    f = await makeLedgerAppFixture();
  });
  afterAll(async () => {
    await f.close();
  });

  const reserve = (token: string, json: Record<string, unknown>, headers?: Record<string, string>) =>
    f.post('/v1/reservations', { token, json, headers });
  const finalize = (id: string, json: Record<string, unknown>) =>
    f.post(`/v1/reservations/${id}/finalize`, { token: f.tokens.service, json });

  describe('who sets the terms', () => {
    it('the issue scenario: a user reserving {"amountMicro":"1","billingMode":"shadow"} is 403 terms_not_allowed, nothing held', async () => {
      const user = await f.userAccount('alice', '5000000');
      const meter = await f.createMeter(meterId('terms'));
      const before = await f.snapshot(user.accountId);
      const scenario = await reserve(user.token, {
        accountId: user.accountId,
        amountMicro: '1',
        billingMode: 'shadow',
      });
      const body = await errorOf(scenario, 403, 'terms_not_allowed');
      expect(body.details).toEqual({ fields: ['amountMicro', 'billingMode'] });
      const others: Record<string, unknown>[] = [
        { amountMicro: '1000' },
        { meterId: meter.id, billingMode: 'live' },
        { meterId: meter.id, poolId: 'general' },
        { meterId: meter.id, ttlSeconds: 60 },
        { meterId: meter.id, amountMicro: '1' },
      ];
      for (const extra of others) {
        await errorOf(await reserve(user.token, { accountId: user.accountId, ...extra }), 403, 'terms_not_allowed');
      }
      expect(await f.snapshot(user.accountId)).toEqual(before);
    });

    it('a user reserve by meter holds the meter’s amount on its terms (pool, mode, ttl) and records the version', async () => {
      const user = await f.userAccount('bob', '5000000');
      const meter = await f.createMeter(meterId('hold'), {
        holdMicro: '25000',
        billingMode: 'soft',
        ttlSeconds: 120,
        poolId: 'gpu',
        unitPrices: tokenPrices,
      });
      const response = await reserve(user.token, { accountId: user.accountId, meterId: meter.id });
      expect(response.status).toBe(201);
      const hold = reserveBodySchema.parse(await response.json());
      expect(hold).toMatchObject({
        accountId: user.accountId,
        status: 'pending',
        amountMicro: '25000',
        billingMode: 'soft',
        poolId: 'gpu',
        meterId: meter.id,
        meterVersion: 1,
        usage: null,
        expiresAt: new Date(f.clock.nowMs() + 120_000).toISOString(),
        balance: { availableMicro: '4975000', reservedMicro: '25000' },
      });
    });

    it('an estimate sizes the hold: max(holdMicro, cost(estimate)) capped at maxCostMicro', async () => {
      const user = await f.userAccount('carol', '5000000');
      const meter = await f.createMeter(meterId('sized'), { maxCostMicro: '50000', unitPrices: tokenPrices });
      const held = async (estimate: Record<string, unknown>) =>
        (await f.reserveByMeter(user.accountId, meter.id, user.token, { estimate })).amountMicro;
      expect(await held({ request: 1 })).toBe('10000'); // 100 < holdMicro
      expect(await held({ output_tokens: 3000 })).toBe('37500'); // 3000 × 12.5
      expect(await held({ output_tokens: '3001' })).toBe('37513'); // 37 512.5 rounded up
      expect(await held({ output_tokens: 4000, input_tokens: 1000 })).toBe('50000'); // 52 500 capped
    });

    it('both or neither of amountMicro and meterId, terms with a meter, an estimate without one: 400, nothing held', async () => {
      const { accountId } = await f.userAccount('dave', '5000000');
      const meter = await f.createMeter(meterId('forms'));
      const before = await f.snapshot(accountId);
      const cases: [Record<string, unknown>, string][] = [
        [{ accountId, amountMicro: '1', meterId: meter.id }, 'amount_and_meter_exclusive'],
        [{ accountId }, 'amount_or_meter_required'],
        [{ accountId, meterId: meter.id, poolId: 'general' }, 'meter_terms_excluded'],
        [{ accountId, meterId: meter.id, billingMode: 'shadow' }, 'meter_terms_excluded'],
        [{ accountId, amountMicro: '1', estimate: { request: 1 } }, 'estimate_needs_meter'],
      ];
      for (const [json, code] of cases) {
        const body = await errorOf(await reserve(f.tokens.service, json), 400, 'validation_failed');
        expect(body.details).toMatchObject({ issues: [{ code }] });
      }
      for (const estimate of [{ request: -1 }, { request: 1.5 }, { request: '01' }, { Request: 1 }, []]) {
        await errorOf(
          await reserve(f.tokens.service, { accountId, meterId: meter.id, estimate }),
          400,
          'validation_failed',
        );
      }
      await errorOf(await reserve(f.tokens.service, { accountId, meterId: 'Bad' }), 400, 'validation_failed');
      await errorOf(
        await reserve(f.tokens.service, { accountId, meterId: meter.id, estimate: { images: 1 } }),
        400,
        'unknown_dimension',
      );
      await errorOf(await reserve(f.tokens.service, { accountId, meterId: 'missing' }), 404, 'meter_not_found');
      expect(await f.snapshot(accountId)).toEqual(before);
    });
  });

  describe('finalize by usage', () => {
    it('charges exactly the itemized cost under the OLD version after a price change', async () => {
      const user = await f.userAccount('erin', '5000000');
      const id = meterId('reprice');
      await f.createMeter(id, { holdMicro: '20000', unitPrices: tokenPrices });
      const hold = await f.reserveByMeter(user.accountId, id, user.token);
      const dearer = tokenPrices.map((price) => ({ ...price, priceMicro: `${BigInt(price.priceMicro) * 2n}` }));
      expect((await f.createMeter(id, { holdMicro: '20000', unitPrices: dearer })).version).toBe(2);
      const response = await finalize(hold.id, { usage: { input_tokens: 1234, output_tokens: '567', request: 1 } });
      expect(response.status).toBe(200);
      const done = finalizeBodySchema.parse(await response.json());
      // 1234 × 2.5 + 567 × 12.5 + 1 × 100 = 3085 + 7087.5 + 100 = 10 272.5 → 10 273 (the half goes to output_tokens).
      expect(done.pricing).toEqual({
        meterId: id,
        meterVersion: 1,
        lines: [
          { dimension: 'input_tokens', units: '1234', priceMicro: '2500000', perUnits: '1000000', amountMicro: '3085' },
          {
            dimension: 'output_tokens',
            units: '567',
            priceMicro: '12500000',
            perUnits: '1000000',
            amountMicro: '7088',
          },
          { dimension: 'request', units: '1', priceMicro: '100', perUnits: '1', amountMicro: '100' },
        ],
        subtotalMicro: '10273',
        totalMicro: '10273',
        capped: false,
      });
      expect(done).toMatchObject({ actualCostMicro: '10273', chargedMicro: '10273', releasedMicro: '9727' });
      expect(done.reservation).toMatchObject({
        meterId: id,
        meterVersion: 1,
        usage: { input_tokens: '1234', output_tokens: '567', request: '1' },
      });
      expect(done.balance.availableMicro).toBe(String(5_000_000 - 10_273));
      const read = await (await f.get(`/v1/reservations/${hold.id}`, { token: f.tokens.service })).json();
      expect(read).toMatchObject({ meterVersion: 1, actualCostMicro: '10273', chargedMicro: '10273' });
      const next = await f.reserveByMeter(user.accountId, id);
      expect(next.meterVersion).toBe(2);
      const priced = finalizeBodySchema.parse(await (await finalize(next.id, { usage: { request: 1 } })).json());
      expect(priced.pricing).toMatchObject({ meterVersion: 2, totalMicro: '200' });
    });

    it('an unknown dimension is 400 unknown_dimension, usage on a raw hold 409, bad forms 400; nothing changes', async () => {
      const { accountId } = await f.userAccount('frank', '5000000');
      const meter = await f.createMeter(meterId('refuse'), {
        unitPrices: [{ dimension: 'request', priceMicro: '100', perUnits: '1', unitsMax: '10' }],
      });
      const hold = await f.reserveByMeter(accountId, meter.id);
      const raw = await f.reserve(accountId, '1000');
      const before = await f.snapshot(accountId);
      const body = await errorOf(await finalize(hold.id, { usage: { images: 1 } }), 400, 'unknown_dimension');
      expect(body.details).toMatchObject({ meterId: meter.id, dimension: 'images', knownDimensions: ['request'] });
      await errorOf(await finalize(hold.id, { usage: { request: 11 } }), 400, 'invalid_usage');
      await errorOf(await finalize(raw.id, { usage: { request: 1 } }), 409, 'reservation_not_metered');
      await errorOf(await finalize(hold.id, { usage: { request: 1 }, actualCostMicro: '1' }), 400, 'validation_failed');
      await errorOf(await finalize(hold.id, {}), 400, 'validation_failed');
      await errorOf(await finalize(hold.id, { usage: { request: '007' } }), 400, 'validation_failed');
      expect(await f.snapshot(accountId)).toEqual(before);
      const byCost = finalizeBodySchema.parse(await (await finalize(hold.id, { actualCostMicro: '40' })).json());
      expect(byCost).toMatchObject({ chargedMicro: '40', pricing: null });
    });
  });

  describe('spend caps', () => {
    const putCaps = (accountId: string, json: unknown, token = f.tokens.admin) =>
      f.put(`/v1/accounts/${accountId}/spend-caps`, { token, json });

    it('a hold past the daily cap is 402 spend_cap_exceeded with spentMicro and capMicro; finalize and release count back', async () => {
      const user = await f.userAccount('gina', '5000000');
      const meter = await f.createMeter(meterId('caps'), { holdMicro: '20000' });
      const set = await putCaps(user.accountId, { dailyCapMicro: '30000', monthlyCapMicro: '1000000' });
      expect(set.status).toBe(200);
      const dayStart = new Date(f.clock.nowMs());
      dayStart.setUTCHours(0, 0, 0, 0);
      expect(await set.json()).toMatchObject({
        accountId: user.accountId,
        dailyCapMicro: '30000',
        monthlyCapMicro: '1000000',
        updatedBy: 'root',
        updatedAt: new Date(f.clock.nowMs()).toISOString(),
        daily: { period: 'daily', periodStart: dayStart.toISOString(), spentMicro: '0', capMicro: '30000' },
        monthly: { period: 'monthly', spentMicro: '0', capMicro: '1000000' },
      });
      const first = await f.reserveByMeter(user.accountId, meter.id, user.token);
      const before = await f.snapshot(user.accountId);
      const refused = await reserve(user.token, { accountId: user.accountId, meterId: meter.id });
      const body = await errorOf(refused, 402, 'spend_cap_exceeded');
      expect(body.details).toEqual({
        accountId: user.accountId,
        period: 'daily',
        periodStart: dayStart.toISOString(),
        spentMicro: '20000',
        capMicro: '30000',
        requestedMicro: '20000',
      });
      expect(await f.snapshot(user.accountId)).toEqual(before);
      // Finalize counts the charge (5 requests = 500), not the hold: another hold of 20 000 fits again.
      await finalize(first.id, { usage: { request: 5 } });
      const second = await f.reserveByMeter(user.accountId, meter.id, user.token);
      const read = await (await f.get(`/v1/accounts/${user.accountId}/spend-caps`, { token: user.token })).json();
      expect(read).toMatchObject({ daily: { spentMicro: '20500' }, monthly: { spentMicro: '20500' } });
      await errorOf(
        await reserve(f.tokens.service, { accountId: user.accountId, amountMicro: '9501' }),
        402,
        'spend_cap_exceeded',
      );
      // A release counts the hold back.
      expect((await f.post(`/v1/reservations/${second.id}/release`, { token: f.tokens.service })).status).toBe(200);
      expect((await reserve(f.tokens.service, { accountId: user.accountId, amountMicro: '29500' })).status).toBe(201);
    });

    it('PUT is for admins with ledger:caps or admin, with canonical amounts (both fields, null clears); GET for admins, services and the owner', async () => {
      const user = await f.userAccount('hank', '1000');
      const other = await f.userAccount('ivy');
      const before = await f.snapshot(user.accountId);
      await errorOf(
        await putCaps(user.accountId, { dailyCapMicro: '1', monthlyCapMicro: null }, f.tokens.service),
        401,
        'wrong_audience',
      );
      await errorOf(
        await putCaps(user.accountId, { dailyCapMicro: '1', monthlyCapMicro: null }, user.token),
        401,
        'wrong_audience',
      );
      // An admin token needs `ledger:caps` or `admin`: a scopeless (viewer) admin cannot freeze an account.
      await errorOf(
        await putCaps(user.accountId, { dailyCapMicro: '1', monthlyCapMicro: null }, f.tokens.adminNoScope),
        403,
        'insufficient_scope',
      );
      const bad: unknown[] = [
        { dailyCapMicro: '007', monthlyCapMicro: null },
        { dailyCapMicro: '0', monthlyCapMicro: null },
        { dailyCapMicro: '1e3', monthlyCapMicro: null },
        { dailyCapMicro: 5, monthlyCapMicro: null },
        { dailyCapMicro: '5' },
        { dailyCapMicro: '5', monthlyCapMicro: null, extra: 1 },
      ];
      for (const json of bad) await errorOf(await putCaps(user.accountId, json), 400, 'validation_failed');
      await errorOf(
        await putCaps('acc_missing', { dailyCapMicro: '5', monthlyCapMicro: null }),
        404,
        'account_not_found',
      );
      expect(await f.snapshot(user.accountId)).toEqual(before);
      const read = (token: string, accountId = user.accountId) =>
        f.get(`/v1/accounts/${accountId}/spend-caps`, { token });
      expect(await (await read(user.token)).json()).toMatchObject({
        dailyCapMicro: null,
        updatedBy: null,
        updatedAt: null,
      });
      expect((await read(f.tokens.service)).status).toBe(200);
      expect((await read(f.tokens.reader)).status).toBe(200);
      await errorOf(await read(f.tokens.adminNoScope), 403, 'insufficient_scope');
      await errorOf(await read(f.tokens.granter), 403, 'insufficient_scope');
      await errorOf(await read(other.token), 403, 'forbidden');
      const cleared = await putCaps(user.accountId, { dailyCapMicro: null, monthlyCapMicro: null });
      expect(await cleared.json()).toMatchObject({ dailyCapMicro: null, monthlyCapMicro: null });
    });
  });

  describe('idempotency keys are scoped to the caller', () => {
    it('two users with the same Idempotency-Key both get 201; the same user replaying gets the first answer', async () => {
      const meter = await f.createMeter(meterId('scoped'));
      const headers = { 'idempotency-key': 'order-1' };
      const alice = await f.userAccount('kim', '100000');
      const bob = await f.userAccount('lee', '100000');
      const aliceHold = await reserve(alice.token, { accountId: alice.accountId, meterId: meter.id }, headers);
      const bobHold = await reserve(bob.token, { accountId: bob.accountId, meterId: meter.id }, headers);
      expect(aliceHold.status).toBe(201);
      expect(bobHold.status).toBe(201);
      const first = reserveBodySchema.parse(await aliceHold.json());
      expect(reserveBodySchema.parse(await bobHold.json()).id).not.toBe(first.id);
      const replay = await reserve(alice.token, { accountId: alice.accountId, meterId: meter.id }, headers);
      expect(replay.status).toBe(201);
      expect(reserveBodySchema.parse(await replay.json()).id).toBe(first.id);
      expect((await f.ledger.getBalance(alice.accountId)).reservedMicro).toBe(10_000n);
      // A service under the same key is a third caller.
      const byService = await reserve(f.tokens.service, { accountId: alice.accountId, amountMicro: '5' }, headers);
      expect(byService.status).toBe(201);
      await errorOf(
        await reserve(
          alice.token,
          { accountId: alice.accountId, meterId: meter.id, estimate: { request: 1 } },
          headers,
        ),
        409,
        'idempotency_key_reused',
      );
    });
  });
});
