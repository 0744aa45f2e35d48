/**
 * settleWithStore and reconcilePayments on the real Postgres payment store (PGlite, or Postgres with DATABASE_URL).
 * The chain is stood in for by scripted AuthorizationResolver / settle answers (the chain-level behaviour is covered by
 * src/chain/resolver.chain.test.ts and tests/payment-faults.e2e.test.ts against Hardhat).
 */
import { sql } from 'drizzle-orm';
import { getAddress } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresPaymentStateStore } from '../adapters/postgres/state-store.js';
import { X402Error } from '../errors.js';
import type { Facilitator } from '../ports/facilitator.js';
import type {
  AuthorizationResolution,
  AuthorizationResolver,
  PaymentStateStore,
} from '../ports/payment-state-store.js';
import { exactRequirements } from '../requirements.js';
import { TestClock } from '../testing/clock.js';
import { signPayloadV2 } from '../testing/sign.js';
import { openTestDb, type TestDb } from '../testing/test-db.js';
import { type VerifiedPayment, verifyExactPayment } from '../verify/verify-exact.js';
import type { Settlement, SettleResponse } from '../wire/schemas.js';
import { reconcilePayments } from './reconcile.js';
import { settleWithStore } from './two-phase.js';

const nowSeconds = Math.floor(Date.now() / 1000);
const payer = privateKeyToAccount(generatePrivateKey());
const payTo = privateKeyToAccount(generatePrivateKey()).address;
const requirements = exactRequirements({
  network: 'eip155:31337',
  asset: getAddress('0x5fbdb2315678afecb367f032d93f642f64180aa3'),
  payTo,
  amountAtomic: 2_000_000n,
  tokenName: 'USD Coin',
  tokenVersion: '2',
  maxTimeoutSeconds: 300,
});
const timings = { leaseMs: 60_000, waitMs: 3_000, pollIntervalMs: 20, retryInMs: 0 };

type Minted = { lotId: number };
let handle: TestDb;
let store: PaymentStateStore<Minted>;
const clock = new TestClock(nowSeconds * 1000);

beforeAll(async () => {
  handle = await openTestDb({ max: 10 });
  await handle.db.execute(sql`create table test_lots (id serial primary key, reference text not null)`);
  store = postgresPaymentStateStore({
    db: handle.db,
    clock,
    effect: async (tx, record): Promise<Minted> => {
      const result = (await tx.execute(
        sql`insert into test_lots (reference) values (${record.reference}) returning id`,
      )) as unknown;
      const rows = Array.isArray(result) ? result : (result as { rows: unknown[] }).rows;
      return { lotId: Number((rows[0] as { id: number }).id) };
    },
  });
}, 120_000);
afterAll(async () => handle?.close());

async function newPayment(validForSeconds = 300): Promise<VerifiedPayment> {
  const payload = await signPayloadV2(payer, requirements, {
    nowSeconds,
    message: { validBefore: BigInt(nowSeconds + validForSeconds) },
  });
  return verifyExactPayment({ payload, requirements, clock, checkWindow: false });
}

async function lotsOf(reference: string): Promise<number> {
  const rows = await handle.query<{ n: bigint | number | string }>(
    'select count(*) as n from test_lots where reference = $1',
    [reference],
  );
  return Number(rows[0]?.n);
}

function settled(payment: VerifiedPayment, digit = 'a'): Settlement {
  return { success: true, transaction: `0x${digit.repeat(64)}`, network: payment.network, payer: payment.payer };
}

/** A settle standing in for the facilitator: counts its calls, answers `outcome` (a settlement or a thrown error). */
function scriptedSettle(outcome: Settlement | Error, delayMs = 0) {
  const calls: number[] = [];
  const settle = async (): Promise<Settlement> => {
    calls.push(Date.now());
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    if (outcome instanceof Error) throw outcome;
    return outcome;
  };
  return { settle, calls };
}

/** A resolver answering what the chain would, from a script. */
function scriptedResolver(answer: AuthorizationResolution | Error): AuthorizationResolver & { asked: number } {
  const resolver = {
    asked: 0,
    async resolve() {
      resolver.asked += 1;
      if (answer instanceof Error) throw answer;
      return answer;
    },
    async decimals() {
      return 6;
    },
  };
  return resolver;
}

const refused = () => new X402Error('settlement_failed', 'transaction 0x… reverted');
const unavailable = () => new X402Error('facilitator_unavailable', 'the chain RPC failed during settle');

