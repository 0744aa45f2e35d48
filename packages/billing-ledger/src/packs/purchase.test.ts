import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LedgerKit, openLedgerKit, rejectsWithCode } from '../ledger/test-kit.js';
import { paymentFailureMessageLengthMax, paymentLeaseMsDefault } from '../limits.js';
import { settleErrorCode } from './purchase.js';

let kit: LedgerKit;
beforeAll(async () => {
  kit = await openLedgerKit({
    creditPacks: [
      { id: 'starter', priceMicro: 5_000_000n, bonusBps: 0 },
      { id: 'standard', priceMicro: 10_000_000n, bonusBps: 500, lotTtlMs: 86_400_000 },
    ],
  });
});
afterAll(() => kit.close());

let nextRef = 0;
const payment = (amountMicro: bigint) => {
  nextRef += 1;
  return {
    reference: `eip155:31337:0xusdc:0xpayer:${nextRef}-${Date.now()}`,
    payer: '0xpayer',
    amountMicro,
    network: 'eip155:31337',
    asset: '0xusdc',
  };
};

async function lotCount(accountId: string) {
  const [{ n } = { n: '' }] = await kit.rows<{ n: string }>(
    sql`select count(*)::text as n from lots where account_id = ${accountId}`,
  );
  return Number(n);
}

