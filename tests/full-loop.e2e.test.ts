/**
 * The full loop on real processes (issue 6): a Hardhat chain with our EIP-3009 token, two gateway processes
 * sharing Postgres (DATABASE_URL) and Redis (REDIS_URL), payments on with the local facilitator (one settlement
 * signer per process). An agent with a wallet and no credits: reserve → 402 + PAYMENT-REQUIRED → pays with the
 * official x402 client on the purchase route → credits → reserve → finalize → revenue split → `ledger verify` clean.
 * Then replays across instances and restarts, refused payments, and a SIGKILL in the middle of 200 paid and metered
 * calls. Skipped (with the reason printed) without DATABASE_URL and REDIS_URL.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mintAdminToken, mintServiceToken, mintUserToken } from '@arrakis/e2e-contracts';
import { registerExactEvmScheme } from '@x402/evm/exact/client';
import { decodePaymentResponseHeader, wrapFetchWithPayment, x402Client } from '@x402/fetch';
import postgres from 'postgres';
import type { Address, Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GatewayProcess, readDevJwk, spawnGateway, stopIfRunning } from '../apps/gateway/src/testing/processes.js';
import { createTestDatabase } from '../apps/gateway/src/testing/test-ledger-db.js';
import {
  offeredRequirements,
  type PaymentsChain,
  type PaymentTamper,
  signPayment,
  startPaymentsChain,
} from '../apps/gateway/src/testing/x402-payer.js';
import { freeLoopbackPortForTests } from './free-port.js';

const databaseUrl = process.env.DATABASE_URL;
const redisUrl = process.env.REDIS_URL;
const missing = [databaseUrl ? null : 'DATABASE_URL', redisUrl ? null : 'REDIS_URL'].filter((v) => v !== null);
const skipReason = missing.length > 0 ? `skipped: ${missing.join(' and ')} not set (two gateways must share them)` : '';
if (skipReason !== '') console.warn(`full-loop.e2e: ${skipReason}`);

const ledgerCli = fileURLToPath(new URL('../packages/billing-ledger/dist/cli.js', import.meta.url));
/** Paid and metered calls of the crash run, and when (calls done) one gateway is killed. */
const crashRunCalls = 200;
const killAfterCalls = 100;
const holdMicro = 1_000_000n;
/** The meters the agents reserve through (id → holdMicro): a $3 call, and the loop's $1 call. */
const agentMeters = { 'agent-call-3usd': '3000000', 'agent-call': holdMicro.toString() } as const;

type Json = Record<string, unknown>;

