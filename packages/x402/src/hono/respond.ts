import type { Context } from 'hono';
import { createPaymentRequired, paymentRequiredHeaders } from '../requirements.js';
import type { PaymentRequirements, ResourceInfo } from '../wire/schemas.js';

/** Options of {@link respondPaymentRequired}. */
export interface RespondPaymentRequiredOptions {
  /** What would satisfy the request (e.g. the smallest credit pack covering a shortfall). */
  requirements: PaymentRequirements | readonly PaymentRequirements[];
  /** The error code of the body and of `PAYMENT-REQUIRED.error`, e.g. `'insufficient_credits'`. */
  error: string;
  message: string;
  details?: Record<string, unknown>;
  /** Describes what the payment buys; `url` defaults to the request URL. Point it at the purchase route. */
  resource?: Partial<ResourceInfo>;
}

/**
 * Answers 402 with a `PAYMENT-REQUIRED` header (and `Cache-Control: no-store`) from any route, outside the
 * paywall — e.g. a reservation that finds too few credits offers a pack, so an x402 client can buy and retry
 * unattended. The body is `{ error, message, details? }`.
 *
 * @throws {InvalidX402OptionError} when a requirement or the resource is invalid.
 * @example
 * if (error instanceof InsufficientCreditsError) {
 *   const pack = smallestPackCovering(error.shortfallMicro);
 *   return respondPaymentRequired(c, {
 *     requirements: terms.forAmount(pack.priceMicro),
 *     error: 'insufficient_credits',
 *     message: error.message,
 *     resource: { url: new URL(`/v1/credit-packs/${pack.id}/purchase`, c.req.url).href },
 *   });
 * }
 */
export function respondPaymentRequired(c: Context, options: RespondPaymentRequiredOptions): Response {
  const resource = { ...options.resource, url: options.resource?.url ?? c.req.url };
  const required = createPaymentRequired({ requirements: options.requirements, resource, error: options.error });
  const body: Record<string, unknown> = { error: options.error, message: options.message };
  if (options.details !== undefined) body.details = options.details;
  return c.json(body, 402, paymentRequiredHeaders(required));
}
