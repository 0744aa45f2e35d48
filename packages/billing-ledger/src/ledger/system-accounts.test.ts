import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemPoolAccounts } from '../distribution/shares.js';
import { SystemAccountReadOnlyError } from '../errors.js';
import { type LedgerKit, openLedgerKit, rejectsWithCode } from './test-kit.js';

let kit: LedgerKit;
beforeAll(async () => {
  kit = await openLedgerKit();
});
afterAll(() => kit.close());

describe('system accounts take distributions only', () => {
  it('refuse mints, holds, caps and purchases with system_account_read_only (403), writing nothing', async () => {
    const before = await kit.counts();
    for (const accountId of Object.values(systemPoolAccounts)) {
      const error = await rejectsWithCode(
        kit.ledger.mint({ accountId, amountMicro: 1_000n, sourceType: 'grant' }),
        'system_account_read_only',
      );
      expect(error).toBeInstanceOf(SystemAccountReadOnlyError);
      expect((error as SystemAccountReadOnlyError).httpStatus).toBe(403);
      await rejectsWithCode(kit.ledger.reserve({ accountId, amountMicro: 1n }), 'system_account_read_only');
      await rejectsWithCode(
        kit.ledger.setSpendCaps({ accountId, dailyCapMicro: 1n, monthlyCapMicro: null, actor: 'admin' }),
        'system_account_read_only',
      );
      await rejectsWithCode(
        kit.ledger.purchasePack({
          accountId,
          packId: 'starter',
          payment: { reference: `ref-${accountId}`, payer: '0xabc', amountMicro: 5_000_000n },
        }),
        'system_account_read_only',
      );
    }
    expect(await kit.counts()).toEqual(before);
  });

  it('still receive the shares of a charge', async () => {
    const accountId = await kit.account();
    await kit.ledger.mint({ accountId, amountMicro: 10_000n, sourceType: 'grant' });
    const { reservation } = await kit.ledger.reserve({ accountId, amountMicro: 10_000n });
    const { distribution } = await kit.ledger.finalize({ reservationId: reservation.id, actualCostMicro: 10_000n });
    expect(distribution?.shares.community).toBe(7_000n);
    expect((await kit.ledger.verify()).ok).toBe(true);
  });

  it('no account of the system entity type, or a variant of it, can be created', async () => {
    for (const entityType of ['system', 'system.', 'system:x', 'system-pool', 'system_pool']) {
      await rejectsWithCode(kit.ledger.createAccount({ entityType, entityId: 'x' }), 'invalid_argument');
    }
    const { created } = await kit.ledger.createAccount({ entityType: 'systems', entityId: 'acme' });
    expect(created).toBe(true);
  });
});
