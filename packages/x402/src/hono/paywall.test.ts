import { createServer } from 'node:net';
import { decodePaymentRequiredHeader as officialDecodeRequired } from '@x402/core/http';
import { PaymentRequiredV1Schema, PaymentRequiredV2Schema } from '@x402/core/schemas';
import { Hono } from 'hono';
import { getAddress } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { describe, expect, it } from 'vitest';
import { InvalidX402OptionError, X402Error, type X402ErrorCode } from '../errors.js';
import { httpFacilitator } from '../facilitator/http.js';
import { localFacilitator } from '../facilitator/local.js';
import { exactRequirements } from '../requirements.js';
import { TestClock } from '../testing/clock.js';
import { header, signPayloadV1, signPayloadV2 } from '../testing/sign.js';
import { decodeBase64Json, decodePaymentRequiredHeader, encodeBase64Json } from '../wire/codec.js';
import type { PaymentPayloadV2, PaymentRequirements } from '../wire/schemas.js';
import { freeOfCharge, type OnPaid, x402Paywall } from './paywall.js';
import { respondPaymentRequired } from './respond.js';

const nowSeconds = 1_767_225_600;
const clock = new TestClock(nowSeconds * 1000);
const payer = privateKeyToAccount(generatePrivateKey());
const payTo = privateKeyToAccount(generatePrivateKey()).address;
const asset = getAddress('0x5fbdb2315678afecb367f032d93f642f64180aa3');
const requirements = exactRequirements({
  network: 'eip155:31337',
  asset,
  payTo,
  amountAtomic: 1_000_000n,
  tokenName: 'USD Coin',
  tokenVersion: '2',
});
/** The real local facilitator without a chain: it verifies, and cannot settle. */
const verifyOnly = localFacilitator({ networks: ['eip155:31337', 'eip155:84532'], clock });

function appWith(
  options: { onPaid?: OnPaid; requirements?: PaymentRequirements | PaymentRequirements[]; acceptV1?: boolean } = {},
) {
  const calls = { onPaid: 0, handler: 0 };
  const app = new Hono();
  app.onError((error, c) => c.json({ error: 'internal', message: error.message }, 500));
  app.post(
    '/paid',
    x402Paywall({
      requirements: options.requirements ?? requirements,
      facilitator: verifyOnly,
      clock,
      ...(options.acceptV1 === undefined ? {} : { acceptV1: options.acceptV1 }),
      onPaid: async (context) => {
        calls.onPaid += 1;
        return options.onPaid === undefined ? { result: await context.settle() } : options.onPaid(context);
      },
    }),
    (c) => {
      calls.handler += 1;
      return c.json({ ok: true });
    },
  );
  return { app, calls };
}

async function post(app: Hono, headers: Record<string, string> = {}) {
  const response = await app.request('http://local.test/paid', { method: 'POST', headers });
  const body = (await response.json()) as Record<string, unknown>;
  return { response, body };
}

describe('x402Paywall: asking for payment', () => {
  it('answers 402 with PAYMENT-REQUIRED (base64 JSON, official v2 shape), no-store and a JSON error body', async () => {
    const { app, calls } = appWith();
    const { response, body } = await post(app);
    expect(response.status).toBe(402);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const raw = response.headers.get('payment-required') as string;
    const official = PaymentRequiredV2Schema.parse(officialDecodeRequired(raw));
    expect(official).toEqual({
      x402Version: 2,
      error: 'payment_required',
      resource: { url: 'http://local.test/paid' },
      accepts: [
        {
          scheme: 'exact',
          network: 'eip155:31337',
          amount: '1000000',
          asset,
          payTo,
          maxTimeoutSeconds: 300,
          extra: { name: 'USD Coin', version: '2' },
        },
      ],
    });
    expect(decodePaymentRequiredHeader(raw)).toEqual(official);
    expect(body).toEqual({ error: 'payment_required', message: expect.stringContaining('PAYMENT-SIGNATURE') });
    expect(calls).toEqual({ onPaid: 0, handler: 0 });
  });

  it('adds the version 1 body (x402Version 1 + accepts) when a network has a v1 name', async () => {
    const onBaseSepolia = exactRequirements({
      network: 'eip155:84532',
      asset,
      payTo,
      amountAtomic: 10_000n,
      tokenName: 'USDC',
      tokenVersion: '2',
    });
    const { app } = appWith({ requirements: [requirements, onBaseSepolia] });
    const { response, body } = await post(app);
    expect(response.status).toBe(402);
    expect(PaymentRequiredV1Schema.parse(body).accepts).toEqual([
      expect.objectContaining({
        network: 'base-sepolia',
        maxAmountRequired: '10000',
        resource: 'http://local.test/paid',
      }),
    ]);
    expect(body.error).toBe('payment_required');
    const { body: v2Only } = await post(appWith({ requirements: [onBaseSepolia], acceptV1: false }).app);
    expect(v2Only).not.toHaveProperty('accepts');
  });
});

