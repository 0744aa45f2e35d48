import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLedger } from '../ledger/ledger.js';
import { type LedgerKit, openLedgerKit, rejectsWithCode } from '../ledger/test-kit.js';
import { paymentJsonBytesMax, paymentLeaseMsDefault } from '../limits.js';
import type { PackPaymentClaimInput, PaymentClaimInput, VerifiedPayment } from '../types.js';

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
const nowSeconds = () => BigInt(Math.floor(kit.clock.nowMs() / 1000));
function payment(overrides: Partial<VerifiedPayment> = {}): VerifiedPayment {
  nextRef += 1;
  return {
    reference: `eip155:31337:0xusdc:0xpayer:0x${nextRef.toString(16).padStart(4, '0')}`,
    payer: '0xpayer',
    amountMicro: 5_000_000n,
    network: 'eip155:31337',
    asset: '0xusdc',
    payTo: '0xAbCd',
    nonce: `0x${nextRef}`,
    validBefore: nowSeconds() + 600n,
    request: { payload: { signature: '0x01' }, requirements: { amount: '5000000' } },
    ...overrides,
  };
}
async function claimInput(
  overrides: Partial<VerifiedPayment> = {},
  packId = 'starter',
): Promise<PackPaymentClaimInput> {
  return { accountId: await kit.account(), packId, payment: payment(overrides) };
}
async function purchaseLots(reference: string): Promise<number> {
  const [row] = await kit.rows<{ n: string }>(
    sql`select count(*)::text as n from lots where source_type = 'purchase' and source_id = ${reference}`,
  );
  return Number(row?.n);
}

