import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FinalizeConflictError,
  InsufficientCreditsError,
  InvalidAmountError,
  InvalidArgumentError,
  InvalidUsageError,
  MeterNotFoundError,
  ReservationNotMeteredError,
  ReservationNotPendingError,
  SpendCapExceededError,
  UnknownDimensionError,
} from '../errors.js';
import { createLedger, type Ledger } from '../ledger/ledger.js';
import { priceUsage } from '../meters/pricing.js';
import { ManualClock } from '../ports/clock.js';
import { openTestLedgerDb, type TestLedgerDbHandle } from '../testing/test-db.js';
import {
  type GatewayLedger,
  type GatewayLedgerOptions,
  gatewayLedger,
  gatewayLedgerTimeoutMsDefault,
  gatewayLedgerTimeoutMsMax,
} from './gateway-ledger.js';
import { type FakeGateway, fakeGateway } from './test-kit.js';

const backend = process.env.DATABASE_URL ? 'Postgres' : 'PGlite';
const token = 'svc-token';
const baseUrl = 'http://gateway.test/prefix';

/** Catches what `promise` rejects with (fails the test when it resolves). */
async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe(`gatewayLedger() against the gateway's wire shapes, served from a ledger on ${backend}`, () => {
  let handle: TestLedgerDbHandle;
  let ledger: Ledger;
  let gateway: FakeGateway;
  let http: GatewayLedger;
  const clock = new ManualClock(Date.parse('2026-03-01T10:00:00.000Z'));

  beforeAll(async () => {
    handle = await openTestLedgerDb();
    ledger = createLedger({ db: handle.db, clock });
    gateway = fakeGateway(ledger, token);
    // The fake app serves paths without the prefix: strip it, as a reverse proxy would.
    http = gatewayLedger({ baseUrl, token, fetch: (url, init) => gateway.fetch(url.replace('/prefix', ''), init) });
    await ledger.createMeter({
      id: 'chat',
      holdMicro: 2_000n,
      maxCostMicro: 50_000n,
      ttlSeconds: 120,
      unitPrices: [
        { dimension: 'request', priceMicro: 100n, perUnits: 1n },
        { dimension: 'output_tokens', priceMicro: 15_000_000n, perUnits: 1_000_000n },
      ],
      createdBy: 'ops',
    });
  });
  afterAll(async () => {
    await handle.close();
  });

  async function fundedAccount(amountMicro: bigint): Promise<string> {
    const { account } = await ledger.createAccount({ entityType: 'user', entityId: `u-${randomUUID()}` });
    await ledger.mint({ accountId: account.id, amountMicro, sourceType: 'grant' });
    return account.id;
  }

  it('reserve (raw) → finalize by cost: the results are the ledger’s own, decoded to bigint and Date, minus lots', async () => {
    const accountId = await fundedAccount(10_000n);
    const reserved = await http.reserve({ accountId, amountMicro: 4_000n, ttlMs: 60_000, billingMode: 'soft' });
    expect(Object.keys(reserved).sort()).toEqual(['balance', 'reservation']);
    expect(reserved.reservation).toEqual(await ledger.getReservation(reserved.reservation.id));
    expect(reserved.reservation).toMatchObject({
      amountMicro: 4_000n,
      billingMode: 'soft',
      meterId: null,
      usage: null,
    });
    expect(reserved.reservation.expiresAt).toEqual(new Date(clock.nowMs() + 60_000));
    expect(reserved.balance).toMatchObject({ accountId, availableMicro: 6_000n, reservedMicro: 4_000n });
    expect(reserved.balance.asOf).toBeInstanceOf(Date);

    const done = await http.finalize({ reservationId: reserved.reservation.id, actualCostMicro: 2_500n });
    expect(done).toMatchObject({ chargedMicro: 2_500n, releasedMicro: 1_500n, overrunMicro: 0n, pricing: null });
    expect(done.distribution?.amountMicro).toBe(2_500n);
    expect(done.distribution).toEqual((await ledger.getDistribution(reserved.reservation.id)).charge);
    expect(done.reservation).toEqual(await ledger.getReservation(reserved.reservation.id));
    expect(done).not.toHaveProperty('lots');
    expect(await http.getBalance(accountId)).toEqual(await ledger.getBalance(accountId));
  });

  it('reserve by meter → finalize by usage: the hold takes the meter’s terms, the charge is the itemized price', async () => {
    const accountId = await fundedAccount(100_000n);
    const meter = await http.getMeter('chat');
    expect(meter).toEqual(await ledger.getMeter('chat'));
    expect(meter.unitPrices[1]).toMatchObject({ priceMicro: 15_000_000n, perUnits: 1_000_000n });
    const { reservation } = await http.reserve({ accountId, meterId: 'chat', estimate: { output_tokens: 1000 } });
    expect(reservation).toMatchObject({ meterId: 'chat', meterVersion: meter.version, amountMicro: 15_000n });
    const usage = { request: 1, output_tokens: 341n };
    const done = await http.finalize({ reservationId: reservation.id, usage });
    expect(done.pricing).toEqual(priceUsage(meter, usage));
    expect(done.chargedMicro).toBe(done.pricing?.totalMicro);
    expect(done.reservation.usage).toEqual({ request: 1n, output_tokens: 341n });
    expect((await http.getBalance(accountId)).availableMicro).toBe(100_000n - (done.pricing?.totalMicro ?? 0n));
    expect(await http.getMeter('chat', { version: 1 })).toEqual(await ledger.getMeter('chat', { version: 1 }));
  });

  it('release gives the hold back; getReservation reads it', async () => {
    const accountId = await fundedAccount(5_000n);
    const { reservation } = await http.reserve({ accountId, amountMicro: 1_200n });
    const released = await http.release({ reservationId: reservation.id });
    expect(released).toMatchObject({ releasedMicro: 1_200n, reservation: { status: 'released' } });
    expect(released.balance.availableMicro).toBe(5_000n);
    expect(await http.getReservation(reservation.id)).toEqual(await ledger.getReservation(reservation.id));
  });

  it('sends the bearer token, JSON, and idempotencyKey as Idempotency-Key; a replay answers the first hold', async () => {
    const accountId = await fundedAccount(5_000n);
    const before = gateway.seen.length;
    const key = `order-${randomUUID()}`;
    const first = await http.reserve({ accountId, amountMicro: 700n }, { idempotencyKey: key });
    const again = await http.reserve({ accountId, amountMicro: 700n }, { idempotencyKey: key });
    expect(again.reservation.id).toBe(first.reservation.id);
    const [request] = gateway.seen.slice(before);
    expect(request?.headers.get('authorization')).toBe(`Bearer ${token}`);
    expect(request?.headers.get('idempotency-key')).toBe(key);
    expect(request?.headers.get('content-type')).toBe('application/json');
    expect(request?.body).toEqual({ accountId, amountMicro: '700' });
  });

  it("sends a key with spaces inside as it is (the ledger's idempotencyKeyPattern); a replay answers the first hold", async () => {
    const accountId = await fundedAccount(5_000n);
    const before = gateway.seen.length;
    const key = `order ${randomUUID()} / attempt 1`;
    const first = await http.reserve({ accountId, amountMicro: 300n }, { idempotencyKey: key });
    const again = await http.reserve({ accountId, amountMicro: 300n }, { idempotencyKey: key });
    expect(again.reservation.id).toBe(first.reservation.id);
    expect(gateway.seen.slice(before).map((request) => request.headers.get('idempotency-key'))).toEqual([key, key]);
  });

  it('getToken is called before every request', async () => {
    let calls = 0;
    const viaGetToken = gatewayLedger({
      baseUrl: 'http://gateway.test',
      getToken: async () => {
        calls += 1;
        return token;
      },
      fetch: gateway.fetch,
    });
    const accountId = await fundedAccount(1_000n);
    await viaGetToken.getBalance(accountId);
    await viaGetToken.getBalance(accountId);
    expect(calls).toBe(2);
  });

  it('ledger errors over HTTP are the same classes, with the same fields', async () => {
    const accountId = await fundedAccount(3_000n);
    const short = await rejectionOf(http.reserve({ accountId, amountMicro: 3_001n }));
    expect(short).toBeInstanceOf(InsufficientCreditsError);
    expect(short).toMatchObject({
      code: 'insufficient_credits',
      requestedMicro: 3_001n,
      availableMicro: 3_000n,
      shortfallMicro: 1n,
    });
    const local = await rejectionOf(ledger.reserve({ accountId, amountMicro: 3_001n }));
    expect((short as Error).message).toBe((local as Error).message);
    expect((short as InsufficientCreditsError).details).toEqual((local as InsufficientCreditsError).details);

    expect(await rejectionOf(http.getMeter('nope'))).toBeInstanceOf(MeterNotFoundError);
    const metered = await http.reserve({ accountId, meterId: 'chat' });
    const unknown = await rejectionOf(http.finalize({ reservationId: metered.reservation.id, usage: { images: 1 } }));
    expect(unknown).toBeInstanceOf(UnknownDimensionError);
    expect(unknown).toMatchObject({ dimension: 'images', details: { knownDimensions: ['request', 'output_tokens'] } });
    const raw = await http.reserve({ accountId, amountMicro: 10n });
    expect(
      await rejectionOf(http.finalize({ reservationId: raw.reservation.id, usage: { request: 1 } })),
    ).toBeInstanceOf(ReservationNotMeteredError);
    await http.finalize({ reservationId: raw.reservation.id, actualCostMicro: 5n });
    const conflict = await rejectionOf(http.finalize({ reservationId: raw.reservation.id, actualCostMicro: 6n }));
    expect(conflict).toBeInstanceOf(FinalizeConflictError);
    expect(conflict).toMatchObject({ finalizedCostMicro: 5n, requestedCostMicro: 6n });
    expect(await rejectionOf(http.release({ reservationId: raw.reservation.id }))).toBeInstanceOf(
      ReservationNotPendingError,
    );
  });

  it('a spend cap refusal is a SpendCapExceededError with bigint amounts and a Date period start', async () => {
    const accountId = await fundedAccount(10_000n);
    await ledger.setSpendCaps({ accountId, dailyCapMicro: 1_000n, monthlyCapMicro: null, actor: 'ops' });
    await http.reserve({ accountId, amountMicro: 800n });
    const error = await rejectionOf(http.reserve({ accountId, amountMicro: 300n }));
    expect(error).toBeInstanceOf(SpendCapExceededError);
    expect(error).toMatchObject({ period: 'daily', spentMicro: 800n, capMicro: 1_000n });
    expect((error as SpendCapExceededError).details.periodStart).toBe('2026-03-01T00:00:00.000Z');
  });

  it('refuses input the ledger would refuse before sending anything, with the ledger’s errors', async () => {
    const before = gateway.seen.length;
    const cases: [Promise<unknown>, new (...args: never[]) => Error][] = [
      [http.reserve({ accountId: 'acc_1', amountMicro: 0n }), InvalidAmountError],
      [http.reserve({ accountId: 'acc_1', amountMicro: 5 as unknown as bigint }), InvalidAmountError],
      [http.reserve({ accountId: 'acc_1', amountMicro: 10n ** 15n + 1n }), InvalidAmountError],
      [http.reserve({ accountId: 'acc_1', amountMicro: 5n, ttlMs: 1_500 }), InvalidArgumentError],
      [http.reserve({ accountId: 'acc_1', meterId: 'chat', amountMicro: 5n } as never), InvalidArgumentError],
      [http.reserve({ accountId: 'acc_1', amountMicro: 5n, estimate: { request: 1 } } as never), InvalidArgumentError],
      [http.reserve({ accountId: 'acc_1', meterId: 'chat', estimate: { request: -1 } }), InvalidUsageError],
      [http.reserve({ accountId: '', amountMicro: 5n }), InvalidArgumentError],
      [http.finalize({ reservationId: 'res_1', usage: { request: 1.5 } }), InvalidUsageError],
      [http.finalize({ reservationId: 'res_1', actualCostMicro: -1n }), InvalidAmountError],
      [
        http.finalize({ reservationId: 'res_1', actualCostMicro: 1n, usage: { request: 1 } } as never),
        InvalidArgumentError,
      ],
      [http.finalize({ reservationId: 'res_1' } as never), InvalidArgumentError],
      [http.release({ reservationId: 'res 1' }), InvalidArgumentError],
      [
        http.reserve({ accountId: 'acc_1', amountMicro: 5n }, { idempotencyKey: 'x'.repeat(256) }),
        InvalidArgumentError,
      ],
      // The ledger's rule, and no space at either end (HTTP would trim it: the gateway would see another key).
      ...[' lead', 'trail ', 'tab\tinside', 'kl\u00e9', ''].map(
        (idempotencyKey): [Promise<unknown>, typeof InvalidArgumentError] => [
          http.reserve({ accountId: 'acc_1', amountMicro: 5n }, { idempotencyKey }),
          InvalidArgumentError,
        ],
      ),
      [
        http.reserve({ accountId: 'acc_1', amountMicro: 5n }, { idempotencyScope: 'me' } as never),
        InvalidArgumentError,
      ],
      [http.getMeter('chat', { version: 0 }), InvalidArgumentError],
    ];
    for (const [index, [promise, expected]] of cases.entries()) {
      expect(await rejectionOf(promise), `case ${index}`).toBeInstanceOf(expected);
    }
    expect(gateway.seen.length).toBe(before);
  });

  it('validates its options when built', () => {
    const good = { baseUrl, token, fetch: gateway.fetch };
    const bad: unknown[] = [
      undefined,
      {},
      { ...good, baseUrl: 'ftp://gateway.test' },
      { ...good, baseUrl: 'not a url' },
      { ...good, baseUrl: 'http://gateway.test/?a=1' },
      { ...good, token: '' },
      { ...good, token: 'two words' },
      { ...good, getToken: () => token },
      { baseUrl, getToken: 'x' },
      { ...good, fetch: 'fetch' },
      { ...good, timeoutMs: 0 },
      { ...good, timeoutMs: 1.5 },
      { ...good, timeoutMs: gatewayLedgerTimeoutMsMax + 1 },
    ];
    bad.forEach((options, index) => {
      expect(() => gatewayLedger(options as GatewayLedgerOptions), `case ${index}`).toThrow(InvalidArgumentError);
    });
    expect(gatewayLedger({ baseUrl: 'http://gateway.test///', token }).baseUrl).toBe('http://gateway.test');
    expect(gatewayLedgerTimeoutMsDefault).toBe(10_000);
  });
});
