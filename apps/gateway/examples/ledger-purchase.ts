// The x402 ↔ billing-ledger adapter as an adopter writes it, type-checked under `strict` +
// `exactOptionalPropertyTypes` (examples/tsconfig.json) and run by examples/ledger-purchase.test.ts.
// `ledgerPurchase` gives the paywall its `onPaid` and `findPaid`: the ledger commits the payment's claim, the
// settlement runs with no transaction open, the pack's lot is minted once in its own transaction.
import { createLedger, type Ledger, migrateLedger, type PurchasePackResult } from '@arrakis/billing-ledger';
import { openPgliteLedgerDb } from '@arrakis/billing-ledger/pglite';
import {
  exactPaymentTerms,
  type Facilitator,
  localFacilitator,
  rpcAuthorizationResolver,
  type Settlement,
} from '@arrakis/x402';
import { ledgerPurchase, type X402Env, x402Paywall } from '@arrakis/x402/hono';
import { Hono } from 'hono';

/** Where the shop sells: an EIP-3009 6-decimal token on an EVM chain. */
export interface ShopChain {
  rpcUrl: string;
  network: `eip155:${number}`;
  asset: `0x${string}`;
  payTo: `0x${string}`;
}

/** A purchase route for the ledger's credit packs. */
export function purchaseApp(
  ledger: Ledger,
  chain: ShopChain,
  facilitator: Facilitator,
): Hono<X402Env<PurchasePackResult>> {
  const terms = exactPaymentTerms({
    network: chain.network,
    asset: chain.asset,
    payTo: chain.payTo,
    tokenName: 'USD Coin',
    tokenVersion: '2',
  });
  const resolver = rpcAuthorizationResolver({ rpcUrl: chain.rpcUrl });
  const app = new Hono<X402Env<PurchasePackResult>>();
  app.post('/accounts/:accountId/packs/:packId', async (c, next) => {
    const pack = ledger.listCreditPacks().find((candidate) => candidate.id === c.req.param('packId'));
    if (pack === undefined) return c.json({ error: 'credit_pack_not_found' }, 404);
    const paywall = x402Paywall<PurchasePackResult>({
      requirements: terms.forAmount(pack.priceMicro),
      facilitator,
      ...ledgerPurchase(ledger, { accountId: c.req.param('accountId'), packId: pack.id, resolver }),
    });
    return paywall(c, next);
  });
  // Paid (or a replay): the purchase result — lot, balance, payment, replayed.
  app.post('/accounts/:accountId/packs/:packId', (c) => {
    const purchase = c.get('x402').result;
    return c.json({ lotId: purchase?.lot.id, replayed: purchase?.replayed }, 201);
  });
  return app;
}

/**
 * The one-call form for an `onPaid` of your own: x402's `settle` (a `() => Promise<Settlement>`) is what
 * `ledger.purchasePack` takes — this is the line that used to be a type error.
 */
export function purchaseWithSettle(ledger: Ledger, input: Parameters<Ledger['purchasePack']>[0]) {
  return (settle: () => Promise<Settlement>) => ledger.purchasePack(input, { settle });
}

/** Runs the example: a fresh embedded ledger, an account, and the route's 402 offer. */
export async function ledgerPurchaseExample(chain: ShopChain, signerKey: `0x${string}`) {
  const { db, kind, close } = await openPgliteLedgerDb();
  try {
    await migrateLedger(db, kind);
    const ledger = createLedger({ db });
    const { account } = await ledger.createAccount({ entityType: 'user', entityId: 'buyer' });
    const app = purchaseApp(ledger, chain, localFacilitator({ rpcUrl: chain.rpcUrl, signerKey }));
    const offer = await app.request(`/accounts/${account.id}/packs/starter`, { method: 'POST' });
    const unknown = await app.request(`/accounts/${account.id}/packs/nope`, { method: 'POST' });
    return {
      offerStatus: offer.status,
      paymentRequired: offer.headers.get('payment-required'),
      unknownStatus: unknown.status,
    };
  } finally {
    await close();
  }
}
