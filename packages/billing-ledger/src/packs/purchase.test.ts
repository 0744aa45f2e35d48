import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LedgerKit, openLedgerKit, rejectsWithCode } from '../ledger/test-kit.js';

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
  it('mints price + bonus in one purchase lot, records the payment and settles inside the transaction', async () => {
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
          return {};
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

  it('mints once under concurrent purchases with the same payment', async () => {
    const accountId = await kit.account();
    const pay = payment(5_000_000n);
    const results = await Promise.all(
      Array.from({ length: 8 }, () => kit.ledger.purchasePack({ accountId, packId: 'starter', payment: pay })),
    );
    expect(new Set(results.map((r) => r.lot.id)).size).toBe(1);
    expect(results.filter((r) => !r.replayed)).toHaveLength(1);
    expect(await lotCount(accountId)).toBe(1);
    expect((await kit.ledger.getBalance(accountId)).availableMicro).toBe(5_000_000n);
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

  it('settles nothing and mints nothing when settlement fails; the payment can be retried', async () => {
    const accountId = await kit.account();
    const pay = payment(5_000_000n);
    const before = await kit.counts();
    await expect(
      kit.ledger.purchasePack(
        { accountId, packId: 'starter', payment: pay },
        {
          settle: async () => {
            throw new Error('chain unreachable');
          },
        },
      ),
    ).rejects.toThrow('chain unreachable');
    expect(await kit.counts()).toEqual(before);
    const [{ n } = { n: '' }] = await kit.rows<{ n: string }>(
      sql`select count(*)::text as n from payments where reference = ${pay.reference}`,
    );
    expect(n).toBe('0');
    const retried = await kit.ledger.purchasePack(
      { accountId, packId: 'starter', payment: pay },
      { settle: async () => ({ transaction: '0x1' }) },
    );
    expect(retried.replayed).toBe(false);
    expect(retried.balance.availableMicro).toBe(5_000_000n);
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
