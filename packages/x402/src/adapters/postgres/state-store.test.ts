import { sql } from 'drizzle-orm';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import { getAddress } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PaymentStateStore } from '../../ports/payment-state-store.js';
import { exactRequirements } from '../../requirements.js';
import { TestClock } from '../../testing/clock.js';
import { signPayloadV2 } from '../../testing/sign.js';
import { openTestDb, type TestDb } from '../../testing/test-db.js';
import { type VerifiedPayment, verifyExactPayment } from '../../verify/verify-exact.js';
import type { Settlement } from '../../wire/schemas.js';
import { migrateX402, x402MigrationsFolder } from './migrate.js';
import { postgresPaymentStateStore } from './state-store.js';

const startSeconds = 1_767_225_600;
const leaseMs = 30_000;
const payer = privateKeyToAccount(generatePrivateKey());
const payTo = privateKeyToAccount(generatePrivateKey()).address;
const requirements = exactRequirements({
  network: 'eip155:31337',
  asset: getAddress('0x5fbdb2315678afecb367f032d93f642f64180aa3'),
  payTo,
  amountAtomic: 1_000_000n,
  tokenName: 'USD Coin',
  tokenVersion: '2',
  maxTimeoutSeconds: 300,
});
const onPostgres = process.env.DATABASE_URL !== undefined && process.env.DATABASE_URL !== '';

type Minted = { lotId: number; amountMicro: string };
type Handle = { test: TestDb; clock: TestClock; store: PaymentStateStore<Minted>; failNext: { on: boolean } };

async function openStore(options: { delayMs?: number } = {}): Promise<Handle> {
  const test = await openTestDb({ max: 20 });
  await test.db.execute(
    sql`create table test_lots (id serial primary key, reference text not null, amount_micro numeric not null)`,
  );
  const clock = new TestClock(startSeconds * 1000);
  const failNext = { on: false };
  const store = postgresPaymentStateStore({
    db: test.db,
    clock,
    effect: async (tx, record): Promise<Minted> => {
      const result = (await tx.execute(
        sql`insert into test_lots (reference, amount_micro) values (${record.reference}, ${record.amountAtomic.toString()}) returning id`,
      )) as unknown;
      if (options.delayMs !== undefined) await tx.execute(sql`select pg_sleep(${options.delayMs / 1000})`);
      if (failNext.on) {
        failNext.on = false;
        throw new Error('account not found');
      }
      const rows = Array.isArray(result) ? result : (result as { rows: unknown[] }).rows;
      return { lotId: Number((rows[0] as { id: number }).id), amountMicro: record.amountAtomic.toString() };
    },
  });
  return { test, clock, store, failNext };
}

let main: Handle;
beforeAll(async () => {
  main = await openStore();
}, 120_000);
afterAll(async () => main?.test.close());

async function newPayment(options: Parameters<typeof signPayloadV2>[2] = {}) {
  const payload = await signPayloadV2(payer, requirements, { nowSeconds: startSeconds, ...options });
  const payment = await verifyExactPayment({
    payload,
    requirements,
    clock: new TestClock(startSeconds * 1000),
    checkWindow: false,
  });
  return { payment, request: { payload, requirements } };
}

function settlementOf(payment: VerifiedPayment, digit = '1'): Settlement {
  return { success: true, transaction: `0x${digit.repeat(64)}`, network: payment.network, payer: payment.payer };
}

async function lotsOf(handle: Handle, reference: string): Promise<number> {
  const rows = await handle.test.query<{ n: bigint | number | string }>(
    'select count(*) as n from test_lots where reference = $1',
    [reference],
  );
  return Number(rows[0]?.n);
}

/** A fresh store at the start time with one claimed payment. */
async function claimed(handle: Handle = main) {
  handle.clock.set(startSeconds * 1000);
  const { payment, request } = await newPayment();
  const claim = await handle.store.claim(payment, { leaseMs, request });
  return { payment, request, claim, reference: payment.reference };
}

