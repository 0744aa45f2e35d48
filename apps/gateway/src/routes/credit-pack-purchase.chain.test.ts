/**
 * `POST /v1/credit-packs/{packId}/purchase` and the reserve shortfall 402 on real components: a Hardhat node with
 * our EIP-3009 token (dev-chain), the local facilitator settling on chain, and the ledger (PGlite, or Postgres with
 * DATABASE_URL). Every refused payment is checked to mint nothing and move no token.
 */
import { decodePaymentResponseHeader } from '@arrakis/x402';
import type { Address, Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf, type LedgerAppFixture, makeLedgerAppFixture } from '../testing/ledger-fixture.js';
import { offeredRequirements, type PaymentsChain, signPayment, startPaymentsChain } from '../testing/x402-payer.js';

let chain: PaymentsChain;
let f: LedgerAppFixture;
let off: LedgerAppFixture;

beforeAll(async () => {
  chain = await startPaymentsChain({ payerCount: 3 });
  [f, off] = await Promise.all([
    makeLedgerAppFixture({ env: { ...chain.gatewayEnv(0), LOG_LEVEL: 'silent' } }),
    makeLedgerAppFixture(),
  ]);
}, 120_000);
afterAll(async () => {
  await Promise.allSettled([f?.close(), off?.close()]);
  await chain?.stop();
});

const payerKey = (index: number): Hex => {
  const key = chain.payerKeys[index];
  if (key === undefined) throw new Error(`no payer ${index}`);
  return key;
};
const addressOf = (key: Hex): Address => privateKeyToAccount(key).address;

function purchase(
  fixture: LedgerAppFixture,
  packId: string,
  accountId: string,
  options: { token?: string; payment?: string } = {},
) {
  return fixture.post(`http://gateway.test/v1/credit-packs/${packId}/purchase`, {
    token: options.token ?? fixture.tokens.service,
    json: { accountId },
    headers: options.payment === undefined ? {} : { 'payment-signature': options.payment },
  });
}

async function purchaseLots(fixture: LedgerAppFixture, accountId: string) {
  const lots = await fixture.ledger.listLots(accountId, { includeEmpty: true });
  return lots.filter((lot) => lot.sourceType === 'purchase');
}