describe('claimPayment', () => {
  it('records a new payment verified, leased to its owner, with the pack terms frozen', async () => {
    const input = await claimInput({}, 'standard');
    input.payment = { ...input.payment, amountMicro: 10_000_000n };
    const claim = await kit.ledger.claimPayment(input, { leaseMs: 30_000 });
    expect(claim).toMatchObject({
      kind: 'owner',
      payment: {
        status: 'verified',
        reference: input.payment.reference,
        accountId: input.accountId,
        kind: 'pack',
        packId: 'standard',
        payTo: '0xAbCd',
        amountMicro: 10_000_000n,
        validBefore: input.payment.validBefore,
        request: input.payment.request,
        attempts: 0,
        failure: null,
        lotId: null,
        reconcileAfter: new Date(kit.clock.nowMs() + 30_000),
        creditedAt: null,
      },
    });
    expect(claim.payment.id).toMatch(/^pay_/);
    const [terms] = await kit.rows<Record<string, string>>(
      sql`select price_micro::text as price, credits_micro::text as credits, bonus_bps::text as bps,
        lot_ttl_ms::text as ttl from payments where reference = ${input.payment.reference}`,
    );
    expect(terms).toEqual({ price: '10000000', credits: '10500000', bps: '500', ttl: '86400000' });
  });

  it('answers busy while the lease runs, and gives the record to a new owner once it ended (state unchanged)', async () => {
    const input = await claimInput();
    await kit.ledger.claimPayment(input);
    await kit.ledger.markPaymentSettling(input.payment.reference);
    const busy = await kit.ledger.claimPayment(input);
    expect(busy).toMatchObject({ kind: 'busy', payment: { status: 'settling' } });
    kit.clock.advance(paymentLeaseMsDefault - 1);
    expect((await kit.ledger.claimPayment(input)).kind).toBe('busy');
    kit.clock.advance(1);
    const taken = await kit.ledger.claimPayment(input, { leaseMs: 1_000 });
    expect(taken).toMatchObject({
      kind: 'owner',
      payment: { status: 'settling', attempts: 1, reconcileAfter: new Date(kit.clock.nowMs() + 1_000) },
    });
    expect((await kit.ledger.claimPayment(input)).kind).toBe('busy');
  });

  it('refuses the reference with another account, pack, amount or recipient (a recipient compares case-insensitively)', async () => {
    const input = await claimInput();
    const { reference } = input.payment;
    await kit.ledger.claimPayment(input);
    const other = await kit.account();
    const cases: [PaymentClaimInput, string][] = [
      [{ ...input, accountId: other }, 'account'],
      [{ ...input, packId: 'standard', payment: { ...input.payment, amountMicro: 10_000_000n } }, 'pack'],
      [{ ...input, payment: { ...input.payment, amountMicro: 6_000_000n } }, 'amount'],
      [{ ...input, payment: { ...input.payment, payTo: '0xother' } }, 'pay_to'],
    ];
    for (const [reused, conflict] of cases) {
      const error = await rejectsWithCode(kit.ledger.claimPayment(reused), 'payment_reference_reused');
      expect(error).toMatchObject({ httpStatus: 409, details: { reference, conflict } });
    }
    kit.clock.advance(paymentLeaseMsDefault);
    const sameRecipient = { ...input, payment: { ...input.payment, payTo: '0xABCD' } };
    expect((await kit.ledger.claimPayment(sameRecipient)).kind).toBe('owner');
    const noRecipient = { ...input, payment: { ...input.payment, payTo: undefined } };
    expect((await kit.ledger.claimPayment(noRecipient)).kind).toBe('busy');
  });

  it('refuses bad input, an unknown pack, an underpayment, a system or unknown account, writing nothing', async () => {
    const accountId = await kit.account();
    const before = await kit.counts();
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const bad: [Partial<PaymentClaimInput> & { payment?: unknown }, unknown, string][] = [
      [{ payment: payment({ amountMicro: 4_999_999n }) }, undefined, 'payment_insufficient'],
      [{ packId: 'platinum' }, undefined, 'credit_pack_not_found'],
      [{ accountId: 'acc_nobody' }, undefined, 'account_not_found'],
      [{ accountId: 'acc_system_treasury' }, undefined, 'system_account_read_only'],
      [{ payment: payment({ reference: 'has space' }) }, undefined, 'invalid_argument'],
      [{ payment: payment({ payTo: '' }) }, undefined, 'invalid_argument'],
      [{ payment: payment({ validBefore: -1n }) }, undefined, 'invalid_argument'],
      [{ payment: payment({ validBefore: 5 as never }) }, undefined, 'invalid_argument'],
      [{ payment: payment({ request: { amount: 5n } }) }, undefined, 'invalid_argument'],
      [{ payment: payment({ request: cyclic }) }, undefined, 'invalid_argument'],
      [{ payment: payment({ request: { text: 'a\u0000b' } }) }, undefined, 'invalid_argument'],
      [{ payment: payment({ request: { '\ud800': 1 } }) }, undefined, 'invalid_argument'],
      [{ payment: payment({ request: 'x'.repeat(paymentJsonBytesMax) }) }, undefined, 'invalid_argument'],
      [{ payment: payment({ amountMicro: 5_000_000 as never }) }, undefined, 'invalid_amount'],
      [{}, { leaseMs: 0 }, 'invalid_argument'],
      [{}, { leaseMs: 3_600_001 }, 'invalid_argument'],
    ];
    for (const [overrides, options, code] of bad) {
      const input = { accountId, packId: 'starter', payment: payment(), ...overrides } as PaymentClaimInput;
      await rejectsWithCode(kit.ledger.claimPayment(input, options as never), code);
    }
    expect(await kit.counts()).toEqual(before);
  });

  it('keeps the terms it froze: a record is credited and replayed even after the catalog changed', async () => {
    const input = await claimInput({}, 'standard');
    input.payment = { ...input.payment, amountMicro: 10_000_000n };
    await kit.ledger.claimPayment(input);
    // Another instance, configured with other packs: 'standard' now costs more and has no bonus.
    const other = createLedger({
      db: kit.handle.db,
      clock: kit.clock,
      creditPacks: [{ id: 'standard', priceMicro: 20_000_000n, bonusBps: 0 }],
    });
    kit.clock.advance(paymentLeaseMsDefault);
    expect((await other.claimPayment(input)).kind).toBe('owner');
    const credited = await other.creditPayment(input.payment.reference);
    expect(credited).toMatchObject({
      lot: { originalMicro: 10_500_000n, expiresAt: new Date(kit.clock.nowMs() + 86_400_000) },
      pack: { id: 'standard', priceMicro: 10_000_000n, bonusBps: 500, creditsMicro: 10_500_000n, lotTtlMs: 86_400_000 },
    });
    const replay = await other.claimPayment(input);
    expect(replay).toMatchObject({ kind: 'credited', result: { ...credited, replayed: true } });
  });
});

