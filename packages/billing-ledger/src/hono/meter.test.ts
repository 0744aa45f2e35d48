import { randomUUID } from 'node:crypto';
import { Context, Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createLedger,
  InvalidArgumentError,
  type Ledger,
  LedgerError,
  ledgerErrorHttpStatus,
  ManualClock,
} from '../index.js';
import { openTestLedgerDb, type TestLedgerDbHandle } from '../testing/test-db.js';
import { type Meter, type MeterEnv, type MeterOptions, meter, meterTtlMsMax } from './index.js';

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
    options: Partial<MeterOptions> = {},
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
    ];
    bad.forEach((options, index) => {
      expect(() => meter(options as MeterOptions), `case ${index}`).toThrow(InvalidArgumentError);
    });
    expect(meter(good).name).toBe('meter');
  });
});