describe('POST /v1/credit-packs/{packId}/purchase', () => {
  it('answers 402 with PAYMENT-REQUIRED for the pack price, then mints once paid and moves the token on chain', async () => {
    const { accountId, token } = await f.userAccount('buyer');
    const unpaid = await purchase(f, 'starter', accountId, { token });
    await errorOf(unpaid, 402, 'payment_required');
    const { requirements, resourceUrl } = offeredRequirements(unpaid);
    expect(requirements).toEqual({
      scheme: 'exact',
      network: chain.network,
      amount: '5000000',
      asset: chain.usdc.address,
      payTo: chain.payTo,
      maxTimeoutSeconds: 300,
      extra: { name: 'USD Coin', version: '2' },
    });
    expect(resourceUrl).toBe('http://gateway.test/v1/credit-packs/starter/purchase');

    const payer = payerKey(0);
    const [payerBefore, payeeBefore] = await Promise.all([
      chain.balanceOf(addressOf(payer)),
      chain.balanceOf(chain.payTo),
    ]);
    const payment = await signPayment(payer, requirements, chain.usdc);
    const paid = await purchase(f, 'starter', accountId, { token, payment });
    const body = (await paid.json()) as {
      lot: { sourceType: string; originalMicro: string; availableMicro: string };
      balance: { availableMicro: string };
      payment: { amountMicro: string; payer: string; transaction: string; packId: string; reference: string };
      replayed: boolean;
    };
    expect(paid.status, JSON.stringify(body)).toBe(201);
    expect(body.replayed).toBe(false);
    expect(body.lot).toMatchObject({ sourceType: 'purchase', originalMicro: '5000000', availableMicro: '5000000' });
    expect(body.balance.availableMicro).toBe('5000000');
    expect(body.payment).toMatchObject({ amountMicro: '5000000', payer: addressOf(payer), packId: 'starter' });
    const settlement = decodePaymentResponseHeader(paid.headers.get('payment-response') ?? '');
    expect(settlement).toMatchObject({ success: true, network: chain.network, payer: addressOf(payer) });
    expect(settlement.transaction).toBe(body.payment.transaction);
    expect(await chain.balanceOf(addressOf(payer))).toBe(payerBefore - 5_000_000n);
    expect(await chain.balanceOf(chain.payTo)).toBe(payeeBefore + 5_000_000n);

    // The same payment again: the first result, nothing minted, no token moved.
    const replay = await purchase(f, 'starter', accountId, { token, payment });
    expect(replay.status).toBe(201);
    expect(((await replay.json()) as { replayed: boolean; payment: { reference: string } }).payment.reference).toBe(
      body.payment.reference,
    );
    expect(await purchaseLots(f, accountId)).toHaveLength(1);
    expect(await chain.balanceOf(chain.payTo)).toBe(payeeBefore + 5_000_000n);
  });

  it('mints the pack credits with its bonus (standard: $10 → 10.5 credits)', async () => {
    const accountId = await f.createAccount('agent', 'bonus-buyer');
    const { requirements } = offeredRequirements(await purchase(f, 'standard', accountId));
    expect(requirements.amount).toBe('10000000');
    const paid = await purchase(f, 'standard', accountId, {
      payment: await signPayment(payerKey(0), requirements, chain.usdc),
    });
    expect(paid.status).toBe(201);
    expect(((await paid.json()) as { lot: { originalMicro: string } }).lot.originalMicro).toBe('10500000');
  });

  const refusals: { name: string; code: string; tamper: (price: bigint) => Parameters<typeof signPayment>[3] }[] = [
    {
      name: 'a tampered amount (value edited after signing)',
      code: 'amount_mismatch',
      tamper: (p) => ({ sentValue: p - 1n }),
    },
    { name: 'an amount below the price', code: 'amount_mismatch', tamper: (p) => ({ signedValue: p / 2n }) },
    { name: 'a wrong payTo', code: 'pay_to_mismatch', tamper: () => ({ to: addressOf(chain.brokeKey) }) },
    { name: 'a wrong chain', code: 'network_mismatch', tamper: () => ({ chainId: 1 }) },
    {
      name: 'an expired window',
      code: 'authorization_expired',
      tamper: () => ({ validBefore: BigInt(Math.floor(Date.now() / 1000) - 60) }),
    },
    { name: 'a forged signature', code: 'invalid_signature', tamper: () => ({ forgeWithKey: payerKey(2) }) },
  ];
  for (const refusal of refusals) {
    it(`refuses ${refusal.name} with 402 ${refusal.code}: nothing minted, no token moved`, async () => {
      const accountId = await f.createAccount('agent', `refused-${refusal.code}-${refusal.name.length}`);
      const { requirements } = offeredRequirements(await purchase(f, 'starter', accountId));
      const payer = payerKey(1);
      const before = await Promise.all([chain.balanceOf(addressOf(payer)), chain.balanceOf(chain.payTo)]);
      const snapshot = await f.snapshot(accountId);
      const payment = await signPayment(payer, requirements, chain.usdc, refusal.tamper(BigInt(requirements.amount)));
      const refused = await purchase(f, 'starter', accountId, { payment });
      await errorOf(refused, 402, refusal.code);
      expect(offeredRequirements(refused).requirements).toEqual(requirements);
      expect(await f.snapshot(accountId)).toEqual(snapshot);
      expect(await Promise.all([chain.balanceOf(addressOf(payer)), chain.balanceOf(chain.payTo)])).toEqual(before);
    });
  }

  it('refuses a payer without funds with 402 insufficient_funds, nothing minted', async () => {
    const accountId = await f.createAccount('agent', 'broke-buyer');
    const { requirements } = offeredRequirements(await purchase(f, 'starter', accountId));
    const refused = await purchase(f, 'starter', accountId, {
      payment: await signPayment(chain.brokeKey, requirements, chain.usdc),
    });
    await errorOf(refused, 402, 'insufficient_funds');
    expect(await purchaseLots(f, accountId)).toHaveLength(0);
  });

  it('mints one lot when the same payment is submitted concurrently', async () => {
    const accountId = await f.createAccount('agent', 'concurrent-buyer');
    const { requirements } = offeredRequirements(await purchase(f, 'starter', accountId));
    const payeeBefore = await chain.balanceOf(chain.payTo);
    const payment = await signPayment(payerKey(1), requirements, chain.usdc);
    const answers = await Promise.all(Array.from({ length: 6 }, () => purchase(f, 'starter', accountId, { payment })));
    const bodies = (await Promise.all(answers.map((a) => a.json()))) as { replayed: boolean; lot: { id: string } }[];
    expect(answers.map((a) => a.status)).toEqual(Array(6).fill(201));
    expect(bodies.filter((b) => !b.replayed)).toHaveLength(1);
    expect(new Set(bodies.map((b) => b.lot.id)).size).toBe(1);
    expect(await purchaseLots(f, accountId)).toHaveLength(1);
    expect((await f.ledger.getBalance(accountId)).availableMicro).toBe(5_000_000n);
    expect(await chain.balanceOf(chain.payTo)).toBe(payeeBefore + 5_000_000n);
  });

  it('refuses the payment of one purchase for another account (409 payment_reference_reused)', async () => {
    const first = await f.createAccount('agent', 'reuse-a');
    const second = await f.createAccount('agent', 'reuse-b');
    const { requirements } = offeredRequirements(await purchase(f, 'starter', first));
    const payment = await signPayment(payerKey(1), requirements, chain.usdc);
    expect((await purchase(f, 'starter', first, { payment })).status).toBe(201);
    await errorOf(await purchase(f, 'starter', second, { payment }), 409, 'payment_reference_reused');
    expect(await purchaseLots(f, second)).toHaveLength(0);
  });

  it('404s an unknown pack, 403s a user on another account, 401s without a token', async () => {
    const { accountId } = await f.userAccount('owner');
    const other = await f.user('intruder');
    await errorOf(await purchase(f, 'platinum', accountId), 404, 'credit_pack_not_found');
    await errorOf(await purchase(f, 'starter', accountId, { token: other.token }), 403, 'forbidden');
    const anonymous = await f.app.request(`/v1/credit-packs/starter/purchase`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ accountId }),
    });
    await errorOf(anonymous, 401, 'missing_token');
    await errorOf(
      await f.post('/v1/credit-packs/starter/purchase', { token: f.tokens.service, json: { accountId, extra: 1 } }),
      400,
      'validation_failed',
    );
  });

  it('is documented in the OpenAPI document with its 201 and 402 answers', async () => {
    const spec = (await (await f.app.request('/openapi.json')).json()) as {
      paths: Record<string, { post?: { responses: Record<string, unknown>; parameters?: { name: string }[] } }>;
    };
    const operation = spec.paths['/v1/credit-packs/{packId}/purchase']?.post;
    expect(Object.keys(operation?.responses ?? {})).toEqual(
      expect.arrayContaining(['201', '402', '404', '409', '503']),
    );
    // No Idempotency-Key: the payment reference is the key.
    expect(operation?.parameters?.map((p) => p.name).sort()).toEqual(['packId', 'payment-signature', 'x-payment']);
  });

  it('answers 404 payments_disabled when payments are off', async () => {
    const accountId = await off.createAccount('agent', 'no-payments');
    const response = await purchase(off, 'starter', accountId);
    await errorOf(response, 404, 'payments_disabled');
    expect(response.headers.get('payment-required')).toBeNull();
  });
});

