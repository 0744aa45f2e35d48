/**
 * Payments that buy plain credit (kind `credit`, no pack; pay-per-call): the claim freezes credits = price =
 * `creditMicro` with no bonus and no lifetime, the credit mints exactly that once, replays answer the first result,
 * a reference reused with other terms is refused with `details.conflict`, and bad input writes nothing.
 */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LedgerKit, openLedgerKit, rejectsWithCode } from '../ledger/test-kit.js';
import { paymentLeaseMsDefault } from '../limits.js';
import type { CreditPaymentClaimInput, PaymentClaimInput, VerifiedPayment } from '../types.js';
import { creditPaymentMemo } from './payment-credit.js';

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
function payment(overrides: Partial<VerifiedPayment> = {}): VerifiedPayment {
  nextRef += 1;
  return {
    reference: `eip155:31337:0xusdc:0xwallet:0xc${nextRef.toString(16).padStart(4, '0')}`,
    payer: '0xwallet',
    amountMicro: 20_000n,
    network: 'eip155:31337',
    asset: '0xusdc',
    payTo: '0xAbCd',
    nonce: `0xc${nextRef}`,
    validBefore: BigInt(Math.floor(kit.clock.nowMs() / 1000)) + 600n,
    ...overrides,
  };
}
async function walletAccount(): Promise<string> {
  nextRef += 1;
  const { account } = await kit.ledger.createAccount({ entityType: 'wallet', entityId: `0xwallet${nextRef}` });
  return account.id;
}
async function creditInput(
  creditMicro = 20_000n,
  overrides: Partial<VerifiedPayment> = {},
): Promise<CreditPaymentClaimInput> {
  return { accountId: await walletAccount(), creditMicro, payment: payment(overrides) };
}
async function frozenTerms(reference: string) {
  const [row] = await kit.rows<Record<string, string | null>>(
    sql`select kind, pack_id, price_micro::text as price, credits_micro::text as credits, bonus_bps::text as bps,
      lot_ttl_ms::text as ttl from payments where reference = ${reference}`,
  );
  return row;
}
async function purchaseLots(reference: string) {
  return kit.rows<{ id: string; original: string; memo: string | null; expires: string | null }>(
    sql`select l.id, l.original_micro::text as original, e.memo, l.expires_at::text as expires from lots l
      join entries e on e.lot_id = l.id and e.kind = 'mint'
      where l.source_type = 'purchase' and l.source_id = ${reference}`,
  );
}

