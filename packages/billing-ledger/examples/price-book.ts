// The price book of @arrakis/billing-ledger: the operator sets what a call costs (a meter), a user's hold is sized
// by it, a finalize charges the reported usage under the version the hold recorded, and a daily spend cap stops a
// runaway client. CI runs it through examples/price-book.test.ts.
import { pathToFileURL } from 'node:url';
import { createLedger, migrateLedger, SpendCapExceededError, usdToMicro } from '@arrakis/billing-ledger';
import { openPgliteLedgerDb } from '@arrakis/billing-ledger/pglite';

export async function priceBook() {
  const { db, kind, close } = await openPgliteLedgerDb();
  try {
    await migrateLedger(db, kind);
    const ledger = createLedger({ db });
    const { account } = await ledger.createAccount({ entityType: 'user', entityId: 'u_7' });
    await ledger.mint({ accountId: account.id, amountMicro: usdToMicro('5'), sourceType: 'grant' });

    // $3 per million input tokens, $15 per million output tokens; every hold is at least 2 cents, at most $1.
    await ledger.createMeter({
      id: 'chat',
      holdMicro: 20_000n,
      maxCostMicro: usdToMicro('1'),
      createdBy: 'alice',
      unitPrices: [
        { dimension: 'input_tokens', priceMicro: 3_000_000n, perUnits: 1_000_000n },
        { dimension: 'output_tokens', priceMicro: 15_000_000n, perUnits: 1_000_000n },
      ],
    });

    // The hold: max(holdMicro, cost of the estimate) = max(20 000, 4000 × 15) = 60 000 micro-USD.
    const { reservation } = await ledger.reserve({
      accountId: account.id,
      meterId: 'chat',
      estimate: { output_tokens: 4000 },
    });

    // Prices go up after the hold was placed: the hold keeps version 1.
    await ledger.createMeter({
      id: 'chat',
      holdMicro: 20_000n,
      createdBy: 'bob',
      unitPrices: [{ dimension: 'output_tokens', priceMicro: 30_000_000n, perUnits: 1_000_000n }],
    });

    // The service reports usage; the ledger prices it (rounded up once) and itemizes it.
    const { pricing, chargedMicro } = await ledger.finalize({
      reservationId: reservation.id,
      usage: { input_tokens: 1200, output_tokens: 341 },
    });

    // A daily cap of 10 cents: a hold that would pass it is refused (HTTP 402) and nothing is held.
    await ledger.setSpendCaps({
      accountId: account.id,
      dailyCapMicro: 100_000n,
      monthlyCapMicro: null,
      actor: 'alice',
    });
    let capRefusal: string | null = null;
    try {
      await ledger.reserve({ accountId: account.id, meterId: 'chat', estimate: { output_tokens: 10_000 } });
    } catch (error) {
      if (!(error instanceof SpendCapExceededError)) throw error;
      capRefusal = `${error.period}: spent ${error.spentMicro} of ${error.capMicro}`;
    }

    return {
      holdMicro: reservation.amountMicro, // 60000n
      meterVersion: pricing?.meterVersion, // 1
      lines: pricing?.lines.map((line) => `${line.dimension} ${line.units} → ${line.amountMicro}`),
      // [ 'input_tokens 1200 → 3600', 'output_tokens 341 → 5115' ]
      chargedMicro, // 8715n
      capRefusal, // 'daily: spent 8715 of 100000'
      verified: (await ledger.verify()).ok, // true
    };
  } finally {
    await close();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(await priceBook());
}
