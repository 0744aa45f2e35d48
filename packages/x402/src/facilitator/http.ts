import type { z } from 'zod';
import { InvalidX402OptionError, isX402ErrorCode, X402Error, type X402ErrorCode } from '../errors.js';
import type { Facilitator } from '../ports/facilitator.js';
import { toV1Requirements } from '../requirements.js';
import {
  type PaymentPayload,
  type PaymentRequirements,
  type SettleResponse,
  type SupportedResponse,
  settleResponseSchema,
  supportedResponseSchema,
  type VerifyResponse,
  verifyResponseSchema,
} from '../wire/schemas.js';

/** Default deadline of one facilitator request. */
export const facilitatorTimeoutMsDefault = 30_000;
/** Largest facilitator answer read (bytes). */
export const facilitatorResponseBytesMax = 65_536;

/** Options of {@link httpFacilitator}. */
export interface HttpFacilitatorOptions {
  /** Base URL; the endpoints are `${url}/verify`, `${url}/settle`, `${url}/supported`. */
  url: string;
  /** Extra headers per endpoint (e.g. authorization), computed per request. */
  headers?: (endpoint: 'verify' | 'settle' | 'supported') => Record<string, string> | Promise<Record<string, string>>;
  /** Deadline of one request. Default 30 000 ms. */
  timeoutMs?: number;
  /** The fetch to use. Default: the global `fetch`. */
  fetch?: typeof fetch;
}

/**
 * Reason codes of the official x402 facilitators, mapped to this package's codes so a 402 says the same thing
 * whichever facilitator answered.
 */
export const officialReasonCodes: Readonly<Record<string, X402ErrorCode>> = Object.freeze({
  insufficient_funds: 'insufficient_funds',
  invalid_exact_evm_payload_signature: 'invalid_signature',
  invalid_exact_evm_payload_recipient_mismatch: 'pay_to_mismatch',
  invalid_exact_evm_payload_authorization_valid_before: 'authorization_expired',
  invalid_exact_evm_payload_authorization_valid_after: 'authorization_not_yet_valid',
  invalid_exact_evm_payload_authorization_value: 'amount_mismatch',
  invalid_network: 'network_mismatch',
  invalid_scheme: 'unsupported_scheme',
  unsupported_scheme: 'unsupported_scheme',
  invalid_x402_version: 'unsupported_version',
  invalid_payload: 'malformed_payment',
  invalid_payment_requirements: 'malformed_payment',
  invalid_transaction_state: 'settlement_failed',
  unexpected_verify_error: 'facilitator_unavailable',
  unexpected_settle_error: 'settlement_failed',
  // @x402/evm 2.x exact-scheme reasons (2.27.0: src/exact/facilitator/errors.ts).
  invalid_exact_evm_scheme: 'unsupported_scheme',
  invalid_exact_evm_network_mismatch: 'network_mismatch',
  invalid_exact_evm_missing_eip712_domain: 'malformed_payment',
  invalid_exact_evm_recipient_mismatch: 'pay_to_mismatch',
  invalid_exact_evm_signature: 'invalid_signature',
  invalid_exact_evm_failed_to_parse_signature: 'invalid_signature',
  invalid_exact_evm_authorization_value: 'amount_mismatch',
  invalid_exact_evm_payload_authorization_value_mismatch: 'amount_mismatch',
  invalid_exact_evm_token_name_mismatch: 'requirements_mismatch',
  invalid_exact_evm_token_version_mismatch: 'requirements_mismatch',
  invalid_exact_evm_eip3009_not_supported: 'asset_mismatch',
  asset_not_deployed_contract: 'asset_mismatch',
  invalid_exact_evm_nonce_already_used: 'nonce_already_used',
  invalid_exact_evm_insufficient_balance: 'insufficient_funds',
  invalid_exact_evm_transaction_simulation_failed: 'settlement_failed',
  invalid_exact_evm_transaction_failed: 'settlement_failed',
  invalid_exact_evm_transfer_event_mismatch: 'settlement_failed',
  settlement_pending: 'payment_pending',
});

/**
 * Maps a facilitator's reason string to this package's code: ours pass through, the official ones are
 * translated, anything else becomes `fallback`.
 *
 * @example
 * normalizeReason('invalid_exact_evm_payload_signature', 'invalid_signature'); // 'invalid_signature'
 */
export function normalizeReason(reason: string | undefined, fallback: X402ErrorCode): X402ErrorCode {
  if (reason === undefined) return fallback;
  if (isX402ErrorCode(reason) && reason !== 'invalid_option') return reason;
  return officialReasonCodes[reason] ?? fallback;
}

