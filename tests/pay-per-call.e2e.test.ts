/**
 * Pay per call (issue 14) on real processes: a Hardhat chain with our EIP-3009 token, the test upstream service
 * (tests/upstream-service.mjs, behind `upstreamAuth`), and a gateway process with payments on and an upstream marked
 * `payPerCall`. The OFFICIAL x402 client (`@x402/fetch` + `@x402/evm`) calls the upstream with no bearer token: 402 with
 * the meter's per-call price, it pays, the gateway records the payment as plain credit on the payer's wallet account,
 * and charges the call through the usual hold → forward → finalize path. Loopback only.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mintAdminToken, mintServiceToken } from '@arrakis/e2e-contracts';
import { decodePaymentRequiredHeader } from '@x402/core/http';
import { registerExactEvmScheme } from '@x402/evm/exact/client';
import { wrapFetchWithPayment, x402Client } from '@x402/fetch';
import { privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOrCreateDevKey } from '../apps/gateway/src/auth/dev-key.js';
import { type GatewayProcess, readDevJwk, spawnGateway, stopIfRunning } from '../apps/gateway/src/testing/processes.js';
import { type PaymentsChain, startPaymentsChain } from '../apps/gateway/src/testing/x402-payer.js';
import { freeLoopbackPortForTests } from './free-port.js';
import { startUpstream, stopProcess, type UpstreamProcess } from './upstream-process.js';

const issuer = 'arrakis-gateway';
const perCallMicro = 20_000n;
const meter = {
  id: 'per-call',
  holdMicro: perCallMicro.toString(),
  unitPrices: [
    { dimension: 'input_tokens', priceMicro: '1000', perUnits: '1000' },
    { dimension: 'output_tokens', priceMicro: '2000', perUnits: '1000' },
  ],
};

type Json = Record<string, unknown>;

let chain: PaymentsChain;
let upstream: UpstreamProcess;
let gateway: GatewayProcess;
let dataDir: string;
let adminToken: string;
let serviceToken: string;

beforeAll(async () => {
  chain = await startPaymentsChain({ payerCount: 1, settlerCount: 1, fundedMicro: 10_000_000n });
  dataDir = await mkdtemp(join(tmpdir(), 'arrakis-pay-per-call-'));
  await loadOrCreateDevKey(dataDir);
  const devJwk = await readDevJwk(dataDir);
  adminToken = await mintAdminToken({ privateKey: devJwk, issuer, sub: 'ops', ttlSeconds: 3600 });
  serviceToken = await mintServiceToken({ privateKey: devJwk, issuer, sub: 'svc', ttlSeconds: 3600 });
  const port = await freeLoopbackPortForTests();
  const gatewayUrl = `http://127.0.0.1:${port}`;
  upstream = await startUpstream({
    JWKS_URL: `${gatewayUrl}/.well-known/jwks.json`,
    AUDIENCE: 'paid',
    ISSUER: issuer,
    GATEWAY_URL: gatewayUrl,
    SERVICE_TOKEN: serviceToken,
  });
  gateway = await spawnGateway({
    DATA_DIR: dataDir,
    PORT: String(port),
    METERS: JSON.stringify([meter]),
    UPSTREAMS: JSON.stringify([{ id: 'paid', url: upstream.url, meterId: meter.id, payPerCall: true }]),
    RATE_LIMIT_IP_PER_MINUTE: '0',
    RATE_LIMIT_PRINCIPAL_PER_MINUTE: '0',
    ...chain.gatewayEnv(0),
  });
}, 180_000);

afterAll(async () => {
  await stopIfRunning(gateway);
  await stopProcess(upstream?.child);
  await chain?.stop();
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
});

async function get(path: string, token: string): Promise<Json> {
  const response = await fetch(`${gateway.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
  expect(response.status, path).toBe(200);
  return (await response.json()) as Json;
}

describe('pay per call with the official x402 client', () => {
  it('402 with the per-call price, then paid, recorded on the wallet account and charged by the reported usage', async () => {
    const url = `${gateway.url}/v1/upstreams/paid/v1/chat/completions?call=ppc-1&in=3000&out=1000`;
    const request = { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"m"}' };
    const unpaid = await fetch(url, request);
    expect(unpaid.status).toBe(402);
    const offered = decodePaymentRequiredHeader(unpaid.headers.get('payment-required') as string);
    expect(offered.accepts[0]).toMatchObject({ scheme: 'exact', amount: perCallMicro.toString() });

    const payerKey = chain.payerKeys[0] as `0x${string}`;
    const payer = privateKeyToAccount(payerKey).address;
    const before = { payer: await chain.balanceOf(payer), payTo: await chain.balanceOf(chain.payTo) };
    const client = new x402Client().setSpendControls({
      allowedAssets: [{ network: chain.network, asset: chain.usdc.address }],
    });
    registerExactEvmScheme(client, { signer: privateKeyToAccount(payerKey) });
    const paid = await wrapFetchWithPayment(fetch, client)(url, request);
    expect(paid.status, await paid.clone().text()).toBe(200);
    const body = (await paid.json()) as { usage: { prompt_tokens: number; completion_tokens: number } };
    expect(body.usage).toMatchObject({ prompt_tokens: 3000, completion_tokens: 1000 });
    expect(paid.headers.get('payment-response')).not.toBeNull();
    expect(await chain.balanceOf(payer)).toBe(before.payer - perCallMicro);
    expect(await chain.balanceOf(chain.payTo)).toBe(before.payTo + perCallMicro);

    // The payment: plain credit (no pack) on the payer's wallet account.
    const { payments } = (await get('/v1/payments?status=credited', adminToken)) as { payments: Json[] };
    const payment = payments.find((p) => String(p.payer).toLowerCase() === payer.toLowerCase());
    expect(payment).toMatchObject({ packId: null, amountMicro: perCallMicro.toString() });
    const accountId = payment?.accountId as string;
    const account = await get(`/v1/accounts/${accountId}`, serviceToken);
    expect(account).toMatchObject({ entityType: 'wallet', entityId: payer.toLowerCase() });

    // Charged by the meter's itemized cost of the reported usage; the rest stays as credit on the wallet account.
    // 3000 input tokens at 1000 µ$ per 1000 + 1000 output tokens at 2000 µ$ per 1000.
    const cost = 5_000n;
    const balance = await get(`/v1/accounts/${accountId}/balance`, serviceToken);
    expect(balance).toMatchObject({ availableMicro: (perCallMicro - cost).toString(), reservedMicro: '0' });
    const { entries } = (await get(`/v1/accounts/${accountId}/entries?limit=100`, serviceToken)) as { entries: Json[] };
    expect(entries.map((entry) => entry.kind)).toEqual(expect.arrayContaining(['mint', 'reserve', 'consume']));
  }, 120_000);
});
