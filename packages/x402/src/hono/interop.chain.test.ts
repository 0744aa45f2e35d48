/**
 * Interoperability: the official x402 client packages (@x402/fetch + @x402/evm with a viem local account) pay a
 * Hono app protected by x402Paywall, served with @hono/node-server on 127.0.0.1, settling on a real local chain.
 * Every fetch in this file is refused unless it goes to loopback.
 */
import { decodePaymentResponseHeader } from '@x402/core/http';
import { registerExactEvmScheme } from '@x402/evm/exact/client';
import { wrapFetchWithPayment, x402Client } from '@x402/fetch';
import { sql } from 'drizzle-orm';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresPaymentStateStore } from '../adapters/postgres/state-store.js';
import { httpFacilitator } from '../facilitator/http.js';
import { localFacilitator } from '../facilitator/local.js';
import type { Facilitator } from '../ports/facilitator.js';
import { startTestChain, type TestChain } from '../testing/chain.js';
import { type Served, serveOnLoopback } from '../testing/serve.js';
import { openTestDb, type TestDb } from '../testing/test-db.js';
import { facilitatorApp } from './facilitator-app.js';
import { paidWithStore } from './paid-with-store.js';
import { x402Paywall } from './paywall.js';

const realFetch = globalThis.fetch;
let chain: TestChain;
let handle: TestDb;
const servers: Served[] = [];

beforeAll(async () => {
  globalThis.fetch = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (url.hostname !== '127.0.0.1' && url.hostname !== 'localhost' && url.hostname !== '[::1]') {
      throw new Error(`test refused a non-loopback request to ${url.href}`);
    }
    return realFetch(input, init);
  }) as typeof fetch;
  [chain, handle] = await Promise.all([startTestChain({ payerCount: 1 }), openTestDb()]);
  await handle.db.execute(
    sql`create table credits (reference text primary key, owner text not null, amount_micro numeric not null)`,
  );
}, 120_000);
afterAll(async () => {
  globalThis.fetch = realFetch;
  for (const served of servers) await served.close();
  await chain?.stop();
  await handle?.close();
});

async function serveResourceApp(facilitator: Facilitator, amountAtomic: bigint): Promise<Served> {
  const store = postgresPaymentStateStore({
    db: handle.db,
    effect: async (tx, record) => {
      await tx.execute(
        sql`insert into credits (reference, owner, amount_micro) values (${record.reference}, ${record.payer}, ${record.amountAtomic.toString()})`,
      );
      return { creditedMicro: record.amountAtomic.toString(), owner: record.payer };
    },
  });
  const app = new Hono();
  app.post(
    '/v1/credits',
    x402Paywall({
      requirements: chain.requirementsFor(amountAtomic),
      facilitator,
      resource: { description: 'Prepaid credits', mimeType: 'application/json' },
      ...paidWithStore(store),
    }),
    (c) => c.json(c.get('x402').result, 201),
  );
  const served = await serveResourceAppOn(app);
  return served;
}

async function serveResourceAppOn(app: Hono): Promise<Served> {
  const served = await serveOnLoopback(app);
  servers.push(served);
  return served;
}

function officialClient(): typeof fetch {
  const client = new x402Client().setSpendControls({
    allowedAssets: [{ network: chain.network, asset: chain.usdc.address }],
  });
  registerExactEvmScheme(client, { signer: chain.payers[0]! });
  return wrapFetchWithPayment(fetch, client);
}

async function creditsOf(owner: string): Promise<bigint> {
  const rows = await handle.query<{ total: string | null }>(
    'select sum(amount_micro)::text as total from credits where owner = $1',
    [owner],
  );
  return BigInt(rows[0]?.total ?? '0');
}

