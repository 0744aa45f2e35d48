import { X402Error } from '../errors.js';
import { type PaymentRequired, paymentRequiredV2Schema, type SettleResponse, settleResponseSchema } from './schemas.js';

/** Largest payment header accepted (base64 characters); a real `exact` payload is about 1.5 KB. */
export const paymentHeaderBytesMax = 16_384;

const base64Pattern = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Encodes a value as x402 headers carry it: base64 (standard alphabet, padded) of its UTF-8 JSON.
 * Bigints are written as base-10 strings.
 *
 * @example
 * c.header('PAYMENT-REQUIRED', encodeBase64Json(paymentRequired));
 */
export function encodeBase64Json(value: unknown): string {
  const json = JSON.stringify(value, (_key, item) => (typeof item === 'bigint' ? item.toString() : item));
  return Buffer.from(json, 'utf8').toString('base64');
}

/**
 * Decodes an x402 header: standard base64 (base64url is refused, as the official decoder does) of UTF-8 JSON, at
 * most `bytesMax` characters.
 *
 * @throws {X402Error} `malformed_payment` when the header is too long, not base64, or not JSON.
 * @example
 * const payload = decodeBase64Json(c.req.header('PAYMENT-SIGNATURE')!);
 */
export function decodeBase64Json(header: string, bytesMax: number = paymentHeaderBytesMax): unknown {
  if (header.length > bytesMax) {
    throw new X402Error(
      'malformed_payment',
      `payment header is ${header.length} characters, at most ${bytesMax} allowed`,
      {
        details: { headerLength: header.length, bytesMax },
      },
    );
  }
  const trimmed = header.trim();
  if (trimmed.length === 0 || trimmed.length % 4 !== 0 || !base64Pattern.test(trimmed)) {
    throw new X402Error('malformed_payment', 'payment header is not standard base64 (A–Z a–z 0–9 + / with = padding)');
  }
  const text = Buffer.from(trimmed, 'base64').toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw new X402Error('malformed_payment', 'payment header is base64 but not of JSON', { cause });
  }
}

/**
 * Decodes a `PAYMENT-REQUIRED` header into a version 2 `PaymentRequired` (validated with zod).
 *
 * @throws {X402Error} `malformed_payment` when the header is not base64 JSON of a version 2 `PaymentRequired`.
 * @example
 * const required = decodePaymentRequiredHeader(res.headers.get('PAYMENT-REQUIRED')!);
 * required.accepts[0].amount; // '1000000'
 */
export function decodePaymentRequiredHeader(header: string): PaymentRequired {
  const parsed = paymentRequiredV2Schema.safeParse(decodeBase64Json(header));
  if (!parsed.success) {
    throw new X402Error(
      'malformed_payment',
      `PAYMENT-REQUIRED is not a version 2 PaymentRequired: ${parsed.error.message}`,
    );
  }
  return parsed.data as unknown as PaymentRequired;
}

/**
 * Decodes a `PAYMENT-RESPONSE` (or `X-PAYMENT-RESPONSE`) header into a settle response (validated with zod).
 *
 * @throws {X402Error} `malformed_payment` when the header is not base64 JSON of a settle response.
 * @example
 * decodePaymentResponseHeader(res.headers.get('PAYMENT-RESPONSE')!).transaction; // '0x…'
 */
export function decodePaymentResponseHeader(header: string): SettleResponse {
  const parsed = settleResponseSchema.safeParse(decodeBase64Json(header));
  if (!parsed.success) {
    throw new X402Error('malformed_payment', `PAYMENT-RESPONSE is not a settle response: ${parsed.error.message}`);
  }
  return parsed.data;
}
