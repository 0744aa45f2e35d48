import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SpendCapExceededError } from '../errors.js';
import { type LedgerKit, openLedgerKit, rejectsWithCode } from '../ledger/test-kit.js';
import { spendPeriodStarts } from './spend-caps.js';

let kit: LedgerKit;
beforeAll(async () => {
  kit = await openLedgerKit();
  // Noon UTC on a mid-month day, so the day and month boundaries are ahead.
  kit.clock.set(Date.UTC(2026, 11, 15, 12, 0, 0));
});
afterAll(() => kit.close());

async function funded(amountMicro = 10_000_000n): Promise<string> {
  const accountId = await kit.account();
  await kit.ledger.mint({ accountId, amountMicro, sourceType: 'grant' });
  return accountId;
}

describe('spend caps', () => {
  it('UTC periods: the day and the month a time falls in', () => {
    expect(spendPeriodStarts(new Date('2026-12-03T23:59:59.999Z'))).toEqual({
      dayStart: new Date('2026-12-03T00:00:00Z'),
      monthStart: new Date('2026-12-01T00:00:00Z'),
    });
  });

  it('refuses a hold that would pass the daily cap, with the period spent and cap; nothing is held', async () => {
    const accountId = await funded();
    const caps = await kit.ledger.setSpendCaps({
      accountId,
      dailyCapMicro: 1_000n,
      monthlyCapMicro: null,
      actor: 'admin',
    });
    expect(caps).toMatchObject({ dailyCapMicro: 1_000n, monthlyCapMicro: null, updatedBy: 'admin' });
    await kit.ledger.reserve({ accountId, amountMicro: 600n });
    const before = await kit.counts();
    const error = await rejectsWithCode(kit.ledger.reserve({ accountId, amountMicro: 401n }), 'spend_cap_exceeded');
    expect(error).toBeInstanceOf(SpendCapExceededError);
    expect((error as SpendCapExceededError).details).toMatchObject({
      period: 'daily',
      spentMicro: '600',
      capMicro: '1000',
      requestedMicro: '401',
      periodStart: '2026-12-15T00:00:00.000Z',
    });
    expect(await kit.counts()).toEqual(before);
    await kit.ledger.reserve({ accountId, amountMicro: 400n }); // exactly at the cap is allowed
  });

  it('finalize counts the charge, release counts the hold back', async () => {
    const accountId = await funded();
    await kit.ledger.setSpendCaps({ accountId, dailyCapMicro: 1_000n, monthlyCapMicro: 5_000n, actor: 'admin' });
    const a = await kit.ledger.reserve({ accountId, amountMicro: 800n });
    await kit.ledger.finalize({ reservationId: a.reservation.id, actualCostMicro: 300n });
    expect((await kit.ledger.getSpendCaps(accountId)).daily.spentMicro).toBe(300n);
    const b = await kit.ledger.reserve({ accountId, amountMicro: 700n });
    await rejectsWithCode(kit.ledger.reserve({ accountId, amountMicro: 1n }), 'spend_cap_exceeded');
    await kit.ledger.release({ reservationId: b.reservation.id });
    expect((await kit.ledger.getSpendCaps(accountId)).daily.spentMicro).toBe(300n);
    await kit.ledger.reserve({ accountId, amountMicro: 700n });
  });

  it('a new UTC day resets the daily spend; the monthly cap still counts it', async () => {
    const accountId = await funded();
    await kit.ledger.setSpendCaps({ accountId, dailyCapMicro: 1_000n, monthlyCapMicro: 1_500n, actor: 'admin' });
    const held = await kit.ledger.reserve({ accountId, amountMicro: 1_000n });
    await kit.ledger.finalize({ reservationId: held.reservation.id, actualCostMicro: 1_000n });
    kit.clock.advance(86_400_000);
    const error = await rejectsWithCode(kit.ledger.reserve({ accountId, amountMicro: 600n }), 'spend_cap_exceeded');
    expect((error as SpendCapExceededError).details).toMatchObject({ period: 'monthly', spentMicro: '1000' });
    const caps = await kit.ledger.getSpendCaps(accountId);
    expect(caps.daily.spentMicro).toBe(0n);
    expect(caps.monthly.spentMicro).toBe(1_000n);
    await kit.ledger.reserve({ accountId, amountMicro: 500n });
  });

  it('an expired hold no longer counts, swept or not', async () => {
    const accountId = await funded();
    await kit.ledger.setSpendCaps({ accountId, dailyCapMicro: 1_000n, monthlyCapMicro: null, actor: 'admin' });
    await kit.ledger.reserve({ accountId, amountMicro: 1_000n, ttlMs: 1_000 });
    kit.clock.advance(1_000);
    await kit.ledger.reserve({ accountId, amountMicro: 1_000n });
  });

  it('clearing both caps removes them; bad caps and unknown accounts are refused', async () => {
    const accountId = await funded();
    await kit.ledger.setSpendCaps({ accountId, dailyCapMicro: 1n, monthlyCapMicro: null, actor: 'admin' });
    const cleared = await kit.ledger.setSpendCaps({
      accountId,
      dailyCapMicro: null,
      monthlyCapMicro: null,
      actor: 'admin',
    });
    expect(cleared).toMatchObject({ dailyCapMicro: null, monthlyCapMicro: null, updatedBy: null });
    await kit.ledger.reserve({ accountId, amountMicro: 5_000n });
    await rejectsWithCode(
      kit.ledger.setSpendCaps({ accountId, dailyCapMicro: 0n, monthlyCapMicro: null, actor: 'admin' }),
      'invalid_amount',
    );
    await rejectsWithCode(
      kit.ledger.setSpendCaps({ accountId: 'acc_none', dailyCapMicro: 5n, monthlyCapMicro: null, actor: 'admin' }),
      'account_not_found',
    );
    await rejectsWithCode(kit.ledger.getSpendCaps('acc_none'), 'account_not_found');
  });
});
