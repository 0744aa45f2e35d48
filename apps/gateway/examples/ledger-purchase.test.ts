import { decodePaymentRequiredHeader } from '@arrakis/x402';
import { describe, expect, it } from 'vitest';
import { ledgerPurchaseExample } from './ledger-purchase.js';

describe('examples/ledger-purchase.ts', () => {
  it('offers the starter pack for its price with PAYMENT-REQUIRED, and 404s an unknown pack', async () => {
    const result = await ledgerPurchaseExample(
      {
        rpcUrl: 'http://127.0.0.1:9', // never called: no payment is sent
        network: 'eip155:31337',
        asset: '0x5FbDB2315678afecb367f032d93F642f64180aa3',
        payTo: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8',
      },
      '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80',
    );
    expect(result).toMatchObject({ offerStatus: 402, unknownStatus: 404 });
    const offered = decodePaymentRequiredHeader(result.paymentRequired ?? '');
    expect(offered.accepts[0]).toMatchObject({ scheme: 'exact', network: 'eip155:31337', amount: '5000000' });
  }, 60_000);
});
