import type {
  PaymentPayload,
  PaymentRequirements,
  SettleResponse,
  SupportedResponse,
  VerifyResponse,
} from '../wire/schemas.js';

/**
 * The facilitator port: verifies and settles payments. `localFacilitator` verifies locally and settles on chain
 * through a viem wallet client; `httpFacilitator` calls a remote facilitator's standard `/verify`, `/settle` and
 * `/supported` endpoints. The shapes are the x402 wire format, so any implementation can be served over HTTP
 * (`facilitatorApp` in `@arrakis/x402/hono`).
 *
 * Negative outcomes are values (`isValid: false` / `success: false` with a reason code), not exceptions; an
 * implementation throws only when it cannot answer at all (`X402Error` `facilitator_unavailable`).
 *
 * @example
 * const facilitator: Facilitator = localFacilitator({ rpcUrl, signerKey });
 * const answer = await facilitator.verify(payload, requirements);
 * if (!answer.isValid) console.log(answer.invalidReason); // e.g. 'insufficient_funds'
 */
export interface Facilitator {
  /** Checks a payment without moving money. `payer` is set whenever the payload names one. */
  verify(payload: PaymentPayload, requirements: PaymentRequirements): Promise<VerifyResponse>;
  /** Executes the payment (on chain) and answers the transaction hash; idempotent for one authorization. */
  settle(payload: PaymentPayload, requirements: PaymentRequirements): Promise<SettleResponse>;
  /** The (version, scheme, network) kinds this facilitator handles, its extensions and signer addresses. */
  supported(): Promise<SupportedResponse>;
}

/**
 * Whether `value` has the three methods of the {@link Facilitator} port.
 *
 * @example
 * if (!isFacilitator(options.facilitator)) throw new Error('not a facilitator');
 */
export function isFacilitator(value: unknown): value is Facilitator {
  if (value === null || typeof value !== 'object') return false;
  const candidate = value as Record<string, unknown>;
  return (
    typeof candidate.verify === 'function' &&
    typeof candidate.settle === 'function' &&
    typeof candidate.supported === 'function'
  );
}