describe.skipIf(skipReason !== '')(`full loop: pay → credits → metered calls → revenue split ${skipReason}`, () => {
  let chain: PaymentsChain;
  let database: { url: string; drop(): Promise<void> };
  let sql: postgres.Sql;
  let dataDir: string;
  const ports: number[] = [];
  const gateways: (GatewayProcess | undefined)[] = [undefined, undefined];
  let devJwk: Awaited<ReturnType<typeof readDevJwk>>;
  let serviceToken: string;
  let adminToken: string;
  const suiteStartMs = Date.now();

  function envOf(index: number): Record<string, string> {
    return {
      DATABASE_URL: database.url,
      REDIS_URL: redisUrl ?? '',
      DATA_DIR: dataDir,
      PORT: String(ports[index]),
      RATE_LIMIT_KEY_PREFIX: `full-loop-${randomBytes(6).toString('hex')}`,
      RATE_LIMIT_IP_PER_MINUTE: '0',
      RATE_LIMIT_PRINCIPAL_PER_MINUTE: '0',
      LEDGER_SWEEP_INTERVAL_MS: '0',
      // A purchase in flight on the killed instance is taken over by a retry on the other once its lease ends.
      X402_PAYMENT_LEASE_MS: '5000',
      X402_RECONCILE_INTERVAL_MS: '1000',
      ...chain.gatewayEnv(index),
    };
  }
  const url = (index: number) => `http://127.0.0.1:${ports[index]}`;
  async function start(index: number): Promise<void> {
    gateways[index] = await spawnGateway(envOf(index));
  }
  async function stopGracefully(index: number): Promise<void> {
    const gateway = gateways[index];
    if (gateway === undefined || gateway.child.exitCode !== null || gateway.child.signalCode !== null) return;
    gateway.child.kill('SIGTERM');
    await gateway.exited;
  }

  beforeAll(async () => {
    [chain, database] = await Promise.all([
      startPaymentsChain({ payerCount: 4, settlerCount: 2, fundedMicro: 1_000_000_000n }),
      createTestDatabase(databaseUrl as string, 'full_loop'),
    ]);
    sql = postgres(database.url, { max: 2, onnotice: () => {} });
    dataDir = await mkdtemp(join(tmpdir(), 'arrakis-full-loop-'));
    ports.push(await freeLoopbackPortForTests(), await freeLoopbackPortForTests());
    // One after the other: the first migrates the shared database and creates the dev key the second reuses.
    await start(0);
    await start(1);
    devJwk = await readDevJwk(dataDir);
    serviceToken = await mintServiceToken({
      privateKey: devJwk,
      issuer: 'arrakis-gateway',
      sub: 'metering',
      ttlSeconds: 1800,
    });
    adminToken = await mintAdminToken({
      privateKey: devJwk,
      issuer: 'arrakis-gateway',
      sub: 'auditor',
      ttlSeconds: 1800,
    });
    // Users reserve through the operator's price book only: one meter per hold size the agents use.
    for (const [id, holdMicroText] of Object.entries(agentMeters)) {
      const created = await call(0, 'POST', '/v1/meters', {
        token: adminToken,
        json: { id, holdMicro: holdMicroText, unitPrices: [{ dimension: 'request', priceMicro: '1', perUnits: '1' }] },
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
    }
  }, 180_000);

  afterAll(async () => {
    for (const gateway of gateways) await stopIfRunning(gateway);
    await sql?.end({ timeout: 5 });
    await chain?.stop();
    await database?.drop();
    if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
    console.info(`full-loop.e2e: suite took ${((Date.now() - suiteStartMs) / 1000).toFixed(1)} s`);
  });

  async function call(
    index: number,
    method: string,
    path: string,
    options: { token?: string; json?: unknown; headers?: Record<string, string> } = {},
  ): Promise<{ status: number; body: Json; headers: Headers }> {
    const response = await fetch(`${url(index)}${path}`, {
      method,
      headers: {
        ...(options.json === undefined ? {} : { 'content-type': 'application/json' }),
        authorization: `Bearer ${options.token ?? serviceToken}`,
        ...options.headers,
      },
      ...(options.json === undefined ? {} : { body: JSON.stringify(options.json) }),
    });
    const text = await response.text();
    return { status: response.status, body: text === '' ? {} : (JSON.parse(text) as Json), headers: response.headers };
  }

  async function newAgent(label: string): Promise<{ sub: string; token: string; accountId: string }> {
    const sub = `${label}-${randomBytes(4).toString('hex')}`;
    const created = await call(0, 'POST', '/v1/accounts', { json: { entityType: 'user', entityId: sub } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    return {
      sub,
      accountId: created.body.id as string,
      token: await mintUserToken({ privateKey: devJwk, issuer: 'arrakis-gateway', sub, ttlSeconds: 1800 }),
    };
  }

  async function purchaseRows(accountId?: string) {
    return accountId === undefined
      ? sql<{ reference: string; pack_id: string; amount_micro: string; lot_id: string; account_id: string }[]>`
          select reference, pack_id, amount_micro::text, lot_id, account_id from payments`
      : sql<{ reference: string; pack_id: string; amount_micro: string; lot_id: string; account_id: string }[]>`
          select reference, pack_id, amount_micro::text, lot_id, account_id from payments where account_id = ${accountId}`;
  }
  async function purchaseLotRows(accountId: string) {
    return sql<{ id: string; source_id: string; original_micro: string }[]>`
      select id, source_id, original_micro::text from lots where account_id = ${accountId} and source_type = 'purchase'`;
  }

  function ledgerVerify(): Promise<{ code: number; report: { ok: boolean; violations: unknown[] } }> {
    return new Promise((resolve, reject) => {
      execFile(
        process.execPath,
        [ledgerCli, 'verify', '--database-url', database.url, '--json'],
        { timeout: 60_000 },
        (error, stdout) => {
          const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
          try {
            resolve({ code, report: JSON.parse(stdout) as { ok: boolean; violations: unknown[] } });
          } catch (parseError) {
            reject(parseError);
          }
        },
      );
    });
  }

  it('an agent without credits gets a 402 offer, pays with the official x402 client, then is metered and the charge split', async () => {
    // Both processes run on the shared Postgres and Redis with payments on, and log the signer's address, never its key.
    for (const [index, gateway] of gateways.entries()) {
      const listening = (gateway?.stdout() ?? '')
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Json)
        .find((entry) => entry.msg === 'listening');
      expect(listening).toMatchObject({
        ledger: 'postgres',
        counters: 'redis',
        payments: {
          enabled: true,
          network: chain.network,
          facilitator: { kind: 'local', signer: privateKeyToAccount(chain.settlerKeys[index] as Hex).address },
        },
      });
      const output = `${gateway?.stdout() ?? ''}${gateway?.stderr() ?? ''}`.toLowerCase();
      for (const key of chain.settlerKeys) expect(output).not.toContain(key.slice(2).toLowerCase());
    }
    const agent = await newAgent('agent');
    const agentKey = chain.payerKeys[0] as Hex;
    const wallet = privateKeyToAccount(agentKey);
    const payeeBefore = await chain.balanceOf(chain.payTo);
    const walletBefore = await chain.balanceOf(wallet.address);

    // 1. The metered call finds no credits: 402 insufficient_credits, with an x402 offer for the smallest pack.
    const short = await call(1, 'POST', '/v1/reservations', {
      token: agent.token,
      json: { accountId: agent.accountId, meterId: 'agent-call-3usd' },
    });
    expect(short.status).toBe(402);
    expect(short.body.error).toBe('insufficient_credits');
    const offer = offeredRequirements(new Response(null, { status: 402, headers: short.headers }));
    expect(offer.resourceUrl).toBe(`${url(1)}/v1/credit-packs/starter/purchase`);
    expect(offer.requirements).toMatchObject({ amount: '5000000', network: chain.network, payTo: chain.payTo });

    // 2. The official client pays the offer's purchase route (402 → signs → retries with PAYMENT-SIGNATURE).
    const client = new x402Client().setSpendControls({
      allowedAssets: [{ network: chain.network, asset: chain.usdc.address, maxAmountPerPayment: '25000000' }],
    });
    registerExactEvmScheme(client, { signer: wallet });
    const payFetch = wrapFetchWithPayment(fetch, client);
    const paid = await payFetch(offer.resourceUrl, {
      method: 'POST',
      headers: { authorization: `Bearer ${agent.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ accountId: agent.accountId }),
    });
    const purchase = (await paid.json()) as Json & { lot: Json; balance: Json; payment: Json };
    expect(paid.status, JSON.stringify(purchase)).toBe(201);
    const receipt = decodePaymentResponseHeader(paid.headers.get('payment-response') ?? '');
    expect(receipt).toMatchObject({ success: true, network: chain.network, payer: wallet.address });
    expect(purchase.lot).toMatchObject({ sourceType: 'purchase', originalMicro: '5000000' });
    expect(purchase.balance).toMatchObject({ availableMicro: '5000000' });
    expect(await chain.balanceOf(chain.payTo)).toBe(payeeBefore + 5_000_000n);
    expect(await chain.balanceOf(wallet.address)).toBe(walletBefore - 5_000_000n);

    // 3. Credits appear on the other instance; reserve, then finalize with the actual cost.
    const balance = await call(0, 'GET', `/v1/accounts/${agent.accountId}/balance`, { token: agent.token });
    expect(balance.body.availableMicro).toBe('5000000');
    const hold = await call(0, 'POST', '/v1/reservations', {
      token: agent.token,
      json: { accountId: agent.accountId, meterId: 'agent-call-3usd' },
    });
    expect(hold.status, JSON.stringify(hold.body)).toBe(201);
    const finalized = await call(1, 'POST', `/v1/reservations/${hold.body.id as string}/finalize`, {
      json: { actualCostMicro: '2345679' },
    });
    expect(finalized.status, JSON.stringify(finalized.body)).toBe(200);
    expect(finalized.body).toMatchObject({ chargedMicro: '2345679', releasedMicro: '654321' });
    expect((finalized.body.balance as Json).availableMicro).toBe(String(5_000_000 - 2_345_679));

    // 4. The split follows the rule in force: each share is floor(charge × bps / 10 000), the foundation takes the
    //    rounding remainder, and the shares sum to the charge exactly.
    const active = await call(0, 'GET', '/v1/revenue-rules/active', { token: adminToken });
    expect(active.status, JSON.stringify(active.body)).toBe(200);
    const distribution = finalized.body.distribution as Json & { shares: Record<string, string> };
    expect(distribution).toMatchObject({ kind: 'charge', amountMicro: '2345679', ruleId: active.body.id });
    const charge = 2_345_679n;
    const bps = (name: string) => BigInt(active.body[`${name}Bps`] as number);
    const commons = (charge * bps('commons')) / 10_000n;
    const community = (charge * bps('community')) / 10_000n;
    expect(BigInt(distribution.shares.commons as string)).toBe(commons);
    expect(BigInt(distribution.shares.community as string)).toBe(community);
    const total = Object.values(distribution.shares).reduce((sum, share) => sum + BigInt(share), 0n);
    expect(total).toBe(charge);
    if (active.body.schemaVersion === 1) {
      expect(BigInt(distribution.shares.foundation as string)).toBe(charge - commons - community);
    }

    // 5. Balance and journal are consistent.
    const verified = await ledgerVerify();
    expect(verified.report.violations).toEqual([]);
    expect(verified).toMatchObject({ code: 0, report: { ok: true } });
  });

  it('one signed payment sent to both instances concurrently, and again after restarting both, mints once', async () => {
    const agent = await newAgent('replayer');
    const payer = chain.payerKeys[1] as Hex;
    const unpaid = await call(0, 'POST', '/v1/credit-packs/standard/purchase', {
      json: { accountId: agent.accountId },
    });
    const { requirements } = offeredRequirements(new Response(null, { status: 402, headers: unpaid.headers }));
    const payment = await signPayment(payer, requirements, chain.usdc);
    const payeeBefore = await chain.balanceOf(chain.payTo);
    const send = (index: number) =>
      call(index, 'POST', '/v1/credit-packs/standard/purchase', {
        json: { accountId: agent.accountId },
        headers: { 'payment-signature': payment },
      });
    const answers = await Promise.all([0, 1, 0, 1, 0, 1].map(send));
    expect(answers.map((a) => a.status)).toEqual(Array(6).fill(201));
    expect(answers.filter((a) => a.body.replayed === false)).toHaveLength(1);
    expect(new Set(answers.map((a) => (a.body.lot as Json).id)).size).toBe(1);

    await Promise.all([stopGracefully(0), stopGracefully(1)]);
    await start(0);
    await start(1);
    const after = await Promise.all([send(0), send(1)]);
    expect(after.map((a) => [a.status, a.body.replayed])).toEqual([
      [201, true],
      [201, true],
    ]);
    expect(await purchaseRows(agent.accountId)).toHaveLength(1);
    expect(await purchaseLotRows(agent.accountId)).toHaveLength(1);
    expect(await chain.balanceOf(chain.payTo)).toBe(payeeBefore + 10_000_000n);
  });

  it('refuses tampered amount, wrong payTo, wrong chain, expired window and forged signature: nothing minted, no token moved', async () => {
    const agent = await newAgent('tamperer');
    const payer = chain.payerKeys[1] as Hex;
    const payerAddress = privateKeyToAccount(payer).address;
    const unpaid = await call(1, 'POST', '/v1/credit-packs/starter/purchase', { json: { accountId: agent.accountId } });
    const { requirements } = offeredRequirements(new Response(null, { status: 402, headers: unpaid.headers }));
    const price = BigInt(requirements.amount);
    const cases: [string, PaymentTamper][] = [
      ['amount_mismatch', { sentValue: price - 1n }],
      ['pay_to_mismatch', { to: privateKeyToAccount(chain.brokeKey).address as Address }],
      ['network_mismatch', { chainId: 1 }],
      ['authorization_expired', { validBefore: BigInt(Math.floor(Date.now() / 1000) - 60) }],
      ['invalid_signature', { forgeWithKey: chain.payerKeys[2] as Hex }],
    ];
    const before = await Promise.all([chain.balanceOf(payerAddress), chain.balanceOf(chain.payTo)]);
    for (const [index, [code, tamper]] of cases.entries()) {
      const refused = await call(index % 2, 'POST', '/v1/credit-packs/starter/purchase', {
        json: { accountId: agent.accountId },
        headers: { 'payment-signature': await signPayment(payer, requirements, chain.usdc, tamper) },
      });
      expect([refused.status, refused.body.error], code).toEqual([402, code]);
      expect(refused.headers.get('payment-required')).not.toBeNull();
    }
    expect(await purchaseRows(agent.accountId)).toHaveLength(0);
    expect(await purchaseLotRows(agent.accountId)).toHaveLength(0);
    expect(await Promise.all([chain.balanceOf(payerAddress), chain.balanceOf(chain.payTo)])).toEqual(before);
  });

  it(`survives a SIGKILL in the middle of ${crashRunCalls} paid and metered calls: every 2xx is in the ledger, nothing minted twice`, async () => {
    const agents = await Promise.all([newAgent('crash-a'), newAgent('crash-b')]);
    const payerKeys = [chain.payerKeys[2] as Hex, chain.payerKeys[3] as Hex];
    const payeeBefore = await chain.balanceOf(chain.payTo);
    const walletsBefore = await Promise.all(payerKeys.map((k) => chain.balanceOf(privateKeyToAccount(k).address)));
    const answered = {
      purchases: [] as { accountId: string; lotId: string; reference: string }[],
      finalized: [] as { reservationId: string; accountId: string; chargedMicro: bigint }[],
    };
    let callsDone = 0;
    let killed = false;
    let restarted: Promise<void> | undefined;
    let networkErrors = 0;
    let restartedUp = false;
    let answeredByRestarted = 0;

    /** Sends to `preferred`, or to the other instance when it cannot be reached; retries the same request (same
     * idempotency key, same signed payment) on a connection error until an instance answers. */
    async function send(preferred: number, method: string, path: string, options: Parameters<typeof call>[3]) {
      for (let attempt = 0; attempt < 200; attempt += 1) {
        const index = (preferred + attempt) % 2;
        try {
          const answer = await call(index, method, path, options);
          if (restartedUp && index === 0) answeredByRestarted += 1;
          return answer;
        } catch {
          networkErrors += 1;
          if (attempt % 2 === 1) await new Promise((r) => setTimeout(r, 50));
        }
      }
      throw new Error(`no instance answered ${method} ${path}`);
    }

    async function worker(agentIndex: number, calls: number): Promise<void> {
      const agent = agents[agentIndex] as { token: string; accountId: string };
      const payerKey = payerKeys[agentIndex] as Hex;
      for (let i = 0; i < calls; i += 1) {
        const preferred = (i + agentIndex) % 2;
        const costMicro = 700_000n + BigInt((i * 7919) % 300_000);
        let reserved: { status: number; body: Json; headers: Headers } | undefined;
        for (let attempt = 0; reserved === undefined || reserved.status !== 201; attempt += 1) {
          if (attempt > 5) throw new Error(`call ${i}: reserve kept failing: ${JSON.stringify(reserved?.body)}`);
          reserved = await send(preferred, 'POST', '/v1/reservations', {
            token: agent.token,
            json: { accountId: agent.accountId, meterId: 'agent-call' },
            headers: { 'idempotency-key': `reserve-${agentIndex}-${i}-${attempt}` },
          });
          if (reserved.status === 402) {
            const offer = offeredRequirements(new Response(null, { status: 402, headers: reserved.headers }));
            const payment = await signPayment(payerKey, offer.requirements, chain.usdc);
            const path = new URL(offer.resourceUrl).pathname;
            const bought = await send(preferred, 'POST', path, {
              token: agent.token,
              json: { accountId: agent.accountId },
              headers: { 'payment-signature': payment },
            });
            expect(bought.status, JSON.stringify(bought.body)).toBe(201);
            answered.purchases.push({
              accountId: agent.accountId,
              lotId: (bought.body.lot as Json).id as string,
              reference: (bought.body.payment as Json).reference as string,
            });
          } else if (reserved.status !== 201) {
            throw new Error(`call ${i}: reserve answered ${reserved.status} ${JSON.stringify(reserved.body)}`);
          }
        }
        const reservationId = reserved.body.id as string;
        const finalized = await send(preferred + 1, 'POST', `/v1/reservations/${reservationId}/finalize`, {
          json: { actualCostMicro: costMicro.toString() },
          headers: { 'idempotency-key': `finalize-${reservationId}` },
        });
        expect(finalized.status, JSON.stringify(finalized.body)).toBe(200);
        answered.finalized.push({
          reservationId,
          accountId: agent.accountId,
          chargedMicro: BigInt(finalized.body.chargedMicro as string),
        });
        callsDone += 1;
        if (callsDone >= killAfterCalls && !killed) {
          killed = true;
          gateways[0]?.child.kill('SIGKILL');
          restarted = (async () => {
            await gateways[0]?.exited;
            await start(0);
            restartedUp = true;
          })();
        }
      }
    }

    await Promise.all([worker(0, crashRunCalls / 2), worker(1, crashRunCalls / 2)]);
    await restarted;
    expect(killed).toBe(true);
    expect(networkErrors).toBeGreaterThan(0);
    expect(answeredByRestarted).toBeGreaterThan(0);
    expect(answered.finalized).toHaveLength(crashRunCalls);
    console.info(
      `full-loop.e2e: crash run: ${answered.purchases.length} purchases, ${crashRunCalls} metered calls, ${networkErrors} connection errors retried, ${answeredByRestarted} answers from the restarted instance`,
    );

    // Every answered call is in the ledger.
    for (const done of answered.finalized) {
      const [row] = await sql<{ status: string; charged_micro: string; account_id: string }[]>`
        select status, charged_micro::text, account_id from reservations where id = ${done.reservationId}`;
      expect(row).toMatchObject({
        status: 'finalized',
        charged_micro: done.chargedMicro.toString(),
        account_id: done.accountId,
      });
    }
    let boughtMicro = 0n;
    for (const [index, agent] of agents.entries()) {
      const payments = await purchaseRows(agent.accountId);
      const lots = await purchaseLotRows(agent.accountId);
      const answeredHere = answered.purchases.filter((p) => p.accountId === agent.accountId);
      // Nothing minted twice: one lot per payment, one payment per answered purchase.
      expect(new Set(lots.map((lot) => lot.source_id)).size).toBe(lots.length);
      expect(lots.map((lot) => lot.id).sort()).toEqual(payments.map((p) => p.lot_id).sort());
      expect(payments.map((p) => p.reference).sort()).toEqual(answeredHere.map((p) => p.reference).sort());
      const paidMicro = payments.reduce((sum, p) => sum + BigInt(p.amount_micro), 0n);
      const creditsMicro = lots.reduce((sum, lot) => sum + BigInt(lot.original_micro), 0n);
      const chargedMicro = answered.finalized
        .filter((f) => f.accountId === agent.accountId)
        .reduce((sum, f) => sum + f.chargedMicro, 0n);
      const balance = await call(1, 'GET', `/v1/accounts/${agent.accountId}/balance`);
      expect(BigInt(balance.body.availableMicro as string)).toBe(creditsMicro - chargedMicro);
      expect(balance.body.reservedMicro).toBe('0');
      // The wallet paid exactly the packs that were minted.
      const wallet = privateKeyToAccount(payerKeys[index] as Hex).address;
      expect(await chain.balanceOf(wallet)).toBe((walletsBefore[index] as bigint) - paidMicro);
      boughtMicro += paidMicro;
    }
    expect(await chain.balanceOf(chain.payTo)).toBe(payeeBefore + boughtMicro);
    const verified = await ledgerVerify();
    expect(verified.report.violations).toEqual([]);
    expect(verified).toMatchObject({ code: 0, report: { ok: true } });
  }, 240_000);
});
