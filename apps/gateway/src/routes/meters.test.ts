import { MeterNotFoundError } from '@arrakis/billing-ledger';
import { nonCanonicalAmounts } from '@arrakis/e2e-contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf, type LedgerAppFixture, type MeterAnswer, makeLedgerAppFixture } from '../testing/ledger-fixture.js';

const backend = process.env.DATABASE_URL ? 'Postgres' : 'PGlite';

const chatPrices = [
  { dimension: 'request', priceMicro: '1000', perUnits: '1' },
  { dimension: 'input_tokens', priceMicro: '3000000', perUnits: '1000000' },
  { dimension: 'output_tokens', priceMicro: '15500000', perUnits: '1000000', unitsMax: '100000' },
];

describe(`meter routes on ${backend}`, () => {
  let f: LedgerAppFixture;
  let meters = 0;
  /** A meter id unique to the test file. */
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

  const create = (json: Record<string, unknown>, token = f.tokens.admin, headers?: Record<string, string>) =>
    f.post('/v1/meters', { token, json, headers });

  /** The meter's versions, or [] when it has none: what a refused POST must not change. */
  async function versionsOf(id: string): Promise<number[]> {
    try {
      return (await f.ledger.listMeterVersions(id)).map((meter) => meter.version);
    } catch (error) {
      if (error instanceof MeterNotFoundError) return [];
      throw error;
    }
  }

  it('POST creates version 1 by the calling admin, then the next version; old versions stay readable', async () => {
    const id = meterId('chat');
    const response = await create({
      id,
      holdMicro: '20000',
      maxCostMicro: '500000',
      ttlSeconds: 120,
      billingMode: 'soft',
      poolId: 'gpu',
      unitPrices: chatPrices,
    });
    expect(response.status).toBe(201);
    const first = (await response.json()) as MeterAnswer;
    expect(first).toEqual({
      id,
      version: 1,
      poolId: 'gpu',
      billingMode: 'soft',
      holdMicro: '20000',
      maxCostMicro: '500000',
      ttlSeconds: 120,
      unitPrices: [
        { dimension: 'request', priceMicro: '1000', perUnits: '1', unitsMax: '1000000000' },
        { dimension: 'input_tokens', priceMicro: '3000000', perUnits: '1000000', unitsMax: '1000000000' },
        { dimension: 'output_tokens', priceMicro: '15500000', perUnits: '1000000', unitsMax: '100000' },
      ],
      effectiveAt: new Date(f.clock.nowMs()).toISOString(),
      createdBy: 'root',
      createdAt: new Date(f.clock.nowMs()).toISOString(),
    });
    const second = await f.createMeter(id, { holdMicro: '30000' });
    expect(second).toMatchObject({ id, version: 2, poolId: 'general', billingMode: 'live', maxCostMicro: null });
    const read = async (path: string, token = f.tokens.service) => {
      const answer = await f.get(path, { token });
      expect(answer.status, path).toBe(200);
      return answer.json();
    };
    expect(await read(`/v1/meters/${id}`)).toEqual(second);
    expect(await read(`/v1/meters/${id}?version=1`, f.tokens.reader)).toEqual(first);
    const versions = (await read(`/v1/meters/${id}/versions`)) as { versions: MeterAnswer[] };
    expect(versions.versions.map((meter) => meter.version)).toEqual([2, 1]);
    const { token: userToken } = await f.user('reader');
    const listed = (await read('/v1/meters', userToken)) as { meters: MeterAnswer[] };
    expect(listed.meters.filter((meter) => meter.id === id)).toEqual([second]);
  });

  it('a scheduled version is listed in /versions but not in force until its effectiveAt', async () => {
    const id = meterId('scheduled');
    const first = await f.createMeter(id);
    const effectiveAt = new Date(f.clock.nowMs() + 60_000).toISOString();
    const later = await f.createMeter(id, { holdMicro: '99', effectiveAt });
    expect(later).toMatchObject({ version: 2, effectiveAt });
    expect(await (await f.get(`/v1/meters/${id}`, { token: f.tokens.service })).json()).toEqual(first);
    const versions = await (await f.get(`/v1/meters/${id}/versions`, { token: f.tokens.service })).json();
    expect((versions as { versions: MeterAnswer[] }).versions).toEqual([later, first]);
    const past = new Date(f.clock.nowMs() - 1).toISOString();
    await errorOf(
      await create({ id, holdMicro: '1', unitPrices: chatPrices, effectiveAt: past }),
      400,
      'invalid_argument',
    );
    f.clock.advance(60_000);
    await f.refreshTokens();
    expect(await (await f.get(`/v1/meters/${id}`, { token: f.tokens.service })).json()).toEqual(later);
  });

  it('needs an admin with the scope pricing:admin or admin (403 insufficient_scope); users and services are 401', async () => {
    const id = meterId('auth');
    const json = { id, holdMicro: '1', unitPrices: chatPrices };
    await errorOf(await create(json, f.tokens.adminNoScope), 403, 'insufficient_scope');
    await errorOf(await create(json, f.tokens.granter), 403, 'insufficient_scope');
    await errorOf(await create(json, f.tokens.service), 401, 'wrong_audience');
    await errorOf(await create(json, (await f.user('u')).token), 401, 'wrong_audience');
    await errorOf(await f.post('/v1/meters', { json }), 401, 'missing_token');
    expect(await versionsOf(id)).toEqual([]);
    const pricer = await f.token('arrakis-admin', 'pricer', { scope: 'pricing:admin' });
    const created = await create(json, pricer);
    expect(created.status).toBe(201);
    expect(((await created.json()) as MeterAnswer).createdBy).toBe('pricer');
  });

  it('refuses bad meters with 400 and a stable code, and writes nothing', async () => {
    const id = meterId('bad');
    const request = { dimension: 'request', priceMicro: '1', perUnits: '1' };
    const eventsBefore = (await f.ledger.listEvents({ after: null, limit: 1000 })).items.length;
    const cases: [Record<string, unknown>, string][] = [
      [{ unitPrices: [] }, 'meter_prices_empty'],
      [{ unitPrices: [request, { ...request, priceMicro: '2' }] }, 'meter_dimension_duplicate'],
      [
        { unitPrices: [{ ...request, priceMicro: '1000000000000000', unitsMax: '1000000000' }] },
        'meter_price_overflow',
      ],
      [
        {
          unitPrices: [
            { ...request, priceMicro: '600000000', unitsMax: '1000000' },
            { ...request, dimension: 'image', priceMicro: '600000000', unitsMax: '1000000' },
          ],
        },
        'meter_price_overflow',
      ],
      [{ holdMicro: '2', maxCostMicro: '1' }, 'invalid_argument'],
      [{ holdMicro: '0' }, 'validation_failed'],
      [{ unitPrices: [{ ...request, perUnits: '0' }] }, 'validation_failed'],
      [{ unitPrices: [{ ...request, perUnits: '007' }] }, 'validation_failed'],
      [{ unitPrices: [{ ...request, perUnits: 1 }] }, 'validation_failed'],
      [{ unitPrices: [{ ...request, unitsMax: '1000000000000001' }] }, 'validation_failed'],
      [{ unitPrices: [{ ...request, dimension: 'Request' }] }, 'validation_failed'],
      [{ unitPrices: [{ ...request, extra: 1 }] }, 'validation_failed'],
      [{ billingMode: 'free' }, 'validation_failed'],
      [{ ttlSeconds: 0 }, 'validation_failed'],
      [{ effectiveAt: 'tomorrow' }, 'validation_failed'],
      [{ id: 'Chat' }, 'validation_failed'],
      [{ createdBy: 'mallory' }, 'validation_failed'],
      ...nonCanonicalAmounts.map((holdMicro): [Record<string, unknown>, string] => [
        { holdMicro },
        'validation_failed',
      ]),
      ...nonCanonicalAmounts.map((priceMicro): [Record<string, unknown>, string] => [
        { unitPrices: [{ ...request, priceMicro }] },
        'validation_failed',
      ]),
    ];
    for (const [overrides, code] of cases) {
      const body = await errorOf(await create({ id, holdMicro: '1', unitPrices: [request], ...overrides }), 400, code);
      if (overrides.holdMicro === '007') {
        expect(body.details).toMatchObject({ issues: [{ path: 'holdMicro', code: 'invalid_amount' }] });
      }
    }
    expect(await versionsOf(id)).toEqual([]);
    expect((await f.ledger.listEvents({ after: null, limit: 1000 })).items.length).toBe(eventsBefore);
  });

  it('replays POST under the same Idempotency-Key; another body under it is a 409', async () => {
    const id = meterId('idem');
    const json = { id, holdMicro: '5', unitPrices: chatPrices };
    const headers = { 'idempotency-key': 'meter-1' };
    const first = (await (await create(json, f.tokens.admin, headers)).json()) as MeterAnswer;
    const again = await create(json, f.tokens.admin, headers);
    expect(again.status).toBe(201);
    expect(await again.json()).toEqual(first);
    await errorOf(await create({ ...json, holdMicro: '6' }, f.tokens.admin, headers), 409, 'idempotency_key_reused');
    expect(await versionsOf(id)).toEqual([1]);
  });

  it('reads: unknown meters and versions are 404 meter_not_found; bad ids and versions are 400', async () => {
    const id = meterId('reads');
    await f.createMeter(id);
    const get = (path: string) => f.get(path, { token: f.tokens.service });
    await errorOf(await get('/v1/meters/missing'), 404, 'meter_not_found');
    await errorOf(await get('/v1/meters/missing/versions'), 404, 'meter_not_found');
    await errorOf(await get(`/v1/meters/${id}?version=2`), 404, 'meter_not_found');
    for (const version of ['0', '01', '-1', '1.5', 'x', '99999999999']) {
      await errorOf(await get(`/v1/meters/${id}?version=${version}`), 400, 'validation_failed');
    }
    await errorOf(await get('/v1/meters/Bad%20Id'), 400, 'validation_failed');
    await errorOf(await f.get('/v1/meters'), 401, 'missing_token');
  });
});