describe('markPaymentSettling and recordPaymentSettlement', () => {
  it('verified → settling (attempts + 1, once) → settled with the whole settlement; credited is left alone', async () => {
    const input = await claimInput();
    const { reference } = input.payment;
    await kit.ledger.claimPayment(input);
    expect(await kit.ledger.markPaymentSettling(reference)).toMatchObject({ status: 'settling', attempts: 1 });
    expect(await kit.ledger.markPaymentSettling(reference)).toMatchObject({ status: 'settling', attempts: 1 });
    const settlement = {
      success: true,
      transaction: '0xt1',
      network: 'eip155:31337',
      payer: '0xpayer',
      extra: { a: 1 },
    };
    const settled = await kit.ledger.recordPaymentSettlement(reference, settlement);
    expect(settled).toMatchObject({ status: 'settled', transaction: '0xt1', settlement, attempts: 1 });
    expect(await kit.ledger.markPaymentSettling(reference)).toMatchObject({ status: 'settled', attempts: 1 });
    const credited = await kit.ledger.creditPayment(reference);
    expect(credited.payment.settlement).toEqual(settlement);
    const after = await kit.ledger.recordPaymentSettlement(reference, { transaction: '0xt2' });
    expect(after).toMatchObject({ status: 'credited', transaction: '0xt1', settlement });
  });

  it('refuses a bad settlement or reference and an unknown payment (404), changing nothing', async () => {
    const input = await claimInput();
    const { reference } = input.payment;
    await kit.ledger.claimPayment(input);
    const before = await kit.ledger.getPayment(reference);
    for (const settlement of [
      {},
      { transaction: '' },
      { transaction: 'a b' },
      { transaction: 12 },
      { transaction: '0x1', network: 5 },
      { transaction: '0x1', blob: 'x'.repeat(paymentJsonBytesMax) },
      { transaction: '0x1', amount: 1n },
    ]) {
      await rejectsWithCode(kit.ledger.recordPaymentSettlement(reference, settlement as never), 'invalid_argument');
      await rejectsWithCode(kit.ledger.creditPayment(reference, settlement as never), 'invalid_argument');
    }
    expect(await kit.ledger.getPayment(reference)).toEqual(before);
    const missing = await rejectsWithCode(kit.ledger.markPaymentSettling('nope:1'), 'payment_not_found');
    expect(missing).toMatchObject({ httpStatus: 404, details: { reference: 'nope:1' } });
    await rejectsWithCode(kit.ledger.recordPaymentSettlement('nope:1', { transaction: '0x1' }), 'payment_not_found');
    await rejectsWithCode(kit.ledger.creditPayment('nope:1'), 'payment_not_found');
    await rejectsWithCode(kit.ledger.markPaymentSettling('has space'), 'invalid_argument');
  });
});