describe(`settleWithStore (${process.env.DATABASE_URL ? 'Postgres' : 'PGlite'})`, () => {
  it('claims, settles with no transaction open, credits once; a replay answers the first result and settles nothing', async () => {
    const payment = await newPayment();
    const first = scriptedSettle(settled(payment));
    const paid = await settleWithStore({ ...timings, store, payment, settle: first.settle });
    expect(paid).toMatchObject({ replayed: false, settlement: { transaction: `0x${'a'.repeat(64)}` } });
    expect((await store.find(payment.reference))?.status).toBe('credited');
    const again = scriptedSettle(settled(payment, 'b'));
    const replay = await settleWithStore({ ...timings, store, payment, settle: again.settle });
    expect(replay).toMatchObject({ replayed: true, result: paid.result, settlement: paid.settlement });
    expect([first.calls.length, again.calls.length, await lotsOf(payment.reference)]).toEqual([1, 0, 1]);
  });

  it('concurrent submissions: one settles, the others wait for it and replay (one settlement, one effect)', async () => {
    const payment = await newPayment();
    const slow = scriptedSettle(settled(payment), 300);
    const answers = await Promise.all(
      Array.from({ length: 4 }, () => settleWithStore({ ...timings, store, payment, settle: slow.settle })),
    );
    expect(answers.filter((a) => !a.replayed)).toHaveLength(1);
    expect(new Set(answers.map((a) => a.result.lotId)).size).toBe(1);
    expect([slow.calls.length, await lotsOf(payment.reference)]).toEqual([1, 1]);
  });

  it('a holder that never finishes makes a waiting submission answer 503 payment_pending', async () => {
    const payment = await newPayment();
    await store.claim(payment, { leaseMs: 60_000, request: { payload: payment.payload, requirements } });
    const waiting = scriptedSettle(settled(payment));
    const error = await settleWithStore({ ...timings, waitMs: 100, store, payment, settle: waiting.settle }).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: 'payment_pending', httpStatus: 503 });
    expect(waiting.calls).toHaveLength(0);
  });

  it("a waiting submission takes the payment over when the holder's lease ends (the holder died), and settles it", async () => {
    const payment = await newPayment();
    await store.claim(payment, { leaseMs: 500, request: { payload: payment.payload, requirements } });
    setTimeout(() => clock.advanceSeconds(1), 100); // the holder's lease runs out while the second one waits
    const takeover = scriptedSettle(settled(payment));
    const paid = await settleWithStore({ ...timings, store, payment, settle: takeover.settle });
    expect([paid.replayed, takeover.calls.length, await lotsOf(payment.reference)]).toEqual([false, 1, 1]);
  });

  it('facilitator unreachable: the record stays settling, postponed; 503; nothing credited', async () => {
    const payment = await newPayment();
    const down = scriptedSettle(unavailable());
    await expect(settleWithStore({ ...timings, store, payment, settle: down.settle })).rejects.toMatchObject({
      code: 'facilitator_unavailable',
      httpStatus: 503,
    });
    expect(await store.find(payment.reference)).toMatchObject({
      status: 'settling',
      failure: { code: 'facilitator_unavailable' },
    });
    expect(await lotsOf(payment.reference)).toBe(0);
  });

  it('a refused settlement the chain shows executed (answer lost) is credited anyway', async () => {
    const payment = await newPayment();
    const resolver = scriptedResolver({ state: 'executed', transaction: `0x${'c'.repeat(64)}`, blockNumber: 7n });
    const paid = await settleWithStore({
      ...timings,
      store,
      payment,
      settle: scriptedSettle(refused()).settle,
      resolver,
    });
    expect(paid).toMatchObject({ replayed: false, settlement: { success: true, transaction: `0x${'c'.repeat(64)}` } });
    expect(await lotsOf(payment.reference)).toBe(1);
  });

  it('a refusal while the authorization is still open: failed and watched; a retry in the window settles it', async () => {
    const payment = await newPayment();
    const resolver = scriptedResolver({ state: 'open' });
    await expect(
      settleWithStore({ ...timings, store, payment, settle: scriptedSettle(refused()).settle, resolver }),
    ).rejects.toMatchObject({ code: 'settlement_failed', httpStatus: 402 });
    expect(await store.find(payment.reference)).toMatchObject({
      status: 'failed',
      failure: { code: 'settlement_failed' },
    });
    const retry = await settleWithStore({
      ...timings,
      store,
      payment,
      settle: scriptedSettle(settled(payment)).settle,
    });
    expect(retry.replayed).toBe(false);
    expect(await lotsOf(payment.reference)).toBe(1);
  });

  it('a refusal the chain says can never execute is failed for good: a retry answers the failure, settles nothing', async () => {
    const payment = await newPayment();
    const resolver = scriptedResolver({
      state: 'dead',
      reason: 'nonce_already_used',
      message: 'used by another transfer',
    });
    await expect(
      settleWithStore({ ...timings, store, payment, settle: scriptedSettle(refused()).settle, resolver }),
    ).rejects.toMatchObject({ code: 'settlement_failed' });
    const retry = scriptedSettle(settled(payment));
    await expect(settleWithStore({ ...timings, store, payment, settle: retry.settle })).rejects.toMatchObject({
      code: 'settlement_failed',
      httpStatus: 402,
    });
    expect([retry.calls.length, await lotsOf(payment.reference)]).toEqual([0, 0]);
  });

  it('a refusal whose transaction is not mined yet is postponed: 503 payment_pending', async () => {
    const payment = await newPayment();
    const resolver = scriptedResolver({ state: 'pending', transaction: `0x${'d'.repeat(64)}` });
    const error = new X402Error('settlement_failed', 'no receipt within 60000 ms', {
      details: { transaction: `0x${'d'.repeat(64)}` },
    });
    await expect(
      settleWithStore({ ...timings, store, payment, settle: scriptedSettle(error).settle, resolver }),
    ).rejects.toMatchObject({ code: 'payment_pending', httpStatus: 503 });
    expect((await store.find(payment.reference))?.status).toBe('settling');
  });
});