describe('x402Paywall: refusing payments, each with its code', () => {
  const otherPayee = privateKeyToAccount(generatePrivateKey()).address;
  const cases: [X402ErrorCode, () => Promise<Record<string, string>>][] = [
    ['malformed_payment', async () => ({ 'PAYMENT-SIGNATURE': 'not base64!' })],
    [
      'malformed_payment',
      async () => ({ 'PAYMENT-SIGNATURE': encodeBase64Json({ x402Version: 2, accepted: requirements }) }),
    ],
    [
      'unsupported_version',
      async () => ({ 'PAYMENT-SIGNATURE': encodeBase64Json({ ...(await good()), x402Version: 3 }) }),
    ],
    [
      'unsupported_scheme',
      async () => ({ 'PAYMENT-SIGNATURE': header(await good({ accepted: { scheme: 'upto' as 'exact' } })) }),
    ],
    [
      'network_mismatch',
      async () => ({ 'PAYMENT-SIGNATURE': header(await good({ accepted: { network: 'eip155:1' } })) }),
    ],
    ['asset_mismatch', async () => ({ 'PAYMENT-SIGNATURE': header(await good({ accepted: { asset: otherPayee } })) })],
    ['pay_to_mismatch', async () => ({ 'PAYMENT-SIGNATURE': header(await good({ message: { to: otherPayee } })) })],
    ['amount_mismatch', async () => ({ 'PAYMENT-SIGNATURE': header(await good({ message: { value: 999_999n } })) })],
    [
      'requirements_mismatch',
      async () => ({ 'PAYMENT-SIGNATURE': header(await good({ accepted: { maxTimeoutSeconds: 60 } })) }),
    ],
    ['invalid_signature', async () => ({ 'PAYMENT-SIGNATURE': header(await good({ domain: { name: 'Fake USD' } })) })],
    [
      'authorization_expired',
      async () => ({ 'PAYMENT-SIGNATURE': header(await good({ message: { validBefore: BigInt(nowSeconds - 1) } })) }),
    ],
    [
      'authorization_not_yet_valid',
      async () => ({ 'PAYMENT-SIGNATURE': header(await good({ message: { validAfter: BigInt(nowSeconds + 60) } })) }),
    ],
    // A version 1 payload in the version 2 header (and the reverse) is malformed.
    [
      'malformed_payment',
      async () => ({
        'PAYMENT-SIGNATURE': header(await signPayloadV1(payer, requirements, 'eip155:31337', { nowSeconds })),
      }),
    ],
    ['malformed_payment', async () => ({ 'X-PAYMENT': header(await good()) })],
  ];

  async function good(options: Parameters<typeof signPayloadV2>[2] = {}): Promise<PaymentPayloadV2> {
    return signPayloadV2(payer, requirements, { nowSeconds, ...options });
  }

  it.each(cases)(
    '%s → 402 with the code in the body and in PAYMENT-REQUIRED.error; nothing runs',
    async (code, headers) => {
      const { app, calls } = appWith();
      const { response, body } = await post(app, await headers());
      expect(response.status).toBe(402);
      expect(body.error).toBe(code);
      expect(typeof body.message).toBe('string');
      expect(decodePaymentRequiredHeader(response.headers.get('payment-required') as string).error).toBe(code);
      expect(calls).toEqual({ onPaid: 0, handler: 0 });
    },
  );

  it('ignores X-PAYMENT when version 1 is off (payment_required)', async () => {
    const { app } = appWith({ acceptV1: false });
    const v1 = await signPayloadV1(payer, requirements, 'eip155:31337', { nowSeconds });
    const { response, body } = await post(app, { 'X-PAYMENT': header(v1) });
    expect(response.status).toBe(402);
    expect(body.error).toBe('payment_required');
  });
});

