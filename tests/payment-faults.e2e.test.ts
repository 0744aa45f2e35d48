/**
 * Fault tests of two-phase payments (issue 13) on real processes: a Hardhat chain with our EIP-3009 token, gateway
 * processes on their embedded store (one DATA_DIR each), the local facilitator settling on chain.
 * - a SIGKILL after the settlement transaction is sent and before the mint, restarted after the authorization's
 *   `validBefore`: the reconciler mints exactly once, the client's replay gets the stored answer;
 * - the RPC down during the settlement: 503 with a code, the payment left `settling`, reconciled once it is back;
 * - a settlement that reverts: `failed`, nothing minted;
 * - a chain that does not mine for 20 s: reserves, finalizes and `GET /v1/events` keep answering meanwhile.
 * Every request goes to loopback.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileSolidity } from '@arrakis/dev-chain';
import { mintAdminToken, mintServiceToken } from '@arrakis/e2e-contracts';
import { createPublicClient, createWalletClient, type Hex, http } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type GatewayProcess,
  readDevJwk,
  runServerToExit,
  spawnGateway,
  stopIfRunning,
} from '../apps/gateway/src/testing/processes.js';
import {
  offeredRequirements,
  type PaymentsChain,
  signPayment,
  startPaymentsChain,
} from '../apps/gateway/src/testing/x402-payer.js';
import { jsonRpc, type RpcProxy, startRpcProxy } from '../packages/x402/src/testing/rpc-proxy.js';

type Json = Record<string, unknown>;
interface Answer {
  status: number;
  body: Json;
  headers: Headers;
}

/** How long a signed payment stays valid in these tests (the SIGKILL test waits it out). */
const maxTimeoutSeconds = 15;
const starterPriceMicro = 5_000_000n;

let chain: PaymentsChain;
const dataDirs: string[] = [];
const started: GatewayProcess[] = [];

const rpc = jsonRpc;