function scriptedFacilitator(answer: SettleResponse | Error): Facilitator & { settled: number } {
  const facilitator = {
    settled: 0,
    async verify() {
      return { isValid: true };
    },
    async settle() {
      facilitator.settled += 1;
      if (answer instanceof Error) throw answer;
      return answer;
    },
    async supported() {
      return { kinds: [], extensions: [], signers: {} };
    },
  };
  return facilitator;
}

describe('reconcilePayments', () => {
  /** A payment left settling by a request that died (its lease expired, as the reconciler finds it). */
  async function leftSettling(validForSeconds = 300): Promise<VerifiedPayment> {
    const payment = await newPayment(validForSeconds);
    const claim = await store.claim(payment, { leaseMs: 1, request: { payload: payment.payload, requirements } });
    expect(claim.kind).toBe('owner');
    await store.markSettling(payment.reference);
    clock.advanceSeconds(0.01);
    return payment;
  }

  async function drain(options: Parameters<typeof reconcilePayments<Minted>>[0]) {
    const total = { examined: 0, credited: 0, resettled: 0, failed: 0, postponed: 0 };
    for (let pass = 0; pass < 20; pass += 1) {
      const report = await reconcilePayments(options);
      for (const key of Object.keys(total) as (keyof typeof total)[]) total[key] += report[key];
      if (report.examined === 0) break;
    }
    return total;
  }

  it('credits what the chain executed exactly once, fails what can never execute, postpones what it cannot tell', async () => {
    const executed = await leftSettling();
    await drain({
      store,
      resolver: scriptedResolver({ state: 'executed', transaction: `0x${'e'.repeat(64)}`, blockNumber: 9n }),
      leaseMs: 60_000,
    });
    expect(await store.find(executed.reference)).toMatchObject({
      status: 'credited',
      transaction: `0x${'e'.repeat(64)}`,
    });
    expect(await lotsOf(executed.reference)).toBe(1);

    const dead = await leftSettling();
    await drain({
      store,
      resolver: scriptedResolver({ state: 'dead', reason: 'authorization_expired', message: 'expired' }),
      leaseMs: 60_000,
    });
    expect(await store.find(dead.reference)).toMatchObject({
      status: 'failed',
      failure: { code: 'authorization_expired' },
    });

    const unknown = await leftSettling();
    const report = await reconcilePayments({
      store,
      resolver: scriptedResolver(unavailable()),
      leaseMs: 60_000,
      retryInMs: 60_000,
    });
    expect(report).toMatchObject({ examined: 1, postponed: 1, credited: 0 });
    expect((await store.find(unknown.reference))?.status).toBe('settling');
    expect((await lotsOf(dead.reference)) + (await lotsOf(unknown.reference))).toBe(0);
  });

  it('settles an open authorization again from the stored request, then credits it once', async () => {
    const payment = await leftSettling();
    clock.advanceSeconds(61); // past the postponed record of the previous test
    const facilitator = scriptedFacilitator({ ...settled(payment, 'f'), amount: '2000000' });
    const report = await drain({ store, resolver: scriptedResolver({ state: 'open' }), facilitator, leaseMs: 60_000 });
    expect(report.resettled).toBeGreaterThanOrEqual(1);
    expect(await store.find(payment.reference)).toMatchObject({
      status: 'credited',
      transaction: `0x${'f'.repeat(64)}`,
    });
    expect(await lotsOf(payment.reference)).toBe(1);
    expect(
      await reconcilePayments({ store, resolver: scriptedResolver({ state: 'open' }), facilitator }),
    ).toMatchObject({
      examined: 0,
    });
  });

  it('a refused re-settlement is failed and watched until validBefore, then failed for good on chain evidence', async () => {
    const payment = await leftSettling(100);
    const facilitator = scriptedFacilitator({
      success: false,
      errorReason: 'insufficient_funds',
      transaction: '',
      network: payment.network,
    });
    await drain({ store, resolver: scriptedResolver({ state: 'open' }), facilitator, leaseMs: 60_000 });
    expect(await store.find(payment.reference)).toMatchObject({
      status: 'failed',
      failure: { code: 'insufficient_funds' },
    });
    clock.advanceSeconds(200);
    await drain({
      store,
      resolver: scriptedResolver({ state: 'dead', reason: 'authorization_expired', message: 'window passed unused' }),
      leaseMs: 60_000,
    });
    expect(await store.find(payment.reference)).toMatchObject({
      status: 'failed',
      failure: { code: 'authorization_expired' },
    });
    expect(await lotsOf(payment.reference)).toBe(0);
  });
});
