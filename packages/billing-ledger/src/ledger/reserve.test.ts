import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InsufficientCreditsError } from '../errors.js';
import { lotsPerHoldMax } from '../limits.js';
import { type LedgerKit, openLedgerKit, rejectsWithCode } from './test-kit.js';

let kit: LedgerKit;
beforeAll(async () => {
  kit = await openLedgerKit();
});
afterAll(() => kit.close());

const at = (offsetMs: number) => new Date(kit.clock.nowMs() + offsetMs);

describe('reserve', () => {
  it('holds credit, returns the hold, the balance and the lots touched, and writes entries and an event', async () => {
    const accountId = await kit.account();
    const { lot } = await kit.ledger.mint({ accountId, amountMicro: 1_000n, sourceType: 'grant' });
    const { reservation, balance, lots } = await kit.ledger.reserve({ accountId, amountMicro: 300n });
    expect(reservation).toMatchObject({
      accountId,
      poolId: 'general',
      amountMicro: 300n,
      status: 'pending',
      billingMode: 'live',
      resolvedAt: null,
      chargedMicro: null,
      lots: [{ lotId: lot.id, amountMicro: 300n }],
    });
    expect(reservation.expiresAt.getTime() - reservation.createdAt.getTime()).toBe(300_000);
    expect(balance).toMatchObject({ availableMicro: 700n, reservedMicro: 300n, debtMicro: 0n });
    expect(balance.pools).toEqual([{ poolId: 'general', availableMicro: 700n, reservedMicro: 300n }]);
    expect(lots).toEqual([expect.objectContaining({ id: lot.id, availableMicro: 700n, reservedMicro: 300n })]);
    expect(await kit.ledger.getReservation(reservation.id)).toEqual(reservation);
    const { items } = await kit.ledger.listEntries(accountId);
    expect(items[0]).toMatchObject({
      kind: 'reserve',
      fromBucket: 'available',
      toBucket: 'reserved',
      amountMicro: 300n,
      lotId: lot.id,
      reservationId: reservation.id,
      availableAfterMicro: 700n,
    });
  });

  it('draws in consumption order: exact pool, then general; expiring first; soonest expiry; lowest seq', async () => {
    const accountId = await kit.account();
    const mint = async (poolId: string, expiresAt?: Date) =>
      (await kit.ledger.mint({ accountId, amountMicro: 10n, sourceType: 'grant', poolId, expiresAt })).lot.id;
    const generalForever = await mint('general');
    const generalLate = await mint('general', at(20_000));
    const gpuSoon = await mint('gpu', at(50_000));
    const generalSoon = await mint('general', at(10_000));
    const gpuForever = await mint('gpu');
    await mint('cpu', at(1_000)); // another pool: never used by a gpu hold
    const generalSoonTwin = await mint('general', at(10_000)); // same expiry as generalSoon, higher seq
    const { reservation } = await kit.ledger.reserve({ accountId, amountMicro: 55n, poolId: 'gpu' });
    expect(reservation.lots).toEqual([
      { lotId: gpuSoon, amountMicro: 10n },
      { lotId: gpuForever, amountMicro: 10n },
      { lotId: generalSoon, amountMicro: 10n },
      { lotId: generalSoonTwin, amountMicro: 10n },
      { lotId: generalLate, amountMicro: 10n },
      { lotId: generalForever, amountMicro: 5n },
    ]);
    // A general hold never touches gpu or cpu lots.
    await rejectsWithCode(kit.ledger.reserve({ accountId, amountMicro: 6n }), 'insufficient_credits');
    const general = await kit.ledger.reserve({ accountId, amountMicro: 5n });
    expect(general.reservation.lots).toEqual([{ lotId: generalForever, amountMicro: 5n }]);
  });

  it('never uses an expired lot, swept or not', async () => {
    const accountId = await kit.account();
    await kit.ledger.mint({ accountId, amountMicro: 100n, sourceType: 'grant', expiresAt: at(1_000) });
    const { lot: lasting } = await kit.ledger.mint({ accountId, amountMicro: 40n, sourceType: 'grant' });
    kit.clock.advance(1_000); // expires at expiresAt itself
    expect((await kit.ledger.getBalance(accountId)).availableMicro).toBe(40n);
    const error = await rejectsWithCode(kit.ledger.reserve({ accountId, amountMicro: 41n }), 'insufficient_credits');
    expect(error).toBeInstanceOf(InsufficientCreditsError);
    expect((error as InsufficientCreditsError).details).toEqual({
      accountId,
      poolId: 'general',
      requestedMicro: '41',
      availableMicro: '40',
      shortfallMicro: '1',
    });
    const { reservation } = await kit.ledger.reserve({ accountId, amountMicro: 40n });
    expect(reservation.lots).toEqual([{ lotId: lasting.id, amountMicro: 40n }]);
  });

  it('refuses when credit is short and changes nothing', async () => {
    const accountId = await kit.account();
    await kit.ledger.mint({ accountId, amountMicro: 100n, sourceType: 'grant' });
    await kit.ledger.mint({ accountId, amountMicro: 100n, sourceType: 'grant', poolId: 'gpu' });
    const before = await kit.counts();
    const error = (await rejectsWithCode(
      kit.ledger.reserve({ accountId, amountMicro: 201n, poolId: 'gpu' }),
      'insufficient_credits',
    )) as InsufficientCreditsError;
    expect(error.httpStatus).toBe(402);
    expect([error.requestedMicro, error.availableMicro, error.shortfallMicro, error.poolId]).toEqual([
      201n,
      200n,
      1n,
      'gpu',
    ]);
    expect(await kit.counts()).toEqual(before);
  });

  it('takes ttlMs and billingMode', async () => {
    const accountId = await kit.account();
    await kit.ledger.mint({ accountId, amountMicro: 100n, sourceType: 'grant' });
    const { reservation } = await kit.ledger.reserve({ accountId, amountMicro: 1n, ttlMs: 5_000, billingMode: 'soft' });
    expect(reservation.expiresAt.getTime()).toBe(kit.clock.nowMs() + 5_000);
    expect(reservation.billingMode).toBe('soft');
  });

  it('refuses a hold that would draw from more than lotsPerHoldMax lots', async () => {
    const accountId = await kit.account();
    // Raw rows (this file does not verify the journal): lotsPerHoldMax + 1 lots of 1 micro-USD each.
    await kit.handle.db.execute(sql`insert into lots (id, account_id, source_type, original_micro, available_micro, created_at)
      select 'lot_many_' || n, ${accountId}, 'grant', 1, 1, now() from generate_series(1, ${lotsPerHoldMax + 1}) as n`);
    const error = await rejectsWithCode(
      kit.ledger.reserve({ accountId, amountMicro: BigInt(lotsPerHoldMax + 1) }),
      'invalid_argument',
    );
    expect(error.message).toMatch(/at most 500/);
    const { reservation } = await kit.ledger.reserve({ accountId, amountMicro: BigInt(lotsPerHoldMax) });
    expect(reservation.lots).toHaveLength(lotsPerHoldMax);
  });

  it('rejects bad input before any I/O, and unknown accounts', async () => {
    const accountId = await kit.account();
    const before = await kit.counts();
    const cases: [unknown, string][] = [
      [{ accountId, amountMicro: 0n }, 'invalid_amount'],
      [{ accountId, amountMicro: -1n }, 'invalid_amount'],
      [{ accountId, amountMicro: 10n ** 15n + 1n }, 'invalid_amount'],
      [{ accountId, amountMicro: 5 }, 'invalid_amount'],
      [{ accountId, amountMicro: '5' }, 'invalid_amount'],
      [{ accountId: '', amountMicro: 5n }, 'invalid_argument'],
      [{ accountId: 'acc 1', amountMicro: 5n }, 'invalid_argument'],
      [{ accountId, amountMicro: 5n, poolId: 'GPU' }, 'invalid_argument'],
      [{ accountId, amountMicro: 5n, ttlMs: 0 }, 'invalid_argument'],
      [{ accountId, amountMicro: 5n, ttlMs: 86_400_001 }, 'invalid_argument'],
      [{ accountId, amountMicro: 5n, ttlMs: 1.5 }, 'invalid_argument'],
      [{ accountId, amountMicro: 5n, billingMode: 'hard' }, 'invalid_argument'],
      [null, 'invalid_argument'],
      [{ accountId: 'acc_missing', amountMicro: 5n }, 'account_not_found'],
    ];
    for (const [input, code] of cases) {
      await rejectsWithCode(kit.ledger.reserve(input as never), code);
    }
    expect(await kit.counts()).toEqual(before);
  });
});
