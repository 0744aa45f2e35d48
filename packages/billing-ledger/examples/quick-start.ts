// Quick start for @arrakis/billing-ledger: prepaid credits on an embedded PGlite database — mint a lot, hold an
// estimate before a metered call, charge the actual cost, read the balance and the journal, verify the books.
// CI runs it through examples/quick-start.test.ts (`node_modules/.bin/vitest run packages/billing-ledger/examples`).
import { pathToFileURL } from 'node:url';
import { createLedger, InsufficientCreditsError, migrateLedger, parseMicro, usdToMicro } from '@arrakis/billing-ledger';
import { openPgliteLedgerDb } from '@arrakis/billing-ledger/pglite';

export async function quickStart() {
  // In memory here; `openPgliteLedgerDb({ dataDir: '.data/ledger' })` keeps a file store, and
  // `openPostgresLedgerDb({ url })` from '@arrakis/billing-ledger/postgres' runs the same ledger on Postgres.
  const { db, kind, close } = await openPgliteLedgerDb();
  try {
    await migrateLedger(db, kind);
    const ledger = createLedger({ db });

    const { account } = await ledger.createAccount({ entityType: 'user', entityId: 'u_42' });

    // $5.00 of credit from a payment; the same payment can never mint twice (duplicate_source).
    await ledger.mint(
      { accountId: account.id, amountMicro: usdToMicro('5'), sourceType: 'deposit', sourceId: 'pay_001' },
      { idempotencyKey: 'mint-pay_001' },
    );

    // Before a metered call: hold the estimate ($1.00, amounts arrive on the wire as base-10 strings).
    const { reservation } = await ledger.reserve({ accountId: account.id, amountMicro: parseMicro('1000000') });

    // After it: charge the actual cost; the rest of the hold goes back to available.
    const finalized = await ledger.finalize({ reservationId: reservation.id, actualCostMicro: 750_000n });

    // A hold larger than the balance fails with insufficient_credits (HTTP 402) and changes nothing.
    let refusedCode: string | null = null;
    try {
      await ledger.reserve({ accountId: account.id, amountMicro: usdToMicro('10') });
    } catch (error) {
      if (!(error instanceof InsufficientCreditsError)) throw error;
      refusedCode = error.code;
    }

    const balance = await ledger.getBalance(account.id);
    const journal = await ledger.listEntries(account.id, { limit: 10 });
    const report = await ledger.verify();

    return {
      chargedMicro: finalized.chargedMicro, // 750000n
      releasedMicro: finalized.releasedMicro, // 250000n
      availableMicro: balance.availableMicro, // 4250000n
      refusedCode, // 'insufficient_credits'
      entryKinds: journal.items.map((entry) => entry.kind), // newest first
      verified: report.ok, // true
    };
  } finally {
    await close();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(await quickStart());
  // { chargedMicro: 750000n, releasedMicro: 250000n, availableMicro: 4250000n,
  //   refusedCode: 'insufficient_credits', entryKinds: [ 'release', 'consume', 'reserve', 'mint' ], verified: true }
}
