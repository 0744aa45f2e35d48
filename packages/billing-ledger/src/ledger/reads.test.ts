import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidCursorError } from '../errors.js';
import type { Entry, LedgerEvent } from '../types.js';
import { encodeCursor } from './cursor.js';
import { type LedgerKit, openLedgerKit, rejectsWithCode } from './test-kit.js';

let kit: LedgerKit;
beforeAll(async () => {
  kit = await openLedgerKit();
});
afterAll(() => kit.close());

describe('getBalance and listLots', () => {
  it('reports pools sorted by id, counts expired lots out, and lists live or all lots in mint order', async () => {
    const accountId = await kit.account();
    const gpu = await kit.ledger.mint({ accountId, amountMicro: 30n, sourceType: 'grant', poolId: 'gpu' });
    const expiring = await kit.ledger.mint({
      accountId,
      amountMicro: 20n,
      sourceType: 'grant',
      poolId: 'audio',
      expiresAt: new Date(kit.clock.nowMs() + 1_000),
    });
    const general = await kit.ledger.mint({ accountId, amountMicro: 50n, sourceType: 'grant' });
    await kit.ledger.reserve({ accountId, amountMicro: 10n, poolId: 'gpu' });
    const spent = await kit.ledger.mint({ accountId, amountMicro: 5n, sourceType: 'grant', poolId: 'zeta' });
    const hold = await kit.ledger.reserve({ accountId, amountMicro: 5n, poolId: 'zeta' });
    await kit.ledger.finalize({ reservationId: hold.reservation.id, actualCostMicro: 5n });
    expect(await kit.ledger.getBalance(accountId)).toEqual({
      accountId,
      availableMicro: 90n,
      reservedMicro: 10n,
      debtMicro: 0n,
      pools: [
        { poolId: 'audio', availableMicro: 20n, reservedMicro: 0n },
        { poolId: 'general', availableMicro: 50n, reservedMicro: 0n },
        { poolId: 'gpu', availableMicro: 20n, reservedMicro: 10n },
      ],
      asOf: new Date(kit.clock.nowMs()),
    });
    kit.clock.advance(1_000);
    const balance = await kit.ledger.getBalance(accountId);
    expect(balance.availableMicro).toBe(70n);
    expect(balance.pools.map((p) => p.poolId)).toEqual(['general', 'gpu']);
    expect((await kit.ledger.listLots(accountId)).map((l) => l.id)).toEqual([
      gpu.lot.id,
      expiring.lot.id,
      general.lot.id,
    ]);
    expect((await kit.ledger.listLots(accountId, { includeEmpty: true })).map((l) => l.id)).toEqual([
      gpu.lot.id,
      expiring.lot.id,
      general.lot.id,
      spent.lot.id,
    ]);
    const empty = await kit.account();
    expect(await kit.ledger.getBalance(empty)).toMatchObject({ availableMicro: 0n, reservedMicro: 0n, pools: [] });
    expect(await kit.ledger.listLots(empty)).toEqual([]);
    await rejectsWithCode(kit.ledger.getBalance('acc_missing'), 'account_not_found');
    await rejectsWithCode(kit.ledger.listLots('acc_missing'), 'account_not_found');
    await rejectsWithCode(kit.ledger.getReservation('res_missing'), 'reservation_not_found');
  });
});

