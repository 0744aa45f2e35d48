import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuplicateSourceError } from '../errors.js';
import { type LedgerKit, openLedgerKit, rejectsWithCode } from './test-kit.js';

let kit: LedgerKit;
beforeAll(async () => {
  kit = await openLedgerKit();
});
afterAll(() => kit.close());

describe('createAccount and getAccount', () => {
  it('creates once per entity and returns the existing account on repeat', async () => {
    const first = await kit.ledger.createAccount({ entityType: 'user', entityId: 'alice@example.com' });
    expect(first.created).toBe(true);
    expect(first.account).toMatchObject({ entityType: 'user', entityId: 'alice@example.com', debtMicro: 0n });
    expect(first.account.id).toMatch(/^acc_[0-9a-f]{32}$/);
    const again = await kit.ledger.createAccount({ entityType: 'user', entityId: 'alice@example.com' });
    expect(again).toEqual({ account: first.account, created: false });
    expect(await kit.ledger.getAccount(first.account.id)).toEqual(first.account);
    const concurrent = await Promise.all(
      Array.from({ length: 5 }, () => kit.ledger.createAccount({ entityType: 'org', entityId: 'acme' })),
    );
    expect(new Set(concurrent.map((r) => r.account.id)).size).toBe(1);
    expect(concurrent.filter((r) => r.created)).toHaveLength(1);
  });

  it('has the system accounts and rejects bad input', async () => {
    expect((await kit.ledger.getAccount('acc_system_foundation')).entityType).toBe('system');
    await rejectsWithCode(kit.ledger.getAccount('acc_missing'), 'account_not_found');
    await rejectsWithCode(kit.ledger.getAccount('a b'), 'invalid_argument');
    await rejectsWithCode(kit.ledger.createAccount({ entityType: 'User', entityId: 'x' }), 'invalid_argument');
    await rejectsWithCode(kit.ledger.createAccount({ entityType: 'user', entityId: '' }), 'invalid_argument');
    await rejectsWithCode(kit.ledger.createAccount({ entityType: 'user', entityId: 'a b' }), 'invalid_argument');
  });
});

describe('mint', () => {
  it('mints a lot and returns it with the balance; writes a mint entry and lot.minted', async () => {
    const accountId = await kit.account();
    const expiresAt = new Date(kit.clock.nowMs() + 86_400_000);
    const { lot, debtPaidMicro, balance } = await kit.ledger.mint({
      accountId,
      amountMicro: 2_500_000n,
      sourceType: 'purchase',
      sourceId: 'pi_1',
      poolId: 'gpu',
      expiresAt,
      memo: 'starter pack',
    });
    expect(lot).toMatchObject({
      accountId,
      poolId: 'gpu',
      sourceType: 'purchase',
      sourceId: 'pi_1',
      originalMicro: 2_500_000n,
      availableMicro: 2_500_000n,
      reservedMicro: 0n,
      consumedMicro: 0n,
      expiredMicro: 0n,
      refundedMicro: 0n,
      expiresAt,
      createdAt: new Date(kit.clock.nowMs()),
    });
    expect(typeof lot.seq).toBe('bigint');
    expect(debtPaidMicro).toBe(0n);
    expect(balance).toEqual({
      accountId,
      availableMicro: 2_500_000n,
      reservedMicro: 0n,
      debtMicro: 0n,
      pools: [{ poolId: 'gpu', availableMicro: 2_500_000n, reservedMicro: 0n }],
      asOf: new Date(kit.clock.nowMs()),
    });
    expect(await kit.ledger.listLots(accountId)).toEqual([lot]);
    const { items } = await kit.ledger.listEntries(accountId);
    expect(items).toEqual([
      expect.objectContaining({
        kind: 'mint',
        lotId: lot.id,
        fromBucket: 'external',
        toBucket: 'available',
        amountMicro: 2_500_000n,
        availableAfterMicro: 2_500_000n,
        memo: 'starter pack',
      }),
    ]);
    const { items: events } = await kit.ledger.listEvents({ limit: 1000 });
    expect(events.find((e) => e.subjectId === lot.id)).toMatchObject({
      type: 'lot.minted',
      accountId,
      payload: {
        lotId: lot.id,
        accountId,
        poolId: 'gpu',
        sourceType: 'purchase',
        sourceId: 'pi_1',
        amountMicro: '2500000',
        debtPaidMicro: '0',
        expiresAt: expiresAt.toISOString(),
      },
    });
  });

  it('mints a source once, across accounts and under concurrency', async () => {
    const accountId = await kit.account();
    const other = await kit.account();
    const { lot } = await kit.ledger.mint({ accountId, amountMicro: 5n, sourceType: 'x402', sourceId: 'nonce-1' });
    const before = await kit.counts();
    for (const target of [accountId, other]) {
      const error = await rejectsWithCode(
        kit.ledger.mint({ accountId: target, amountMicro: 5n, sourceType: 'x402', sourceId: 'nonce-1' }),
        'duplicate_source',
      );
      expect(error).toBeInstanceOf(DuplicateSourceError);
      expect((error as DuplicateSourceError).details).toMatchObject({ lotId: lot.id, sourceId: 'nonce-1' });
      expect((error as DuplicateSourceError).httpStatus).toBe(409);
    }
    expect(await kit.counts()).toEqual(before);
    // The same source id under another source type is another source.
    await kit.ledger.mint({ accountId, amountMicro: 5n, sourceType: 'purchase', sourceId: 'nonce-1' });
    const settled = await Promise.allSettled(
      [accountId, other, accountId, other, accountId].map((target) =>
        kit.ledger.mint({ accountId: target, amountMicro: 7n, sourceType: 'x402', sourceId: 'nonce-2' }),
      ),
    );
    expect(settled.filter((s) => s.status === 'fulfilled')).toHaveLength(1);
    for (const s of settled) {
      if (s.status === 'rejected') expect((s.reason as { code: string }).code).toBe('duplicate_source');
    }
  });

  it('rejects bad input and unknown accounts, writing nothing', async () => {
    const accountId = await kit.account();
    const before = await kit.counts();
    const base = { accountId, amountMicro: 5n, sourceType: 'grant' };
    const cases: [unknown, string][] = [
      [{ ...base, amountMicro: 0n }, 'invalid_amount'],
      [{ ...base, amountMicro: 10n ** 15n + 1n }, 'invalid_amount'],
      [{ ...base, amountMicro: 1.5 }, 'invalid_amount'],
      [{ ...base, sourceType: '' }, 'invalid_argument'],
      [{ ...base, sourceType: 'Grant' }, 'invalid_argument'],
      [{ ...base, sourceId: '' }, 'invalid_argument'],
      [{ ...base, sourceId: 'x'.repeat(256) }, 'invalid_argument'],
      [{ ...base, poolId: '-gpu' }, 'invalid_argument'],
      [{ ...base, expiresAt: new Date(kit.clock.nowMs()) }, 'invalid_argument'],
      [{ ...base, expiresAt: new Date(Number.NaN) }, 'invalid_argument'],
      [{ ...base, expiresAt: '2030-01-01' }, 'invalid_argument'],
      [{ ...base, memo: 'x'.repeat(1001) }, 'invalid_argument'],
      [{ ...base, accountId: 'acc_missing' }, 'account_not_found'],
    ];
    for (const [input, code] of cases) await rejectsWithCode(kit.ledger.mint(input as never), code);
    expect(await kit.counts()).toEqual(before);
  });
});
