import { PaymentRequiredV2Schema, PaymentRequirementsV2Schema } from '@x402/core/schemas';
import { describe, expect, it } from 'vitest';
import { InvalidX402OptionError } from './errors.js';
import {
  createPaymentRequired,
  exactPaymentTerms,
  exactRequirements,
  parseRequirementsList,
  paymentRequiredHeaders,
  requirementsPerResponseMax,
  toV1Requirements,
} from './requirements.js';
import { decodePaymentRequiredHeader } from './wire/codec.js';

const base = {
  network: 'eip155:8453',
  asset: '0x833589fcd6edb6e08f4c7c32d4f71b54bda02913',
  payTo: '0x70997970c51812dc3a010c7d01b50e0d17dc79c8',
  amountAtomic: 5_000_000n,
  tokenName: 'USD Coin',
  tokenVersion: '2',
};

function optionError(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidX402OptionError);
    return (error as InvalidX402OptionError).message;
  }
  throw new Error('expected InvalidX402OptionError');
}

describe('exactRequirements', () => {
  it('builds the x402 v2 exact requirement: CAIP-2 network, checksummed addresses, amount as a base-10 string', () => {
    const requirements = exactRequirements(base);
    expect(requirements).toEqual({
      scheme: 'exact',
      network: 'eip155:8453',
      amount: '5000000',
      asset: '0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913',
      payTo: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8',
      maxTimeoutSeconds: 300,
      extra: { name: 'USD Coin', version: '2' },
    });
    expect(Object.isFrozen(requirements)).toBe(true);
    expect(PaymentRequirementsV2Schema.parse(requirements)).toEqual(requirements);
  });

  it('keeps extra keys and a custom timeout', () => {
    const requirements = exactRequirements({ ...base, maxTimeoutSeconds: 60, extra: { paymentFlow: 'upfront' } });
    expect(requirements.extra).toEqual({ paymentFlow: 'upfront', name: 'USD Coin', version: '2' });
    expect(requirements.maxTimeoutSeconds).toBe(60);
  });

  it('prices exactly up to 2^256 − 1 with no float on the way', () => {
    const big = 2n ** 256n - 1n;
    expect(exactRequirements({ ...base, amountAtomic: big }).amount).toBe(big.toString());
    expect(exactRequirements({ ...base, amountAtomic: 9_007_199_254_740_993n }).amount).toBe('9007199254740993');
  });

  it('refuses bad amounts, networks, addresses, timeouts and token domains', () => {
    expect(optionError(() => exactRequirements({ ...base, amountAtomic: 0n }))).toMatch(
      /amountAtomic 0n must be a bigint > 0/,
    );
    expect(optionError(() => exactRequirements({ ...base, amountAtomic: 1.5 as unknown as bigint }))).toMatch(/1\.5/);
    expect(optionError(() => exactRequirements({ ...base, amountAtomic: 2n ** 256n }))).toMatch(/amount/);
    expect(optionError(() => exactRequirements({ ...base, network: 'base' }))).toMatch(/network/);
    expect(optionError(() => exactRequirements({ ...base, network: 'eip155:01' }))).toMatch(/network/);
    expect(
      optionError(() => exactRequirements({ ...base, network: 'solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp' })),
    ).toMatch(/network/);
    expect(optionError(() => exactRequirements({ ...base, asset: '0x1234' }))).toMatch(/asset/);
    // A mixed-case address with a wrong checksum is a typo, not an address.
    expect(
      optionError(() => exactRequirements({ ...base, payTo: '0x70997970C51812dc3A010C7d01b50e0d17dc79c8' })),
    ).toMatch(/payTo/);
    expect(optionError(() => exactRequirements({ ...base, maxTimeoutSeconds: 0 }))).toMatch(/maxTimeoutSeconds/);
    expect(optionError(() => exactRequirements({ ...base, maxTimeoutSeconds: 86_401 }))).toMatch(/maxTimeoutSeconds/);
    expect(optionError(() => exactRequirements({ ...base, tokenName: '' }))).toMatch(/extra\.name/);
  });

  it('limits a 402 to 1..16 requirements', () => {
    const one = exactRequirements(base);
    expect(optionError(() => parseRequirementsList([]))).toMatch(/1\.\.16/);
    expect(optionError(() => parseRequirementsList(Array(requirementsPerResponseMax + 1).fill(one)))).toMatch(/got 17/);
    expect(parseRequirementsList(one)).toEqual([one]);
  });
});

describe('createPaymentRequired and its headers', () => {
  it('is a valid official PaymentRequired v2 and travels in PAYMENT-REQUIRED with Cache-Control no-store', () => {
    const required = createPaymentRequired({
      requirements: exactRequirements(base),
      resource: { url: 'https://api.example/v1/credit-packs/small/purchase', description: 'Small pack' },
      error: 'insufficient_credits',
    });
    expect(PaymentRequiredV2Schema.parse(required)).toEqual(required);
    const headers = paymentRequiredHeaders(required);
    expect(headers['Cache-Control']).toBe('no-store');
    expect(decodePaymentRequiredHeader(headers['PAYMENT-REQUIRED'] as string)).toEqual(required);
  });

  it('writes the version 1 form with maxAmountRequired and the resource URL', () => {
    const v1 = toV1Requirements(exactRequirements(base), {
      network: 'base',
      resource: { url: 'https://api.example/x' },
    });
    expect(v1).toMatchObject({
      network: 'base',
      maxAmountRequired: '5000000',
      resource: 'https://api.example/x',
      description: '',
    });
  });
});

describe('exactPaymentTerms', () => {
  it('validates the terms once and prices any amount with them', () => {
    const { amountAtomic: _unused, ...termsOptions } = base;
    const terms = exactPaymentTerms(termsOptions);
    expect(terms.forAmount(7_000_000n)).toEqual(exactRequirements({ ...base, amountAtomic: 7_000_000n }));
    expect(optionError(() => terms.forAmount(0n))).toMatch(/amountAtomic/);
    expect(optionError(() => exactPaymentTerms({ ...termsOptions, network: 'eip155:0' }))).toMatch(/network/);
  });
});
