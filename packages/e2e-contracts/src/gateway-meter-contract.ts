import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { expectError, expectOk, stateOf, unique } from './contract-kit.js';
import type { LedgerContractContext } from './gateway-ledger-contract.js';
import type { MeterRequest, SpendCapsRequest } from './http-client.js';
import { mintTestToken } from './jwt.js';
import type { AccountBody, MeterBody, ReserveBody } from './schemas.js';

/** The unit prices of the meters the contract creates: $0.001 a request, $3 and $15.50 per million tokens. */
export const contractUnitPrices: MeterRequest['unitPrices'] = [
  { dimension: 'request', priceMicro: '1000', perUnits: '1' },
  { dimension: 'input_tokens', priceMicro: '3000000', perUnits: '1000000' },
  { dimension: 'output_tokens', priceMicro: '15500000', perUnits: '1000000', unitsMax: '100000' },
];

/** A meter id unique to this run (meter ids are lower-case). */
const meterIdOf = (label: string) => unique(label).toLowerCase();

/**
 * Registers the price book part of the ledger contract (run by `describeLedgerContract`), against the wire shapes of
 * issue 11: meters and their versions (admin-only, `pricing:admin` or `admin`), bad meters as 400s with stable codes,
 * metered holds sized by price, finalize by usage with itemized pricing (rounded up once, capped, priced under the
 * hold's version after a price change), refusals (`unknown_dimension`, `invalid_usage`, `reservation_not_metered`,
 * `meter_not_found`, `validation_failed`), `terms_not_allowed` for user tokens, spend caps (402
 * `spend_cap_exceeded`, releases count back), and idempotency keys scoped to the caller. Meters and accounts get
 * unique ids, so it can run against a long-lived gateway; spend caps are only set on the accounts it creates.
 *
 * @example
 * ```ts
 * describeMeterContract({ client: () => createGatewayClient({ baseUrl }), tokens: () => tokens });
 * ```
 */
