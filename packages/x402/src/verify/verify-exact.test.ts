import { x402Client } from '@x402/core/client';
import { registerExactEvmScheme } from '@x402/evm/exact/client';
import fc from 'fast-check';
import { getAddress, type Hex } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { describe, expect, it } from 'vitest';
import { X402Error, type X402ErrorCode } from '../errors.js';
import { createPaymentRequired, exactRequirements, toV1Requirements } from '../requirements.js';
import { TestClock } from '../testing/clock.js';
import { randomNonce, signAuthorization, signPayloadV1, signPayloadV2, wireAuthorization } from '../testing/sign.js';
import type { PaymentPayloadV2 } from '../wire/schemas.js';
import { paymentReference, verifyExactPayment } from './verify-exact.js';

const payer = privateKeyToAccount(generatePrivateKey());
const payTo = privateKeyToAccount(generatePrivateKey()).address;
const asset = getAddress('0x5fbdb2315678afecb367f032d93f642f64180aa3');
const nowSeconds = 1_767_225_600; // 2026-01-01T00:00:00Z
const clock = new TestClock(nowSeconds * 1000);
const requirements = exactRequirements({
  network: 'eip155:31337',
  asset,
  payTo,
  amountAtomic: 2_500_000n,
  tokenName: 'USD Coin',
  tokenVersion: '2',
});

async function codeOf(payload: unknown, offered = requirements, at = clock): Promise<X402ErrorCode | 'valid'> {
  try {
    await verifyExactPayment({ payload, requirements: offered, clock: at });
    return 'valid';
  } catch (error) {
    if (error instanceof X402Error) return error.code;
    throw error;
  }
}

function withAuthorization(payload: PaymentPayloadV2, patch: Record<string, unknown>): PaymentPayloadV2 {
  const inner = payload.payload as { signature: Hex; authorization: Record<string, unknown> };
  return { ...payload, payload: { ...inner, authorization: { ...inner.authorization, ...patch } } };
}

describe('verifyExactPayment: a good payment', () => {
  it('returns the verified payment with its stable reference', async () => {
    const payload = await signPayloadV2(payer, requirements, { nowSeconds });
    const payment = await verifyExactPayment({ payload, requirements, clock });
    const nonce = (payload.payload as { authorization: { nonce: Hex } }).authorization.nonce;
    expect(payment).toMatchObject({
      x402Version: 2,
      scheme: 'exact',
      network: 'eip155:31337',
      chainId: 31337,
      asset,
      payer: payer.address,
      payTo,
      amountAtomic: 2_500_000n,
      nonce,
      validAfter: 0n,
      validBefore: BigInt(nowSeconds + 300),
      requirements,
    });
    expect(payment.reference).toBe(`eip155:31337:${asset.toLowerCase()}:${payer.address.toLowerCase()}:${nonce}`);
    expect(payment.reference).toBe(paymentReference({ network: 'eip155:31337', asset, payer: payer.address, nonce }));
  });

  it('accepts what the official client (@x402/core x402Client + @x402/evm exact) signs', async () => {
    const client = new x402Client().setSpendControls({ allowedAssets: [{ network: 'eip155:31337', asset }] });
    registerExactEvmScheme(client, { signer: payer });
    const paymentRequired = createPaymentRequired({ requirements, resource: { url: 'http://local.test/paid' } });
    const payload = await client.createPaymentPayload(paymentRequired as never);
    const wallClock = new TestClock(Date.now());
    const payment = await verifyExactPayment({ payload, requirements, clock: wallClock });
    expect(payment.payer).toBe(payer.address);
    expect(payment.amountAtomic).toBe(2_500_000n);
  });

  it('accepts a version 1 payload signed by the official v1 scheme (base-sepolia) and picks the matching token', async () => {
    const options = { network: 'eip155:84532', payTo, amountAtomic: 10_000n, tokenName: 'USDC', tokenVersion: '2' };
    const onBaseSepolia = exactRequirements({ ...options, asset: '0x036CbD53842c5426634e7929541eC2318f3dCF7e' });
    const otherToken = exactRequirements({ ...options, asset }); // same network, another token: tried first, fails
    const client = new x402Client().setSpendControls({ allowedAssets: true });
    registerExactEvmScheme(client, { signer: payer });
    const v1Required = {
      x402Version: 1 as const,
      accepts: [
        toV1Requirements(onBaseSepolia, { network: 'base-sepolia', resource: { url: 'http://local.test/paid' } }),
      ],
    };
    const payload = await client.createPaymentPayload(v1Required as never);
    expect(payload.x402Version).toBe(1);
    const payment = await verifyExactPayment({
      payload,
      requirements: [otherToken, onBaseSepolia],
      clock: new TestClock(Date.now()),
    });
    expect(payment.x402Version).toBe(1);
    expect(payment.requirements).toEqual(onBaseSepolia);
    expect(payment.network).toBe('eip155:84532');
  });

  it('accepts 0x-hex numbers in the authorization (the spec allows them)', async () => {
    const payload = await signPayloadV2(payer, requirements, { nowSeconds });
    const auth = (payload.payload as { authorization: { value: string; validBefore: string } }).authorization;
    const hexed = withAuthorization(payload, {
      value: `0x${BigInt(auth.value).toString(16)}`,
      validBefore: `0x${BigInt(auth.validBefore).toString(16)}`,
    });
    expect(await codeOf(hexed)).toBe('valid');
  });
});