describe('x402Paywall: the onPaid contract', () => {
  async function paid() {
    return { 'PAYMENT-SIGNATURE': header(await signPayloadV2(payer, requirements, { nowSeconds })) };
  }

  it('a settlement that fails (here: a facilitator without a wallet) is a 402 settlement_failed with PAYMENT-RESPONSE success:false', async () => {
    const { app, calls } = appWith();
    const { response, body } = await post(app, await paid());
    expect(response.status).toBe(402);
    expect(body.error).toBe('settlement_failed');
    const settleAnswer = decodeBase64Json(response.headers.get('payment-response') as string);
    expect(settleAnswer).toMatchObject({
      success: false,
      errorReason: 'settlement_failed',
      transaction: '',
      network: 'eip155:31337',
    });
    expect(calls).toEqual({ onPaid: 1, handler: 0 });
  });

  it('a settlement failure swallowed by onPaid is still a 402, never a 200', async () => {
    const { app, calls } = appWith({
      onPaid: async ({ settle }) => {
        await settle().catch(() => undefined);
        return { result: 'effect applied anyway' };
      },
    });
    const { response, body } = await post(app, await paid());
    expect(response.status).toBe(402);
    expect(body.error).toBe('settlement_failed');
    expect(calls.handler).toBe(0);
  });

  it('an error thrown by onPaid reaches app.onError (never a 200)', async () => {
    const { app, calls } = appWith({
      onPaid: async () => {
        throw new Error('database is down');
      },
    });
    const { response, body } = await post(app, await paid());
    expect(response.status).toBe(500);
    expect(body).toEqual({ error: 'internal', message: 'database is down' });
    expect(calls.handler).toBe(0);
  });

  it('an onPaid that neither settles nor reports a replay is a server error, not a free effect', async () => {
    const { app, calls } = appWith({ onPaid: async () => ({ result: 'minted without paying' }) });
    const { response, body } = await post(app, await paid());
    expect(response.status).toBe(500);
    expect(String(body.message)).toMatch(/without calling settle/);
    expect(calls.handler).toBe(0);
  });

  it('an X402Error thrown by onPaid (e.g. the ledger found the nonce used by another authorization) is a 402 with its code', async () => {
    const { app } = appWith({
      onPaid: async () => {
        throw new X402Error('nonce_already_used', 'recorded with another amount');
      },
    });
    const { response, body } = await post(app, await paid());
    expect(response.status).toBe(402);
    expect(body.error).toBe('nonce_already_used');
  });

  it('a replay reported by onPaid passes with its recorded settlement in PAYMENT-RESPONSE', async () => {
    const recorded = {
      success: true as const,
      transaction: `0x${'ab'.repeat(32)}`,
      network: 'eip155:31337',
      payer: payer.address,
    };
    const { app, calls } = appWith({
      onPaid: async () => ({ replayed: true, settlement: recorded, result: { lotId: 7 } }),
    });
    const { response } = await post(app, await paid());
    expect(response.status).toBe(200);
    expect(decodeBase64Json(response.headers.get('payment-response') as string)).toEqual(recorded);
    expect(response.headers.get('cache-control')).toBe('private');
    expect(calls).toEqual({ onPaid: 1, handler: 1 });
  });
});