export function describeMeterContract(context: LedgerContractContext): void {
  const { client } = context;
  const tokens = async () => context.tokens();

  async function newAccount(label: string, entity?: { entityType: string; entityId: string }): Promise<AccountBody> {
    const body = entity ?? { entityType: 'contract', entityId: unique(label) };
    const created = await client().createAccount(body, { token: (await tokens()).service });
    return expectOk(created, created.status === 200 ? 200 : 201);
  }

  async function fundedAccount(label: string, amountMicro: string, entity?: { entityType: string; entityId: string }) {
    const account = await newAccount(label, entity);
    const granted = await client().grant(
      account.id,
      { amountMicro, reason: 'contract test' },
      { token: (await tokens()).admin },
    );
    expectOk(granted, 201);
    return account;
  }

  /** The user token's own account (entity `user`, id = its `sub`), funded. */
  async function userAccount(token: string, amountMicro: string): Promise<AccountBody> {
    return fundedAccount('user', amountMicro, { entityType: 'user', entityId: String(decodeJwt(token).sub) });
  }

  async function newMeter(label: string, overrides: Partial<MeterRequest> = {}): Promise<MeterBody> {
    const body: MeterRequest = {
      id: meterIdOf(label),
      holdMicro: '20000',
      unitPrices: contractUnitPrices,
      ...overrides,
    };
    return expectOk(await client().createMeter(body, { token: (await tokens()).admin }), 201);
  }

  async function signed(audience: 'arrakis-api' | 'arrakis-admin', sub: string, scope?: string): Promise<string> {
    const signer = await context.signer?.();
    if (signer === undefined) throw new Error('this case needs the signer');
    return mintTestToken({ ...signer, audience, sub, ...(scope === undefined ? {} : { scope }) });
  }

  const service = async () => (await tokens()).service;

  describe('ledger: meters (price book)', () => {
    it('POST /v1/meters creates version 1, then the next version; reads answer the version in force, ?version=N, and /versions newest first', async () => {
      const t = await tokens();
      const first = await newMeter('versions', { maxCostMicro: '500000', ttlSeconds: 120, billingMode: 'soft' });
      expect(first).toMatchObject({
        version: 1,
        poolId: 'general',
        billingMode: 'soft',
        holdMicro: '20000',
        maxCostMicro: '500000',
        ttlSeconds: 120,
        createdBy: String(decodeJwt(t.admin).sub),
      });
      expect(first.unitPrices).toEqual([
        { dimension: 'request', priceMicro: '1000', perUnits: '1', unitsMax: '1000000000' },
        { dimension: 'input_tokens', priceMicro: '3000000', perUnits: '1000000', unitsMax: '1000000000' },
        { dimension: 'output_tokens', priceMicro: '15500000', perUnits: '1000000', unitsMax: '100000' },
      ]);
      const second = await newMeter('unused', { id: first.id, holdMicro: '30000' });
      expect(second).toMatchObject({
        id: first.id,
        version: 2,
        holdMicro: '30000',
        maxCostMicro: null,
        ttlSeconds: null,
      });
      expect(expectOk(await client().getMeter(first.id, { token: t.service }), 200)).toEqual(second);
      expect(expectOk(await client().getMeter(first.id, { token: t.service, version: 1 }), 200)).toEqual(first);
      const versions = expectOk(await client().listMeterVersions(first.id, { token: t.admin }), 200);
      expect(versions.versions.map((v) => v.version)).toEqual([2, 1]);
      const listed = expectOk(await client().listMeters({ token: t.user }), 200);
      expect(listed.meters.filter((m) => m.id === first.id)).toEqual([second]);
    });

    it('meters are set by admins only: user and service tokens are 401 wrong_audience', async () => {
      const t = await tokens();
      const body: MeterRequest = { id: meterIdOf('auth'), holdMicro: '1', unitPrices: contractUnitPrices };
      expectError(await client().createMeter(body, { token: t.user }), 401, 'wrong_audience');
      expectError(await client().createMeter(body, { token: t.service }), 401, 'wrong_audience');
      expectError(await client().getMeter(body.id, { token: t.service }), 404, 'meter_not_found');
    });

    it.skipIf(context.signer === undefined)(
      'an admin without the scope pricing:admin or admin is 403 insufficient_scope; with pricing:admin, 201 (skipped without signer)',
      async () => {
        const body: MeterRequest = { id: meterIdOf('scope'), holdMicro: '1', unitPrices: contractUnitPrices };
        const reader = await signed('arrakis-admin', unique('reader'), 'ledger:grant');
        expectError(await client().createMeter(body, { token: reader }), 403, 'insufficient_scope');
        const pricing = await signed('arrakis-admin', unique('pricing'), 'pricing:admin');
        expect(expectOk(await client().createMeter(body, { token: pricing }), 201).version).toBe(1);
      },
    );

    it('a bad meter is a 400 with a stable code and creates nothing', async () => {
      const t = await tokens();
      const id = meterIdOf('bad');
      const request = { dimension: 'request', priceMicro: '1', perUnits: '1' };
      const cases: [Partial<MeterRequest>, string][] = [
        [{ unitPrices: [] }, 'meter_prices_empty'],
        [{ unitPrices: [request, { ...request, priceMicro: '2' }] }, 'meter_dimension_duplicate'],
        [
          { unitPrices: [{ ...request, priceMicro: '1000000000000000', unitsMax: '1000000000' }] },
          'meter_price_overflow',
        ],
        [{ holdMicro: '007' }, 'validation_failed'],
        [{ holdMicro: '0' }, 'validation_failed'],
        [{ unitPrices: [{ ...request, perUnits: '0' }] }, 'validation_failed'],
        [{ unitPrices: [{ ...request, dimension: 'Request' }] }, 'validation_failed'],
        [{ billingMode: 'free' as never }, 'validation_failed'],
      ];
      for (const [overrides, code] of cases) {
        const body: MeterRequest = { id, holdMicro: '1', unitPrices: [request], ...overrides };
        expectError(await client().createMeter(body, { token: t.admin }), 400, code);
      }
      expectError(await client().getMeter(id, { token: t.service }), 404, 'meter_not_found');
      const known = await newMeter('known');
      expectError(await client().getMeter(known.id, { token: t.service, version: 99 }), 404, 'meter_not_found');
    });
  });

  describe('ledger: metered holds and finalize by usage', () => {
    it('a metered reserve holds max(holdMicro, cost(estimate)) capped at maxCostMicro, on the meter’s terms', async () => {
      const token = await service();
      const meter = await newMeter('hold', { maxCostMicro: '40000', ttlSeconds: 120, billingMode: 'soft' });
      const account = await fundedAccount('hold', '1000000');
      const plain = expectOk(await client().reserve({ accountId: account.id, meterId: meter.id }, { token }), 201);
      expect(plain).toMatchObject({
        amountMicro: '20000',
        billingMode: 'soft',
        meterId: meter.id,
        meterVersion: 1,
        usage: null,
        balance: { reservedMicro: '20000' },
      });
      expect(Date.parse(plain.expiresAt) - Date.parse(plain.createdAt)).toBe(120_000);
      // 2 000 output tokens at $15.50 per million: 31 000 micro-USD, above holdMicro.
      const sized = await client().reserve(
        { accountId: account.id, meterId: meter.id, estimate: { output_tokens: 2000 } },
        { token },
      );
      expect(expectOk(sized, 201).amountMicro).toBe('31000');
      const capped = await client().reserve(
        { accountId: account.id, meterId: meter.id, estimate: { output_tokens: '100000' } },
        { token },
      );
      expect(expectOk(capped, 201).amountMicro).toBe('40000');
      for (const hold of [plain, expectOk(sized, 201), expectOk(capped, 201)]) {
        expectOk(await client().release(hold.id, { token }), 200);
      }
    });

    it('finalize by usage charges the itemized price, rounded up once; units as JSON integers or digit strings', async () => {
      const token = await service();
      const meter = await newMeter('usage');
      const account = await fundedAccount('usage', '1000000');
      const hold = expectOk(await client().reserve({ accountId: account.id, meterId: meter.id }, { token }), 201);
      const usage = { request: 1, input_tokens: '1234', output_tokens: 341 };
      const done = expectOk(await client().finalize(hold.id, { usage }, { token }), 200);
      // 1 × 1 000 + 1 234 × 3 + 341 × 15.5 = 9 987.5 → 9 988; the half micro goes to the output_tokens line.
      expect(done.pricing).toEqual({
        meterId: meter.id,
        meterVersion: 1,
        lines: [
          { dimension: 'request', units: '1', priceMicro: '1000', perUnits: '1', amountMicro: '1000' },
          { dimension: 'input_tokens', units: '1234', priceMicro: '3000000', perUnits: '1000000', amountMicro: '3702' },
          {
            dimension: 'output_tokens',
            units: '341',
            priceMicro: '15500000',
            perUnits: '1000000',
            amountMicro: '5286',
          },
        ],
        subtotalMicro: '9988',
        totalMicro: '9988',
        capped: false,
      });
      expect(done).toMatchObject({ status: 'finalized', chargedMicro: '9988', releasedMicro: '10012' });
      expect(done.reservation.usage).toEqual({ request: '1', input_tokens: '1234', output_tokens: '341' });
      expect(done.balance.availableMicro).toBe('990012');
      const again = expectOk(await client().finalize(hold.id, { usage }, { token }), 200);
      expect(again.chargedMicro).toBe('9988');
      const read = expectOk(await client().getReservation(hold.id, { token }), 200);
      expect(read).toMatchObject({ meterId: meter.id, meterVersion: 1, actualCostMicro: '9988' });
    });

    it('a price change between reserve and finalize: the hold’s version prices the usage', async () => {
      const t = await tokens();
      const meter = await newMeter('reprice');
      const account = await fundedAccount('reprice', '1000000');
      const hold = expectOk(
        await client().reserve({ accountId: account.id, meterId: meter.id }, { token: t.service }),
        201,
      );
      const dearer = contractUnitPrices.map((price) => ({ ...price, priceMicro: `${BigInt(price.priceMicro) * 10n}` }));
      expect((await newMeter('unused', { id: meter.id, unitPrices: dearer })).version).toBe(2);
      const done = expectOk(await client().finalize(hold.id, { usage: { request: 3 } }, { token: t.service }), 200);
      expect(done.pricing).toMatchObject({ meterVersion: 1, totalMicro: '3000' });
      expect(done.chargedMicro).toBe('3000');
      const next = expectOk(
        await client().reserve({ accountId: account.id, meterId: meter.id }, { token: t.service }),
        201,
      );
      expect(next.meterVersion).toBe(2);
      const priced = expectOk(await client().finalize(next.id, { usage: { request: 1 } }, { token: t.service }), 200);
      expect(priced.pricing).toMatchObject({ meterVersion: 2, totalMicro: '10000' });
    });

    it('maxCostMicro caps the charge (capped: true)', async () => {
      const token = await service();
      const meter = await newMeter('cap', { holdMicro: '5000', maxCostMicro: '5000' });
      const account = await fundedAccount('cap', '1000000');
      const hold = expectOk(await client().reserve({ accountId: account.id, meterId: meter.id }, { token }), 201);
      const done = expectOk(await client().finalize(hold.id, { usage: { request: 9 } }, { token }), 200);
      expect(done.pricing).toMatchObject({ subtotalMicro: '9000', totalMicro: '5000', capped: true });
      expect(done.chargedMicro).toBe('5000');
    });

    it('refused usage, estimates and forms are 400/404/409 with stable codes and change nothing', async () => {
      const token = await service();
      const meter = await newMeter('refusals');
      const account = await fundedAccount('refusals', '1000000');
      const hold = expectOk(await client().reserve({ accountId: account.id, meterId: meter.id }, { token }), 201);
      const raw = expectOk(await client().reserve({ accountId: account.id, amountMicro: '1000' }, { token }), 201);
      const before = await stateOf(client(), token, account.id);
      const finalizeCases: [string, unknown, number, string][] = [
        [hold.id, { usage: { images: 1 } }, 400, 'unknown_dimension'],
        [hold.id, { usage: { output_tokens: 100001 } }, 400, 'invalid_usage'],
        [hold.id, { usage: { request: -1 } }, 400, 'validation_failed'],
        [hold.id, { usage: { request: 1.5 } }, 400, 'validation_failed'],
        [hold.id, { usage: { request: '01' } }, 400, 'validation_failed'],
        [hold.id, { usage: { request: 1 }, actualCostMicro: '1' }, 400, 'validation_failed'],
        [hold.id, {}, 400, 'validation_failed'],
        [raw.id, { usage: { request: 1 } }, 409, 'reservation_not_metered'],
      ];
      for (const [id, body, status, code] of finalizeCases) {
        expectError(await client().finalize(id, body as never, { token }), status, code);
      }
      const reserveCases: [unknown, number, string][] = [
        [{ accountId: account.id, meterId: meter.id, estimate: { images: 1 } }, 400, 'unknown_dimension'],
        [{ accountId: account.id, meterId: meter.id, amountMicro: '1000' }, 400, 'validation_failed'],
        [{ accountId: account.id }, 400, 'validation_failed'],
        [{ accountId: account.id, meterId: meterIdOf('missing') }, 404, 'meter_not_found'],
      ];
      for (const [body, status, code] of reserveCases) {
        expectError(await client().reserve(body as never, { token }), status, code);
      }
      expect(await stateOf(client(), token, account.id)).toEqual(before);
      expectError(
        await client().finalize(hold.id, { usage: { request: 1 } }, { token: (await tokens()).user }),
        401,
        'wrong_audience',
      );
    });
  });

  describe('ledger: who may set the terms of a hold', () => {
    it('a user token reserves through a meter only: amountMicro, billingMode, poolId or ttlSeconds → 403 terms_not_allowed, nothing held', async () => {
      const t = await tokens();
      const meter = await newMeter('terms');
      const own = await userAccount(t.user, '100000');
      const before = await stateOf(client(), t.service, own.id);
      const refused: unknown[] = [
        { accountId: own.id, amountMicro: '1', billingMode: 'shadow' },
        { accountId: own.id, amountMicro: '1000' },
        { accountId: own.id, meterId: meter.id, billingMode: 'shadow' },
        { accountId: own.id, meterId: meter.id, poolId: 'general' },
        { accountId: own.id, meterId: meter.id, ttlSeconds: 60 },
      ];
      for (const body of refused) {
        expectError(await client().reserve(body as never, { token: t.user }), 403, 'terms_not_allowed');
      }
      expect(await stateOf(client(), t.service, own.id)).toEqual(before);
      const held = expectOk(await client().reserve({ accountId: own.id, meterId: meter.id }, { token: t.user }), 201);
      expect(held).toMatchObject({ amountMicro: '20000', meterId: meter.id, billingMode: 'live' });
      expectOk(await client().release(held.id, { token: t.service }), 200);
    });
  });

  describe('ledger: spend caps', () => {
    const caps = (dailyCapMicro: string | null, monthlyCapMicro: string | null): SpendCapsRequest => ({
      dailyCapMicro,
      monthlyCapMicro,
    });

    it('an admin sets caps; a hold past the daily cap is 402 spend_cap_exceeded and changes nothing; a release counts back', async () => {
      const t = await tokens();
      const meter = await newMeter('caps');
      const account = await fundedAccount('caps', '1000000');
      const set = expectOk(await client().setSpendCaps(account.id, caps('30000', null), { token: t.admin }), 200);
      expect(set).toMatchObject({
        accountId: account.id,
        dailyCapMicro: '30000',
        monthlyCapMicro: null,
        updatedBy: String(decodeJwt(t.admin).sub),
        daily: { period: 'daily', spentMicro: '0', capMicro: '30000' },
        monthly: { period: 'monthly', capMicro: null },
      });
      expect(new Date(set.daily.periodStart).toISOString().slice(11)).toBe('00:00:00.000Z');
      const first = expectOk(
        await client().reserve({ accountId: account.id, meterId: meter.id }, { token: t.service }),
        201,
      );
      const before = await stateOf(client(), t.service, account.id);
      const refused = await client().reserve({ accountId: account.id, meterId: meter.id }, { token: t.service });
      expectError(refused, 402, 'spend_cap_exceeded');
      if (!refused.ok) {
        expect(refused.body.details).toMatchObject({
          accountId: account.id,
          period: 'daily',
          periodStart: set.daily.periodStart,
          spentMicro: '20000',
          capMicro: '30000',
          requestedMicro: '20000',
        });
      }
      expect(await stateOf(client(), t.service, account.id)).toEqual(before);
      expect(expectOk(await client().getSpendCaps(account.id, { token: t.service }), 200).daily.spentMicro).toBe(
        '20000',
      );
      expectOk(await client().release(first.id, { token: t.service }), 200);
      const again = expectOk(
        await client().reserve({ accountId: account.id, meterId: meter.id }, { token: t.service }),
        201,
      );
      const charged = await client().finalize(again.id, { usage: { request: 5 } }, { token: t.service });
      expect(expectOk(charged, 200).chargedMicro).toBe('5000');
      const after = expectOk(await client().getSpendCaps(account.id, { token: t.admin }), 200);
      expect(after.daily.spentMicro).toBe('5000');
      expect(after.monthly.spentMicro).toBe('5000');
    });

    it('a monthly cap refuses too; both null clear the caps', async () => {
      const t = await tokens();
      const account = await fundedAccount('monthly', '1000000');
      expectOk(await client().setSpendCaps(account.id, caps(null, '1000'), { token: t.admin }), 200);
      const refused = await client().reserve({ accountId: account.id, amountMicro: '1001' }, { token: t.service });
      expectError(refused, 402, 'spend_cap_exceeded');
      if (!refused.ok) expect(refused.body.details).toMatchObject({ period: 'monthly', capMicro: '1000' });
      const cleared = expectOk(await client().setSpendCaps(account.id, caps(null, null), { token: t.admin }), 200);
      expect(cleared).toMatchObject({ dailyCapMicro: null, monthlyCapMicro: null });
      expectOk(await client().reserve({ accountId: account.id, amountMicro: '1001' }, { token: t.service }), 201);
    });

    it('caps are set by admins only, with canonical amounts; the owner may read theirs', async () => {
      const t = await tokens();
      const account = await fundedAccount('caps-auth', '1000');
      expectError(
        await client().setSpendCaps(account.id, caps('1', null), { token: t.service }),
        401,
        'wrong_audience',
      );
      expectError(await client().setSpendCaps(account.id, caps('1', null), { token: t.user }), 401, 'wrong_audience');
      for (const bad of ['01', '1e3', '-1', '']) {
        expectError(
          await client().setSpendCaps(account.id, caps(bad, null), { token: t.admin }),
          400,
          'validation_failed',
        );
      }
      expectError(await client().getSpendCaps(account.id, { token: t.user }), 403, 'forbidden');
      const own = await userAccount(t.user, '1');
      expect(expectOk(await client().getSpendCaps(own.id, { token: t.user }), 200).accountId).toBe(own.id);
    });
  });

  describe('ledger: idempotency keys are scoped to the caller', () => {
    it('a service and an admin using the same Idempotency-Key get two holds; each replays its own', async () => {
      const t = await tokens();
      const account = await fundedAccount('scoped', '1000000');
      const key = unique('shared-key');
      const body = { accountId: account.id, amountMicro: '1000' };
      const byService = expectOk(await client().reserve(body, { token: t.service, idempotencyKey: key }), 201);
      const byAdmin = expectOk(await client().reserve(body, { token: t.admin, idempotencyKey: key }), 201);
      expect(byAdmin.id).not.toBe(byService.id);
      const replay = expectOk(await client().reserve(body, { token: t.service, idempotencyKey: key }), 201);
      expect(replay.id).toBe(byService.id);
      expect(expectOk(await client().getBalance(account.id, { token: t.service }), 200).reservedMicro).toBe('2000');
    });

    it.skipIf(context.signer === undefined)(
      'two users with the same Idempotency-Key both succeed (skipped without signer)',
      async () => {
        const meter = await newMeter('two-users');
        const key = unique('order-1');
        const holds: ReserveBody[] = [];
        for (const label of ['alice', 'bob']) {
          const token = await signed('arrakis-api', unique(label));
          const own = await userAccount(token, '100000');
          const body = { accountId: own.id, meterId: meter.id };
          const hold = expectOk(await client().reserve(body, { token, idempotencyKey: key }), 201);
          expect(expectOk(await client().reserve(body, { token, idempotencyKey: key }), 201).id).toBe(hold.id);
          holds.push(hold);
        }
        expect(holds[0]?.id).not.toBe(holds[1]?.id);
        expect(holds.map((hold) => hold.amountMicro)).toEqual(['20000', '20000']);
      },
    );
  });
}
