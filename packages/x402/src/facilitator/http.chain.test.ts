import { HTTPFacilitatorClient } from '@x402/core/http';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { facilitatorApp } from '../hono/facilitator-app.js';
import { startTestChain, type TestChain } from '../testing/chain.js';
import { TestClock } from '../testing/clock.js';
import { type Served, serveOnLoopback } from '../testing/serve.js';
import { signPayloadV2 } from '../testing/sign.js';
import { httpFacilitator, normalizeReason } from './http.js';
import { localFacilitator } from './local.js';

let chain: TestChain;
let served: Served;
const clock = new TestClock(Date.now());
const seenAuthorization: string[] = [];

beforeAll(async () => {
  chain = await startTestChain({ payerCount: 1 });
  const app = new Hono();
  app.use('/facilitator/*', async (c, next) => {
    seenAuthorization.push(c.req.header('authorization') ?? '');
    await next();
  });
  app.route(
    '/facilitator',
    facilitatorApp(localFacilitator({ rpcUrl: chain.node.rpcUrl, signerKey: chain.settlerKey, clock })),
  );
  served = await serveOnLoopback(app);
}, 120_000);
afterAll(async () => {
  await served?.close();
  await chain?.stop();
});

describe('httpFacilitator ↔ facilitatorApp(localFacilitator) over a real loopback HTTP server', () => {
  it('supported, verify and settle round-trip; settle moves real tokens', async () => {
    clock.set(Date.now());
    const remote = httpFacilitator({
      url: `${served.url}/facilitator/`,
      headers: (endpoint) => ({ authorization: `Bearer ${endpoint}` }),
    });
    expect(await remote.supported()).toEqual({
      kinds: [{ x402Version: 2, scheme: 'exact', network: chain.network }],
      extensions: [],
      signers: { 'eip155:*': [expect.stringMatching(/^0x/)] },
    });
    const requirements = chain.requirementsFor(1_500_000n);
    const payload = await signPayloadV2(chain.payers[0]!, requirements);
    expect(await remote.verify(payload, requirements)).toEqual({ isValid: true, payer: chain.payers[0]!.address });
    const before = await chain.balanceOf(chain.payTo);
    const settled = await remote.settle(payload, requirements);
    expect(settled).toMatchObject({
      success: true,
      network: chain.network,
      payer: chain.payers[0]!.address,
      amount: '1500000',
    });
    expect(await chain.balanceOf(chain.payTo)).toBe(before + 1_500_000n);
    expect(await remote.verify(payload, requirements)).toMatchObject({
      isValid: false,
      invalidReason: 'nonce_already_used',
    });
    expect(seenAuthorization.slice(0, 3)).toEqual(['Bearer supported', 'Bearer verify', 'Bearer settle']);
  });

  it('negative answers travel as values with our codes; nothing moves', async () => {
    clock.set(Date.now());
    const remote = httpFacilitator({ url: `${served.url}/facilitator` });
    const requirements = chain.requirementsFor(1_000_000n);
    const broke = await signPayloadV2(chain.broke, requirements);
    const before = await chain.balanceOf(chain.payTo);
    expect(await remote.verify(broke, requirements)).toMatchObject({
      isValid: false,
      invalidReason: 'insufficient_funds',
    });
    expect(await remote.settle(broke, requirements)).toMatchObject({
      success: false,
      errorReason: 'insufficient_funds',
      transaction: '',
    });
    expect(await remote.verify(broke, { ...requirements, amount: 'lots' } as never)).toMatchObject({
      isValid: false,
      invalidReason: 'malformed_payment',
    });
    expect(await chain.balanceOf(chain.payTo)).toBe(before);
  });

  it('the official HTTPFacilitatorClient (@x402/core) speaks to facilitatorApp: getSupported, verify, settle', async () => {
    clock.set(Date.now());
    const official = new HTTPFacilitatorClient({ url: `${served.url}/facilitator` });
    const supported = await official.getSupported();
    expect(supported.kinds).toEqual([{ x402Version: 2, scheme: 'exact', network: chain.network }]);
    const requirements = chain.requirementsFor(700_000n);
    const payload = await signPayloadV2(chain.payers[0]!, requirements);
    expect(await official.verify(payload as never, requirements as never)).toMatchObject({ isValid: true });
    const before = await chain.balanceOf(chain.payTo);
    const settled = await official.settle(payload as never, requirements as never);
    expect(settled).toMatchObject({ success: true, network: chain.network });
    expect(await chain.balanceOf(chain.payTo)).toBe(before + 700_000n);
  });

  it('a request that is not the wire format is a 400 malformed_payment; a broken facilitator URL is facilitator_unavailable', async () => {
    const response = await fetch(`${served.url}/facilitator/verify`, { method: 'POST', body: '{"x402Version":2}' });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'malformed_payment' });
    const wrongPath = httpFacilitator({ url: `${served.url}/nothing-here` });
    await expect(wrongPath.supported()).rejects.toMatchObject({ code: 'facilitator_unavailable' });
  });

  it('maps official reason codes to ours', () => {
    expect(normalizeReason('invalid_exact_evm_payload_signature', 'settlement_failed')).toBe('invalid_signature');
    expect(normalizeReason('invalid_exact_evm_payload_authorization_valid_before', 'settlement_failed')).toBe(
      'authorization_expired',
    );
    expect(normalizeReason('amount_mismatch', 'settlement_failed')).toBe('amount_mismatch');
    expect(normalizeReason('something_new', 'settlement_failed')).toBe('settlement_failed');
    expect(normalizeReason('invalid_option', 'malformed_payment')).toBe('malformed_payment');
  });
});
