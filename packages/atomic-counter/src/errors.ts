/** Stable codes of every error this package throws. */
export type CounterErrorCode =
  | 'invalid_key'
  | 'invalid_amount'
  | 'invalid_expiry'
  | 'invalid_option'
  | 'backend_unavailable'
  | 'rate_limited'
  | 'spend_cap_exceeded'
  | 'nonce_reused';

/** Base error of @arrakis/atomic-counter: a stable `code`, a message quoting the bad value, `details`, `cause`. */
export class CounterError extends Error {
  override readonly name: string = 'CounterError';
  readonly code: CounterErrorCode;
  readonly details: Record<string, unknown> | undefined;
  constructor(
    code: CounterErrorCode,
    message: string,
    options: { details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details;
  }
}

/** Thrown before any I/O when an argument breaks the rules (key, amount, window, expiry). */
export class InvalidCounterInputError extends CounterError {
  override readonly name = 'InvalidCounterInputError';
}

/** Thrown when the backend fails (connection lost, timeout); `cause` holds the driver error. */
export class BackendUnavailableError extends CounterError {
  override readonly name = 'BackendUnavailableError';
  constructor(backend: string, cause: unknown) {
    super(
      'backend_unavailable',
      `counter backend "${backend}" failed: ${cause instanceof Error ? cause.message : String(cause)}`,
      {
        details: { backend },
        cause,
      },
    );
  }
}

/** Details of a {@link SpendCapExceededError}. */
export interface SpendCapExceededDetails {
  /** The caller's key (without the cap's prefix). */
  key: string;
  capMicro: bigint;
  /** Spent in the current period before this amount. */
  usedMicro: bigint;
  /** The amount that did not fit. */
  amountMicro: bigint;
  /** Epoch ms when the period ends and usage starts again from 0. */
  resetAtMs: number;
}

/**
 * Thrown by `spendCap().record()` when the amount would take the period's spending past the cap; nothing was
 * recorded. `details` carries the amounts as base-10 strings (JSON-safe); the typed fields keep the bigints.
 *
 * @example
 * try {
 *   await cap.record('account:42', 2_500_000n);
 * } catch (error) {
 *   if (error instanceof SpendCapExceededError) return c.json({ error: error.code, details: error.details }, 429);
 *   throw error;
 * }
 */
export class SpendCapExceededError extends CounterError {
  override readonly name = 'SpendCapExceededError';
  readonly key: string;
  readonly capMicro: bigint;
  readonly usedMicro: bigint;
  readonly amountMicro: bigint;
  readonly resetAtMs: number;
  constructor(details: SpendCapExceededDetails) {
    const remainingMicro = details.capMicro > details.usedMicro ? details.capMicro - details.usedMicro : 0n;
    super(
      'spend_cap_exceeded',
      `spending ${details.amountMicro} micro-USD on "${details.key}" would exceed the cap of ${details.capMicro} ` +
        `(${details.usedMicro} spent, ${remainingMicro} left until ${new Date(details.resetAtMs).toISOString()})`,
      {
        details: {
          key: details.key,
          capMicro: details.capMicro.toString(),
          usedMicro: details.usedMicro.toString(),
          remainingMicro: remainingMicro.toString(),
          amountMicro: details.amountMicro.toString(),
          resetAtMs: details.resetAtMs,
        },
      },
    );
    this.key = details.key;
    this.capMicro = details.capMicro;
    this.usedMicro = details.usedMicro;
    this.amountMicro = details.amountMicro;
    this.resetAtMs = details.resetAtMs;
  }
}

/**
 * Thrown by `nonceStore().claimOrThrow()` when the nonce was already claimed in its scope (a replay).
 *
 * @example
 * await nonces.claimOrThrow(authorization.nonce, { scope: 'x402' }); // a replay throws NonceReusedError (409)
 */
export class NonceReusedError extends CounterError {
  override readonly name = 'NonceReusedError';
  readonly scope: string;
  readonly nonce: string;
  constructor(scope: string, nonce: string) {
    super('nonce_reused', `nonce ${JSON.stringify(nonce)} was already used in scope "${scope}"`, {
      details: { scope, nonce },
    });
    this.scope = scope;
    this.nonce = nonce;
  }
}
