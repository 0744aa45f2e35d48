import { sql } from 'drizzle-orm';
import { getAddress } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { X402Error } from '../../errors.js';
import { exactRequirements } from '../../requirements.js';
import { TestClock } from '../../testing/clock.js';
import { signPayloadV2 } from '../../testing/sign.js';
import { openTestDb, type TestDb } from '../../testing/test-db.js';
import { type VerifiedPayment, verifyExactPayment } from '../../verify/verify-exact.js';
import type { Settlement } from '../../wire/schemas.js';
import { postgresPaymentClaimStore } from './claim-store.js';
import { migrateX402 } from './migrate.js';

const nowSeconds = 1_767_225_600;
const clock = new TestClock(nowSeconds * 1000);
const payer = privateKeyToAccount(generatePrivateKey());
const payTo = privateKeyToAccount(generatePrivateKey()).address;
const requirements = exactRequirements({
  network: 'eip155:31337',
  asset: getAddress('0x5fbdb2315678afecb367f032d93f642f64180aa3'),
  payTo,
  amountAtomic: 1_000_000n,
  tokenName: 'USD Coin',
  tokenVersion: '2',
});

let handle: TestDb;
beforeAll(async () => {
  handle = await openTestDb({ max: 20 });
  await handle.db.execute(
    sql`create table test_lots (id serial primary key, reference text not null, amount_micro numeric not null)`,
  );
}, 120_000);
afterAll(async () => handle?.close());

async function newPayment(options: Parameters<typeof signPayloadV2>[2] = {}): Promise<VerifiedPayment> {
  const payload = await signPayloadV2(payer, requirements, { nowSeconds, ...options });
  return verifyExactPayment({ payload, requirements, clock });
}

/** A settle function standing in for the facilitator: it counts its calls (the store's contract is about them). */
function countingSettle(payment: VerifiedPayment, fail?: Error) {
  const calls: number[] = [];
  const settle = async (): Promise<Settlement> => {
    calls.push(calls.length + 1);
    if (fail !== undefined) throw fail;
    return {
      success: true,
      transaction: `0x${'1'.repeat(62)}${String(calls.length).padStart(2, '0')}`,
      network: payment.network,
      payer: payment.payer,
    };
  };
  return { settle, calls };
}

async function lotsOf(reference: string): Promise<number> {
  const rows = await handle.query<{ n: bigint | number | string }>(
    'select count(*) as n from test_lots where reference = $1',
    [reference],
  );
  return Number(rows[0]?.n);
}

async function recordedCount(reference: string): Promise<number> {
  const rows = await handle.query<{ n: bigint | number | string }>(
    'select count(*) as n from x402_payments where reference = $1',
    [reference],
  );
  return Number(rows[0]?.n);
}

function mintEffect(payment: VerifiedPayment) {
  return async (tx: Parameters<Parameters<TestDb['db']['transaction']>[0]>[0]) => {
    const rows = (await tx.execute(
      sql`insert into test_lots (reference, amount_micro) values (${payment.reference}, ${payment.amountAtomic.toString()}) returning id`,
    )) as unknown;
    const list = Array.isArray(rows) ? rows : (rows as { rows: unknown[] }).rows;
    return { lotId: Number((list[0] as { id: number }).id), amountMicro: payment.amountAtomic.toString() };
  };
}

