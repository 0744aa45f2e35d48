import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LedgerKit, openLedgerKit, rejectsWithCode } from './test-kit.js';

let kit: LedgerKit;
beforeAll(async () => {
  kit = await openLedgerKit();
});
afterAll(() => kit.close());

/** Sweeps until nothing is left (other tests in this file may leave due holds and lots behind). */
async function drain() {
  while ((await kit.ledger.sweepExpiredHolds({ batchSizeMax: 1000 })).count > 0);
  while ((await kit.ledger.sweepExpiredLots({ batchSizeMax: 1000 })).count > 0);
}

describe('sweepExpiredHolds', () => {
  it('reads a due hold as expired before the sweep, then expires it with expire_hold entries and an event', async () => {
    await drain();
    const accountId = await kit.account();
    const { lot } = await kit.ledger.mint({ accountId, amountMicro: 100n, sourceType: 'grant' });
    const { reservation } = await kit.ledger.reserve({ accountId, amountMicro: 60n, ttlMs: 1_000 });
    kit.clock.advance(1_000);
    const due = await kit.ledger.getReservation(reservation.id);
    expect(due).toMatchObject({ status: 'expired', resolvedAt: reservation.expiresAt });
    // Until swept, the hold's credit stays reserved (it is not available to new holds).
    expect(await kit.ledger.getBalance(accountId)).toMatchObject({ availableMicro: 40n, reservedMicro: 60n });
    await rejectsWithCode(kit.ledger.reserve({ accountId, amountMicro: 41n }), 'insufficient_credits');

    expect(await kit.ledger.sweepExpiredHolds()).toEqual({ count: 1, amountMicro: 60n });
    expect(await kit.ledger.getReservation(reservation.id)).toEqual(due);
    expect(await kit.ledger.getBalance(accountId)).toMatchObject({ availableMicro: 100n, reservedMicro: 0n });
    const [entry] = (await kit.ledger.listEntries(accountId, { limit: 1 })).items;
    expect(entry).toMatchObject({
      kind: 'expire_hold',
      lotId: lot.id,
      reservationId: reservation.id,
      fromBucket: 'reserved',
      toBucket: 'available',
      amountMicro: 60n,
      availableAfterMicro: 100n,
    });
    const { items: events } = await kit.ledger.listEvents({ limit: 1000 });
    expect(events.filter((e) => e.subjectId === reservation.id).map((e) => e.type)).toEqual([
      'reservation.created',
      'reservation.expired',
    ]);
    expect(await kit.ledger.sweepExpiredHolds()).toEqual({ count: 0, amountMicro: 0n });
    await rejectsWithCode(kit.ledger.release({ reservationId: reservation.id }), 'reservation_not_pending');
  });

  it('works in batches and leaves holds that are not due', async () => {
    await drain();
    const accountId = await kit.account();
    await kit.ledger.mint({ accountId, amountMicro: 100n, sourceType: 'grant' });
    for (let i = 0; i < 3; i += 1) await kit.ledger.reserve({ accountId, amountMicro: 10n, ttlMs: 1_000 });
    const lasting = await kit.ledger.reserve({ accountId, amountMicro: 10n, ttlMs: 60_000 });
    kit.clock.advance(1_000);
    expect(await kit.ledger.sweepExpiredHolds({ batchSizeMax: 2 })).toEqual({ count: 2, amountMicro: 20n });
    expect(await kit.ledger.sweepExpiredHolds({ batchSizeMax: 2 })).toEqual({ count: 1, amountMicro: 10n });
    expect(await kit.ledger.sweepExpiredHolds({ batchSizeMax: 2 })).toEqual({ count: 0, amountMicro: 0n });
    expect((await kit.ledger.getReservation(lasting.reservation.id)).status).toBe('pending');
    await rejectsWithCode(kit.ledger.sweepExpiredHolds({ batchSizeMax: 0 }), 'invalid_argument');
    await rejectsWithCode(kit.ledger.sweepExpiredHolds({ batchSizeMax: 1001 }), 'invalid_argument');
  });
});

