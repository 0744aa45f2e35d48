// Two-phase pack purchases with @arrakis/billing-ledger: the payment's record is committed before anything is sent
// to the chain, no database transaction is open while it settles, and the credit is one short transaction keyed by
// the payment — so a payment credits at most once, and one left half-way (a crash) is finished by a reconciler.
// CI runs it through examples/two-phase-payment.test.ts.
import { pathToFileURL } from 'node:url';
import {
  createLedger,
  ManualClock,
  migrateLedger,
  type PaymentSettlement,
  paymentLeaseMsDefault,
} from '@arrakis/billing-ledger';
import { openPgliteLedgerDb } from '@arrakis/billing-ledger/pglite';

/** The shape of `@arrakis/x402`'s `Settlement`: more fields than `PaymentSettlement`, and assignable to it. */
interface X402Settlement {
  success: true;
  transaction: string;
  network: string;
  payer: string;
  errorReason?: string | undefined;
  amount?: string | undefined;
  extensions?: Record<string, unknown> | undefined;
}

export async function twoPhasePayment() {
  const { db, kind, close } = await openPgliteLedgerDb();
  try {
    await migrateLedger(db, kind);
    const clock = new ManualClock(Date.UTC(2026, 11, 1)); // the wall clock in production (the default)
    const ledger = createLedger({ db, clock });
    const { account } = await ledger.createAccount({ entityType: 'user', entityId: 'u_9' });
    const nowSeconds = BigInt(Math.floor(clock.nowMs() / 1000));
    const payment = (nonce: string) => ({
      reference: `eip155:8453:0xusdc:0xpayer:${nonce}`,
      payer: '0xpayer',
      amountMicro: 5_000_000n, // verified by the caller (x402): 5 USDC
      payTo: '0xshop',
      nonce,
      validBefore: nowSeconds + 300n,
      request: { note: 'what the caller needs to settle it again (x402: the payload and the requirements)' },
    });

    // The one-call form: claim, settle() with no transaction open, credit. A replay answers the first result.
    const settle = async (): Promise<X402Settlement> => ({
      success: true,
      transaction: '0xabc',
      network: 'eip155:8453',
      payer: '0xpayer',
    });
    const input = { accountId: account.id, packId: 'starter', payment: payment('0x01') };
    const bought = await ledger.purchasePack(input, { settle });
    const replay = await ledger.purchasePack(input, { settle }); // settles nothing, mints nothing

    // Step by step: an owner claims a payment and marks it settling, then dies before crediting.
    const second = payment('0x02');
    const claim = await ledger.claimPayment({ accountId: account.id, packId: 'starter', payment: second });
    if (claim.kind === 'owner') await ledger.markPaymentSettling(second.reference);

    // Once its lease ends, a reconciler (any instance; SKIP LOCKED) takes it, asks the chain what happened, and
    // credits it (the chain executed it) or fails it (the authorization can no longer execute).
    clock.advance(paymentLeaseMsDefault);
    const due = await ledger.takeDuePayments({ limit: 50, leaseMs: 60_000 });
    for (const record of due) {
      const executed: PaymentSettlement = { transaction: '0xdef' }; // what the chain said, in this example
      await ledger.recordPaymentSettlement(record.reference, executed);
      await ledger.creditPayment(record.reference, executed);
    }

    return {
      boughtMicro: bought.lot.originalMicro, // 5000000n
      replayed: replay.replayed, // true
      claimKind: claim.kind, // 'owner'
      reconciled: due.map((record) => record.reference), // [second.reference]
      byStatus: await ledger.countPaymentsByStatus(), // { verified: 0, settling: 0, settled: 0, credited: 2, failed: 0 }
      availableMicro: (await ledger.getBalance(account.id)).availableMicro, // 10000000n
      verified: (await ledger.verify()).ok, // true
    };
  } finally {
    await close();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(await twoPhasePayment());
}