describe(`postgresPaymentStateStore (${onPostgres ? 'Postgres' : 'PGlite'})`, () => {
  it('claim records a new payment verified, leased, with its settlement request, and answers owner', async () => {
    const { payment, request, claim } = await claimed();
    expect(claim.kind).toBe('owner');
    expect(claim.record).toMatchObject({
      reference: payment.reference,
      status: 'verified',
      payer: payer.address,
      payTo,
      nonce: payment.nonce,
      amountAtomic: 1_000_000n,
      validBefore: BigInt(startSeconds + 300),
      request: JSON.parse(JSON.stringify(request)),
      transaction: null,
      settlement: null,
      result: null,
      failure: null,
      attempts: 0,
      createdAtMs: startSeconds * 1000,
      updatedAtMs: startSeconds * 1000,
    });
    expect(await main.store.find(payment.reference)).toEqual(claim.record);
    expect(await main.store.find('eip155:1:nothing')).toBeNull();
  });

  it('a claim while the lease runs is busy; once it expired the claimer is owner again (verified, settling or settled)', async () => {
    const { payment, request, reference } = await claimed();
    main.clock.advanceSeconds(leaseMs / 1000 - 1);
    expect((await main.store.claim(payment, { leaseMs, request })).kind).toBe('busy');
    main.clock.advanceSeconds(1);
    expect((await main.store.claim(payment, { leaseMs, request })).kind).toBe('owner');
    await main.store.markSettling(reference);
    expect((await main.store.claim(payment, { leaseMs, request })).kind).toBe('busy');
    main.clock.advanceSeconds(leaseMs / 1000);
    const settling = await main.store.claim(payment, { leaseMs, request });
    expect(settling).toMatchObject({ kind: 'owner', record: { status: 'settling', attempts: 1 } });
    await main.store.markSettled(reference, settlementOf(payment));
    expect((await main.store.claim(payment, { leaseMs, request })).kind).toBe('busy');
    main.clock.advanceSeconds(leaseMs / 1000);
    expect(await main.store.claim(payment, { leaseMs, request })).toMatchObject({
      kind: 'owner',
      record: { status: 'settled', transaction: `0x${'1'.repeat(64)}` },
    });
  });

  it('markSettling: verified → settling with attempts + 1, unchanged when already settling; an unknown reference throws', async () => {
    const { reference } = await claimed();
    await main.store.markSettling(reference);
    await main.store.markSettling(reference);
    expect(await main.store.find(reference)).toMatchObject({ status: 'settling', attempts: 1 });
    await expect(main.store.markSettling('eip155:1:unknown')).rejects.toMatchObject({ code: 'invalid_option' });
  });

  it('markSettled then credit: the effect runs once and its result is stored; credit and claim replay it, even after validBefore', async () => {
    const { payment, request, reference } = await claimed();
    await main.store.markSettling(reference);
    const settlement = settlementOf(payment, '2');
    await main.store.markSettled(reference, settlement);
    await main.store.markSettled(reference, settlement);
    expect(await main.store.find(reference)).toMatchObject({
      status: 'settled',
      settlement,
      transaction: settlement.transaction,
    });
    main.clock.advanceSeconds(1);
    const credit = await main.store.credit(reference, settlement);
    expect(credit).toMatchObject({
      replayed: false,
      result: { amountMicro: '1000000' },
      record: { status: 'credited' },
    });
    expect(credit.record.result).toEqual(credit.result);
    const again = await main.store.credit(reference, settlement);
    expect(again).toEqual({ ...credit, replayed: true });
    main.clock.advanceSeconds(3_600);
    expect(await main.store.claim(payment, { leaseMs, request })).toEqual({ kind: 'credited', record: credit.record });
    await main.store.markSettled(reference, settlementOf(payment, '3'));
    expect(await main.store.find(reference)).toEqual(credit.record);
    expect(await lotsOf(main, reference)).toBe(1);
  });

  it('credit straight from verified or settling (the settlement already known) credits', async () => {
    const first = await claimed();
    expect((await main.store.credit(first.reference, settlementOf(first.payment))).replayed).toBe(false);
    const second = await claimed();
    await main.store.markSettling(second.reference);
    expect(await main.store.credit(second.reference, settlementOf(second.payment))).toMatchObject({
      replayed: false,
      record: { status: 'credited', attempts: 1 },
    });
  });

  it('a failing effect stores nothing: the record stays settled and a later credit applies it once', async () => {
    const { payment, reference } = await claimed();
    await main.store.markSettled(reference, settlementOf(payment));
    main.failNext.on = true;
    await expect(main.store.credit(reference, settlementOf(payment))).rejects.toThrow('account not found');
    expect(await lotsOf(main, reference)).toBe(0);
    expect(await main.store.find(reference)).toMatchObject({ status: 'settled', result: null });
    expect((await main.store.credit(reference, settlementOf(payment))).replayed).toBe(false);
    expect(await lotsOf(main, reference)).toBe(1);
  });

  it('a watched failure is owner again (back to verified) while validBefore is ahead, and failed once it passed', async () => {
    const { payment, request, reference } = await claimed();
    await main.store.markSettling(reference);
    const failure = { code: 'settlement_failed', message: 'reverted' };
    await main.store.fail(reference, failure, { watchUntilSeconds: payment.validBefore });
    expect(await main.store.find(reference)).toMatchObject({ status: 'failed', failure, attempts: 1 });
    const retry = await main.store.claim(payment, { leaseMs, request });
    expect(retry).toMatchObject({ kind: 'owner', record: { status: 'verified', failure } });
    await main.store.fail(reference, failure, { watchUntilSeconds: payment.validBefore });
    main.clock.set(Number(payment.validBefore) * 1000);
    expect(await main.store.claim(payment, { leaseMs, request })).toMatchObject({
      kind: 'failed',
      record: { status: 'failed' },
    });
  });

  it('a final failure answers failed, refuses a credit, and moves to settled → credited only if the chain executed it', async () => {
    const { payment, request, reference } = await claimed();
    await main.store.fail(reference, { code: 'nonce_already_used', message: 'cancelled' }, { watchUntilSeconds: null });
    expect((await main.store.claim(payment, { leaseMs, request })).kind).toBe('failed');
    await expect(main.store.credit(reference, settlementOf(payment))).rejects.toMatchObject({
      code: 'settlement_failed',
      message: expect.stringMatching(/failed finally \(nonce_already_used: cancelled\)/),
    });
    expect(await lotsOf(main, reference)).toBe(0);
    await main.store.markSettled(reference, settlementOf(payment));
    expect((await main.store.credit(reference, settlementOf(payment))).replayed).toBe(false);
    expect(await lotsOf(main, reference)).toBe(1);
  });

  it('fail leaves a credited payment credited, and a settled one settled with the failure noted', async () => {
    const credited = await claimed();
    const done = await main.store.credit(credited.reference, settlementOf(credited.payment));
    await main.store.fail(
      credited.reference,
      { code: 'settlement_failed', message: 'late' },
      { watchUntilSeconds: null },
    );
    expect(await main.store.find(credited.reference)).toEqual(done.record);
    const settled = await claimed();
    await main.store.markSettled(settled.reference, settlementOf(settled.payment));
    await main.store.fail(
      settled.reference,
      { code: 'settlement_failed', message: 'late' },
      { watchUntilSeconds: null },
    );
    expect(await main.store.find(settled.reference)).toMatchObject({
      status: 'settled',
      failure: { code: 'settlement_failed', message: 'late' },
    });
  });

  it('postpone keeps the state, notes the failure and makes it due in retryInMs (a claim is busy until then)', async () => {
    const { payment, request, reference } = await claimed();
    await main.store.markSettling(reference);
    await main.store.postpone(
      reference,
      { code: 'facilitator_unavailable', message: 'rpc down' },
      { retryInMs: 5_000 },
    );
    expect(await main.store.find(reference)).toMatchObject({
      status: 'settling',
      failure: { code: 'facilitator_unavailable', message: 'rpc down' },
    });
    main.clock.advanceSeconds(4);
    expect((await main.store.claim(payment, { leaseMs, request })).kind).toBe('busy');
    main.clock.advanceSeconds(1);
    expect((await main.store.claim(payment, { leaseMs, request })).kind).toBe('owner');
  });

  it('another authorization under the same reference (amount, recipient or validBefore) is nonce_already_used', async () => {
    const { payment, reference } = await claimed();
    for (const other of [
      exactRequirements({ ...optionsOf(), amountAtomic: 500_000n }),
      exactRequirements({ ...optionsOf(), payTo: privateKeyToAccount(generatePrivateKey()).address }),
    ]) {
      const payload = await signPayloadV2(payer, other, {
        nowSeconds: startSeconds,
        message: { nonce: payment.nonce },
      });
      const conflicting = await verifyExactPayment({
        payload,
        requirements: other,
        clock: main.clock,
        checkWindow: false,
      });
      expect(conflicting.reference).toBe(reference);
      await expect(
        main.store.claim(conflicting, { leaseMs, request: { payload, requirements: other } }),
      ).rejects.toMatchObject({ code: 'nonce_already_used' });
    }
    const later = await newPayment({ nowSeconds: startSeconds + 10, message: { nonce: payment.nonce } });
    await expect(main.store.claim(later.payment, { leaseMs, request: later.request })).rejects.toMatchObject({
      code: 'nonce_already_used',
    });
  });

  it('validates its options and arguments', async () => {
    expect(() => postgresPaymentStateStore({ db: {} as never, effect: async () => null })).toThrow(/db/);
    expect(() => postgresPaymentStateStore({ db: main.test.db, effect: undefined as never })).toThrow(/effect/);
    const { payment, request, reference } = await claimed();
    await expect(main.store.claim(payment, { leaseMs: 0, request })).rejects.toMatchObject({ code: 'invalid_option' });
    await expect(main.store.claim({ ...payment, reference: 'eip155:1:x' }, { leaseMs, request })).rejects.toMatchObject(
      { code: 'invalid_option' },
    );
    await expect(main.store.takeDue({ limit: 0, leaseMs })).rejects.toMatchObject({ code: 'invalid_option' });
    await expect(
      main.store.credit(reference, { ...settlementOf(payment), success: false } as never),
    ).rejects.toMatchObject({ code: 'invalid_option' });
    await expect(
      main.store.fail(reference, { code: '', message: 'x' }, { watchUntilSeconds: null }),
    ).rejects.toMatchObject({
      code: 'invalid_option',
    });
  });

  it('the table enforces the states: status in the five, credited and settled need a settlement, failed a reason', async () => {
    const { reference } = await claimed();
    const update = (set: string) =>
      main.test.query(`update x402_payments set ${set} where reference = $1`, [reference]);
    await expect(update(`status = 'paid'`)).rejects.toThrow(/x402_payments_status|check/i);
    await expect(update(`status = 'credited'`)).rejects.toThrow(/x402_payments_credited_settlement|check/i);
    await expect(update(`status = 'settled'`)).rejects.toThrow(/x402_payments_settled_settlement|check/i);
    await expect(update(`status = 'failed'`)).rejects.toThrow(/x402_payments_failed_reason|check/i);
    await expect(update('attempts = -1')).rejects.toThrow(/x402_payments_attempts_nonnegative|check/i);
  });
});