describe('listEntries', () => {
  it('pages newest first with an opaque cursor until nextCursor is null', async () => {
    const accountId = await kit.account();
    for (let i = 1; i <= 7; i += 1) await kit.ledger.mint({ accountId, amountMicro: BigInt(i), sourceType: 'grant' });
    const seen: Entry[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: Awaited<ReturnType<typeof kit.ledger.listEntries>> = await kit.ledger.listEntries(accountId, {
        cursor,
        limit: 3,
      });
      seen.push(...page.items);
      cursor = page.nextCursor;
      pages += 1;
    } while (cursor !== null);
    expect(pages).toBe(3);
    expect(seen.map((e) => e.amountMicro)).toEqual([7n, 6n, 5n, 4n, 3n, 2n, 1n]);
    expect(seen.map((e) => e.availableAfterMicro)).toEqual([28n, 21n, 15n, 10n, 6n, 3n, 1n]);
    const ids = seen.map((e) => e.id);
    expect([...ids].sort((a, b) => (a < b ? 1 : -1))).toEqual(ids);
    const exact = await kit.ledger.listEntries(accountId, { limit: 7 });
    expect(exact.items).toHaveLength(7);
    expect(exact.nextCursor).toBeNull();
    const defaults = await kit.ledger.listEntries(accountId);
    expect(defaults.items).toEqual(exact.items);
    expect(await kit.ledger.listEntries(await kit.account())).toEqual({ items: [], nextCursor: null });
  });

  it('rejects bad cursors, limits and accounts', async () => {
    const accountId = await kit.account();
    for (const cursor of ['garbage!', 'Zm9v', encodeCursor('v', 5n), `${encodeCursor('e', 5n)}=`, 'x'.repeat(65), 7]) {
      const error = await rejectsWithCode(
        kit.ledger.listEntries(accountId, { cursor: cursor as never }),
        'invalid_cursor',
      );
      expect(error).toBeInstanceOf(InvalidCursorError);
      expect((error as InvalidCursorError).httpStatus).toBe(400);
    }
    for (const limit of [0, 201, 1.5, '10']) {
      await rejectsWithCode(kit.ledger.listEntries(accountId, { limit: limit as never }), 'invalid_argument');
    }
    await rejectsWithCode(kit.ledger.listEntries('acc_missing'), 'account_not_found');
    await rejectsWithCode(kit.ledger.listEntries('acc missing'), 'invalid_argument');
  });
});

describe('listEvents', () => {
  it('reads the outbox oldest first after a cursor', async () => {
    const start = await kit.ledger.listEvents({ limit: 1000 });
    let after = start.nextCursor;
    while (true) {
      const page = await kit.ledger.listEvents({ after, limit: 1000 });
      if (page.nextCursor === null) break;
      after = page.nextCursor;
    }
    const accountId = await kit.account();
    const { lot } = await kit.ledger.mint({ accountId, amountMicro: 100n, sourceType: 'grant' });
    const a = await kit.ledger.reserve({ accountId, amountMicro: 10n });
    await kit.ledger.finalize({ reservationId: a.reservation.id, actualCostMicro: 4n });
    const b = await kit.ledger.reserve({ accountId, amountMicro: 10n });
    await kit.ledger.release({ reservationId: b.reservation.id });
    await kit.ledger.refund({ lotId: lot.id });
    const seen: LedgerEvent[] = [];
    for (;;) {
      const page = await kit.ledger.listEvents({ after, limit: 2 });
      if (page.items.length === 0) {
        expect(page.nextCursor).toBeNull();
        break;
      }
      seen.push(...page.items);
      after = page.nextCursor;
    }
    expect(seen.map((e) => e.type)).toEqual([
      'lot.minted',
      'reservation.created',
      'reservation.finalized',
      'distribution.posted',
      'reservation.created',
      'reservation.released',
      'distribution.posted',
      'lot.refunded',
    ]);
    expect(seen.every((e) => e.accountId === accountId)).toBe(true);
    expect(seen[2]?.payload).toMatchObject({
      reservationId: a.reservation.id,
      amountMicro: '10',
      actualCostMicro: '4',
      chargedMicro: '4',
      releasedMicro: '6',
      overrunMicro: '0',
      uncollectedMicro: '0',
      billingMode: 'live',
    });
    expect(seen[3]?.payload).toMatchObject({ kind: 'charge', reservationId: a.reservation.id, amountMicro: '4' });
    expect(seen[6]?.payload).toMatchObject({ kind: 'reversal', reservationId: a.reservation.id, amountMicro: '4' });
    expect(seen[7]?.payload).toMatchObject({ refundedMicro: '96', debtAddedMicro: '4' });
    await rejectsWithCode(kit.ledger.listEvents({ after: encodeCursor('e', 1n) }), 'invalid_cursor');
    await rejectsWithCode(kit.ledger.listEvents({ limit: 1001 }), 'invalid_argument');
  });
});
