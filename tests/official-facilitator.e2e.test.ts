/**
 * The gateway with the OFFICIAL x402 facilitator, on real processes (issue 13): a Hardhat chain with our EIP-3009
 * TestUsdc, the official facilitator (@x402/core + @x402/evm 2.27) served over HTTP by `startOfficialFacilitator`,
 * and a built gateway process with `X402_FACILITATOR=http` pointing at it, on its embedded store (PGlite in its own
 * DATA_DIR; no DATABASE_URL). 402 on the purchase route → the official client pays → the gateway verifies and
 * settles through the official facilitator → 201 with the lot; the token moved once; the same signature replayed
 * answers the first result. Every fetch in this file is refused unless it goes to loopback.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { mintServiceToken, mintUserToken } from '@arrakis/e2e-contracts';
import { registerExactEvmScheme } from '@x402/evm/exact/client';
import { decodePaymentResponseHeader, wrapFetchWithPayment, x402Client } from '@x402/fetch';
import type { Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GatewayProcess, readDevJwk, spawnGateway, stopIfRunning } from '../apps/gateway/src/testing/processes.js';
import { offeredRequirements, type PaymentsChain, startPaymentsChain } from '../apps/gateway/src/testing/x402-payer.js';
import {
  type OfficialFacilitatorService,
  startOfficialFacilitator,
} from '../packages/x402/src/testing/official-facilitator.js';

type Json = Record<string, unknown>;

const realFetch = globalThis.fetch;

describe('gateway (X402_FACILITATOR=http) → the official x402 facilitator → Hardhat chain', () => {
  let chain: PaymentsChain;
  let official: OfficialFacilitatorService;
  let gateway: GatewayProcess | undefined;
  let dataDir: string;
  let serviceToken: string;

  beforeAll(async () => {
    globalThis.fetch = (async (input: string | URL | Request, init?: RequestInit) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      if (url.hostname !== '127.0.0.1' && url.hostname !== 'localhost' && url.hostname !== '[::1]') {
        throw new Error(`test refused a non-loopback request to ${url.href}`);
      }
      return realFetch(input, init);
    }) as typeof fetch;
    chain = await startPaymentsChain({ payerCount: 1, settlerCount: 1 });
    official = await startOfficialFacilitator({
      rpcUrl: chain.node.rpcUrl,
      settlerKey: chain.settlerKeys[0] as Hex,
      network: chain.network,
    });
    dataDir = await mkdtemp(join(tmpdir(), 'arrakis-official-facilitator-'));
    // The facilitator settles: the gateway holds no signer key.
    const { X402_SIGNER_KEY: _key, ...paymentsEnv } = chain.gatewayEnv();
    gateway = await spawnGateway({
      DATA_DIR: dataDir,
      LEDGER_SWEEP_INTERVAL_MS: '0',
      ...paymentsEnv,
      X402_FACILITATOR: 'http',
      X402_FACILITATOR_URL: official.url,
      X402_RPC_URL: chain.node.rpcUrl,
    });
    serviceToken = await mintServiceToken({ privateKey: await readDevJwk(dataDir), sub: 'metering' });
  }, 180_000);

  afterAll(async () => {
    globalThis.fetch = realFetch;
    await stopIfRunning(gateway);
    await official?.close();
    await chain?.stop();
    if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
  });

  async function call(
    method: string,
    path: string,
    options: { token: string; json?: unknown; headers?: Record<string, string> },
  ): Promise<{ status: number; body: Json; headers: Headers }> {
    const response = await fetch(`${gateway?.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${options.token}`,
        ...(options.json === undefined ? {} : { 'content-type': 'application/json' }),
        ...options.headers,
      },
      ...(options.json === undefined ? {} : { body: JSON.stringify(options.json) }),
    });
    const text = await response.text();
    return { status: response.status, body: text === '' ? {} : (JSON.parse(text) as Json), headers: response.headers };
  }

  it('402 → the official client pays → the official facilitator settles → 201 with the lot; tokens moved once; the replayed signature answers 201 replayed', async () => {
    const sub = `official-payer-${Date.now()}`;
    const created = await call('POST', '/v1/accounts', {
      token: serviceToken,
      json: { entityType: 'user', entityId: sub },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const accountId = created.body.id as string;
    const userToken = await mintUserToken({ privateKey: await readDevJwk(dataDir), sub });
    const path = '/v1/credit-packs/starter/purchase';
    const purchase = { token: userToken, json: { accountId } };

    const unpaid = await call('POST', path, purchase);
    expect(unpaid.status, JSON.stringify(unpaid.body)).toBe(402);
    const { requirements } = offeredRequirements(new Response(null, { status: 402, headers: unpaid.headers }));
    expect(requirements).toMatchObject({ network: chain.network, asset: chain.usdc.address, payTo: chain.payTo });
    const priceMicro = BigInt(requirements.amount);

    const wallet = privateKeyToAccount(chain.payerKeys[0] as Hex);
    const before = await Promise.all([chain.balanceOf(wallet.address), chain.balanceOf(chain.payTo)]);
    let signature: string | null = null;
    let paidRequestMs = 0;
    const timing: typeof fetch = async (input, init) => {
      const request = new Request(input, init);
      const header = request.headers.get('payment-signature');
      const startedMs = performance.now();
      const response = await fetch(request);
      if (header !== null) {
        signature = header;
        paidRequestMs = performance.now() - startedMs;
      }
      return response;
    };
    const client = new x402Client().setSpendControls({
      allowedAssets: [{ network: chain.network, asset: chain.usdc.address, maxAmountPerPayment: '25000000' }],
    });
    registerExactEvmScheme(client, { signer: wallet });
    const loopStartedMs = performance.now();
    const paid = await wrapFetchWithPayment(timing, client)(`${gateway?.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${userToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ accountId }),
    });
    const loopMs = performance.now() - loopStartedMs;
    const first = (await paid.json()) as Json & { lot: Json; payment: Json; balance: Json };
    expect(paid.status, JSON.stringify(first)).toBe(201);
    console.info(
      `official-facilitator.e2e: paid request (gateway verify + settle through the official facilitator + mint) ${paidRequestMs.toFixed(0)} ms; 402 → sign → 201 ${loopMs.toFixed(0)} ms`,
    );
    expect(first).toMatchObject({
      replayed: false,
      lot: { sourceType: 'purchase', accountId },
      payment: { payer: wallet.address, amountMicro: priceMicro.toString(), network: chain.network },
    });
    const receipt = decodePaymentResponseHeader(paid.headers.get('payment-response') ?? '');
    expect(receipt).toMatchObject({ success: true, network: chain.network, payer: wallet.address });
    expect(receipt.transaction).toMatch(/^0x[0-9a-f]{64}$/);
    expect(first.payment.transaction).toBe(receipt.transaction);
    const moved = [(before[0] as bigint) - priceMicro, (before[1] as bigint) + priceMicro];
    expect(await Promise.all([chain.balanceOf(wallet.address), chain.balanceOf(chain.payTo)])).toEqual(moved);

    expect(signature).not.toBeNull();
    const replay = await call('POST', path, {
      ...purchase,
      headers: { 'payment-signature': signature as unknown as string },
    });
    expect(replay.status, JSON.stringify(replay.body)).toBe(201);
    expect(replay.body).toMatchObject({ replayed: true, lot: { id: first.lot.id }, payment: { id: first.payment.id } });
    expect(decodePaymentResponseHeader(replay.headers.get('payment-response') ?? '')).toEqual(receipt);
    expect(await Promise.all([chain.balanceOf(wallet.address), chain.balanceOf(chain.payTo)])).toEqual(moved);
    const balance = await call('GET', `/v1/accounts/${accountId}/balance`, { token: userToken });
    expect(balance.body.availableMicro).toBe(first.lot.originalMicro);
  }, 120_000);
});