describe('claimPayment with creditMicro', () => {
  it('records a verified credit payment (no pack) with credits = price = creditMicro, no bonus, no ttl', async () => {
    const input = await creditInput(15_000n, { amountMicro: 20_000n });
    const claim = await kit.ledger.claimPayment(input, { leaseMs: 30_000 });
    expect(claim).toMatchObject({
      kind: 'owner',
      payment: {
        status: 'verified',
        kind: 'credit',
        packId: null,
        accountId: input.accountId,
        amountMicro: 20_000n,
        reconcileAfter: new Date(kit.clock.nowMs() + 30_000),
      },
    });
    expect(await frozenTerms(input.payment.reference)).toEqual({
      kind: 'credit',
      pack_id: null,
      price: '15000',
      credits: '15000',
      bps: '0',
      ttl: null,
    });
    expect(await kit.ledger.getPayment(claim.payment.id)).toEqual(claim.payment);
  });

  it('refuses the reference with another account, credit, kind, amount or recipient, changing nothing', async () => {
    const input = await creditInput();
    const { reference } = input.payment;
    await kit.ledger.claimPayment(input);
    const before = await kit.ledger.getPayment(reference);
    const counts = await kit.counts();
    const cases: [PaymentClaimInput, Record<string, unknown>][] = [
      [{ ...input, accountId: await walletAccount() }, { conflict: 'account' }],
      [
        { ...input, creditMicro: 19_999n },
        {
          conflict: 'pack',
          stored: '20000 micro-USD of credit',
          requested: '19999 micro-USD of credit',
          storedKind: 'credit',
          requestedKind: 'credit',
        },
      ],
      [
        { accountId: input.accountId, packId: 'starter', payment: { ...input.payment, amountMicro: 5_000_000n } },
        { conflict: 'pack', stored: '20000 micro-USD of credit', requested: 'starter', requestedKind: 'pack' },
      ],
      [
        { ...input, payment: { ...input.payment, amountMicro: 30_000n } },
        { conflict: 'amount', stored: '20000' },
      ],
      [{ ...input, payment: { ...input.payment, payTo: '0xother' } }, { conflict: 'pay_to' }],
    ];
    for (const [reused, details] of cases) {
      const error = await rejectsWithCode(kit.ledger.claimPayment(reused), 'payment_reference_reused');
      expect(error).toMatchObject({ httpStatus: 409, details: { reference, ...details } });
      await rejectsWithCode(kit.ledger.purchasePack(reused), 'payment_reference_reused');
    }
    expect(await kit.ledger.getPayment(reference)).toEqual(before);
    expect(await kit.counts()).toEqual(counts);
  });

  it('refuses plain credit on the reference of a pack payment (the first purchase is quoted)', async () => {
    const accountId = await walletAccount();
    const pack = { accountId, packId: 'starter', payment: payment({ amountMicro: 5_000_000n }) };
    await kit.ledger.claimPayment(pack);
    const error = await rejectsWithCode(
      kit.ledger.claimPayment({ accountId, creditMicro: 5_000_000n, payment: pack.payment }),
      'payment_reference_reused',
    );
    expect(error).toMatchObject({
      details: {
        conflict: 'pack',
        stored: 'starter',
        requested: '5000000 micro-USD of credit',
        firstPackId: 'starter',
      },
    });
    expect(error.message).toContain('"starter"');
    expect(await kit.ledger.getPayment(pack.payment.reference)).toMatchObject({ kind: 'pack', packId: 'starter' });
  });

  it('refuses both or neither of packId and creditMicro, a bad creditMicro or one above the amount: nothing written', async () => {
    const accountId = await walletAccount();
    const before = await kit.counts();
    const bad: [Record<string, unknown>, string][] = [
      [{ packId: 'starter', creditMicro: 20_000n }, 'invalid_argument'],
      [{}, 'invalid_argument'],
      [{ packId: undefined, creditMicro: undefined }, 'invalid_argument'],
      [{ packId: null, creditMicro: 20_000n }, 'invalid_argument'],
      [{ creditMicro: 0n }, 'invalid_amount'],
      [{ creditMicro: -1n }, 'invalid_amount'],
      [{ creditMicro: 10n ** 15n + 1n }, 'invalid_amount'],
      [{ creditMicro: 20_000 }, 'invalid_amount'],
      [{ creditMicro: '20000' }, 'invalid_amount'],
      [{ creditMicro: null }, 'invalid_amount'],
      [{ creditMicro: 20_001n }, 'invalid_amount'],
    ];
    let settles = 0;
    const settle = async () => {
      settles += 1;
      return { transaction: '0x1' };
    };
    for (const [what, code] of bad) {
      const input = { accountId, payment: payment(), ...what } as unknown as PaymentClaimInput;
      const error = await rejectsWithCode(kit.ledger.claimPayment(input), code);
      expect(error).toMatchObject({ httpStatus: 400 });
      await rejectsWithCode(kit.ledger.purchasePack(input, { settle }), code);
    }
    const both = await rejectsWithCode(
      kit.ledger.claimPayment({ accountId, packId: 'starter', creditMicro: 1n, payment: payment() } as never),
      'invalid_argument',
    );
    expect(both.message).toMatch(/exactly one of packId and creditMicro; got both/);
    const above = await rejectsWithCode(
      kit.ledger.claimPayment({ accountId, creditMicro: 20_001n, payment: payment() }),
      'invalid_amount',
    );
    expect(above).toMatchObject({ details: { field: 'creditMicro', value: '20001n', paidMicro: '20000' } });
    await rejectsWithCode(
      kit.ledger.claimPayment({ accountId: 'acc_nobody', creditMicro: 1n, payment: payment() }),
      'account_not_found',
    );
    await rejectsWithCode(
      kit.ledger.claimPayment({ accountId: 'acc_system_treasury', creditMicro: 1n, payment: payment() }),
      'system_account_read_only',
    );
    expect(settles).toBe(0);
    expect(await kit.counts()).toEqual(before);
  });
});

