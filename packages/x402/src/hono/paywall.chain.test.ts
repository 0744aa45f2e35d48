/**
 * The paywall end to end on real components: a Hardhat node with our EIP-3009 token, the local facilitator
 * settling on chain, the chain resolver, and the Postgres payment state store (PGlite, or Postgres with
 * DATABASE_URL): claim committed, settlement with no transaction open, the effect once in its own transaction.
 */
import { testUsdcAbi } from '@arrakis/dev-chain';
import { sql } from 'drizzle-orm';
import { Hono } from 'hono';
import { createPublicClient, createWalletClient, type Hex, http, parseSignature } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresPaymentStateStore } from '../adapters/postgres/state-store.js';
import { rpcAuthorizationResolver } from '../chain/resolver.js';
import { type LocalFacilitator, localFacilitator } from '../facilitator/local.js';
import { startTestChain, type TestChain } from '../testing/chain.js';
import { TestClock } from '../testing/clock.js';
import { header, signPayloadV1, signPayloadV2 } from '../testing/sign.js';
import { openTestDb, type TestDb } from '../testing/test-db.js';
import { decodeBase64Json } from '../wire/codec.js';
import type { PaymentPayloadV2, PaymentRequirements } from '../wire/schemas.js';
import { paidWithStore } from './paid-with-store.js';
import { x402Paywall } from './paywall.js';

let chain: TestChain;
let handle: TestDb;
let facilitator: LocalFacilitator;
let requirements: PaymentRequirements;
const clock = new TestClock(Date.now());

beforeAll(async () => {
  [chain, handle] = await Promise.all([startTestChain({ payerCount: 2 }), openTestDb({ max: 20 })]);
  await handle.db.execute(
    sql`create table credits (id serial primary key, reference text not null, owner text not null, amount_micro numeric not null)`,
  );
  // The facilitator reads version 1 payloads too, so it gets the same extra v1 network name as the paywall.
  facilitator = localFacilitator({
    rpcUrl: chain.node.rpcUrl,
    signerKey: chain.settlerKey,
    clock,
    v1NetworkNames: { 'arrakis-local': chain.network },
  });
  requirements = chain.requirementsFor(2_000_000n);
}, 120_000);
afterAll(async () => {
  await chain?.stop();
  await handle?.close();
});

type Credit = { creditId: number; creditedMicro: string };

function buildApp(options: { failEffect?: () => void; verifyWithFacilitator?: boolean } = {}) {
  const store = postgresPaymentStateStore({
    db: handle.db,
    clock,
    effect: async (tx, record): Promise<Credit> => {
      const rows = (await tx.execute(
        sql`insert into credits (reference, owner, amount_micro)
            values (${record.reference}, ${record.payer}, ${record.amountAtomic.toString()}) returning id`,
      )) as unknown;
      const list = Array.isArray(rows) ? rows : (rows as { rows: { id: number }[] }).rows;
      options.failEffect?.();
      return { creditId: Number((list[0] as { id: number }).id), creditedMicro: record.amountAtomic.toString() };
    },
  });
  const resolver = rpcAuthorizationResolver({ rpcUrl: chain.node.rpcUrl }, { clock });
  const app = new Hono();
  app.onError((error, c) => c.json({ error: 'internal', message: error.message }, 500));
  app.post(
    '/credits',
    x402Paywall({
      requirements,
      facilitator,
      clock,
      v1NetworkNames: { 'arrakis-local': chain.network },
      ...(options.verifyWithFacilitator === undefined ? {} : { verifyWithFacilitator: options.verifyWithFacilitator }),
      ...paidWithStore(store, { resolver, retryInMs: 0 }),
    }),
    (c) => {
      const paid = c.get('x402');
      return c.json({ ...(paid.result as object), replayed: paid.replayed }, 201);
    },
  );
  return { app, store };
}

async function post({ app }: { app: Hono }, headers: Record<string, string>) {
  const response = await app.request('http://local.test/credits', { method: 'POST', headers });
  return { response, body: (await response.json()) as Record<string, unknown> };
}