describe('purchasePack', () => {
  it('mints price + bonus in one purchase lot, records the payment and settles it once', async () => {
    const accountId = await kit.account();
    const pay = payment(10_000_000n);
    let settled = 0;
    const result = await kit.ledger.purchasePack(
      { accountId, packId: 'standard', payment: pay },
      {
        settle: async () => {
          settled += 1;
          return { transaction: '0xabc', network: pay.network };
        },
      },
    );
    expect(settled).toBe(1);
    expect(result.replayed).toBe(false);
    expect(result.lot).toMatchObject({ originalMicro: 10_500_000n, sourceType: 'purchase', sourceId: pay.reference });
    expect(result.lot.expiresAt?.getTime()).toBe(kit.clock.nowMs() + 86_400_000);
    expect(result.balance.availableMicro).toBe(10_500_000n);
    expect(result.payment).toMatchObject({
      reference: pay.reference,
      amountMicro: 10_000_000n,
      lotId: result.lot.id,
      settlement: { transaction: '0xabc' },
    });
    const events = await kit.rows<{ type: string }>(
      sql`select type from events where subject_id in (${result.lot.id}, ${result.payment.id}) order by id`,
    );
    expect(events.map((e) => e.type)).toEqual(['lot.minted', 'payment.settled']);

    // A replay of the same payment answers the first result and mints nothing, settles nothing.
    const replay = await kit.ledger.purchasePack(
      { accountId, packId: 'standard', payment: pay },
      {
        settle: async () => {
          settled += 1;
          return { transaction: '0xother' };
        },
      },
    );
    expect(settled).toBe(1);
    expect(replay).toEqual({ ...result, replayed: true });
    expect(await lotCount(accountId)).toBe(1);
    // The same payment for another account or pack is refused.
    const other = await kit.account();
    await rejectsWithCode(
      kit.ledger.purchasePack({ accountId: other, packId: 'standard', payment: pay }),
      'payment_reference_reused',
    );
    await rejectsWithCode(
      kit.ledger.purchasePack({ accountId, packId: 'starter', payment: pay }),
      'payment_reference_reused',
    );
    expect((await kit.ledger.verify()).violations).toEqual([]);
  });

  it('mints once under concurrent purchases with the same payment: the others replay it or answer payment_pending', async () => {
    const accountId = await kit.account();
    const pay = payment(5_000_000n);
    const outcomes = await Promise.allSettled(
      Array.from({ length: 8 }, () => kit.ledger.purchasePack({ accountId, packId: 'starter', payment: pay })),
    );
    const results = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
    const refusals = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as { code?: string }] : []));
    expect(results.filter((r) => !r.replayed)).toHaveLength(1);
    expect(new Set(results.map((r) => r.lot.id)).size).toBe(1);
    expect(refusals.every((error) => error.code === 'payment_pending')).toBe(true);
    expect(await lotCount(accountId)).toBe(1);
    expect((await kit.ledger.getBalance(accountId)).availableMicro).toBe(5_000_000n);
    // Once credited, every retry replays.
    const replay = await kit.ledger.purchasePack({ accountId, packId: 'starter', payment: pay });
    expect(replay).toMatchObject({ replayed: true, lot: { id: results[0]?.lot.id } });
  });

  it('refuses an underpayment, an unknown pack and bad input, and changes nothing', async () => {
    const accountId = await kit.account();
    const before = await kit.counts();
    await rejectsWithCode(
      kit.ledger.purchasePack({ accountId, packId: 'starter', payment: payment(4_999_999n) }),
      'payment_insufficient',
    );
    await rejectsWithCode(
      kit.ledger.purchasePack({ accountId, packId: 'platinum', payment: payment(5_000_000n) }),
      'credit_pack_not_found',
    );
    await rejectsWithCode(
      kit.ledger.purchasePack({
        accountId,
        packId: 'starter',
        payment: { ...payment(5_000_000n), amountMicro: 5_000_000 as never },
      }),
      'invalid_amount',
    );
    await rejectsWithCode(
      kit.ledger.purchasePack({
        accountId,
        packId: 'starter',
        payment: { ...payment(5_000_000n), reference: 'has space' },
      }),
      'invalid_argument',
    );
    await rejectsWithCode(
      kit.ledger.purchasePack({ accountId: 'acc_nobody', packId: 'starter', payment: payment(5_000_000n) }),
      'account_not_found',
    );
    expect(await kit.counts()).toEqual(before);
  });

  it('mints nothing when settlement fails: the payment is postponed (busy until the lease ends), then retried', async () => {
    const accountId = await kit.account();
    const pay = payment(5_000_000n);
    const before = await kit.counts();
    await expect(
      kit.ledger.purchasePack(
        { accountId, packId: 'starter', payment: pay },
        {
          settle: async () => {
            throw Object.assign(new Error('chain unreachable'), { code: 'facilitator_unavailable' });
          },
        },
      ),
    ).rejects.toThrow('chain unreachable');
    const { payments: _payments, ...ledgerCounts } = await kit.counts();
    const { payments: paymentsBefore, ...ledgerBefore } = before;
    expect(ledgerCounts).toEqual(ledgerBefore);
    const postponed = await kit.ledger.getPayment(pay.reference);
    expect(postponed).toMatchObject({
      status: 'settling',
      attempts: 1,
      failure: { code: 'facilitator_unavailable', message: 'chain unreachable' },
      reconcileAfter: new Date(kit.clock.nowMs() + paymentLeaseMsDefault),
    });
    expect(_payments).toBe((paymentsBefore ?? 0) + 1);
    // A retry while the postponed attempt's time has not come: 503 payment_pending, nothing settled.
    let settled = 0;
    const settle = async () => {
      settled += 1;
      return { transaction: '0x1' };
    };
    const pending = await rejectsWithCode(
      kit.ledger.purchasePack({ accountId, packId: 'starter', payment: pay }, { settle }),
      'payment_pending',
    );
    expect(pending).toMatchObject({ httpStatus: 503, details: { reference: pay.reference } });
    expect(settled).toBe(0);
    kit.clock.advance(paymentLeaseMsDefault);
    const retried = await kit.ledger.purchasePack({ accountId, packId: 'starter', payment: pay }, { settle });
    expect(settled).toBe(1);
    expect(retried.replayed).toBe(false);
    expect(retried.balance.availableMicro).toBe(5_000_000n);
    expect(await kit.ledger.getPayment(pay.reference)).toMatchObject({
      status: 'credited',
      transaction: '0x1',
      attempts: 1,
      reconcileAfter: null,
    });
  });

  it('credits a payment already settled without settling it again, and refuses one that failed for good', async () => {
    const accountId = await kit.account();
    const pay = payment(5_000_000n);
    const claim = await kit.ledger.claimPayment({ accountId, packId: 'starter', payment: pay });
    expect(claim.kind).toBe('owner');
    await kit.ledger.markPaymentSettling(pay.reference);
    await kit.ledger.recordPaymentSettlement(pay.reference, { transaction: '0xsettled' });
    kit.clock.advance(paymentLeaseMsDefault); // the owner died before crediting
    const settle = async () => {
      throw new Error('must not settle a settled payment');
    };
    const bought = await kit.ledger.purchasePack({ accountId, packId: 'starter', payment: pay }, { settle });
    expect(bought).toMatchObject({ replayed: false, payment: { settlement: { transaction: '0xsettled' } } });

    const dead = payment(5_000_000n);
    await kit.ledger.claimPayment({ accountId, packId: 'starter', payment: dead });
    await kit.ledger.failPayment(
      dead.reference,
      { code: 'authorization_expired', message: 'gone' },
      { watchUntil: null },
    );
    const failed = await rejectsWithCode(
      kit.ledger.purchasePack({ accountId, packId: 'starter', payment: dead }, { settle }),
      'payment_failed',
    );
    expect(failed).toMatchObject({ httpStatus: 402, details: { code: 'authorization_expired' } });
    expect((await kit.ledger.verify()).violations).toEqual([]);
  });

  it('postpones with the settle_error code when settle() throws an error without a code, and stores a storable message', async () => {
    const accountId = await kit.account();
    const pay = payment(5_000_000n);
    await expect(
      kit.ledger.purchasePack(
        { accountId, packId: 'starter', payment: pay },
        {
          settle: async () => {
            throw new Error(`bad\u0000${'x'.repeat(2000)}`);
          },
        },
      ),
    ).rejects.toThrow('bad');
    const { failure } = await kit.ledger.getPayment(pay.reference);
    expect(failure?.code).toBe(settleErrorCode);
    expect(failure?.message).toHaveLength(paymentFailureMessageLengthMax);
    expect(failure?.message.startsWith('bad\uFFFD')).toBe(true);
  });

  it('holds no transaction while settle() runs: writes on this and other accounts, and the feed, go on meanwhile', async () => {
    const accountId = await kit.account();
    const other = await kit.account();
    await kit.ledger.mint({ accountId: other, amountMicro: 1_000n, sourceType: 'grant' });
    const pay = payment(5_000_000n);
    let entered: () => void = () => {};
    const settling = new Promise<void>((resolve) => {
      entered = resolve;
    });
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const purchase = kit.ledger.purchasePack(
      { accountId, packId: 'starter', payment: pay },
      {
        settle: async () => {
          entered();
          await gate;
          return { transaction: '0xslow' };
        },
      },
    );
    await settling;
    // On PGlite (one connection) and on Postgres (the account row lock) these would wait for settle() if a
    // transaction were open around it; they must all commit while it is pending.
    let timer: NodeJS.Timeout | undefined;
    const stalled = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('a ledger call waited for settle(): a transaction is open')), 10_000);
    });
    const [held, minted, feed, record] = await Promise.race([
      Promise.all([
        kit.ledger.reserve({ accountId: other, amountMicro: 100n }),
        kit.ledger.mint({ accountId, amountMicro: 10n, sourceType: 'grant' }),
        kit.ledger.listEvents({ limit: 1000 }),
        kit.ledger.getPayment(pay.reference),
      ]),
      stalled,
    ]).finally(() => clearTimeout(timer));
    expect(held.balance.availableMicro).toBe(900n);
    expect(minted.balance.availableMicro).toBe(10n);
    expect(feed.items.length).toBeGreaterThan(0);
    expect(record).toMatchObject({ status: 'settling', attempts: 1 });
    release();
    const bought = await purchase;
    expect(bought.balance.availableMicro).toBe(5_000_010n);
    expect(bought.payment.settlement).toEqual({ transaction: '0xslow' });
  });

  it('pays the account debt first, like any mint', async () => {
    const accountId = await kit.account();
    const { lot } = await kit.ledger.mint({ accountId, amountMicro: 1_000n, sourceType: 'grant' });
    const { reservation } = await kit.ledger.reserve({ accountId, amountMicro: 400n });
    await kit.ledger.finalize({ reservationId: reservation.id, actualCostMicro: 400n });
    await kit.ledger.refund({ lotId: lot.id });
    const bought = await kit.ledger.purchasePack({ accountId, packId: 'starter', payment: payment(5_000_000n) });
    expect(bought.balance).toMatchObject({ availableMicro: 5_000_000n - 400n, debtMicro: 0n });
    expect((await kit.ledger.verify()).violations).toEqual([]);
  });
});
