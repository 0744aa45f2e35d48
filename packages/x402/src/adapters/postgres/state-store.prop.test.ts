import { sql } from 'drizzle-orm';
import fc from 'fast-check';
import { getAddress } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { X402Error } from '../../errors.js';
import type { PaymentStateStore, SettlementRequest } from '../../ports/payment-state-store.js';
import { exactRequirements } from '../../requirements.js';
import { TestClock } from '../../testing/clock.js';
import { signPayloadV2 } from '../../testing/sign.js';
import { openTestDb, type TestDb } from '../../testing/test-db.js';
import { type VerifiedPayment, verifyExactPayment } from '../../verify/verify-exact.js';
import { postgresPaymentStateStore } from './state-store.js';

const startSeconds = 1_767_225_600;
const leaseMs = 30_000;
const paymentsPerRun = 2;
const payer = privateKeyToAccount(generatePrivateKey());
const requirements = exactRequirements({
  network: 'eip155:31337',
  asset: getAddress('0x5fbdb2315678afecb367f032d93f642f64180aa3'),
  payTo: privateKeyToAccount(generatePrivateKey()).address,
  amountAtomic: 250_000n,
  tokenName: 'USD Coin',
  tokenVersion: '2',
  maxTimeoutSeconds: 300,
});

type Minted = { lotId: number };
let test: TestDb;
const clock = new TestClock(startSeconds * 1000);
const effectFails = { next: false };
let store: PaymentStateStore<Minted>;

beforeAll(async () => {
  test = await openTestDb({ max: 10 });
  await test.db.execute(sql`create table test_lots (id serial primary key, reference text not null)`);
  store = postgresPaymentStateStore({
    db: test.db,
    clock,
    effect: async (tx, record) => {
      const result = (await tx.execute(
        sql`insert into test_lots (reference) values (${record.reference}) returning id`,
      )) as unknown;
      if (effectFails.next) throw new Error('effect failed');
      const rows = Array.isArray(result) ? result : (result as { rows: unknown[] }).rows;
      return { lotId: Number((rows[0] as { id: number }).id) };
    },
  });
}, 120_000);
afterAll(async () => test?.close());

const reference = fc.nat(paymentsPerRun - 1);
const operation = fc.oneof(
  { weight: 2, arbitrary: fc.record({ op: fc.constant('claim' as const), ref: reference }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('markSettling' as const), ref: reference }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('markSettled' as const), ref: reference }) },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('credit' as const),
      ref: reference,
      fails: fc.integer({ min: 0, max: 3 }).map((n) => n === 0),
      twice: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('fail' as const), ref: reference, watch: fc.boolean() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('postpone' as const),
      ref: reference,
      retryInMs: fc.integer({ min: 0, max: 60_000 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constant('takeDue' as const), limit: fc.integer({ min: 1, max: paymentsPerRun }) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constant('advance' as const), seconds: fc.integer({ min: 0, max: 200 }) }),
  },
);
type Operation = typeof operation extends fc.Arbitrary<infer T> ? T : never;

/** Errors a random sequence may legitimately meet; anything else fails the property. */
function expected(error: unknown): boolean {
  if (error instanceof X402Error) return error.code === 'invalid_option' || error.code === 'settlement_failed';
  return error instanceof Error && error.message === 'effect failed';
}

async function apply(step: Operation, payments: { payment: VerifiedPayment; request: SettlementRequest }[]) {
  const target = 'ref' in step ? payments[step.ref]! : undefined;
  const ref = target?.payment.reference ?? '';
  const settlement = target && {
    success: true as const,
    transaction: `0x${'a'.repeat(64)}`,
    network: target.payment.network,
    payer: target.payment.payer,
  };
  switch (step.op) {
    case 'claim':
      return store.claim(target!.payment, { leaseMs, request: target!.request });
    case 'markSettling':
      return store.markSettling(ref);
    case 'markSettled':
      return store.markSettled(ref, settlement!);
    case 'credit':
      effectFails.next = step.fails;
      try {
        if (step.twice) {
          // Both settle before the checks run (Promise.all would leave one in flight after the first rejection).
          const both = await Promise.allSettled([store.credit(ref, settlement!), store.credit(ref, settlement!)]);
          const rejected = both.find((answer) => answer.status === 'rejected');
          if (rejected !== undefined) throw rejected.reason;
          return both;
        }
        return await store.credit(ref, settlement!);
      } finally {
        effectFails.next = false;
      }
    case 'fail':
      return store.fail(
        ref,
        { code: 'settlement_failed', message: 'random' },
        { watchUntilSeconds: step.watch ? target!.payment.validBefore : null },
      );
    case 'postpone':
      return store.postpone(ref, { code: 'facilitator_unavailable', message: 'random' }, { retryInMs: step.retryInMs });
    case 'takeDue':
      return store.takeDue({ limit: step.limit, leaseMs });
    case 'advance':
      clock.advanceSeconds(step.seconds);
      return undefined;
  }
}

async function lotCounts(references: string[]): Promise<Map<string, number>> {
  const rows = await test.query<{ reference: string; n: bigint | number | string }>(
    'select reference, count(*) as n from test_lots where reference = any($1) group by reference',
    [references],
  );
  return new Map(rows.map((row) => [row.reference, Number(row.n)]));
}

describe(`postgresPaymentStateStore properties (${process.env.DATABASE_URL ? 'Postgres' : 'PGlite'})`, () => {
  it('over random operation sequences the effect runs at most once per reference, exactly when credited, and credited is absorbing', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(operation, { minLength: 4, maxLength: 30 }), async (steps) => {
        clock.set(startSeconds * 1000);
        const payments = await Promise.all(
          Array.from({ length: paymentsPerRun }, async () => {
            const payload = await signPayloadV2(payer, requirements, { nowSeconds: startSeconds });
            const payment = await verifyExactPayment({ payload, requirements, clock, checkWindow: false });
            return { payment, request: { payload, requirements } };
          }),
        );
        // Claimed first, as every payment is; the sequence may claim again.
        for (const { payment, request } of payments) await store.claim(payment, { leaseMs, request });
        const references = payments.map((p) => p.payment.reference);
        const creditedResult = new Map<string, string>();
        for (const step of steps) {
          await Promise.resolve(apply(step, payments)).catch((error: unknown) => {
            if (!expected(error)) throw error;
          });
          const lots = await lotCounts(references);
          for (const ref of references) {
            const record = await store.find(ref);
            const count = lots.get(ref) ?? 0;
            expect(count).toBeLessThanOrEqual(1);
            expect(count === 1).toBe(record?.status === 'credited');
            const seen = creditedResult.get(ref);
            if (seen !== undefined) {
              expect(record?.status).toBe('credited');
              expect(JSON.stringify(record?.result)).toBe(seen);
            } else if (record?.status === 'credited') {
              creditedResult.set(ref, JSON.stringify(record.result));
            }
          }
        }
      }),
      { numRuns: 40 },
    );
  }, 120_000);
});
