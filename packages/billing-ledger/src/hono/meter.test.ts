import { randomUUID } from 'node:crypto';
import { Context, Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidUsageError } from '../errors.js';
import { gatewayLedger } from '../http/gateway-ledger.js';
import { fakeGateway } from '../http/test-kit.js';
import {
  createLedger,
  InvalidArgumentError,
  type Ledger,
  LedgerError,
  ledgerErrorHttpStatus,
  ManualClock,
} from '../index.js';
import { meterTtlMsMax } from '../limits.js';
import { priceUsage } from '../meters/pricing.js';
import type { Usage } from '../meters/types.js';
import { openTestLedgerDb, type TestLedgerDbHandle } from '../testing/test-db.js';
import {
  type Meter,
  type MeterEnv,
  type MeteredMeterOptions,
  type MeterLedger,
  type MeterOptions,
  meter,
  type RawMeterOptions,
} from './index.js';

const backend = process.env.DATABASE_URL ? 'Postgres' : 'PGlite';

describe(`meter() on ${backend}`, () => {
  let handle: TestLedgerDbHandle;
  let ledger: Ledger;
  const clock = new ManualClock(Date.parse('2026-03-01T00:00:00.000Z'));

  beforeAll(async () => {
    handle = await openTestLedgerDb();
    ledger = createLedger({ db: handle.db, clock });
  });
  afterAll(async () => {
    await handle.close();
  });

  async function fundedAccount(amountMicro: bigint): Promise<string> {
    const { account } = await ledger.createAccount({ entityType: 'user', entityId: `u-${randomUUID()}` });
    await ledger.mint({ accountId: account.id, amountMicro, sourceType: 'grant' });
    return account.id;
  }

  /** An app whose `/work` route is metered; `handler` decides what the request does. */
  function appFor(
    accountId: string,
    handler: (meterHandle: Meter) => Response | Promise<Response>,
    options: Partial<RawMeterOptions> = {},
  ) {
    const app = new Hono<MeterEnv>();
    app.onError((error, c) =>
      error instanceof LedgerError
        ? c.json(error.toJSON(), ledgerErrorHttpStatus[error.code])
        : c.json({ error: 'internal_error', message: error.message }, 500),
    );
    app.post(
      '/work',
      meter({ ledger, accountId: () => accountId, estimateMicro: () => 1000n, ...options }),
      async (c) => handler(c.get('meter')),
    );
    return app;
  }

  it('reserves before the handler and finalizes with the reported cost after it', async () => {
    const accountId = await fundedAccount(10_000n);
    let seen: { reservationId: string; status: string; available: bigint } | undefined;
    const app = appFor(accountId, async (m) => {
      const reservation = await ledger.getReservation(m.reservationId);
      seen = {
        reservationId: m.reservationId,
        status: reservation.status,
        available: (await ledger.getBalance(accountId)).availableMicro,
      };
      expect(m.estimateMicro).toBe(1000n);
      m.report(700n);
      expect(m.reportedMicro).toBe(700n);
      return new Response('done');
    });
    const response = await app.request('/work', { method: 'POST' });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('done');
    expect(seen).toMatchObject({ status: 'pending', available: 9_000n });
    const settled = await ledger.getReservation(seen?.reservationId ?? '');
    expect(settled).toMatchObject({ status: 'finalized', chargedMicro: 700n });
    expect(await ledger.getBalance(accountId)).toMatchObject({ availableMicro: 9_300n, reservedMicro: 0n });
  });

  it('the last report wins; a cost above the estimate follows the billing mode', async () => {
    const accountId = await fundedAccount(10_000n);
    let reservationId = '';
    const app = appFor(
      accountId,
      (m) => {
        reservationId = m.reservationId;
        m.report(100n);
        m.report(1500n);
        return new Response('ok');
      },
      { billingMode: 'soft' },
    );
    expect((await app.request('/work', { method: 'POST' })).status).toBe(200);
    expect(await ledger.getReservation(reservationId)).toMatchObject({
      status: 'finalized',
      billingMode: 'soft',
      chargedMicro: 1500n,
      overrunMicro: 500n,
    });
    expect((await ledger.getBalance(accountId)).availableMicro).toBe(8_500n);
  });

  it('releases the hold when the handler reports nothing', async () => {
    const accountId = await fundedAccount(5_000n);
    let reservationId = '';
    const app = appFor(accountId, (m) => {
      reservationId = m.reservationId;
      return new Response('free');
    });
    expect((await app.request('/work', { method: 'POST' })).status).toBe(200);
    expect((await ledger.getReservation(reservationId)).status).toBe('released');
    expect(await ledger.getBalance(accountId)).toMatchObject({ availableMicro: 5_000n, reservedMicro: 0n });
  });

  it('releases the hold when the handler throws, and the error still reaches onError', async () => {
    const accountId = await fundedAccount(5_000n);
    let reservationId = '';
    const app = appFor(accountId, (m) => {
      reservationId = m.reservationId;
      m.report(999n);
      throw new Error('model crashed');
    });
    const response = await app.request('/work', { method: 'POST' });
    expect(response.status).toBe(500);
    expect(await response.json()).toEqual({ error: 'internal_error', message: 'model crashed' });
    expect((await ledger.getReservation(reservationId)).status).toBe('released');
    expect((await ledger.getBalance(accountId)).availableMicro).toBe(5_000n);
  });

  it('an invalid report throws in the handler (InvalidAmountError → 400) and the hold is released', async () => {
    const accountId = await fundedAccount(5_000n);
    let reservationId = '';
    const app = appFor(accountId, (m) => {
      reservationId = m.reservationId;
      m.report(-1n);
      return new Response('unreachable');
    });
    const response = await app.request('/work', { method: 'POST' });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: string }).error).toBe('invalid_amount');
    expect((await ledger.getReservation(reservationId)).status).toBe('released');
    const numberReport = appFor(accountId, (m) => {
      m.report(5 as unknown as bigint);
      return new Response('unreachable');
    });
    expect((await numberReport.request('/work', { method: 'POST' })).status).toBe(400);
    expect((await ledger.getBalance(accountId)).availableMicro).toBe(5_000n);
  });

  it('insufficient credits propagate (402) and the handler never runs', async () => {
    const accountId = await fundedAccount(999n);
    let ran = false;
    const app = appFor(accountId, () => {
      ran = true;
      return new Response('unreachable');
    });
    const response = await app.request('/work', { method: 'POST' });
    expect(response.status).toBe(402);
    expect(await response.json()).toMatchObject({
      error: 'insufficient_credits',
      details: { requestedMicro: '1000', availableMicro: '999', shortfallMicro: '1' },
    });
    expect(ran).toBe(false);
    expect(await ledger.getBalance(accountId)).toMatchObject({ availableMicro: 999n, reservedMicro: 0n });
  });

  it('passes poolId, ttlMs and billingMode to the hold', async () => {
    const accountId = await fundedAccount(5_000n);
    await ledger.mint({ accountId, amountMicro: 2_000n, sourceType: 'grant', poolId: 'gpu' });
    let reservationId = '';
    const app = appFor(
      accountId,
      async (m) => {
        reservationId = m.reservationId;
        const hold = await ledger.getReservation(m.reservationId);
        expect(hold).toMatchObject({ poolId: 'gpu', billingMode: 'shadow' });
        expect(hold.expiresAt.getTime()).toBe(clock.nowMs() + 45_000);
        m.report(10n);
        return new Response('ok');
      },
      { poolId: 'gpu', ttlMs: 45_000, billingMode: 'shadow' },
    );
    expect((await app.request('/work', { method: 'POST' })).status).toBe(200);
    expect((await ledger.getReservation(reservationId)).status).toBe('finalized');
  });

  it('a hold that expired while the handler ran cannot be charged: the finalize error propagates (409)', async () => {
    const accountId = await fundedAccount(5_000n);
    const app = appFor(
      accountId,
      (m) => {
        clock.advance(2_000);
        m.report(10n);
        return new Response('too slow');
      },
      { ttlMs: 1_000 },
    );
    const response = await app.request('/work', { method: 'POST' });
    expect(response.status).toBe(409);
    expect(((await response.json()) as { error: string }).error).toBe('reservation_not_pending');
    // Nothing was charged: once the sweeper expires the hold, all the credit is available again.
    await ledger.sweepExpiredHolds();
    expect(await ledger.getBalance(accountId)).toMatchObject({ availableMicro: 5_000n, reservedMicro: 0n });
  });

  it('after a handler error, an expired hold is left to the sweeper and the handler error wins', async () => {
    const accountId = await fundedAccount(5_000n);
    const app = appFor(
      accountId,
      () => {
        clock.advance(2_000);
        throw new Error('slow and broken');
      },
      { ttlMs: 1_000 },
    );
    const response = await app.request('/work', { method: 'POST' });
    expect(response.status).toBe(500);
    expect(((await response.json()) as { message: string }).message).toBe('slow and broken');
    await ledger.sweepExpiredHolds();
    expect(await ledger.getBalance(accountId)).toMatchObject({ availableMicro: 5_000n, reservedMicro: 0n });
  });

  it('rethrows an error that reaches the middleware itself, after releasing', async () => {
    const accountId = await fundedAccount(5_000n);
    const middleware = meter({ ledger, accountId: () => accountId, estimateMicro: () => 300n });
    const c = new Context(new Request('http://localhost/work', { method: 'POST' }));
    const failure = new Error('downstream failed');
    await expect(middleware(c as never, () => Promise.reject(failure))).rejects.toBe(failure);
    const reservationId = (c.get('meter' as never) as Meter).reservationId;
    expect((await ledger.getReservation(reservationId)).status).toBe('released');
    expect(() => (c.get('meter' as never) as Meter).report(1n)).toThrow(InvalidArgumentError);
  });

  it('validates its options when built', () => {
    const good = { ledger, accountId: () => 'acc_1', estimateMicro: () => 1n };
    const bad: unknown[] = [
      undefined,
      {},
      { ...good, ledger: {} },
      { ...good, accountId: 'acc_1' },
      { ...good, estimateMicro: 5n },
      { ...good, billingMode: 'free' },
      { ...good, poolId: '' },
      { ...good, ttlMs: 0 },
      { ...good, ttlMs: 1.5 },
      { ...good, ttlMs: meterTtlMsMax + 1 },
      { ...good, estimate: () => ({ request: 1 }) },
      { ledger, accountId: () => 'acc_1', meterId: '' },
      { ledger, accountId: () => 'acc_1', meterId: 5 },
      { ledger, accountId: () => 'acc_1', meterId: 'chat', estimate: { request: 1 } },
      { ...good, meterId: 'chat' },
      { ledger, accountId: () => 'acc_1', meterId: 'chat', billingMode: 'soft' },
      { ledger, accountId: () => 'acc_1', meterId: 'chat', poolId: 'gpu' },
      { ledger, accountId: () => 'acc_1', meterId: 'chat', ttlMs: 1000 },
    ];
    bad.forEach((options, index) => {
      expect(() => meter(options as MeterOptions), `case ${index}`).toThrow(InvalidArgumentError);
    });
    expect(meter(good).name).toBe('meter');
    expect(meter({ ledger, accountId: () => 'acc_1', meterId: (c) => c.req.path }).name).toBe('meter');
  });

  describe('meter form (meterId): the meter sets the terms, the handler reports usage', () => {
    let meterId: string;

    beforeAll(async () => {
      meterId = `chat_${randomUUID().slice(0, 8)}`;
      await ledger.createMeter({
        id: meterId,
        billingMode: 'live',
        holdMicro: 500n,
        maxCostMicro: 9_000n,
        ttlSeconds: 90,
        unitPrices: [
          { dimension: 'request', priceMicro: 100n, perUnits: 1n },
          { dimension: 'output_tokens', priceMicro: 3n, perUnits: 2n },
        ],
        createdBy: 'ops',
      });
    });

    /** An app whose `/chat` route is metered by `meterId`; `handler` decides what the request does. */
    function meteredApp(
      accountId: string,
      handler: (meterHandle: Meter) => Response | Promise<Response>,
      options: Partial<MeteredMeterOptions> & { ledger?: MeterLedger } = {},
    ) {
      const app = new Hono<MeterEnv>();
      app.onError((error, c) =>
        error instanceof LedgerError
          ? c.json(error.toJSON(), ledgerErrorHttpStatus[error.code])
          : c.json({ error: 'internal_error', message: error.message }, 500),
      );
      app.post('/chat', meter({ ledger, accountId: () => accountId, meterId, ...options }), async (c) =>
        handler(c.get('meter')),
      );
      return app;
    }

    it('holds the meter’s holdMicro on its terms and finalizes the usage at its itemized price', async () => {
      const accountId = await fundedAccount(10_000n);
      let reservationId = '';
      const usage: Usage = { request: 1, output_tokens: 201n };
      const app = meteredApp(accountId, async (m) => {
        reservationId = m.reservationId;
        expect(m).toMatchObject({ estimateMicro: 500n, meterId, meterVersion: 1 });
        const hold = await ledger.getReservation(m.reservationId);
        expect(hold).toMatchObject({ amountMicro: 500n, billingMode: 'live', meterId, status: 'pending' });
        expect(hold.expiresAt.getTime()).toBe(clock.nowMs() + 90_000);
        m.reportUsage({ request: 1, output_tokens: 5 });
        m.reportUsage(usage);
        expect(m.reportedUsage).toEqual(usage);
        expect(m.reportedMicro).toBeUndefined();
        return new Response('ok');
      });
      expect((await app.request('/chat', { method: 'POST' })).status).toBe(200);
      const expected = priceUsage(await ledger.getMeter(meterId), usage);
      expect(expected.totalMicro).toBe(402n); // 100 + ceil(201 × 3 / 2) = 100 + 302, rounded up once
      expect(await ledger.getReservation(reservationId)).toMatchObject({
        status: 'finalized',
        actualCostMicro: 402n,
        chargedMicro: 402n,
        usage: { request: 1n, output_tokens: 201n },
      });
      expect((await ledger.getBalance(accountId)).availableMicro).toBe(10_000n - 402n);
    });

    it('sizes the hold by estimate(c) and picks the meter with meterId(c)', async () => {
      const accountId = await fundedAccount(10_000n);
      let held = 0n;
      const app = meteredApp(
        accountId,
        (m) => {
          held = m.estimateMicro;
          return new Response('nothing reported');
        },
        { meterId: (c) => c.req.header('x-meter') ?? 'none', estimate: () => ({ output_tokens: 4_000 }) },
      );
      expect((await app.request('/chat', { method: 'POST', headers: { 'x-meter': meterId } })).status).toBe(200);
      expect(held).toBe(6_000n);
      expect(await ledger.getBalance(accountId)).toMatchObject({ availableMicro: 10_000n, reservedMicro: 0n });
      const unknown = await app.request('/chat', { method: 'POST', headers: { 'x-meter': 'no_such_meter' } });
      expect(unknown.status).toBe(404);
      expect(((await unknown.json()) as { error: string }).error).toBe('meter_not_found');
    });

    it('a cost report on a metered hold, or a usage report on a raw one, is an InvalidArgumentError (400), released', async () => {
      const accountId = await fundedAccount(5_000n);
      let reservationId = '';
      const metered = meteredApp(accountId, (m) => {
        reservationId = m.reservationId;
        m.report(10n);
        return new Response('unreachable');
      });
      const response = await metered.request('/chat', { method: 'POST' });
      expect(response.status).toBe(400);
      expect(((await response.json()) as { error: string }).error).toBe('invalid_argument');
      expect((await ledger.getReservation(reservationId)).status).toBe('released');
      const raw = appFor(accountId, (m) => {
        reservationId = m.reservationId;
        m.reportUsage({ request: 1 });
        return new Response('unreachable');
      });
      expect((await raw.request('/work', { method: 'POST' })).status).toBe(400);
      expect((await ledger.getReservation(reservationId)).status).toBe('released');
      expect(await ledger.getBalance(accountId)).toMatchObject({ availableMicro: 5_000n, reservedMicro: 0n });
    });

    it('an invalid usage throws InvalidUsageError in the handler and the hold is released', async () => {
      const accountId = await fundedAccount(5_000n);
      const errors: unknown[] = [];
      const app = meteredApp(accountId, (m) => {
        for (const usage of [null, [], { request: -1 }, { request: 1.5 }, { request: '1' }]) {
          try {
            m.reportUsage(usage as unknown as Usage);
          } catch (error) {
            errors.push(error);
          }
        }
        return new Response('none charged');
      });
      expect((await app.request('/chat', { method: 'POST' })).status).toBe(200);
      expect(errors).toHaveLength(5);
      for (const error of errors) expect(error).toBeInstanceOf(InvalidUsageError);
      expect(await ledger.getBalance(accountId)).toMatchObject({ availableMicro: 5_000n, reservedMicro: 0n });
    });

    it('meters against the gateway with gatewayLedger() (no database of its own)', async () => {
      const accountId = await fundedAccount(10_000n);
      const gateway = fakeGateway(ledger, 'svc');
      const overHttp = gatewayLedger({ baseUrl: 'http://gateway.test', token: 'svc', fetch: gateway.fetch });
      let reservationId = '';
      const app = meteredApp(
        accountId,
        (m) => {
          reservationId = m.reservationId;
          m.reportUsage({ request: 2 });
          return new Response('ok');
        },
        { ledger: overHttp },
      );
      expect((await app.request('/chat', { method: 'POST' })).status).toBe(200);
      expect(gateway.seen.map((r) => `${r.method} ${r.path}`)).toEqual([
        'POST /v1/reservations',
        `POST /v1/reservations/${reservationId}/finalize`,
      ]);
      expect(gateway.seen[1]?.body).toEqual({ usage: { request: '2' } });
      expect(await ledger.getReservation(reservationId)).toMatchObject({ status: 'finalized', chargedMicro: 200n });
      const poor = await fundedAccount(100n);
      const refused = meteredApp(poor, () => new Response('unreachable'), { ledger: overHttp });
      const response = await refused.request('/chat', { method: 'POST' });
      expect(response.status).toBe(402);
      expect(((await response.json()) as { error: string }).error).toBe('insufficient_credits');
    });
  });
});
