import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLedger } from './ledger.js';
import { type LedgerKit, openLedgerKit } from './test-kit.js';

/** A fault raised by the test hook (after the lot rows were written, before the entries). */
class InjectedFault extends Error {
  readonly code: string;
  constructor(code = 'injected') {
    super(`injected fault (${code})`);
    this.code = code;
  }
}

let kit: LedgerKit;
let failNext: { operation: string; code?: string; times: number } | null = null;
let hookCalls: string[] = [];
beforeAll(async () => {
  kit = await openLedgerKit({
    faults: {
      afterLotUpdate(operation) {
        hookCalls.push(operation);
        if (failNext && failNext.operation === operation && failNext.times > 0) {
          failNext.times -= 1;
          throw new InjectedFault(failNext.code);
        }
      },
    },
  });
});
afterAll(() => kit.close());

describe('a write that fails midway leaves no partial write', () => {
  it.each(['mint', 'reserve', 'finalize', 'release', 'refund', 'sweepExpiredHolds', 'sweepExpiredLots'])(
    '%s failing after its lot update changes nothing',
    async (operation) => {
      const accountId = await kit.account();
      const { lot } = await kit.ledger.mint({
        accountId,
        amountMicro: 100n,
        sourceType: 'grant',
        expiresAt: new Date(kit.clock.nowMs() + 2_000),
      });
      const { reservation } = await kit.ledger.reserve({ accountId, amountMicro: 40n, ttlMs: 1_000 });
      if (operation === 'refund') await kit.ledger.release({ reservationId: reservation.id });
      if (operation.startsWith('sweep')) kit.clock.advance(2_000);
      const run: Record<string, () => Promise<unknown>> = {
        mint: () => kit.ledger.mint({ accountId, amountMicro: 5n, sourceType: 'grant' }, { idempotencyKey: 'fault-1' }),
        reserve: () => kit.ledger.reserve({ accountId, amountMicro: 5n }, { idempotencyKey: 'fault-1' }),
        finalize: () => kit.ledger.finalize({ reservationId: reservation.id, actualCostMicro: 30n }),
        release: () => kit.ledger.release({ reservationId: reservation.id }),
        refund: () => kit.ledger.refund({ lotId: lot.id }),
        sweepExpiredHolds: () => kit.ledger.sweepExpiredHolds(),
        sweepExpiredLots: () => kit.ledger.sweepExpiredLots(),
      };
      const lotsBefore = await kit.ledger.listLots(accountId, { includeEmpty: true });
      const reservationBefore = await kit.ledger.getReservation(reservation.id);
      const before = await kit.counts();
      failNext = { operation, times: 1 };
      hookCalls = [];
      await expect(run[operation]!()).rejects.toBeInstanceOf(InjectedFault);
      expect(hookCalls).toEqual([operation]);
      expect(await kit.counts()).toEqual(before);
      expect(await kit.ledger.listLots(accountId, { includeEmpty: true })).toEqual(lotsBefore);
      expect(await kit.ledger.getReservation(reservation.id)).toEqual(reservationBefore);
      expect((await kit.ledger.verify()).violations).toEqual([]);
      // The same request succeeds afterwards (a failed write keeps no idempotency key).
      failNext = null;
      await run[operation]!();
      expect(await kit.counts()).not.toEqual(before);
      expect((await kit.ledger.verify()).violations).toEqual([]);
    },
  );
});

describe('retries', () => {
  it('retries serialization failures and deadlocks up to retryCountMax, then surfaces the error', async () => {
    const accountId = await kit.account();
    await kit.ledger.mint({ accountId, amountMicro: 100n, sourceType: 'grant' });
    failNext = { operation: 'reserve', code: '40001', times: 2 };
    const { reservation } = await kit.ledger.reserve({ accountId, amountMicro: 10n });
    expect(failNext.times).toBe(0);
    failNext = { operation: 'reserve', code: '40P01', times: 1 };
    await kit.ledger.reserve({ accountId, amountMicro: 10n });
    expect((await kit.ledger.getBalance(accountId)).reservedMicro).toBe(20n);

    let attempts = 0;
    const strict = createLedger({
      db: kit.handle.db,
      clock: kit.clock,
      retryCountMax: 1,
      faults: {
        afterLotUpdate() {
          attempts += 1;
          throw new InjectedFault('40001');
        },
      },
    });
    await expect(strict.reserve({ accountId, amountMicro: 10n })).rejects.toMatchObject({ code: '40001' });
    expect(attempts).toBe(2);
    expect((await kit.ledger.getBalance(accountId)).reservedMicro).toBe(20n);
    expect((await kit.ledger.getReservation(reservation.id)).status).toBe('pending');
    failNext = { operation: 'reserve', code: '23505', times: 1 };
    await expect(kit.ledger.reserve({ accountId, amountMicro: 10n })).rejects.toMatchObject({ code: '23505' });
    expect((await kit.ledger.verify()).violations).toEqual([]);
  });
});
