/**
 * The mapping of the x402 ↔ billing-ledger adapter: what `ledgerPaymentStore` sends to the ledger's `claimPayment`
 * for a pack target and for a plain-credit target (one of `packId` / `creditMicro`, never both keys), how it reads
 * the ledger's record back, and the target rules checked when the store or `ledgerPurchase` is built. The ledger is a
 * small in-memory implementation of this package's own `LedgerPaymentsApi` port that keeps what it is given (the real
 * ledger behind it is exercised by the gateway's tests and type-checked by its examples).
 */
import { describe, expect, it } from 'vitest';
import { InvalidX402OptionError } from '../errors.js';
import { ledgerPurchase } from '../hono/ledger-purchase.js';
import type { PaymentFailure, SettlementRequest } from '../ports/payment-state-store.js';
import type { VerifiedPayment } from '../verify/verify-exact.js';
import type { Settlement } from '../wire/schemas.js';
import {
  type LedgerPaymentClaimInput,
  type LedgerPaymentsApi,
  type LedgerPaymentView,
  ledgerPaymentStore,
} from './ledger-store.js';

type Result = { lotId: string; replayed: boolean };

/** An in-memory ledger of payment records: every claim is kept as given, and answers a `verified` record. */
function memoryLedger() {
  const claims: LedgerPaymentClaimInput[] = [];
  const views = new Map<string, LedgerPaymentView>();
  const ledger: LedgerPaymentsApi<Result> = {
    async claimPayment(input) {
      claims.push(input);
      const view: LedgerPaymentView = {
        reference: input.payment.reference,
        status: 'verified',
        kind: input.creditMicro === undefined ? 'pack' : 'credit',
        packId: input.packId ?? null,
        payer: input.payment.payer,
        payTo: input.payment.payTo,
        amountMicro: input.payment.amountMicro,
        network: input.payment.network,
        asset: input.payment.asset,
        nonce: input.payment.nonce,
        validBefore: input.payment.validBefore,
        request: input.payment.request,
        transaction: null,
        settlement: null,
        failure: null,
        attempts: 0,
        createdAt: new Date(1_000),
        updatedAt: new Date(2_000),
      };
      views.set(view.reference, view);
      return { kind: 'owner', payment: view };
    },
    markPaymentSettling: async () => undefined,
    recordPaymentSettlement: async (_reference: string, _settlement: Settlement) => undefined,
    creditPayment: async () => ({ lotId: 'lot_1', replayed: false }),
    failPayment: async (_reference: string, _failure: PaymentFailure) => undefined,
    postponePayment: async () => undefined,
    takeDuePayments: async () => [...views.values()],
    async getPayment(reference) {
      const view = views.get(reference);
      if (view === undefined) throw Object.assign(new Error('missing'), { code: 'payment_not_found' });
      return view;
    },
  };
  return { ledger, claims };
}

const request = { payload: { x402Version: 2 }, requirements: { amount: '20000' } } as unknown as SettlementRequest;
function verified(nonce: string): VerifiedPayment {
  return {
    reference: `eip155:31337:0xusdc:0xwallet:${nonce}`,
    network: 'eip155:31337',
    asset: '0xUsdc',
    payer: '0xWallet',
    payTo: '0xShop',
    amountAtomic: 20_000n,
    nonce,
    validBefore: 1_900_000_000n,
  } as unknown as VerifiedPayment;
}
const claimedPayment = (nonce: string) => ({
  reference: `eip155:31337:0xusdc:0xwallet:${nonce}`,
  payer: '0xWallet',
  amountMicro: 20_000n,
  network: 'eip155:31337',
  asset: '0xUsdc',
  payTo: '0xShop',
  nonce,
  validBefore: 1_900_000_000n,
  request,
});

describe('ledgerPaymentStore claim mapping', () => {
  it('a plain-credit target claims { accountId, creditMicro, payment } with no packId key', async () => {
    const { ledger, claims } = memoryLedger();
    const store = ledgerPaymentStore(ledger, { accountId: 'acc_wallet', creditMicro: 20_000n });
    const claim = await store.claim(verified('0x01'), { leaseMs: 5_000, request });
    expect(claims).toEqual([{ accountId: 'acc_wallet', creditMicro: 20_000n, payment: claimedPayment('0x01') }]);
    expect(Object.keys(claims[0] ?? {}).sort()).toEqual(['accountId', 'creditMicro', 'payment']);
    expect(claim).toMatchObject({
      kind: 'owner',
      record: {
        reference: 'eip155:31337:0xusdc:0xwallet:0x01',
        status: 'verified',
        amountAtomic: 20_000n,
        payTo: '0xShop',
        request,
        result: null,
        createdAtMs: 1_000,
      },
    });
  });

  it('a pack target claims { accountId, packId, payment } with no creditMicro key', async () => {
    const { ledger, claims } = memoryLedger();
    const store = ledgerPaymentStore(ledger, { accountId: 'acc_buyer', packId: 'starter' });
    await store.claim(verified('0x02'), { leaseMs: 5_000, request });
    expect(claims).toEqual([{ accountId: 'acc_buyer', packId: 'starter', payment: claimedPayment('0x02') }]);
    expect(Object.keys(claims[0] ?? {}).sort()).toEqual(['accountId', 'packId', 'payment']);
  });

  it('ledgerPurchase with creditMicro gives the paywall its handlers', () => {
    const { ledger, claims } = memoryLedger();
    const handlers = ledgerPurchase(ledger, { accountId: 'acc_wallet', creditMicro: 1n });
    expect(typeof handlers.onPaid).toBe('function');
    expect(typeof handlers.findPaid).toBe('function');
    expect(claims).toEqual([]);
  });

  it('refuses a bad target when built (before any ledger call): both, neither, empty, not a positive bigint', () => {
    const { ledger, claims } = memoryLedger();
    const bad: unknown[] = [
      { accountId: 'acc_1', packId: 'starter', creditMicro: 1n },
      { accountId: 'acc_1' },
      { accountId: 'acc_1', packId: undefined, creditMicro: undefined },
      { accountId: 'acc_1', packId: '' },
      { accountId: 'acc_1', creditMicro: 0n },
      { accountId: 'acc_1', creditMicro: -5n },
      { accountId: 'acc_1', creditMicro: 20_000 },
      { accountId: '', creditMicro: 1n },
      { packId: 'starter' },
      null,
    ];
    for (const target of bad) {
      expect(() => ledgerPaymentStore(ledger, target as never)).toThrow(InvalidX402OptionError);
      expect(() => ledgerPurchase(ledger, target as never)).toThrow(
        expect.objectContaining({ code: 'invalid_option' }),
      );
    }
    expect(claims).toEqual([]);
  });

  it('a reconciler store (no target) reads records back but cannot claim', async () => {
    const { ledger } = memoryLedger();
    await ledgerPaymentStore(ledger, { accountId: 'acc_wallet', creditMicro: 20_000n }).claim(verified('0x03'), {
      leaseMs: 5_000,
      request,
    });
    const reconciler = ledgerPaymentStore(ledger);
    expect((await reconciler.takeDue({ limit: 10, leaseMs: 1_000 })).map((r) => r.reference)).toEqual([
      'eip155:31337:0xusdc:0xwallet:0x03',
    ]);
    expect(await reconciler.find('eip155:31337:0xusdc:0xwallet:0x03')).toMatchObject({ status: 'verified' });
    expect(await reconciler.find('nope')).toBeNull();
    await expect(reconciler.claim(verified('0x04'), { leaseMs: 5_000, request })).rejects.toThrow(TypeError);
  });
});
