/**
 * Interop with the OFFICIAL x402 facilitator (@x402/core `x402Facilitator` + @x402/evm exact-scheme facilitator,
 * served over HTTP by `startOfficialFacilitator`) on a real Hardhat chain with our TestUsdc: our `httpFacilitator`
 * verifies and settles through it, and `x402Paywall` sells through it to the official client. Every fetch in this
 * file is refused unless it goes to loopback.
 */
import { decodePaymentResponseHeader } from '@x402/core/http';
import { registerExactEvmScheme } from '@x402/evm/exact/client';
import { wrapFetchWithPayment, x402Client } from '@x402/fetch';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { x402Paywall } from '../hono/paywall.js';
import { startTestChain, type TestChain } from '../testing/chain.js';
import { type OfficialFacilitatorService, startOfficialFacilitator } from '../testing/official-facilitator.js';
import { type Served, serveOnLoopback } from '../testing/serve.js';
import { signPayloadV2 } from '../testing/sign.js';
import type { PaymentPayloadV2 } from '../wire/schemas.js';
import { httpFacilitator } from './http.js';

const realFetch = globalThis.fetch;
let chain: TestChain;
let official: OfficialFacilitatorService;
const servers: Served[] = [];

beforeAll(async () => {
  globalThis.fetch = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (url.hostname !== '127.0.0.1' && url.hostname !== 'localhost' && url.hostname !== '[::1]') {
      throw new Error(`test refused a non-loopback request to ${url.href}`);
    }
    return realFetch(input, init);
  }) as typeof fetch;
  chain = await startTestChain({ payerCount: 2 });
  official = await startOfficialFacilitator({
    rpcUrl: chain.node.rpcUrl,
    settlerKey: chain.settlerKey,
    network: chain.network,
  });
}, 120_000);
afterAll(async () => {
  globalThis.fetch = realFetch;
  for (const served of servers) await served.close();
  await official?.close();
  await chain?.stop();
});