describe('sweepExpiredLots', () => {
  it('moves the available part of expired lots to expired (breakage) and emits lot.expired', async () => {
    await drain();
    const accountId = await kit.account();
    const { lot } = await kit.ledger.mint({
      accountId,
      amountMicro: 100n,
      sourceType: 'grant',
      expiresAt: new Date(kit.clock.nowMs() + 5_000),
    });
    await kit.ledger.mint({ accountId, amountMicro: 7n, sourceType: 'grant' });
    const { reservation } = await kit.ledger.reserve({ accountId, amountMicro: 30n, ttlMs: 60_000 });
    expect(reservation.lots).toEqual([{ lotId: lot.id, amountMicro: 30n }]);
    kit.clock.advance(5_000);
    expect(await kit.ledger.getBalance(accountId)).toMatchObject({ availableMicro: 7n, reservedMicro: 30n });
    expect(await kit.ledger.sweepExpiredLots()).toEqual({ count: 1, amountMicro: 70n });
    expect(await kit.ledger.getBalance(accountId)).toMatchObject({ availableMicro: 7n, reservedMicro: 30n });
    const [entry] = (await kit.ledger.listEntries(accountId, { limit: 1 })).items;
    expect(entry).toMatchObject({ kind: 'expire_lot', fromBucket: 'available', toBucket: 'expired', amountMicro: 70n });
    // The hold keeps its credit; released, it lands on the expired lot and a later sweep expires it.
    await kit.ledger.release({ reservationId: reservation.id });
    expect(await kit.ledger.getBalance(accountId)).toMatchObject({ availableMicro: 7n, reservedMicro: 0n });
    expect(await kit.ledger.sweepExpiredLots()).toEqual({ count: 1, amountMicro: 30n });
    const [swept] = (await kit.ledger.listLots(accountId, { includeEmpty: true })).filter((l) => l.id === lot.id);
    expect(swept).toMatchObject({ availableMicro: 0n, reservedMicro: 0n, expiredMicro: 100n });
    const { items: events } = await kit.ledger.listEvents({ limit: 1000 });
    expect(events.filter((e) => e.subjectId === lot.id).map((e) => [e.type, e.payload.amountMicro])).toEqual([
      ['lot.minted', '100'],
      ['lot.expired', '70'],
      ['lot.expired', '30'],
    ]);
    expect(await kit.ledger.sweepExpiredLots()).toEqual({ count: 0, amountMicro: 0n });
    expect((await kit.ledger.verify()).violations).toEqual([]);
  });
});

describe('sweepIdempotencyKeys', () => {
  it('deletes keys past their retention, after which the key is free again', async () => {
    const accountId = await kit.account();
    await kit.ledger.mint({ accountId, amountMicro: 5n, sourceType: 'grant' }, { idempotencyKey: 'sweep-me' });
    kit.clock.advance(86_400_000 - 1);
    expect((await kit.ledger.sweepIdempotencyKeys()).count).toBe(0);
    await rejectsWithCode(
      kit.ledger.mint({ accountId, amountMicro: 6n, sourceType: 'grant' }, { idempotencyKey: 'sweep-me' }),
      'idempotency_key_reused',
    );
    kit.clock.advance(1);
    expect(await kit.ledger.sweepIdempotencyKeys()).toEqual({ count: 1, amountMicro: 0n });
    const rows = await kit.rows(sql`select count(*)::int as n from idempotency_keys where key = 'sweep-me'`);
    expect(rows[0]?.n).toBe(0);
    const { lot } = await kit.ledger.mint(
      { accountId, amountMicro: 6n, sourceType: 'grant' },
      { idempotencyKey: 'sweep-me' },
    );
    expect(lot.originalMicro).toBe(6n);
  });
});

describe.skipIf(!process.env.DATABASE_URL)('sweepers skip locked accounts (needs DATABASE_URL)', () => {
  it('skips an account another transaction holds and sweeps it later', async () => {
    await drain();
    const accountId = await kit.account();
    await kit.ledger.mint({ accountId, amountMicro: 100n, sourceType: 'grant' });
    await kit.ledger.reserve({ accountId, amountMicro: 10n, ttlMs: 1_000 });
    kit.clock.advance(1_000);
    let releaseLock: () => void = () => {};
    const locked = new Promise<void>((resolve) => {
      releaseLock = resolve;
    });
    let signalHeld: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      signalHeld = resolve;
    });
    const holder = kit.handle.db.transaction(async (tx) => {
      await tx.execute(sql`select id from accounts where id = ${accountId} for update`);
      signalHeld();
      await locked;
    });
    await held;
    expect(await kit.ledger.sweepExpiredHolds()).toEqual({ count: 0, amountMicro: 0n });
    releaseLock();
    await holder;
    expect(await kit.ledger.sweepExpiredHolds()).toEqual({ count: 1, amountMicro: 10n });
  });
});