describe('creditPayment', () => {
  it('mints one purchase lot, stores the result and emits payment.settled; a second credit replays', async () => {
    const input = await claimInput();
    const { reference } = input.payment;
    const claim = await kit.ledger.claimPayment(input);
    const credited = await kit.ledger.creditPayment(reference, { transaction: '0xabc', network: 'eip155:31337' });
    expect(credited).toMatchObject({
      replayed: false,
      lot: { sourceType: 'purchase', sourceId: reference, originalMicro: 5_000_000n, accountId: input.accountId },
      balance: { availableMicro: 5_000_000n },
      payment: { id: claim.payment.id, reference, lotId: credited.lot.id, settlement: { transaction: '0xabc' } },
    });
    expect(await kit.ledger.getPayment(reference)).toMatchObject({
      status: 'credited',
      lotId: credited.lot.id,
      transaction: '0xabc',
      reconcileAfter: null,
      creditedAt: new Date(kit.clock.nowMs()),
    });
    const events = await kit.rows<{ type: string; payload: Record<string, unknown> }>(
      sql`select type, payload from events where subject_id in (${credited.lot.id}, ${claim.payment.id}) order by id`,
    );
    expect(events.map((e) => e.type)).toEqual(['lot.minted', 'payment.settled']);
    expect(events[1]?.payload).toEqual({
      paymentId: claim.payment.id,
      reference,
      accountId: input.accountId,
      kind: 'pack',
      packId: 'starter',
      payer: '0xpayer',
      amountMicro: '5000000',
      network: 'eip155:31337',
      asset: '0xusdc',
      lotId: credited.lot.id,
      creditsMicro: '5000000',
      settlement: { transaction: '0xabc', network: 'eip155:31337' },
    });
    const again = await kit.ledger.creditPayment(reference, { transaction: '0xother' });
    expect(again).toEqual({ ...credited, replayed: true });
    expect(await purchaseLots(reference)).toBe(1);
    expect((await kit.ledger.verify()).violations).toEqual([]);
  });

  it('credits from a final failure (the chain is the truth), paying the account debt first', async () => {
    const input = await claimInput();
    const { reference } = input.payment;
    const { lot } = await kit.ledger.mint({ accountId: input.accountId, amountMicro: 1_000n, sourceType: 'grant' });
    const { reservation } = await kit.ledger.reserve({ accountId: input.accountId, amountMicro: 300n });
    await kit.ledger.finalize({ reservationId: reservation.id, actualCostMicro: 300n });
    await kit.ledger.refund({ lotId: lot.id });
    await kit.ledger.claimPayment(input);
    await kit.ledger.failPayment(reference, { code: 'settlement_failed', message: 'reverted?' }, { watchUntil: null });
    const credited = await kit.ledger.creditPayment(reference, { transaction: '0xlate' });
    expect(credited.balance).toMatchObject({ availableMicro: 5_000_000n - 300n, debtMicro: 0n });
    expect(await kit.ledger.getPayment(reference)).toMatchObject({ status: 'credited', transaction: '0xlate' });
    expect((await kit.ledger.verify()).violations).toEqual([]);
  });
});

