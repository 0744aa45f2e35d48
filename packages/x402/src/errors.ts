/**
 * Stable codes of every error this package reports. Payment failures travel to the client in the 402 body
 * (`{ error: code, message, details? }`) and in the `error` field of the `PAYMENT-REQUIRED` header.
 */
export type X402ErrorCode =
  /** No `PAYMENT-SIGNATURE` / `X-PAYMENT` header on a paid route. */
  | 'payment_required'
  /** The payment header is not base64 JSON of a payment payload, or a field breaks its format. */
  | 'malformed_payment'
  /** `x402Version` is neither 1 nor 2. */
  | 'unsupported_version'
  /** The payment uses a scheme other than `exact`, or one the route does not offer. */
  | 'unsupported_scheme'
  /** The payment is for another network (chain) than the route asks for. */
  | 'network_mismatch'
  /** The payment is in another token than the route asks for. */
  | 'asset_mismatch'
  /** The authorization pays another address than the route's `payTo`. */
  | 'pay_to_mismatch'
  /** The authorization's value is not exactly the route's amount. */
  | 'amount_mismatch'
  /** The echoed `accepted` requirement differs from every offered one in another field (timeout, extra). */
  | 'requirements_mismatch'
  /** The EIP-712 signature does not recover to `authorization.from` for the route's token domain. */
  | 'invalid_signature'
  /** `validBefore` has passed (or is closer than the safety margin). */
  | 'authorization_expired'
  /** `validAfter` is still in the future. */
  | 'authorization_not_yet_valid'
  /** The EIP-3009 nonce of this payer was already used (on chain or by another recorded payment). */
  | 'nonce_already_used'
  /** The payer's token balance is below the amount. */
  | 'insufficient_funds'
  /** Settlement was attempted and failed (reverted, not mined, rejected by the facilitator). */
  | 'settlement_failed'
  /** The facilitator (or the chain RPC) could not be reached or answered something that is not the x402 wire format. */
  | 'facilitator_unavailable'
  /**
   * The payment is recorded and its settlement is in progress or its outcome is not known yet (another attempt
   * holds it, the chain has not answered): send the same payment again later; it is credited at most once.
   */
  | 'payment_pending'
  /** A factory or function got an invalid option (a programming error, reported when built). */
  | 'invalid_option';

/**
 * HTTP status of each code when it ends a request: payment failures are 402 (the client may pay again), an
 * unreachable facilitator and a payment still settling 503 (retry the same payment later), a bad option 500 (a
 * server bug; thrown when the middleware is built).
 */
export type X402HttpStatus = 402 | 500 | 503;

/** See {@link X402HttpStatus}. */
export const x402ErrorHttpStatus: Readonly<Record<X402ErrorCode, X402HttpStatus>> = Object.freeze({
  payment_required: 402,
  malformed_payment: 402,
  unsupported_version: 402,
  unsupported_scheme: 402,
  network_mismatch: 402,
  asset_mismatch: 402,
  pay_to_mismatch: 402,
  amount_mismatch: 402,
  requirements_mismatch: 402,
  invalid_signature: 402,
  authorization_expired: 402,
  authorization_not_yet_valid: 402,
  nonce_already_used: 402,
  insufficient_funds: 402,
  settlement_failed: 402,
  facilitator_unavailable: 503,
  payment_pending: 503,
  invalid_option: 500,
});

/** Every code, in a stable order (for docs and exhaustive tests). */
export const x402ErrorCodes: readonly X402ErrorCode[] = Object.freeze(
  Object.keys(x402ErrorHttpStatus) as X402ErrorCode[],
);

/**
 * Whether `value` is one of this package's error codes.
 *
 * @example
 * isX402ErrorCode('amount_mismatch'); // true
 */
export function isX402ErrorCode(value: unknown): value is X402ErrorCode {
  return typeof value === 'string' && Object.hasOwn(x402ErrorHttpStatus, value);
}

/**
 * The one error class of @arrakis/x402: a stable `code`, a message that quotes the bad value, JSON-safe
 * `details` (amounts as base-10 strings) and `cause`.
 *
 * @example
 * try {
 *   await verifyExactPayment({ payload, requirements });
 * } catch (error) {
 *   if (error instanceof X402Error) return c.json({ error: error.code, message: error.message }, error.httpStatus);
 *   throw error;
 * }
 */
export class X402Error extends Error {
  override readonly name: string = 'X402Error';
  readonly code: X402ErrorCode;
  readonly details: Record<string, unknown> | undefined;
  constructor(
    code: X402ErrorCode,
    message: string,
    options: { details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details;
  }
  /** The HTTP status this error maps to ({@link x402ErrorHttpStatus}). */
  get httpStatus(): X402HttpStatus {
    return x402ErrorHttpStatus[this.code];
  }
}

/**
 * Thrown by factories when an option is missing or invalid (code `invalid_option`), before any I/O.
 *
 * @example
 * x402Paywall({ requirements: [], facilitator, onPaid }); // throws InvalidX402OptionError
 */
export class InvalidX402OptionError extends X402Error {
  override readonly name = 'InvalidX402OptionError';
  constructor(message: string, options: { details?: Record<string, unknown>; cause?: unknown } = {}) {
    super('invalid_option', message, options);
  }
}
