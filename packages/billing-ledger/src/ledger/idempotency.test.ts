import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IdempotencyKeyReusedError } from '../errors.js';
import { type LedgerKit, openLedgerKit, rejectsWithCode } from './test-kit.js';

let kit: LedgerKit;
beforeAll(async () => {
  kit = await openLedgerKit();
});
afterAll(() => kit.close());

let keyNumber = 0;
const key = () => {
  keyNumber += 1;
  return { idempotencyKey: `key-${keyNumber}-${Math.random().toString(36).slice(2)}` };
};

describe('idempotency keys', () => {
  it('answers the same key and request with the identical result, and applies the effect once', async () => {
    const k = key();
    const first = await kit.ledger.createAccount({ entityType: 'user', entityId: 'idem-1' }, k);
    kit.clock.advance(10);
    expect(await kit.ledger.createAccount({ entityType: 'user', entityId: 'idem-1' }, k)).toEqual(first);
    const accountId = first.account.id;

    const mintKey = key();
    const minted = await kit.ledger.mint({ accountId, amountMicro: 1_000n, sourceType: 'grant' }, mintKey);
    const before = await kit.counts();
    kit.clock.advance(10);
    const mintedAgain = await kit.ledger.mint({ accountId, amountMicro: 1_000n, sourceType: 'grant' }, mintKey);
    expect(mintedAgain).toEqual(minted);
    expect(mintedAgain.balance.asOf).toBeInstanceOf(Date);
    expect(typeof mintedAgain.lot.seq).toBe('bigint');
    expect(await kit.counts()).toEqual(before);

    const reserveKey = key();
    const reserved = await kit.ledger.reserve({ accountId, amountMicro: 300n }, reserveKey);
    expect(await kit.ledger.reserve({ accountId, amountMicro: 300n }, reserveKey)).toEqual(reserved);
    const reservationId = reserved.reservation.id;
    const finalizeKey = key();
    const finalized = await kit.ledger.finalize({ reservationId, actualCostMicro: 200n }, finalizeKey);
    kit.clock.advance(10);
    expect(await kit.ledger.finalize({ reservationId, actualCostMicro: 200n }, finalizeKey)).toEqual(finalized);

    const held = await kit.ledger.reserve({ accountId, amountMicro: 100n });
    const releaseKey = key();
    const released = await kit.ledger.release({ reservationId: held.reservation.id }, releaseKey);
    expect(await kit.ledger.release({ reservationId: held.reservation.id }, releaseKey)).toEqual(released);

    const refundKey = key();
    const refunded = await kit.ledger.refund({ lotId: minted.lot.id }, refundKey);
    expect(await kit.ledger.refund({ lotId: minted.lot.id }, refundKey)).toEqual(refunded);
    expect(refunded.debtAddedMicro).toBe(200n);
    expect((await kit.ledger.verify()).violations).toEqual([]);
  });

  it('refuses the same key with another request (409) and changes nothing', async () => {
    const accountId = await kit.account();
    const k = key();
    await kit.ledger.mint({ accountId, amountMicro: 10n, sourceType: 'grant' }, k);
    const before = await kit.counts();
    const error = await rejectsWithCode(
      kit.ledger.mint({ accountId, amountMicro: 11n, sourceType: 'grant' }, k),
      'idempotency_key_reused',
    );
    expect(error).toBeInstanceOf(IdempotencyKeyReusedError);
    expect((error as IdempotencyKeyReusedError).httpStatus).toBe(409);
    expect((error as IdempotencyKeyReusedError).details).toMatchObject({ scope: 'mint' });
    await rejectsWithCode(
      kit.ledger.mint({ accountId, amountMicro: 10n, sourceType: 'grant', poolId: 'gpu' }, k),
      'idempotency_key_reused',
    );
    expect(await kit.counts()).toEqual(before);
    // Defaults are part of the request: naming the default pool is the same request.
    const again = await kit.ledger.mint({ accountId, amountMicro: 10n, sourceType: 'grant', poolId: 'general' }, k);
    expect(again.lot.originalMicro).toBe(10n);
    // Keys are scoped per operation: the same key on another operation is another key.
    const reserved = await kit.ledger.reserve({ accountId, amountMicro: 1n }, k);
    expect(reserved.reservation.amountMicro).toBe(1n);
  });

  it('stores nothing for a failed request: the same key runs again', async () => {
    const accountId = await kit.account();
    const k = key();
    await rejectsWithCode(kit.ledger.reserve({ accountId, amountMicro: 5n }, k), 'insufficient_credits');
    await kit.ledger.mint({ accountId, amountMicro: 5n, sourceType: 'grant' });
    const { reservation } = await kit.ledger.reserve({ accountId, amountMicro: 5n }, k);
    expect(reservation.amountMicro).toBe(5n);
  });

  it('validates the key format before any I/O', async () => {
    const accountId = await kit.account();
    const before = await kit.counts();
    for (const idempotencyKey of ['', 'x'.repeat(256), 'line\nbreak', 'naïve', 42 as never]) {
      await rejectsWithCode(
        kit.ledger.mint({ accountId, amountMicro: 5n, sourceType: 'grant' }, { idempotencyKey }),
        'invalid_argument',
      );
    }
    expect(await kit.counts()).toEqual(before);
    await kit.ledger.mint({ accountId, amountMicro: 5n, sourceType: 'grant' }, { idempotencyKey: 'x'.repeat(255) });
  });

  it('gives concurrent duplicates one effect and the same answer', async () => {
    const accountId = await kit.account();
    await kit.ledger.mint({ accountId, amountMicro: 1_000n, sourceType: 'grant' });
    const k = key();
    const results = await Promise.all(
      Array.from({ length: 10 }, () => kit.ledger.reserve({ accountId, amountMicro: 70n }, k)),
    );
    for (const result of results) expect(result).toEqual(results[0]);
    const rows = await kit.rows<{ n: number }>(
      sql`select count(*)::int as n from reservations where account_id = ${accountId}`,
    );
    expect(rows[0]?.n).toBe(1);
    expect(await kit.ledger.getBalance(accountId)).toMatchObject({ availableMicro: 930n, reservedMicro: 70n });

    const mintKey = key();
    const mints = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) =>
        kit.ledger.mint({ accountId, amountMicro: i === 0 ? 1n : 2n, sourceType: 'grant' }, mintKey),
      ),
    );
    const fulfilled = mints.filter((m) => m.status === 'fulfilled');
    const rejected = mints.filter((m) => m.status === 'rejected');
    // Exactly one request body won; every other request either replayed it or was refused as a different body.
    const amounts = new Set(
      fulfilled.map((m) => (m as PromiseFulfilledResult<{ lot: { id: string; originalMicro: bigint } }>).value.lot.id),
    );
    expect(amounts.size).toBe(1);
    for (const r of rejected) expect((r as PromiseRejectedResult).reason.code).toBe('idempotency_key_reused');
    expect((await kit.ledger.verify()).violations).toEqual([]);
  });
});