describe('the official x402 client pays an x402Paywall over loopback HTTP', () => {
  it('with localFacilitator in-process: 402 → sign → pay → 201 with the credits and PAYMENT-RESPONSE; tokens moved on chain', async () => {
    const served = await serveResourceApp(
      localFacilitator({ rpcUrl: chain.node.rpcUrl, signerKey: chain.settlerKey }),
      3_000_000n,
    );
    const payer = chain.payers[0]!.address;
    const before = {
      payer: await chain.balanceOf(payer),
      payTo: await chain.balanceOf(chain.payTo),
      credits: await creditsOf(payer),
    };

    const unpaid = await fetch(`${served.url}/v1/credits`, { method: 'POST' });
    expect(unpaid.status).toBe(402);

    const response = await officialClient()(`${served.url}/v1/credits`, { method: 'POST' });
    expect(response.status).toBe(201);
    expect(await response.json()).toEqual({ creditedMicro: '3000000', owner: payer });
    const settlement = decodePaymentResponseHeader(response.headers.get('PAYMENT-RESPONSE') as string);
    expect(settlement).toMatchObject({ success: true, network: chain.network, payer });
    expect(settlement.transaction).toMatch(/^0x[0-9a-f]{64}$/);
    expect(await chain.balanceOf(payer)).toBe(before.payer - 3_000_000n);
    expect(await chain.balanceOf(chain.payTo)).toBe(before.payTo + 3_000_000n);
    expect(await creditsOf(payer)).toBe(before.credits + 3_000_000n);
  });

  it('with httpFacilitator → facilitatorApp(localFacilitator) on another loopback server', async () => {
    const facilitatorServer = await serveResourceAppOn(
      new Hono().route(
        '/facilitator',
        facilitatorApp(localFacilitator({ rpcUrl: chain.node.rpcUrl, signerKey: chain.settlerKey })),
      ),
    );
    const served = await serveResourceApp(httpFacilitator({ url: `${facilitatorServer.url}/facilitator` }), 1_250_000n);
    const payer = chain.payers[0]!.address;
    const before = { payer: await chain.balanceOf(payer), credits: await creditsOf(payer) };
    const response = await officialClient()(`${served.url}/v1/credits`, { method: 'POST' });
    expect(response.status).toBe(201);
    expect(decodePaymentResponseHeader(response.headers.get('PAYMENT-RESPONSE') as string)).toMatchObject({
      success: true,
    });
    expect(await chain.balanceOf(payer)).toBe(before.payer - 1_250_000n);
    expect(await creditsOf(payer)).toBe(before.credits + 1_250_000n);
  });

  it('the captured PAYMENT-SIGNATURE replayed by hand returns the first result and moves nothing', async () => {
    const served = await serveResourceApp(
      localFacilitator({ rpcUrl: chain.node.rpcUrl, signerKey: chain.settlerKey }),
      500_000n,
    );
    let captured: string | null = null;
    const capturing: typeof fetch = async (input, init) => {
      const request = new Request(input, init);
      captured ??= request.headers.get('PAYMENT-SIGNATURE');
      return fetch(request);
    };
    const client = new x402Client().setSpendControls({
      allowedAssets: [{ network: chain.network, asset: chain.usdc.address }],
    });
    registerExactEvmScheme(client, { signer: chain.payers[0]! });
    const first = await wrapFetchWithPayment(capturing, client)(`${served.url}/v1/credits`, { method: 'POST' });
    expect(first.status).toBe(201);
    expect(captured).not.toBeNull();
    const payer = chain.payers[0]!.address;
    const after = { payer: await chain.balanceOf(payer), credits: await creditsOf(payer) };
    const replay = await fetch(`${served.url}/v1/credits`, {
      method: 'POST',
      headers: { 'PAYMENT-SIGNATURE': captured as unknown as string },
    });
    expect(replay.status).toBe(201);
    expect(decodePaymentResponseHeader(replay.headers.get('PAYMENT-RESPONSE') as string)).toEqual(
      decodePaymentResponseHeader(first.headers.get('PAYMENT-RESPONSE') as string),
    );
    expect(await replay.json()).toEqual(await first.json());
    expect(await chain.balanceOf(payer)).toBe(after.payer);
    expect(await creditsOf(payer)).toBe(after.credits);
  });
});