describe('verifyExactPayment: every failure has its own code', () => {
  it('malformed_payment / unsupported_version / unsupported_scheme for the envelope', async () => {
    const good = await signPayloadV2(payer, requirements, { nowSeconds });
    expect(await codeOf(null)).toBe('malformed_payment');
    expect(await codeOf([good])).toBe('malformed_payment');
    expect(await codeOf({ ...good, x402Version: undefined })).toBe('malformed_payment');
    expect(await codeOf({ ...good, x402Version: 3 })).toBe('unsupported_version');
    expect(await codeOf({ ...good, x402Version: '2' })).toBe('unsupported_version');
    expect(await codeOf({ ...good, accepted: { ...good.accepted, scheme: 'upto' } })).toBe('unsupported_scheme');
    expect(await codeOf({ ...good, payload: { signature: (good.payload as { signature: Hex }).signature } })).toBe(
      'malformed_payment',
    );
    expect(await codeOf({ ...good, accepted: { ...good.accepted, maxTimeoutSeconds: '300' } })).toBe(
      'malformed_payment',
    );
  });

  it('malformed_payment for fields out of format: nonce, signature length, addresses, numbers', async () => {
    const good = await signPayloadV2(payer, requirements, { nowSeconds });
    expect(await codeOf(withAuthorization(good, { nonce: '0x1234' }))).toBe('malformed_payment');
    expect(await codeOf(withAuthorization(good, { nonce: `0x${'zz'.repeat(32)}` }))).toBe('malformed_payment');
    expect(await codeOf(withAuthorization(good, { value: '2500000.0' }))).toBe('malformed_payment');
    expect(await codeOf(withAuthorization(good, { value: 2_500_000 }))).toBe('malformed_payment');
    expect(await codeOf(withAuthorization(good, { value: '-1' }))).toBe('malformed_payment');
    expect(await codeOf(withAuthorization(good, { validBefore: '1e12' }))).toBe('malformed_payment');
    expect(await codeOf(withAuthorization(good, { from: '0xnot-an-address' }))).toBe('malformed_payment');
    const signature = (good.payload as { signature: Hex }).signature;
    expect(await codeOf({ ...good, payload: { ...good.payload, signature: signature.slice(0, 130) } })).toBe(
      'malformed_payment',
    );
  });

  it('network_mismatch, asset_mismatch, pay_to_mismatch, amount_mismatch, requirements_mismatch from `accepted`', async () => {
    const good = await signPayloadV2(payer, requirements, { nowSeconds });
    expect(await codeOf({ ...good, accepted: { ...good.accepted, network: 'eip155:1' } })).toBe('network_mismatch');
    expect(await codeOf({ ...good, accepted: { ...good.accepted, asset: payTo } })).toBe('asset_mismatch');
    expect(await codeOf({ ...good, accepted: { ...good.accepted, payTo: asset } })).toBe('pay_to_mismatch');
    expect(await codeOf({ ...good, accepted: { ...good.accepted, amount: '1' } })).toBe('amount_mismatch');
    expect(await codeOf({ ...good, accepted: { ...good.accepted, maxTimeoutSeconds: 301 } })).toBe(
      'requirements_mismatch',
    );
    expect(await codeOf({ ...good, accepted: { ...good.accepted, extra: { name: 'USD Coin', version: '1' } } })).toBe(
      'requirements_mismatch',
    );
    // Extra keys the client adds to `extra` are allowed (subset rule), case of addresses is not significant.
    expect(
      await codeOf({
        ...good,
        accepted: { ...good.accepted, asset: asset.toLowerCase(), extra: { ...good.accepted.extra, hint: 1 } },
      }),
    ).toBe('valid');
  });

  it('pay_to_mismatch and amount_mismatch from the signed authorization itself', async () => {
    const otherPayee = privateKeyToAccount(generatePrivateKey()).address;
    const wrongPayee = await signPayloadV2(payer, requirements, { nowSeconds, message: { to: otherPayee } });
    expect(await codeOf(wrongPayee)).toBe('pay_to_mismatch');
    const tooLittle = await signPayloadV2(payer, requirements, { nowSeconds, message: { value: 2_499_999n } });
    expect(await codeOf(tooLittle)).toBe('amount_mismatch');
    const tooMuch = await signPayloadV2(payer, requirements, { nowSeconds, message: { value: 2_500_001n } });
    expect(await codeOf(tooMuch)).toBe('amount_mismatch');
  });

  it('authorization_not_yet_valid and authorization_expired against the injected clock', async () => {
    const early = await signPayloadV2(payer, requirements, { nowSeconds, message: { validAfter: BigInt(nowSeconds) } });
    expect(await codeOf(early)).toBe('authorization_not_yet_valid');
    const later = new TestClock((nowSeconds + 1) * 1000);
    expect(await codeOf(early, requirements, later)).toBe('valid');

    const payload = await signPayloadV2(payer, requirements, { nowSeconds }); // validBefore = now + 300
    expect(await codeOf(payload, requirements, new TestClock((nowSeconds + 294) * 1000))).toBe('valid');
    expect(await codeOf(payload, requirements, new TestClock((nowSeconds + 295) * 1000))).toBe('authorization_expired');
    expect(await codeOf(payload, requirements, new TestClock((nowSeconds + 10_000) * 1000))).toBe(
      'authorization_expired',
    );
  });

  it('invalid_signature: another signer, another token domain, a tampered field, a malleable signature', async () => {
    const stranger = privateKeyToAccount(generatePrivateKey());
    const { message, signature } = await signAuthorization(stranger, requirements, { nowSeconds });
    const forged: PaymentPayloadV2 = {
      x402Version: 2,
      accepted: { ...requirements },
      payload: { signature, authorization: wireAuthorization({ ...message, from: payer.address }) },
    };
    expect(await codeOf(forged)).toBe('invalid_signature');

    for (const domain of [{ name: 'USDC' }, { version: '1' }, { chainId: 1 }, { verifyingContract: payTo }]) {
      expect(await codeOf(await signPayloadV2(payer, requirements, { nowSeconds, domain }))).toBe('invalid_signature');
    }

    const good = await signPayloadV2(payer, requirements, { nowSeconds });
    expect(await codeOf(withAuthorization(good, { nonce: randomNonce() }))).toBe('invalid_signature');
    expect(await codeOf(withAuthorization(good, { validBefore: String(nowSeconds + 299) }))).toBe('invalid_signature');

    // (r, n − s, v ^ 1) recovers the same signer but is refused on chain (EIP-2): refused here too.
    const sig = (good.payload as { signature: Hex }).signature;
    const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
    const s = BigInt(`0x${sig.slice(66, 130)}`);
    const v = Number.parseInt(sig.slice(130), 16);
    const malleable =
      `${sig.slice(0, 66)}${(n - s).toString(16).padStart(64, '0')}${(v === 27 ? 28 : 27).toString(16)}` as Hex;
    expect(await codeOf({ ...good, payload: { ...good.payload, signature: malleable } })).toBe('invalid_signature');
    expect(await codeOf({ ...good, payload: { ...good.payload, signature: `0x${'00'.repeat(65)}` } })).toBe(
      'invalid_signature',
    );
  });

  it('version 1: unknown network names and unoffered networks are network_mismatch', async () => {
    const payload = await signPayloadV1(payer, requirements, 'base', { nowSeconds });
    expect(await codeOf(payload)).toBe('network_mismatch');
    expect(await codeOf({ ...payload, network: 'no-such-chain' })).toBe('network_mismatch');
    expect(await codeOf({ ...payload, network: 'eip155:31337' })).toBe('valid');
    expect(await codeOf({ ...payload, scheme: 'upto' })).toBe('unsupported_scheme');
  });

  it('property: changing any one signed authorization field after signing is refused', async () => {
    const base = await signPayloadV2(payer, requirements, { nowSeconds });
    const auth = (base.payload as { authorization: Record<string, string> }).authorization;
    const fields = fc.constantFrom('from', 'to', 'value', 'validAfter', 'validBefore', 'nonce');
    await fc.assert(
      fc.asyncProperty(fields, fc.bigInt({ min: 1n, max: 2n ** 40n }), async (field, delta) => {
        const changed: Record<string, string> = {};
        if (field === 'from' || field === 'to') changed[field] = privateKeyToAccount(generatePrivateKey()).address;
        else if (field === 'nonce')
          changed[field] = `0x${(BigInt(auth.nonce as string) ^ delta).toString(16).padStart(64, '0')}`;
        else changed[field] = (BigInt(auth[field] as string) + delta).toString();
        const code = await codeOf(withAuthorization(base, changed));
        return code !== 'valid';
      }),
      { numRuns: 60 },
    );
  });
});