describe('POST /v1/reservations short of credits', () => {
  it('offers the cheapest pack covering the shortfall in PAYMENT-REQUIRED, then reserves after the purchase', async () => {
    const accountId = await f.createAccount('agent', 'shortfall');
    await f.grant(accountId, '1000000');
    const short = await f.post('http://gateway.test/v1/reservations', {
      token: f.tokens.service,
      json: { accountId, amountMicro: '8000000' },
    });
    const body = await errorOf(short, 402, 'insufficient_credits');
    expect(body.details).toMatchObject({
      requestedMicro: '8000000',
      availableMicro: '1000000',
      shortfallMicro: '7000000',
      pack: { id: 'standard', priceMicro: '10000000', creditsMicro: '10500000' },
      purchaseUrl: 'http://gateway.test/v1/credit-packs/standard/purchase',
    });
    const { requirements, resourceUrl } = offeredRequirements(short);
    expect(resourceUrl).toBe('http://gateway.test/v1/credit-packs/standard/purchase');
    expect(requirements.amount).toBe('10000000');

    const paid = await f.post(resourceUrl, {
      token: f.tokens.service,
      json: { accountId },
      headers: { 'payment-signature': await signPayment(payerKey(2), requirements, chain.usdc) },
    });
    expect(paid.status).toBe(201);
    const reserved = await f.reserve(accountId, '8000000');
    expect(reserved.balance.availableMicro).toBe('3500000');
  });

  it('offers the starter pack for a small shortfall and the largest pack when none covers it', async () => {
    const accountId = await f.createAccount('agent', 'shortfall-sizes');
    const small = await f.post('/v1/reservations', { token: f.tokens.service, json: { accountId, amountMicro: '1' } });
    expect(offeredRequirements(small).requirements.amount).toBe('5000000');
    const huge = await f.post('/v1/reservations', {
      token: f.tokens.service,
      json: { accountId, amountMicro: '90000000' },
    });
    expect(offeredRequirements(huge).requirements.amount).toBe('25000000');
    expect((await errorOf(huge, 402, 'insufficient_credits')).details).toMatchObject({ pack: { id: 'premium' } });
  });

  it('keeps the plain 402 without PAYMENT-REQUIRED when payments are off', async () => {
    const accountId = await off.createAccount('agent', 'shortfall-off');
    const short = await off.post('/v1/reservations', {
      token: off.tokens.service,
      json: { accountId, amountMicro: '1' },
    });
    const body = await errorOf(short, 402, 'insufficient_credits');
    expect(body.details).toEqual({
      accountId,
      poolId: 'general',
      requestedMicro: '1',
      availableMicro: '0',
      shortfallMicro: '1',
    });
    expect(short.headers.get('payment-required')).toBeNull();
  });
});