/**
 * A facilitator reached over HTTP with the standard x402 endpoints: `POST /verify` and `POST /settle` with
 * `{ x402Version, paymentPayload, paymentRequirements }`, `GET /supported`. Answers are validated with zod.
 * A non-2xx answer whose JSON is a verify / settle response is returned as that (negative) response; anything
 * else — a network error, a timeout, a body that is not the wire format — throws `facilitator_unavailable`.
 * Version 1 payloads are sent with version 1 requirements, as a version 1 facilitator expects.
 *
 * @throws {InvalidX402OptionError} when `url` is not an http(s) URL or `timeoutMs` is out of bounds.
 * @example
 * const facilitator = httpFacilitator({ url: 'https://facilitator.example.com' });
 * app.post('/credits', x402Paywall({ requirements, facilitator, onPaid }));
 */
export function httpFacilitator(options: HttpFacilitatorOptions): Facilitator {
  if (options === null || typeof options !== 'object')
    throw new InvalidX402OptionError('httpFacilitator() needs an options object');
  let base: URL;
  try {
    base = new URL(options.url);
  } catch (cause) {
    throw new InvalidX402OptionError(`httpFacilitator(): url ${JSON.stringify(options.url)} is not a URL`, { cause });
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') {
    throw new InvalidX402OptionError(`httpFacilitator(): url ${JSON.stringify(options.url)} must be http(s)`);
  }
  const root = options.url.replace(/\/+$/, '');
  const timeoutMs = options.timeoutMs ?? facilitatorTimeoutMsDefault;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 600_000) {
    throw new InvalidX402OptionError(
      `httpFacilitator(): timeoutMs ${JSON.stringify(timeoutMs)} must be an integer in 1..600 000`,
    );
  }
  if (options.headers !== undefined && typeof options.headers !== 'function') {
    throw new InvalidX402OptionError('httpFacilitator(): headers must be a function of the endpoint');
  }
  const doFetch = options.fetch ?? globalThis.fetch;
  if (typeof doFetch !== 'function') throw new InvalidX402OptionError('httpFacilitator(): no fetch available');

  async function call<T>(
    endpoint: 'verify' | 'settle' | 'supported',
    schema: z.ZodType<T>,
    body: unknown,
    negative: (data: unknown) => boolean,
  ): Promise<T> {
    const extra = options.headers === undefined ? {} : await options.headers(endpoint);
    let response: Response;
    let text: string;
    try {
      response = await doFetch(`${root}/${endpoint}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers: {
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...extra,
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(timeoutMs),
        redirect: 'follow',
      });
      text = await response.text();
    } catch (cause) {
      throw new X402Error(
        'facilitator_unavailable',
        `facilitator ${endpoint} at ${root} failed: ${cause instanceof Error ? cause.message : String(cause)}`,
        {
          cause,
        },
      );
    }
    if (text.length > facilitatorResponseBytesMax) {
      throw new X402Error(
        'facilitator_unavailable',
        `facilitator ${endpoint} answered ${text.length} bytes, more than ${facilitatorResponseBytesMax}`,
      );
    }
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (cause) {
      throw new X402Error(
        'facilitator_unavailable',
        `facilitator ${endpoint} answered ${response.status} with a body that is not JSON`,
        {
          cause,
          details: { status: response.status },
        },
      );
    }
    if (!response.ok && !negative(data)) {
      throw new X402Error('facilitator_unavailable', `facilitator ${endpoint} answered ${response.status}`, {
        details: { status: response.status },
      });
    }
    const parsed = schema.safeParse(data);
    if (!parsed.success) {
      throw new X402Error(
        'facilitator_unavailable',
        `facilitator ${endpoint} answered something that is not an x402 ${endpoint} response`,
        {
          details: { status: response.status, issues: parsed.error.issues.map((issue) => issue.message) },
        },
      );
    }
    return parsed.data;
  }

  function requestBody(payload: PaymentPayload, requirements: PaymentRequirements) {
    const paymentRequirements =
      payload.x402Version === 1
        ? toV1Requirements(requirements, {
            network: payload.network,
            resource: { url: `x402:${requirements.network}:${requirements.asset}` },
          })
        : requirements;
    return { x402Version: payload.x402Version, paymentPayload: payload, paymentRequirements };
  }

  return {
    async verify(payload, requirements): Promise<VerifyResponse> {
      const answer = await call(
        'verify',
        verifyResponseSchema,
        requestBody(payload, requirements),
        (data) => typeof data === 'object' && data !== null && 'isValid' in data,
      );
      if (answer.isValid) return answer;
      return { ...answer, invalidReason: normalizeReason(answer.invalidReason, 'malformed_payment') };
    },
    async settle(payload, requirements): Promise<SettleResponse> {
      const answer = await call(
        'settle',
        settleResponseSchema,
        requestBody(payload, requirements),
        (data) => typeof data === 'object' && data !== null && 'success' in data,
      );
      if (answer.success) return answer;
      return { ...answer, errorReason: normalizeReason(answer.errorReason, 'settlement_failed') };
    },
    async supported(): Promise<SupportedResponse> {
      return call('supported', supportedResponseSchema, undefined, () => false);
    },
  };
}
