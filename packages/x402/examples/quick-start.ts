import { exactRequirements, localFacilitator, reconcilePayments, rpcAuthorizationResolver } from '@arrakis/x402';
import { paidWithStore, x402Paywall } from '@arrakis/x402/hono';
import { migrateX402, postgresPaymentStateStore } from '@arrakis/x402/postgres';
import { PGlite } from '@electric-sql/pglite';
import { serve } from '@hono/node-server';
import { registerExactEvmScheme } from '@x402/evm/exact/client';
import { decodePaymentResponseHeader, wrapFetchWithPayment, x402Client } from '@x402/fetch';
import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/pglite';
import { Hono } from 'hono';
import type { Address, Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';

/** Where the example runs: any EVM chain with an EIP-3009 token (e.g. USDC); CI uses a local Hardhat node. */
export interface QuickStartChain {
  rpcUrl: string;
  network: `eip155:${number}`;
  token: { address: Address; name: string; version: string };
  payTo: Address;
  /** Submits settlements and pays gas. */
  settlerKey: Hex;
  /** The buyer (holds the token). */
  payerKey: Hex;
}

export async function quickStart(chain: QuickStartChain) {
  // 1. A database for the payment record (PGlite here; Postgres in production: drizzle over postgres.js).
  const db = drizzle({ client: new PGlite() });
  await migrateX402(db, 'pglite');
  await db.execute(
    sql`create table credits (reference text primary key, owner text not null, amount_micro numeric not null)`,
  );
  // The payment record, with the effect it has once paid: minting the credits (once per payment, own transaction).
  const store = postgresPaymentStateStore({
    db,
    effect: async (tx, record) => {
      await tx.execute(
        sql`insert into credits values (${record.reference}, ${record.payer}, ${record.amountAtomic.toString()})`,
      );
      return { creditedMicro: record.amountAtomic.toString() };
    },
  });
  const facilitator = localFacilitator({ rpcUrl: chain.rpcUrl, signerKey: chain.settlerKey }); // or httpFacilitator({ url })
  const resolver = rpcAuthorizationResolver({ rpcUrl: chain.rpcUrl }); // reads the chain: what became of a payment

  // 2. A route that costs 5 tokens (5 USDC = 5 000 000 micro-USD), settled on chain before its effect.
  const app = new Hono();
  app.post(
    '/v1/credits',
    x402Paywall({
      requirements: exactRequirements({
        network: chain.network,
        asset: chain.token.address,
        payTo: chain.payTo,
        amountAtomic: 5_000_000n,
        tokenName: chain.token.name,
        tokenVersion: chain.token.version,
      }),
      facilitator,
      // Two phases: the claim is committed, the chain is called with no transaction open, the effect runs once.
      // A replay (concurrent, later, after the window) answers the first result.
      ...paidWithStore(store, { resolver }),
    }),
    (c) => c.json(c.get('x402').result, 201),
  );
  const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 });
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as { port: number };

  try {
    // 3. Any x402 client pays: here the official one (@x402/fetch + @x402/evm) with a viem local account.
    const client = new x402Client().setSpendControls({
      allowedAssets: [{ network: chain.network, asset: chain.token.address }],
    });
    registerExactEvmScheme(client, { signer: privateKeyToAccount(chain.payerKey) });
    const payingFetch = wrapFetchWithPayment(fetch, client);

    const unpaid = await fetch(`http://127.0.0.1:${port}/v1/credits`, { method: 'POST' }); // 402 + PAYMENT-REQUIRED
    const paid = await payingFetch(`http://127.0.0.1:${port}/v1/credits`, { method: 'POST' }); // 201
    const settlement = decodePaymentResponseHeader(paid.headers.get('PAYMENT-RESPONSE') ?? '');

    // 4. The reconciler (run it on a timer, on any number of instances): it completes every payment left half-way
    //    by a crash or an outage from what the chain says. Nothing is left here.
    const reconciled = await reconcilePayments({ store, resolver, facilitator });
    return {
      unpaidStatus: unpaid.status,
      paidStatus: paid.status,
      body: (await paid.json()) as { creditedMicro: string },
      transaction: settlement.transaction,
      reconciled: reconciled.examined,
    };
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}