/** `httpFacilitator` to the official service, keeping every raw answer body (to pin the official reasons). */
function remoteFacilitator() {
  const raw: Record<string, unknown>[] = [];
  const recording: typeof fetch = async (input, init) => {
    const response = await fetch(input, init);
    raw.push((await response.clone().json()) as Record<string, unknown>);
    return response;
  };
  return { facilitator: httpFacilitator({ url: official.url, fetch: recording }), raw };
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

describe('httpFacilitator ↔ the official x402 facilitator (@x402/core + @x402/evm 2.27) on a Hardhat chain', () => {
  it('GET /supported parses as ours: exact on our chain id for version 2, and the settler as signer', async () => {
    const { facilitator } = remoteFacilitator();
    const supported = await facilitator.supported();
    expect(supported.kinds).toContainEqual({ x402Version: 2, scheme: 'exact', network: chain.network });
    expect(supported.kinds.filter((kind) => kind.x402Version === 2)).toHaveLength(1);
    expect(supported.signers).toEqual({ 'eip155:*': [official.settler] });
  });

  it("the service answers a body that is not the wire format with 400 invalid_payload, and refuses a network that is not the node's", async () => {
    const response = await fetch(`${official.url}/verify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ x402Version: 2, paymentPayload: {}, paymentRequirements: {} }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ isValid: false, invalidReason: 'invalid_payload' });
    await expect(
      startOfficialFacilitator({ rpcUrl: chain.node.rpcUrl, settlerKey: chain.settlerKey, network: 'eip155:1' }),
    ).rejects.toMatchObject({ code: 'invalid_option', message: expect.stringMatching(/reports chain id 31337/) });
  });

  it('verify: a valid payment in our TestUsdc is valid for its payer, and nothing moves', async () => {
    const { facilitator } = remoteFacilitator();
    const requirements = chain.requirementsFor(1_100_000n);
    const payer = chain.payers[0]!;
    const payload = await signPayloadV2(payer, requirements);
    const before = await chain.balanceOf(payer.address);
    expect(await facilitator.verify(payload, requirements)).toEqual({ isValid: true, payer: payer.address });
    expect(await chain.balanceOf(payer.address)).toBe(before);
  });

  it('verify refuses tampered and bad payments with reasons normalizeReason maps to our codes; nothing moves', async () => {
    const requirements = chain.requirementsFor(1_000_000n);
    const payer = chain.payers[0]!;
    const valid = await signPayloadV2(payer, requirements);
    const authorization = valid.payload.authorization as Record<string, unknown>;
    const tampered = { ...valid, payload: { ...valid.payload, authorization: { ...authorization, value: '999999' } } };
    const cases: [string, PaymentPayloadV2, { official: string; ours: string }][] = [
      ['value changed after signing', tampered, { official: 'invalid_exact_evm_signature', ours: 'invalid_signature' }],
      [
        'signed by another key',
        await signPayloadV2(chain.payers[1]!, requirements, { message: { from: payer.address } }),
        { official: 'invalid_exact_evm_signature', ours: 'invalid_signature' },
      ],
      [
        'pays someone else',
        await signPayloadV2(payer, requirements, { message: { to: chain.broke.address } }),
        { official: 'invalid_exact_evm_recipient_mismatch', ours: 'pay_to_mismatch' },
      ],
      [
        'signs another value',
        await signPayloadV2(payer, requirements, { message: { value: 999_999n } }),
        { official: 'invalid_exact_evm_payload_authorization_value_mismatch', ours: 'amount_mismatch' },
      ],
      [
        'expired window',
        await signPayloadV2(payer, requirements, { message: { validBefore: BigInt(nowSeconds() - 60) } }),
        { official: 'invalid_exact_evm_payload_authorization_valid_before', ours: 'authorization_expired' },
      ],
      [
        'payer without funds',
        await signPayloadV2(chain.broke, requirements),
        { official: 'invalid_exact_evm_insufficient_balance', ours: 'insufficient_funds' },
      ],
    ];
    const before = await Promise.all([chain.balanceOf(payer.address), chain.balanceOf(chain.payTo)]);
    const answers: { name: string; official: unknown; ours: unknown }[] = [];
    for (const [name, payload] of cases) {
      const { facilitator, raw } = remoteFacilitator();
      const answer = await facilitator.verify(payload, requirements);
      expect(answer.isValid, name).toBe(false);
      answers.push({ name, official: raw[0]?.invalidReason, ours: answer.invalidReason });
    }
    // One assertion for the whole table, so a failure lists every reason that is not mapped.
    expect(answers).toEqual(cases.map(([name, , expected]) => ({ name, ...expected })));
    expect(await Promise.all([chain.balanceOf(payer.address), chain.balanceOf(chain.payTo)])).toEqual(before);
  });

  it('settle: success with the transaction, tokens moved on chain once; the same payment again is refused and moves nothing', async () => {
    const { facilitator } = remoteFacilitator();
    const requirements = chain.requirementsFor(2_500_000n);
    const payer = chain.payers[1]!;
    const payload = await signPayloadV2(payer, requirements);
    const before = await Promise.all([chain.balanceOf(payer.address), chain.balanceOf(chain.payTo)]);
    const settled = await facilitator.settle(payload, requirements);
    expect(settled).toMatchObject({ success: true, network: chain.network, payer: payer.address });
    expect(settled.transaction).toMatch(/^0x[0-9a-f]{64}$/);
    const receipt = await fetch(chain.node.rpcUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'eth_getTransactionReceipt',
        params: [settled.transaction],
      }),
    }).then((r) => r.json() as Promise<{ result: { status: string; from: string } }>);
    expect(receipt.result).toMatchObject({ status: '0x1', from: official.settler.toLowerCase() });
    const after = [before[0]! - 2_500_000n, before[1]! + 2_500_000n];
    expect(await Promise.all([chain.balanceOf(payer.address), chain.balanceOf(chain.payTo)])).toEqual(after);

    expect(await facilitator.verify(payload, requirements)).toMatchObject({
      isValid: false,
      invalidReason: 'nonce_already_used',
    });
    expect(await facilitator.settle(payload, requirements)).toMatchObject({
      success: false,
      errorReason: 'settlement_failed',
      transaction: '',
    });
    expect(await Promise.all([chain.balanceOf(payer.address), chain.balanceOf(chain.payTo)])).toEqual(after);
  });

  it('x402Paywall + httpFacilitator → official facilitator, paid by the official client: 201 with the credits; tokens moved', async () => {
    const credits = new Map<string, bigint>();
    const app = new Hono();
    app.post(
      '/v1/credits',
      x402Paywall({
        requirements: chain.requirementsFor(3_000_000n),
        facilitator: httpFacilitator({ url: official.url }),
        resource: { description: 'Prepaid credits', mimeType: 'application/json' },
        onPaid: async ({ payment, settle }) => {
          const settlement = await settle();
          credits.set(payment.reference, payment.amountAtomic);
          return { result: { creditedMicro: payment.amountAtomic.toString(), owner: payment.payer }, settlement };
        },
      }),
      (c) => c.json(c.get('x402').result, 201),
    );
    const served = await serveOnLoopback(app);
    servers.push(served);
    const payer = chain.payers[0]!;
    const before = await Promise.all([chain.balanceOf(payer.address), chain.balanceOf(chain.payTo)]);

    const unpaid = await fetch(`${served.url}/v1/credits`, { method: 'POST' });
    expect(unpaid.status).toBe(402);
    expect(unpaid.headers.get('payment-required')).not.toBeNull();

    const client = new x402Client().setSpendControls({
      allowedAssets: [{ network: chain.network, asset: chain.usdc.address }],
    });
    registerExactEvmScheme(client, { signer: payer });
    const response = await wrapFetchWithPayment(fetch, client)(`${served.url}/v1/credits`, { method: 'POST' });
    expect(response.status).toBe(201);
    expect(await response.json()).toEqual({ creditedMicro: '3000000', owner: payer.address });
    const settlement = decodePaymentResponseHeader(response.headers.get('PAYMENT-RESPONSE') as string);
    expect(settlement).toMatchObject({ success: true, network: chain.network, payer: payer.address });
    expect(settlement.transaction).toMatch(/^0x[0-9a-f]{64}$/);
    expect([...credits.values()]).toEqual([3_000_000n]);
    expect(await Promise.all([chain.balanceOf(payer.address), chain.balanceOf(chain.payTo)])).toEqual([
      before[0]! - 3_000_000n,
      before[1]! + 3_000_000n,
    ]);
  });
});