async function creditsFor(reference: string): Promise<number> {
  const rows = await handle.query<{ n: bigint | number | string }>(
    'select count(*) as n from credits where reference = $1',
    [reference],
  );
  return Number(rows[0]?.n);
}

function referenceOf(payload: PaymentPayloadV2 | { payload: Record<string, unknown> }): string {
  const auth = (payload.payload as { authorization: { from: string; nonce: string } }).authorization;
  return `${chain.network}:${chain.usdc.address.toLowerCase()}:${auth.from.toLowerCase()}:${auth.nonce}`;
}

describe('x402Paywall + localFacilitator + postgresPaymentStateStore on a real chain', () => {
  it('pays: 201, PAYMENT-RESPONSE with the transaction, tokens moved on chain, one credit row', async () => {
    clock.set(Date.now());
    const app = buildApp();
    const payer = chain.payers[0]!;
    const payload = await signPayloadV2(payer, requirements);
    const before = { payer: await chain.balanceOf(payer.address), payTo: await chain.balanceOf(chain.payTo) };
    const { response, body } = await post(app, { 'PAYMENT-SIGNATURE': header(payload) });
    expect(response.status).toBe(201);
    expect(body).toMatchObject({ creditedMicro: '2000000', replayed: false });
    const settlement = decodeBase64Json(response.headers.get('payment-response') as string) as Record<string, string>;
    expect(settlement).toMatchObject({ success: true, network: chain.network, payer: payer.address });
    const receipt = await createPublicClient({ transport: http(chain.node.rpcUrl) }).getTransactionReceipt({
      hash: settlement.transaction as Hex,
    });
    expect(receipt.status).toBe('success');
    expect(receipt.to?.toLowerCase()).toBe(chain.usdc.address.toLowerCase());
    expect(await chain.balanceOf(payer.address)).toBe(before.payer - 2_000_000n);
    expect(await chain.balanceOf(chain.payTo)).toBe(before.payTo + 2_000_000n);
    expect(await creditsFor(referenceOf(payload))).toBe(1);
  });

  it('the same signed payment sent 8 times at once: one credit, one transfer, every answer the same result', async () => {
    clock.set(Date.now());
    const app = buildApp();
    const payer = chain.payers[1]!;
    const payload = await signPayloadV2(payer, requirements);
    const before = await chain.balanceOf(payer.address);
    const answers = await Promise.all(
      Array.from({ length: 8 }, () => post(app, { 'PAYMENT-SIGNATURE': header(payload) })),
    );
    expect(answers.map((a) => a.response.status)).toEqual(Array(8).fill(201));
    expect(answers.filter((a) => a.body.replayed === false)).toHaveLength(1);
    expect(new Set(answers.map((a) => a.body.creditId)).size).toBe(1);
    const transactions = answers.map(
      (a) =>
        (decodeBase64Json(a.response.headers.get('payment-response') as string) as { transaction: string }).transaction,
    );
    expect(new Set(transactions).size).toBe(1);
    expect(await chain.balanceOf(payer.address)).toBe(before - 2_000_000n);
    expect(await creditsFor(referenceOf(payload))).toBe(1);

    // And again later (the nonce is used on chain now): the first result, no transfer.
    const replay = await post(buildApp(), { 'PAYMENT-SIGNATURE': header(payload) });
    expect(replay.response.status).toBe(201);
    expect(replay.body).toMatchObject({ creditId: answers[0]!.body.creditId, replayed: true });
    // And after the authorization's window: still the first result (not authorization_expired).
    clock.advanceSeconds(requirements.maxTimeoutSeconds + 60);
    const late = await post(buildApp(), { 'PAYMENT-SIGNATURE': header(payload) });
    expect([late.response.status, late.body.creditId, late.body.replayed]).toEqual([
      201,
      answers[0]!.body.creditId,
      true,
    ]);
    expect(late.response.headers.get('payment-response')).toBe(replay.response.headers.get('payment-response'));
    expect(await chain.balanceOf(payer.address)).toBe(before - 2_000_000n);
  });

  it('tampered amount, wrong payTo, wrong chain, expired window, forged signature: 402 with the code, nothing minted, no token moved', async () => {
    clock.set(Date.now());
    const app = buildApp();
    const payer = chain.payers[0]!;
    const before = { payer: await chain.balanceOf(payer.address), payTo: await chain.balanceOf(chain.payTo) };
    const good = await signPayloadV2(payer, requirements);
    const auth = (good.payload as { authorization: Record<string, string> }).authorization;
    const cases: [string, unknown][] = [
      ['amount_mismatch', await signPayloadV2(payer, requirements, { message: { value: 1_000_000n } })],
      ['amount_mismatch', { ...good, payload: { ...good.payload, authorization: { ...auth, value: '1000000' } } }],
      [
        'invalid_signature',
        {
          ...good,
          payload: { ...good.payload, authorization: { ...auth, validBefore: String(Number(auth.validBefore) + 1) } },
        },
      ],
      ['pay_to_mismatch', await signPayloadV2(payer, requirements, { message: { to: chain.payers[1]!.address } })],
      ['network_mismatch', { ...good, accepted: { ...good.accepted, network: 'eip155:8453' } }],
      ['invalid_signature', await signPayloadV2(payer, requirements, { domain: { chainId: 8453 } })],
      [
        'authorization_expired',
        await signPayloadV2(payer, requirements, {
          message: { validBefore: BigInt(Math.floor(Date.now() / 1000) - 1) },
        }),
      ],
      ['invalid_signature', await signPayloadV2(chain.payers[1]!, requirements, { message: { from: payer.address } })],
      ['insufficient_funds', await signPayloadV2(chain.broke, requirements)],
    ];
    for (const [code, payload] of cases) {
      const { response, body } = await post(app, { 'PAYMENT-SIGNATURE': header(payload) });
      expect({ code, status: response.status, error: body.error }).toEqual({ code, status: 402, error: code });
    }
    const count = await handle.query<{ n: bigint | number | string }>(
      'select count(*) as n from credits where owner = $1',
      [payer.address],
    );
    expect(Number(count[0]?.n)).toBe(1); // the one from the first test
    expect(await chain.balanceOf(payer.address)).toBe(before.payer);
    expect(await chain.balanceOf(chain.payTo)).toBe(before.payTo);
  });

  it('a failing effect after the settlement: 500, the record stays settled, the retry credits once and settles nothing', async () => {
    clock.set(Date.now());
    const payer = chain.payers[0]!;
    const payload = await signPayloadV2(payer, requirements);
    const before = await chain.balanceOf(payer.address);
    const failing = buildApp({
      failEffect: () => {
        throw new Error('ledger refused the mint');
      },
    });
    const { response, body } = await post(failing, { 'PAYMENT-SIGNATURE': header(payload) });
    expect(response.status).toBe(500);
    expect(body.message).toBe('ledger refused the mint');
    expect(await chain.balanceOf(payer.address)).toBe(before - 2_000_000n);
    expect(await creditsFor(referenceOf(payload))).toBe(0);
    expect((await failing.store.find(referenceOf(payload)))?.status).toBe('settled');
    clock.advanceSeconds(121); // the failed attempt's lease ends
    const retry = await post(buildApp(), { 'PAYMENT-SIGNATURE': header(payload) });
    expect(retry.response.status).toBe(201);
    expect(retry.body.replayed).toBe(false);
    expect(await chain.balanceOf(payer.address)).toBe(before - 2_000_000n);
    expect(await creditsFor(referenceOf(payload))).toBe(1);
  });

  it('a refused settlement: 402 with its code and PAYMENT-RESPONSE success:false, nothing credited, the record failed', async () => {
    clock.set(Date.now());
    // Skip the facilitator's pre-check so the empty wallet is found by settle() itself.
    const built = buildApp({ verifyWithFacilitator: false });
    const payload = await signPayloadV2(chain.broke, requirements);
    const { response, body } = await post(built, { 'PAYMENT-SIGNATURE': header(payload) });
    expect(response.status).toBe(402);
    expect(body.error).toBe('insufficient_funds');
    expect(decodeBase64Json(response.headers.get('payment-response') as string)).toMatchObject({
      success: false,
      errorReason: 'insufficient_funds',
    });
    expect(await creditsFor(referenceOf(payload))).toBe(0);
    expect(await built.store.find(referenceOf(payload))).toMatchObject({
      status: 'failed',
      failure: { code: 'insufficient_funds' },
    });
  });

  it('recovers a payment settled on chain whose effect was never committed (crash between settle and commit)', async () => {
    clock.set(Date.now());
    const payer = chain.payers[1]!;
    const payload = await signPayloadV2(payer, requirements);
    const auth = (
      payload.payload as {
        authorization: { from: Hex; to: Hex; value: string; validAfter: string; validBefore: string; nonce: Hex };
      }
    ).authorization;
    const { r, s, v } = parseSignature((payload.payload as { signature: Hex }).signature);
    const wallet = createWalletClient({ account: chain.payers[0]!, transport: http(chain.node.rpcUrl) });
    const original = await wallet.writeContract({
      address: chain.usdc.address,
      abi: testUsdcAbi,
      functionName: 'transferWithAuthorization',
      args: [
        auth.from,
        auth.to,
        BigInt(auth.value),
        BigInt(auth.validAfter),
        BigInt(auth.validBefore),
        auth.nonce,
        Number(v),
        r,
        s,
      ],
      chain: null,
    });
    const before = await chain.balanceOf(payer.address);
    const { response, body } = await post(buildApp(), { 'PAYMENT-SIGNATURE': header(payload) });
    expect(response.status).toBe(201);
    expect(body.replayed).toBe(false);
    expect(decodeBase64Json(response.headers.get('payment-response') as string)).toMatchObject({
      success: true,
      transaction: original,
    });
    expect(await chain.balanceOf(payer.address)).toBe(before);
    expect(await creditsFor(referenceOf(payload))).toBe(1);
  });

  it('a nonce already used on chain by another authorization of the payer: 402 nonce_already_used, nothing minted', async () => {
    clock.set(Date.now());
    const payer = chain.payers[0]!;
    const mine = await signPayloadV2(payer, requirements);
    const nonce = (mine.payload as { authorization: { nonce: Hex } }).authorization.nonce;
    const elsewhere = chain.requirementsFor(2_000_000n, { payTo: chain.payers[1]!.address });
    const theirs = await signPayloadV2(payer, elsewhere, { message: { nonce } });
    expect((await facilitator.settle(theirs, elsewhere)).success).toBe(true);
    const before = { payer: await chain.balanceOf(payer.address), payTo: await chain.balanceOf(chain.payTo) };
    const { response, body } = await post(buildApp(), { 'PAYMENT-SIGNATURE': header(mine) });
    expect(response.status).toBe(402);
    expect(body.error).toBe('nonce_already_used');
    expect(await creditsFor(referenceOf(mine))).toBe(0);
    expect(await chain.balanceOf(payer.address)).toBe(before.payer);
    expect(await chain.balanceOf(chain.payTo)).toBe(before.payTo);
  });

  it('version 1 (X-PAYMENT with a configured network name) settles and answers X-PAYMENT-RESPONSE', async () => {
    clock.set(Date.now());
    const payer = chain.payers[0]!;
    const payload = await signPayloadV1(payer, requirements, 'arrakis-local');
    const before = await chain.balanceOf(payer.address);
    const { response, body } = await post(buildApp(), { 'X-PAYMENT': header(payload) });
    expect({ status: response.status, body }).toMatchObject({ status: 201, body: { replayed: false } });
    expect(response.headers.get('payment-response')).toBeNull();
    expect(decodeBase64Json(response.headers.get('x-payment-response') as string)).toMatchObject({ success: true });
    expect(await chain.balanceOf(payer.address)).toBe(before - 2_000_000n);
    expect(await creditsFor(referenceOf(payload))).toBe(1);
  });
});