describe('takeDue', () => {
  let handle: Handle;
  beforeAll(async () => {
    handle = await openStore();
  }, 120_000);
  afterAll(async () => handle?.test.close());

  it('takes due records in due order and leases them: an expired lease, a reached postpone, a watched failure past validBefore', async () => {
    const expired = await claimed(handle);
    const postponed = await claimed(handle);
    await handle.store.postpone(
      postponed.reference,
      { code: 'facilitator_unavailable', message: 'x' },
      { retryInMs: 1_000 },
    );
    const watched = await claimed(handle);
    await handle.store.fail(
      watched.reference,
      { code: 'settlement_failed', message: 'x' },
      {
        watchUntilSeconds: watched.payment.validBefore,
      },
    );
    const final = await claimed(handle);
    await handle.store.fail(final.reference, { code: 'nonce_already_used', message: 'x' }, { watchUntilSeconds: null });
    const credited = await claimed(handle);
    await handle.store.credit(credited.reference, settlementOf(credited.payment));
    const running = await claimed(handle);
    handle.clock.set(startSeconds * 1000 + 1_000);
    expect((await handle.store.takeDue({ limit: 10, leaseMs })).map((r) => r.reference)).toEqual([postponed.reference]);
    handle.clock.set(startSeconds * 1000 + leaseMs);
    // `running` was claimed last but at the same instant: every lease from the start is due now.
    const due = await handle.store.takeDue({ limit: 10, leaseMs: 5_000 });
    expect(due.map((r) => r.reference).sort()).toEqual([expired.reference, running.reference].sort());
    expect(await handle.store.takeDue({ limit: 10, leaseMs })).toEqual([]);
    // Leased: a claim is busy until the lease ends.
    expect((await handle.store.claim(expired.payment, { leaseMs, request: expired.request })).kind).toBe('busy');
    handle.clock.set(Number(watched.payment.validBefore) * 1000);
    const after = await handle.store.takeDue({ limit: 10, leaseMs });
    expect(after.map((r) => r.reference)).toContain(watched.reference);
    expect(after.map((r) => r.reference)).not.toContain(final.reference);
    expect(after.map((r) => r.reference)).not.toContain(credited.reference);
    expect(after.find((r) => r.reference === watched.reference)?.status).toBe('failed');
  });

  it('concurrent takeDue calls take disjoint sets that cover every due record', async () => {
    handle.clock.set(startSeconds * 1000);
    const references = new Set<string>();
    for (let i = 0; i < 24; i += 1) references.add((await claimed(handle)).reference);
    // Far enough that every lease (and the earlier test's watch) has passed: all open records are due.
    handle.clock.set(startSeconds * 1000 + 3_600_000);
    const batches = await Promise.all(Array.from({ length: 8 }, () => handle.store.takeDue({ limit: 10, leaseMs })));
    const taken = batches.flat().map((r) => r.reference);
    expect(new Set(taken).size).toBe(taken.length);
    for (const reference of references) expect(taken).toContain(reference);
  });

  it.skipIf(!onPostgres)('skips rows another transaction holds locked (FOR UPDATE SKIP LOCKED)', async () => {
    handle.clock.set(startSeconds * 1000);
    const locked = await claimed(handle);
    const free = await claimed(handle);
    handle.clock.set(startSeconds * 1000 + 20 * leaseMs);
    await handle.test.db.transaction(async (tx) => {
      await tx.execute(sql`select reference from x402_payments where reference = ${locked.reference} for update`);
      const taken = (await handle.store.takeDue({ limit: 1_000, leaseMs })).map((r) => r.reference);
      expect(taken).toContain(free.reference);
      expect(taken).not.toContain(locked.reference);
    });
  });
});