describe(`postgresPaymentClaimStore (${process.env.DATABASE_URL ? 'Postgres' : 'PGlite'})`, () => {
  it('migrateX402 is idempotent and records itself apart from other migrations', async () => {
    await migrateX402(handle.db, handle.kind);
    const rows = await handle.query<{ n: bigint | number }>('select count(*) as n from drizzle.__x402_migrations');
    expect(Number(rows[0]?.n)).toBe(1);
  });

  it('claim → effect → settle → commit: one row, one effect, the settlement recorded', async () => {
    const store = postgresPaymentClaimStore({ db: handle.db, clock });
    const payment = await newPayment();
    const { settle, calls } = countingSettle(payment);
    const outcome = await store.claim({ payment, settle, effect: mintEffect(payment) });
    expect(outcome.replayed).toBe(false);
    expect(outcome.result).toMatchObject({ amountMicro: '1000000' });
    expect(calls).toEqual([1]);
    expect(await lotsOf(payment.reference)).toBe(1);
    const recorded = await store.find(payment.reference);
    expect(recorded).toMatchObject({
      reference: payment.reference,
      payer: payer.address,
      payTo,
      amountAtomic: 1_000_000n,
      transaction: outcome.settlement.transaction,
      settlement: outcome.settlement,
      result: outcome.result,
      recordedAtMs: nowSeconds * 1000,
      x402Version: 2,
    });
  });

  it('a replay returns the first result without running the effect or settling again', async () => {
    const store = postgresPaymentClaimStore({ db: handle.db, clock });
    const payment = await newPayment();
    const first = countingSettle(payment);
    const outcome = await store.claim({ payment, settle: first.settle, effect: mintEffect(payment) });
    const again = countingSettle(payment);
    const replay = await store.claim({ payment, settle: again.settle, effect: mintEffect(payment) });
    expect(replay).toEqual({ ...outcome, replayed: true });
    expect(again.calls).toEqual([]);
    expect(await lotsOf(payment.reference)).toBe(1);
  });

  it('concurrent duplicate submissions produce one effect and one settlement', async () => {
    const store = postgresPaymentClaimStore({ db: handle.db, clock });
    const payment = await newPayment();
    const settles = Array.from({ length: 12 }, () => countingSettle(payment));
    const outcomes = await Promise.all(
      settles.map(({ settle }) => store.claim({ payment, settle, effect: mintEffect(payment) })),
    );
    expect(settles.reduce((sum, { calls }) => sum + calls.length, 0)).toBe(1);
    expect(outcomes.filter((o) => !o.replayed)).toHaveLength(1);
    expect(new Set(outcomes.map((o) => JSON.stringify(o.result))).size).toBe(1);
    expect(new Set(outcomes.map((o) => o.settlement.transaction)).size).toBe(1);
    expect(await lotsOf(payment.reference)).toBe(1);
    expect(await recordedCount(payment.reference)).toBe(1);
  });

  it('a failing effect settles nothing and records nothing; the payment can be claimed again', async () => {
    const store = postgresPaymentClaimStore({ db: handle.db, clock });
    const payment = await newPayment();
    const { settle, calls } = countingSettle(payment);
    const boom = new Error('account not found');
    await expect(
      store.claim({
        payment,
        settle,
        effect: async (tx) => {
          await mintEffect(payment)(tx);
          throw boom;
        },
      }),
    ).rejects.toBe(boom);
    expect(calls).toEqual([]);
    expect(await lotsOf(payment.reference)).toBe(0);
    expect(await recordedCount(payment.reference)).toBe(0);
    const retry = await store.claim({ payment, settle, effect: mintEffect(payment) });
    expect(retry.replayed).toBe(false);
    expect(await lotsOf(payment.reference)).toBe(1);
  });

  it('a failing settlement rolls the effect back', async () => {
    const store = postgresPaymentClaimStore({ db: handle.db, clock });
    const payment = await newPayment();
    const refusal = new X402Error('insufficient_funds', 'payer holds 0');
    const { settle, calls } = countingSettle(payment, refusal);
    await expect(store.claim({ payment, settle, effect: mintEffect(payment) })).rejects.toBe(refusal);
    expect(calls).toEqual([1]);
    expect(await lotsOf(payment.reference)).toBe(0);
    expect(await recordedCount(payment.reference)).toBe(0);
    expect(await store.find(payment.reference)).toBeNull();
  });

  it('the same nonce with another authorization (another amount) is nonce_already_used, not a replay', async () => {
    const store = postgresPaymentClaimStore({ db: handle.db, clock });
    const first = await newPayment();
    await store.claim({ payment: first, settle: countingSettle(first).settle, effect: mintEffect(first) });
    const cheaper = exactRequirements({ ...optionsOf(), amountAtomic: 500_000n });
    const payload = await signPayloadV2(payer, cheaper, { nowSeconds, message: { nonce: first.nonce } });
    const second = await verifyExactPayment({ payload, requirements: cheaper, clock });
    expect(second.reference).toBe(first.reference);
    const { settle, calls } = countingSettle(second);
    await expect(store.claim({ payment: second, settle, effect: mintEffect(second) })).rejects.toMatchObject({
      code: 'nonce_already_used',
    });
    expect(calls).toEqual([]);
    expect(await lotsOf(first.reference)).toBe(1);
  });

  it('the table enforces its rules: unique authorization, reference format, positive amount', async () => {
    const store = postgresPaymentClaimStore({ db: handle.db, clock });
    const payment = await newPayment();
    await store.claim({ payment, settle: countingSettle(payment).settle, effect: mintEffect(payment) });
    const columns =
      'reference, network, asset, payer, nonce, pay_to, amount_atomic, valid_before, x402_version, signature, created_at';
    const values = (reference: string, amount: string) => [
      reference,
      payment.network,
      payment.asset.toLowerCase(),
      payment.payer.toLowerCase(),
      payment.nonce,
      payTo.toLowerCase(),
      amount,
      '1',
      2,
      payment.signature,
      new Date(0).toISOString(),
    ];
    const insert = `insert into x402_payments (${columns}) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`;
    await expect(handle.query(insert, values(payment.reference, '1'))).rejects.toThrow(/duplicate key|unique/i);
    await expect(handle.query(insert, values(`${payment.reference}x`, '1'))).rejects.toThrow(/reference_format|check/i);
    await expect(handle.query(insert, values(payment.reference, '0'))).rejects.toThrow(
      /amount_positive|check|duplicate/i,
    );
  });

  it('refuses a payment whose reference was not derived from it', async () => {
    const store = postgresPaymentClaimStore({ db: handle.db, clock });
    const payment = await newPayment();
    await expect(
      store.claim({
        payment: { ...payment, reference: 'eip155:1:x' },
        settle: countingSettle(payment).settle,
        effect: mintEffect(payment),
      }),
    ).rejects.toMatchObject({ code: 'invalid_option' });
  });
});

function optionsOf() {
  return {
    network: requirements.network,
    asset: requirements.asset,
    payTo,
    tokenName: requirements.extra.name,
    tokenVersion: requirements.extra.version,
  };
}