describe('creditPayment of a credit payment', () => {
  it('mints exactly creditMicro in one purchase lot (no lifetime, memo x402 credit), once; replays answer it', async () => {
    const input = await creditInput(15_000n, { amountMicro: 20_000n });
    const { reference } = input.payment;
    const claim = await kit.ledger.claimPayment(input);
    const credited = await kit.ledger.creditPayment(reference, { transaction: '0xpaid', network: 'eip155:31337' });
    expect(credited).toMatchObject({
      replayed: false,
      pack: null,
      lot: {
        sourceType: 'purchase',
        sourceId: reference,
        originalMicro: 15_000n,
        availableMicro: 15_000n,
        expiresAt: null,
        accountId: input.accountId,
      },
      balance: { availableMicro: 15_000n },
      payment: { id: claim.payment.id, kind: 'credit', packId: null, amountMicro: 20_000n, lotId: credited.lot.id },
    });
    expect(await purchaseLots(reference)).toEqual([
      { id: credited.lot.id, original: '15000', memo: creditPaymentMemo, expires: null },
    ]);
    expect(creditPaymentMemo).toBe('x402 credit');
    const [event] = await kit.rows<{ payload: Record<string, unknown> }>(
      sql`select payload from events where type = 'payment.settled' and subject_id = ${claim.payment.id}`,
    );
    expect(event?.payload).toMatchObject({ kind: 'credit', packId: null, creditsMicro: '15000', amountMicro: '20000' });

    expect(await kit.ledger.creditPayment(reference, { transaction: '0xother' })).toEqual({
      ...credited,
      replayed: true,
    });
    expect(await kit.ledger.claimPayment(input)).toMatchObject({
      kind: 'credited',
      result: { ...credited, replayed: true },
    });
    let settles = 0;
    const replay = await kit.ledger.purchasePack(input, {
      settle: async () => {
        settles += 1;
        return { transaction: '0xagain' };
      },
    });
    expect(replay).toEqual({ ...credited, replayed: true });
    expect(settles).toBe(0);
    expect(await purchaseLots(reference)).toHaveLength(1);
    expect((await kit.ledger.getBalance(input.accountId)).availableMicro).toBe(15_000n);
    expect(await kit.ledger.getPayment(reference)).toMatchObject({ status: 'credited', kind: 'credit' });
    expect((await kit.ledger.verify()).violations).toEqual([]);
  });

  it('purchasePack with creditMicro settles once and mints the credit; reserve/finalize leaves the rest as credit', async () => {
    const input = await creditInput(20_000n);
    let settles = 0;
    const result = await kit.ledger.purchasePack(input, {
      settle: async () => {
        settles += 1;
        return { transaction: '0xcall' };
      },
    });
    expect(settles).toBe(1);
    expect(result).toMatchObject({ pack: null, lot: { originalMicro: 20_000n }, payment: { kind: 'credit' } });
    expect(await kit.ledger.getPayment(input.payment.reference)).toMatchObject({
      status: 'credited',
      transaction: '0xcall',
      attempts: 1,
    });
    const { reservation } = await kit.ledger.reserve({ accountId: input.accountId, amountMicro: 20_000n });
    await kit.ledger.finalize({ reservationId: reservation.id, actualCostMicro: 12_345n });
    expect((await kit.ledger.getBalance(input.accountId)).availableMicro).toBe(20_000n - 12_345n);
    expect((await kit.ledger.verify()).violations).toEqual([]);
  });

  it('a settlement that throws mints nothing; the credit payment is retried after the lease and credited once', async () => {
    const input = await creditInput(20_000n);
    const failing = async (): Promise<{ transaction: string }> => {
      throw Object.assign(new Error('rpc down'), { code: 'facilitator_unavailable' });
    };
    await expect(kit.ledger.purchasePack(input, { settle: failing })).rejects.toThrow('rpc down');
    expect(await purchaseLots(input.payment.reference)).toEqual([]);
    expect(await kit.ledger.getPayment(input.payment.reference)).toMatchObject({
      status: 'settling',
      failure: { code: 'facilitator_unavailable' },
    });
    await rejectsWithCode(kit.ledger.purchasePack(input), 'payment_pending');
    kit.clock.advance(paymentLeaseMsDefault);
    const result = await kit.ledger.purchasePack(input, { settle: async () => ({ transaction: '0xlater' }) });
    expect(result).toMatchObject({ replayed: false, lot: { originalMicro: 20_000n } });
    expect(await purchaseLots(input.payment.reference)).toHaveLength(1);
  });
});