describe('credit under concurrency', () => {
  let handle: Handle;
  beforeAll(async () => {
    handle = await openStore({ delayMs: 50 });
  }, 120_000);
  afterAll(async () => handle?.test.close());

  it(`concurrent credits of one reference (${onPostgres ? 'several Postgres connections' : 'PGlite, serialised'}) run the effect once and all answer its result`, async () => {
    const { payment, reference } = await claimed(handle);
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => handle.store.credit(reference, settlementOf(payment))),
    );
    expect(answers.filter((a) => !a.replayed)).toHaveLength(1);
    expect(new Set(answers.map((a) => JSON.stringify(a.result))).size).toBe(1);
    expect(await lotsOf(handle, reference)).toBe(1);
  });

  it('concurrent claims of one new payment: one owner, the others busy', async () => {
    handle.clock.set(startSeconds * 1000);
    const { payment, request } = await newPayment();
    const claims = await Promise.all(
      Array.from({ length: 8 }, () => handle.store.claim(payment, { leaseMs, request })),
    );
    expect(claims.filter((c) => c.kind === 'owner')).toHaveLength(1);
    expect(claims.filter((c) => c.kind === 'busy')).toHaveLength(7);
  });
});

describe('migration 0001', () => {
  it('marks the rows of the one-phase claim store credited', async () => {
    const test = await openTestDb({ migrate: false });
    try {
      const [first] = readMigrationFiles({ migrationsFolder: x402MigrationsFolder() });
      if (first === undefined) throw new Error('no migrations');
      for (const statement of first.sql) if (statement.trim() !== '') await test.db.execute(sql.raw(statement));
      await test.db.execute(sql`create schema if not exists drizzle`);
      await test.db.execute(
        sql`create table drizzle.__x402_migrations (id serial primary key, hash text not null, created_at bigint)`,
      );
      await test.db.execute(
        sql`insert into drizzle.__x402_migrations (hash, created_at) values (${first.hash}, ${first.folderMillis})`,
      );
      const { payment } = await newPayment();
      const settlement = JSON.stringify(settlementOf(payment));
      await test.query(
        `insert into x402_payments (reference, network, asset, payer, nonce, pay_to, amount_atomic, valid_before, x402_version, signature, transaction, settlement, result, created_at)
         values ($1, $2, $3, $4, $5, $6, '1000000', $7, 2, $8, $9, $10::jsonb, '{"lotId": 1}'::jsonb, $11)`,
        [
          payment.reference,
          payment.network,
          payment.asset.toLowerCase(),
          payment.payer.toLowerCase(),
          payment.nonce,
          payment.payTo.toLowerCase(),
          payment.validBefore.toString(),
          payment.signature,
          `0x${'1'.repeat(64)}`,
          settlement,
          new Date(startSeconds * 1000).toISOString(),
        ],
      );
      await migrateX402(test.db, test.kind);
      const store = postgresPaymentStateStore({ db: test.db, effect: async () => ({ lotId: 2 }) });
      expect(await store.find(payment.reference)).toMatchObject({
        status: 'credited',
        result: { lotId: 1 },
        attempts: 0,
        updatedAtMs: startSeconds * 1000,
      });
      expect(await store.takeDue({ limit: 10, leaseMs })).toEqual([]);
    } finally {
      await test.close();
    }
  });
});

function optionsOf() {
  return {
    network: requirements.network,
    asset: requirements.asset,
    payTo,
    amountAtomic: 1_000_000n,
    tokenName: requirements.extra.name,
    tokenVersion: requirements.extra.version,
    maxTimeoutSeconds: 300,
  };
}