describe('x402Paywall: options and dynamic prices', () => {
  it('is a named function and validates its options when built', () => {
    const middleware = x402Paywall({
      requirements,
      facilitator: verifyOnly,
      onPaid: async ({ settle }) => ({ settlement: await settle() }),
    });
    expect(middleware.name).toBe('x402Paywall');
    const onPaid: OnPaid = async ({ settle }) => ({ settlement: await settle() });
    expect(() => x402Paywall({ requirements: [], facilitator: verifyOnly, onPaid })).toThrow(InvalidX402OptionError);
    expect(() =>
      x402Paywall({ requirements: { ...requirements, amount: '1.5' }, facilitator: verifyOnly, onPaid }),
    ).toThrow(/amount/);
    expect(() => x402Paywall({ requirements, facilitator: {} as never, onPaid })).toThrow(/facilitator/);
    expect(() => x402Paywall({ requirements, facilitator: verifyOnly, onPaid: undefined as never })).toThrow(/onPaid/);
    expect(() => x402Paywall({ requirements, facilitator: verifyOnly, onPaid, validBeforeMarginSeconds: -1 })).toThrow(
      /margin/i,
    );
    expect(() =>
      x402Paywall({ requirements, facilitator: verifyOnly, onPaid, v1NetworkNames: { 'Bad Name': 'eip155:1' } }),
    ).toThrow(/v1 network name/);
  });

  it('prices per request: freeOfCharge lets a request through, a Response answers instead, null is a server error', async () => {
    const prices: Record<string, bigint> = { small: 1_000_000n, large: 5_000_000n };
    const app = new Hono();
    app.onError((error, c) => c.json({ error: error.message }, 500));
    app.post(
      '/packs/:id',
      x402Paywall({
        requirements: (c) => {
          const id = c.req.param('id') ?? '';
          if (id === 'free') return freeOfCharge;
          if (id === 'buggy') return null as unknown as typeof freeOfCharge;
          const price = prices[id];
          if (price === undefined) return c.json({ error: 'pack_not_found' }, 404);
          return exactRequirements({
            network: 'eip155:31337',
            asset,
            payTo,
            amountAtomic: price,
            tokenName: 'USD Coin',
            tokenVersion: '2',
          });
        },
        facilitator: verifyOnly,
        clock,
        onPaid: async ({ settle }) => ({ settlement: await settle() }),
      }),
      (c) => c.json({ free: true }),
    );
    const large = await app.request('http://local.test/packs/large', { method: 'POST' });
    expect(decodePaymentRequiredHeader(large.headers.get('payment-required') as string).accepts[0]?.amount).toBe(
      '5000000',
    );
    const free = await app.request('http://local.test/packs/free', { method: 'POST' });
    expect(free.status).toBe(200);
    expect(await free.json()).toEqual({ free: true });
    const unknown = await app.request('http://local.test/packs/nope', { method: 'POST' });
    expect([unknown.status, await unknown.json()]).toEqual([404, { error: 'pack_not_found' }]);
    const buggy = await app.request('http://local.test/packs/buggy', { method: 'POST' });
    expect(buggy.status).toBe(500);
    expect(((await buggy.json()) as { error: string }).error).toMatch(/returned nothing/);
  });

  it('an unreachable facilitator is a 503 facilitator_unavailable with Retry-After (a real closed port)', async () => {
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port: free } = server.address() as { port: number };
        server.close(() => resolve(free));
      });
    });
    const app = new Hono();
    app.post(
      '/paid',
      x402Paywall({
        requirements,
        facilitator: httpFacilitator({ url: `http://127.0.0.1:${port}`, timeoutMs: 5_000 }),
        clock,
        onPaid: async ({ settle }) => ({ settlement: await settle() }),
      }),
      (c) => c.json({ ok: true }),
    );
    const response = await app.request('http://local.test/paid', {
      method: 'POST',
      headers: { 'PAYMENT-SIGNATURE': header(await signPayloadV2(payer, requirements, { nowSeconds })) },
    });
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('5');
    expect(await response.json()).toMatchObject({ error: 'facilitator_unavailable' });
    expect(response.headers.get('payment-required')).toBeNull();
  });
});

describe('respondPaymentRequired', () => {
  it('answers 402 with PAYMENT-REQUIRED from any route (e.g. a reservation short of credits)', async () => {
    const app = new Hono();
    app.post('/v1/reservations', (c) =>
      respondPaymentRequired(c, {
        requirements,
        error: 'insufficient_credits',
        message: 'needs 1000000 more micro-USD',
        details: { shortfallMicro: '1000000' },
        resource: { url: 'http://local.test/v1/credit-packs/small/purchase', description: 'Small pack' },
      }),
    );
    const response = await app.request('http://local.test/v1/reservations', { method: 'POST' });
    expect(response.status).toBe(402);
    expect(await response.json()).toEqual({
      error: 'insufficient_credits',
      message: 'needs 1000000 more micro-USD',
      details: { shortfallMicro: '1000000' },
    });
    const required = PaymentRequiredV2Schema.parse(
      officialDecodeRequired(response.headers.get('payment-required') as string),
    );
    expect(required).toMatchObject({
      error: 'insufficient_credits',
      resource: { url: 'http://local.test/v1/credit-packs/small/purchase' },
      accepts: [requirements],
    });
  });
});