describe('failPayment and postponePayment', () => {
  it('a watched failure is reopened by a claim before validBefore, and is failed after it', async () => {
    const input = await claimInput({ validBefore: nowSeconds() + 300n });
    const { reference } = input.payment;
    await kit.ledger.claimPayment(input);
    await kit.ledger.markPaymentSettling(reference);
    const watchUntil = new Date(kit.clock.nowMs() + 300_000);
    const failure = { code: 'settlement_failed', message: 'timeout waiting for the receipt' };
    const failed = await kit.ledger.failPayment(reference, failure, { watchUntil });
    expect(failed).toMatchObject({ status: 'failed', failure, reconcileAfter: watchUntil, attempts: 1 });
    const reopened = await kit.ledger.claimPayment(input);
    expect(reopened).toMatchObject({ kind: 'owner', payment: { status: 'verified', failure, attempts: 1 } });
    expect(await kit.ledger.markPaymentSettling(reference)).toMatchObject({ status: 'settling', attempts: 2 });
    await kit.ledger.failPayment(reference, failure, { watchUntil });
    kit.clock.advance(300_000); // validBefore has passed
    expect(await kit.ledger.claimPayment(input)).toMatchObject({ kind: 'failed', payment: { status: 'failed' } });
  });

  it('a failure without validBefore stays reopenable while watched; a final failure is never reopened', async () => {
    const input = await claimInput({ validBefore: undefined });
    const { reference } = input.payment;
    await kit.ledger.claimPayment(input);
    const failure = { code: 'x', message: '' };
    await kit.ledger.failPayment(reference, failure, { watchUntil: new Date(kit.clock.nowMs() + 1) });
    expect((await kit.ledger.claimPayment(input)).kind).toBe('owner');
    await kit.ledger.failPayment(reference, failure, { watchUntil: null });
    expect(await kit.ledger.claimPayment(input)).toMatchObject({ kind: 'failed', payment: { reconcileAfter: null } });
  });

  it('postpone keeps the state, stores the failure and the retry time; nothing undoes a credit', async () => {
    const input = await claimInput();
    const { reference } = input.payment;
    await kit.ledger.claimPayment(input);
    await kit.ledger.markPaymentSettling(reference);
    const retryAt = new Date(kit.clock.nowMs() + 5_000);
    const failure = { code: 'facilitator_unavailable', message: 'RPC down' };
    expect(await kit.ledger.postponePayment(reference, failure, { retryAt })).toMatchObject({
      status: 'settling',
      failure,
      reconcileAfter: retryAt,
    });
    expect((await kit.ledger.claimPayment(input)).kind).toBe('busy');
    kit.clock.advance(5_000);
    expect((await kit.ledger.claimPayment(input)).kind).toBe('owner');
    const credited = await kit.ledger.creditPayment(reference, { transaction: '0x9' });
    const failedAfter = await kit.ledger.failPayment(reference, failure, { watchUntil: null });
    expect(failedAfter).toMatchObject({ status: 'credited', lotId: credited.lot.id, reconcileAfter: null });
    expect(await kit.ledger.postponePayment(reference, failure, { retryAt })).toMatchObject({ status: 'credited' });
  });

  it('a settled payment is never failed: it keeps its state and transaction, notes the failure and stays due', async () => {
    const input = await claimInput();
    const { reference } = input.payment;
    await kit.ledger.claimPayment(input);
    await kit.ledger.markPaymentSettling(reference);
    await kit.ledger.recordPaymentSettlement(reference, { transaction: '0xsettled' });
    const failure = { code: 'settlement_failed', message: 'a late refusal' };
    const kept = await kit.ledger.failPayment(reference, failure, { watchUntil: null });
    expect(kept).toMatchObject({ status: 'settled', transaction: '0xsettled', failure });
    expect(kept.reconcileAfter).not.toBeNull();
    expect((await kit.ledger.takeDuePayments({ limit: 500, leaseMs: 1_000 })).map((p) => p.reference)).toContain(
      reference,
    );
    expect((await kit.ledger.creditPayment(reference)).replayed).toBe(false);
  });

  it('refuses a bad failure or time, changing nothing', async () => {
    const input = await claimInput();
    const { reference } = input.payment;
    await kit.ledger.claimPayment(input);
    const before = await kit.ledger.getPayment(reference);
    const ok = { code: 'x', message: 'y' };
    const cases: [unknown, unknown][] = [
      [{ code: '', message: 'y' }, { watchUntil: null }],
      [{ code: 'x', message: 'y'.repeat(1001) }, { watchUntil: null }],
      [{ code: 'x', message: 'a\u0000' }, { watchUntil: null }],
      [{ code: 'x' }, { watchUntil: null }],
      [ok, { watchUntil: new Date(Number.NaN) }],
      [ok, { watchUntil: 'tomorrow' }],
      [ok, null],
    ];
    for (const [failure, options] of cases) {
      await rejectsWithCode(kit.ledger.failPayment(reference, failure as never, options as never), 'invalid_argument');
    }
    await rejectsWithCode(kit.ledger.postponePayment(reference, ok, { retryAt: null as never }), 'invalid_argument');
    await rejectsWithCode(kit.ledger.failPayment('nope:2', ok, { watchUntil: null }), 'payment_not_found');
    await rejectsWithCode(kit.ledger.postponePayment('nope:2', ok, { retryAt: new Date() }), 'payment_not_found');
    expect(await kit.ledger.getPayment(reference)).toEqual(before);
  });
});