async function pendingTransactionCount(): Promise<number> {
  const block = (await rpc(chain.node.rpcUrl, 'eth_getBlockByNumber', ['pending', false])) as {
    transactions: string[];
  };
  return block.transactions.length;
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** One gateway on its own embedded store, with fast reconciler timings. */
class Gateway {
  process: GatewayProcess | undefined;
  serviceToken = '';
  adminToken = '';
  constructor(
    readonly dataDir: string,
    readonly env: Record<string, string>,
  ) {}

  static async start(env: Record<string, string> = {}): Promise<Gateway> {
    const dataDir = await mkdtemp(join(tmpdir(), 'arrakis-payment-faults-'));
    dataDirs.push(dataDir);
    const gateway = new Gateway(dataDir, {
      DATA_DIR: dataDir,
      RATE_LIMIT_IP_PER_MINUTE: '0',
      RATE_LIMIT_PRINCIPAL_PER_MINUTE: '0',
      X402_MAX_TIMEOUT_SECONDS: String(maxTimeoutSeconds),
      X402_PAYMENT_LEASE_MS: '2000',
      X402_PAYMENT_RETRY_MS: '500',
      X402_RECONCILE_INTERVAL_MS: '500',
      ...chain.gatewayEnv(0),
      ...env,
    });
    await gateway.restart();
    const devJwk = await readDevJwk(dataDir);
    gateway.serviceToken = await mintServiceToken({ privateKey: devJwk, sub: 'metering', ttlSeconds: 1800 });
    gateway.adminToken = await mintAdminToken({ privateKey: devJwk, sub: 'operator', ttlSeconds: 1800 });
    return gateway;
  }

  async restart(): Promise<void> {
    this.process = await spawnGateway(this.env);
    started.push(this.process);
  }

  async stop(): Promise<void> {
    await stopIfRunning(this.process);
  }

  async kill(): Promise<void> {
    this.process?.child.kill('SIGKILL');
    await this.process?.exited;
  }

  async call(
    method: string,
    path: string,
    options: { token?: string; json?: unknown; headers?: Record<string, string> } = {},
  ): Promise<Answer> {
    const response = await fetch(`${this.process?.url}${path}`, {
      method,
      headers: {
        ...(options.json === undefined ? {} : { 'content-type': 'application/json' }),
        authorization: `Bearer ${options.token ?? this.serviceToken}`,
        ...options.headers,
      },
      ...(options.json === undefined ? {} : { body: JSON.stringify(options.json) }),
    });
    const text = await response.text();
    return { status: response.status, body: text === '' ? {} : (JSON.parse(text) as Json), headers: response.headers };
  }

  async newAccount(label: string): Promise<string> {
    const created = await this.call('POST', '/v1/accounts', {
      json: { entityType: 'user', entityId: `${label}-${randomBytes(4).toString('hex')}` },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    return created.body.id as string;
  }

  /** A signed payment for the starter pack of `accountId` (from the route's own 402). */
  async signedStarterPayment(accountId: string, payerKey: Hex): Promise<string> {
    const unpaid = await this.call('POST', '/v1/credit-packs/starter/purchase', { json: { accountId } });
    expect(unpaid.status).toBe(402);
    const { requirements } = offeredRequirements(new Response(null, { status: 402, headers: unpaid.headers }));
    expect(BigInt(requirements.amount)).toBe(starterPriceMicro);
    return signPayment(payerKey, requirements, chain.usdc);
  }

  purchase(accountId: string, payment: string): Promise<Answer> {
    return this.call('POST', '/v1/credit-packs/starter/purchase', {
      json: { accountId },
      headers: { 'payment-signature': payment },
    });
  }

  async payment(reference: string): Promise<Json> {
    const answer = await this.call('GET', `/v1/payments/${encodeURIComponent(reference)}`, { token: this.adminToken });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    return answer.body;
  }

  async purchaseLots(accountId: string): Promise<Json[]> {
    const answer = await this.call('GET', `/v1/accounts/${accountId}/lots`);
    expect(answer.status).toBe(200);
    return (answer.body.lots as Json[]).filter((lot) => lot.sourceType === 'purchase');
  }
}

function referenceOf(payment: string): string {
  const decoded = JSON.parse(Buffer.from(payment, 'base64').toString('utf8')) as {
    accepted: { network: string; asset: string };
    payload: { authorization: { from: string; nonce: string } };
  };
  const { accepted, payload } = decoded;
  return `${accepted.network}:${accepted.asset.toLowerCase()}:${payload.authorization.from.toLowerCase()}:${payload.authorization.nonce.toLowerCase()}`;
}

beforeAll(async () => {
  chain = await startPaymentsChain({ payerCount: 4, settlerCount: 1, fundedMicro: 1_000_000_000n });
}, 120_000);

afterAll(async () => {
  for (const gateway of started) await stopIfRunning(gateway);
  await chain?.stop();
  for (const dir of dataDirs) await rm(dir, { recursive: true, force: true });
});

describe('two-phase payments under faults (real chain, real processes)', () => {
  it('SIGKILL after the settlement is sent, restart after validBefore: the reconciler mints once; the replay gets the stored answer', async () => {
    const gateway = await Gateway.start();
    const accountId = await gateway.newAccount('killed');
    const payerKey = chain.payerKeys[0] as Hex;
    const payer = privateKeyToAccount(payerKey).address;
    const payment = await gateway.signedStarterPayment(accountId, payerKey);
    const before = { payer: await chain.balanceOf(payer), payTo: await chain.balanceOf(chain.payTo) };

    await rpc(chain.node.rpcUrl, 'evm_setAutomine', [false]);
    try {
      const inFlight = gateway.purchase(accountId, payment).catch((error: unknown) => error);
      await waitFor('the settlement transaction in the mempool', async () =>
        (await pendingTransactionCount()) > 0 ? true : undefined,
      );
      await gateway.kill();
      expect(await inFlight).toBeInstanceOf(Error);
      await rpc(chain.node.rpcUrl, 'evm_mine');
    } finally {
      await rpc(chain.node.rpcUrl, 'evm_setAutomine', [true]);
    }
    expect(await chain.balanceOf(payer)).toBe(before.payer - starterPriceMicro);

    // Restart once the authorization has expired: only the reconciler can credit it now.
    const validBeforeMs =
      (Number(JSON.parse(Buffer.from(payment, 'base64').toString()).payload.authorization.validBefore) + 1) * 1000;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, validBeforeMs - Date.now())));
    await gateway.restart();
    const reference = referenceOf(payment);
    const credited = await waitFor('the reconciler to credit the payment', async () => {
      const record = await gateway.payment(reference);
      return record.status === 'credited' ? record : undefined;
    });
    expect(credited).toMatchObject({ accountId, packId: 'starter', failure: null });
    expect(credited.transaction).toMatch(/^0x[0-9a-f]{64}$/);

    const replay = await gateway.purchase(accountId, payment);
    expect(replay.status, JSON.stringify(replay.body)).toBe(201);
    expect(replay.body).toMatchObject({ replayed: true, lot: { id: credited.lotId } });
    expect(replay.headers.get('payment-response')).not.toBeNull();
    expect(await gateway.purchaseLots(accountId)).toHaveLength(1);
    expect(await chain.balanceOf(payer)).toBe(before.payer - starterPriceMicro);
    expect(await chain.balanceOf(chain.payTo)).toBe(before.payTo + starterPriceMicro);
    await gateway.stop();
  }, 120_000);

  it('RPC down during the settlement: 503 with a code, left settling, reconciled once the RPC is back', async () => {
    const proxy: RpcProxy = await startRpcProxy(chain.node.rpcUrl);
    try {
      const gateway = await Gateway.start({ X402_RPC_URL: proxy.url, X402_MAX_TIMEOUT_SECONDS: '300' });
      const accountId = await gateway.newAccount('rpc-down');
      const payerKey = chain.payerKeys[1] as Hex;
      const payment = await gateway.signedStarterPayment(accountId, payerKey);
      const payTo = await chain.balanceOf(chain.payTo);

      // The RPC dies as the settlement goes out: the send and everything after it fail.
      proxy.failMethod('eth_sendRawTransaction', { thenDown: true });
      const refused = await gateway.purchase(accountId, payment);
      expect([refused.status, refused.body.error], JSON.stringify(refused.body)).toEqual([
        503,
        'facilitator_unavailable',
      ]);
      expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
      const reference = referenceOf(payment);
      expect(await gateway.payment(reference)).toMatchObject({ status: 'settling', lotId: null });
      expect(await gateway.purchaseLots(accountId)).toHaveLength(0);

      proxy.failMethod(null);
      proxy.setDown(false);
      const credited = await waitFor('the reconciler to settle and credit', async () => {
        const record = await gateway.payment(reference);
        return record.status === 'credited' ? record : undefined;
      });
      expect(credited.lotId).toEqual(expect.any(String));
      const replay = await gateway.purchase(accountId, payment);
      expect(replay.body).toMatchObject({ replayed: true, lot: { id: credited.lotId } });
      expect(await gateway.purchaseLots(accountId)).toHaveLength(1);
      expect(await chain.balanceOf(chain.payTo)).toBe(payTo + starterPriceMicro);
      await gateway.stop();
    } finally {
      await proxy.close();
    }
  }, 120_000);

  it('a settlement that reverts is failed with its reason and mints nothing', async () => {
    const gateway = await Gateway.start({ X402_MAX_TIMEOUT_SECONDS: '300' });
    const accountId = await gateway.newAccount('reverted');
    const payerKey = chain.payerKeys[2] as Hex;
    const payer = privateKeyToAccount(payerKey).address;
    const payment = await gateway.signedStarterPayment(accountId, payerKey);
    const payTo = await chain.balanceOf(chain.payTo);

    await rpc(chain.node.rpcUrl, 'evm_setAutomine', [false]);
    let refused: Answer;
    try {
      const inFlight = gateway.purchase(accountId, payment);
      await waitFor('the settlement transaction in the mempool', async () =>
        (await pendingTransactionCount()) > 0 ? true : undefined,
      );
      // The payer empties the wallet first (a higher tip mines first): the settlement reverts in the same block.
      await chain.drain(payerKey);
      await rpc(chain.node.rpcUrl, 'evm_mine');
      refused = await inFlight;
    } finally {
      await rpc(chain.node.rpcUrl, 'evm_setAutomine', [true]);
    }
    expect([refused.status, refused.body.error], JSON.stringify(refused.body)).toEqual([402, 'settlement_failed']);
    const record = await gateway.payment(referenceOf(payment));
    expect(record).toMatchObject({ status: 'failed', lotId: null, failure: { code: 'settlement_failed' } });
    expect(record.transaction).toBe(null);
    expect(await gateway.purchaseLots(accountId)).toHaveLength(0);
    expect(await chain.balanceOf(payer)).toBe(0n);
    expect(await chain.balanceOf(chain.payTo)).toBe(payTo);
    await gateway.stop();
  }, 120_000);

  it('refuses to start when X402_ASSET is not a 6-decimal token, saying why', async () => {
    const source =
      'pragma solidity ^0.8.20; contract Eighteen { function decimals() external pure returns (uint8) { return 18; } }';
    const { contracts } = await compileSolidity({ 'Eighteen.sol': source });
    const compiled = contracts.Eighteen;
    if (compiled === undefined) throw new Error('Eighteen did not compile');
    const deployer = privateKeyToAccount(chain.brokeKey);
    const wallet = createWalletClient({ account: deployer, transport: http(chain.node.rpcUrl) });
    const hash = await wallet.deployContract({ abi: compiled.abi, bytecode: compiled.bytecode, chain: null });
    const receipt = await createPublicClient({ transport: http(chain.node.rpcUrl) }).waitForTransactionReceipt({
      hash,
    });
    const asset = receipt.contractAddress as string;
    const dataDir = await mkdtemp(join(tmpdir(), 'arrakis-payment-faults-'));
    dataDirs.push(dataDir);
    const refused = await runServerToExit({ DATA_DIR: dataDir, ...chain.gatewayEnv(0), X402_ASSET: asset });
    expect(refused.code).toBe(1);
    expect(refused.stdout + refused.stderr).toMatch(/could not start: .*has 18 decimals.*6/);
  }, 120_000);

  it('a chain that does not mine for 20 s: reserves, finalizes and the event feed keep answering meanwhile', async () => {
    const gateway = await Gateway.start({ X402_MAX_TIMEOUT_SECONDS: '300' });
    const buyer = await gateway.newAccount('slow-buyer');
    const others = [await gateway.newAccount('busy-a'), await gateway.newAccount('busy-b')];
    for (const accountId of others) {
      const granted = await gateway.call('POST', `/v1/accounts/${accountId}/grants`, {
        token: gateway.adminToken,
        json: { amountMicro: '100000000', reason: 'slow chain test' },
      });
      expect(granted.status, JSON.stringify(granted.body)).toBe(201);
    }
    const payment = await gateway.signedStarterPayment(buyer, chain.payerKeys[3] as Hex);

    await rpc(chain.node.rpcUrl, 'evm_setAutomine', [false]);
    const latenciesMs: Record<'reserve' | 'finalize' | 'events', number[]> = { reserve: [], finalize: [], events: [] };
    let purchase: Answer | undefined;
    try {
      const inFlight = gateway.purchase(buyer, payment).then((answer) => {
        purchase = answer;
        return answer;
      });
      await waitFor('the settlement transaction in the mempool', async () =>
        (await pendingTransactionCount()) > 0 ? true : undefined,
      );
      const pendingUntil = Date.now() + 20_000;
      for (let i = 0; Date.now() < pendingUntil && i < 400; i += 1) {
        const accountId = others[i % 2] as string;
        const timed = async (kind: keyof typeof latenciesMs, run: () => Promise<Answer>): Promise<Answer> => {
          const startMs = performance.now();
          const answer = await run();
          latenciesMs[kind].push(performance.now() - startMs);
          return answer;
        };
        const reserved = await timed('reserve', () =>
          gateway.call('POST', '/v1/reservations', { json: { accountId, amountMicro: '1000' } }),
        );
        expect(reserved.status, JSON.stringify(reserved.body)).toBe(201);
        const finalized = await timed('finalize', () =>
          gateway.call('POST', `/v1/reservations/${reserved.body.id}/finalize`, { json: { actualCostMicro: '700' } }),
        );
        expect(finalized.status, JSON.stringify(finalized.body)).toBe(200);
        const events = await timed('events', () => gateway.call('GET', '/v1/events?limit=10'));
        expect(events.status).toBe(200);
        expect(purchase, 'the settlement is still pending').toBeUndefined();
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(await pendingTransactionCount()).toBe(1);
      await rpc(chain.node.rpcUrl, 'evm_mine');
      const paid = await inFlight;
      expect(paid.status, JSON.stringify(paid.body)).toBe(201);
    } finally {
      await rpc(chain.node.rpcUrl, 'evm_setAutomine', [true]);
    }
    const summary = Object.fromEntries(
      Object.entries(latenciesMs).map(([kind, values]) => {
        const sorted = [...values].sort((a, b) => a - b);
        const at = (q: number) => (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0).toFixed(1);
        return [kind, { count: values.length, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: at(1) }];
      }),
    );
    console.info(`payment-faults.e2e: while a settlement was pending 20 s: ${JSON.stringify(summary)}`);
    expect(latenciesMs.reserve.length).toBeGreaterThan(10);
    await gateway.stop();
  }, 120_000);
});
