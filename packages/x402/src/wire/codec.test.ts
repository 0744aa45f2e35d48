import {
  decodePaymentRequiredHeader as officialDecodeRequired,
  decodePaymentResponseHeader as officialDecodeResponse,
  encodePaymentRequiredHeader as officialEncodeRequired,
  encodePaymentResponseHeader as officialEncodeResponse,
} from '@x402/core/http';
import { PaymentRequiredV2Schema } from '@x402/core/schemas';
import { describe, expect, it } from 'vitest';
import { X402Error } from '../errors.js';
import { createPaymentRequired, exactRequirements } from '../requirements.js';
import {
  decodeBase64Json,
  decodePaymentRequiredHeader,
  decodePaymentResponseHeader,
  encodeBase64Json,
  paymentHeaderBytesMax,
} from './codec.js';

const requirements = exactRequirements({
  network: 'eip155:31337',
  asset: '0x5FbDB2315678afecb367f032d93F642f64180aa3',
  payTo: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8',
  amountAtomic: 2_500_000n,
  tokenName: 'USD Coin',
  tokenVersion: '2',
});

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    return error instanceof X402Error ? error.code : `not an X402Error: ${String(error)}`;
  }
  return undefined;
}

describe('base64 JSON headers', () => {
  it('round-trips values, writing bigints as base-10 strings and non-ASCII as UTF-8', () => {
    const value = { amount: 12_345_678_901_234_567_890n, name: 'Crédit ✓' };
    expect(decodeBase64Json(encodeBase64Json(value))).toEqual({ amount: '12345678901234567890', name: 'Crédit ✓' });
  });

  it('speaks the official encoding both ways (PAYMENT-REQUIRED and PAYMENT-RESPONSE)', () => {
    const required = createPaymentRequired({ requirements, resource: { url: 'http://local.test/paid' } });
    const ours = encodeBase64Json(required);
    expect(ours).toBe(officialEncodeRequired(required as never));
    expect(PaymentRequiredV2Schema.parse(officialDecodeRequired(ours))).toEqual(required);
    expect(decodePaymentRequiredHeader(officialEncodeRequired(required as never))).toEqual(required);

    const settlement = {
      success: true,
      transaction: `0x${'ab'.repeat(32)}`,
      network: 'eip155:31337',
      payer: requirements.payTo,
    };
    expect(officialDecodeResponse(encodeBase64Json(settlement))).toEqual(settlement);
    expect(decodePaymentResponseHeader(officialEncodeResponse(settlement as never))).toEqual(settlement);
  });

  it('refuses base64url, missing padding, oversized headers and non-JSON with malformed_payment', () => {
    const json = JSON.stringify({ a: '>>>???' });
    const standard = Buffer.from(json).toString('base64');
    const url = Buffer.from(json).toString('base64url');
    expect(standard).not.toBe(url);
    expect(codeOf(() => decodeBase64Json(url))).toBe('malformed_payment');
    expect(standard.endsWith('=')).toBe(true);
    expect(codeOf(() => decodeBase64Json(standard.replace(/=+$/, '')))).toBe('malformed_payment');
    expect(codeOf(() => decodeBase64Json('A'.repeat(paymentHeaderBytesMax + 4)))).toBe('malformed_payment');
    expect(codeOf(() => decodeBase64Json(Buffer.from('not json').toString('base64')))).toBe('malformed_payment');
    expect(codeOf(() => decodeBase64Json(''))).toBe('malformed_payment');
    expect(decodeBase64Json(standard)).toEqual({ a: '>>>???' });
  });

  it('refuses a PAYMENT-REQUIRED that is not version 2', () => {
    expect(codeOf(() => decodePaymentRequiredHeader(encodeBase64Json({ x402Version: 1, accepts: [] })))).toBe(
      'malformed_payment',
    );
  });
});