describe('takeDuePayments', () => {
  it('takes due records oldest first within the limit and leases them; skips the rest', async () => {
    // Everything created before is made not due, so this test sees its own records only.
    await kit.rows(sql`update payments set reconcile_after = null where status in ('failed', 'credited')`);
    await kit.rows(
      sql`update payments set reconcile_after = ${new Date(kit.clock.nowMs() + 86_400_000).toISOString()}::timestamptz
        where reconcile_after is not null`,
    );
    const refs: string[] = [];
    for (const leaseMs of [3_000, 1_000, 2_000, 60_000]) {
      const input = await claimInput();
      await kit.ledger.claimPayment(input, { leaseMs });
      refs.push(input.payment.reference);
    }
    const watched = await claimInput();
    await kit.ledger.claimPayment(watched);
    await kit.ledger.failPayment(
      watched.payment.reference,
      { code: 'x', message: 'y' },
      {
        watchUntil: new Date(kit.clock.nowMs() + 2_500),
      },
    );
    expect(await kit.ledger.takeDuePayments({ limit: 10, leaseMs: 1_000 })).toEqual([]);
    kit.clock.advance(3_000);
    const taken = await kit.ledger.takeDuePayments({ limit: 3, leaseMs: 10_000 });
    expect(taken.map((p) => p.reference)).toEqual([refs[1], refs[2], watched.payment.reference]);
    expect(taken.map((p) => p.reconcileAfter)).toEqual(Array(3).fill(new Date(kit.clock.nowMs() + 10_000)));
    expect(taken[2]?.status).toBe('failed');
    const rest = await kit.ledger.takeDuePayments({ limit: 10, leaseMs: 10_000 });
    expect(rest.map((p) => p.reference)).toEqual([refs[0]]);
    expect(await kit.ledger.takeDuePayments({ limit: 10, leaseMs: 10_000 })).toEqual([]);
    for (const options of [
      { limit: 0, leaseMs: 1 },
      { limit: 501, leaseMs: 1 },
      { limit: 1, leaseMs: 0 },
      { limit: 1 },
    ]) {
      await rejectsWithCode(kit.ledger.takeDuePayments(options as never), 'invalid_argument');
    }
  });
});

describe('payment reads', () => {
  it('getPayment by id or reference; listPayments newest first by status with a cursor; counts by status', async () => {
    const input = await claimInput();
    const { payment } = await kit.ledger.claimPayment(input);
    expect(await kit.ledger.getPayment(payment.id)).toEqual(payment);
    expect(await kit.ledger.getPayment(payment.reference)).toEqual(payment);
    await rejectsWithCode(kit.ledger.getPayment('pay_missing'), 'payment_not_found');

    const counts = await kit.ledger.countPaymentsByStatus();
    expect(Object.keys(counts).sort()).toEqual(['credited', 'failed', 'settled', 'settling', 'verified']);
    const [row] = await kit.rows<{ n: string }>(sql`select count(*)::text as n from payments`);
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(Number(row?.n));

    const all: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 100; page += 1) {
      const listed: Awaited<ReturnType<typeof kit.ledger.listPayments>> = await kit.ledger.listPayments({
        cursor,
        limit: 3,
      });
      all.push(...listed.payments.map((p) => p.id));
      cursor = listed.nextCursor;
      if (cursor === null) break;
    }
    const expected = await kit.rows<{ id: string }>(sql`select id from payments order by created_at desc, id desc`);
    expect(all).toEqual(expected.map((r) => r.id));
    const verified = await kit.ledger.listPayments({ status: 'verified', limit: 500 });
    expect(verified.payments.length).toBe(counts.verified);
    expect(verified.payments.every((p) => p.status === 'verified')).toBe(true);
    expect(verified.nextCursor).toBeNull();
    for (const bad of ['x', 'ZTE6NDI', encodeURIComponent('p1:1:a b'), 'e'.repeat(300)]) {
      await rejectsWithCode(kit.ledger.listPayments({ cursor: bad }), 'invalid_cursor');
    }
    await rejectsWithCode(kit.ledger.listPayments({ status: 'paid' as never }), 'invalid_argument');
    await rejectsWithCode(kit.ledger.listPayments({ limit: 501 }), 'invalid_argument');
  });
});
