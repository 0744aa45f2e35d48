/** Stable codes of {@link DevChainError}. */
export type DevChainErrorCode =
  | 'invalid_option'
  | 'node_start_failed'
  | 'node_start_timeout'
  | 'compile_failed'
  | 'contract_not_found'
  | 'deploy_failed'
  | 'transaction_reverted';

/**
 * The one error type of `@arrakis/dev-chain`: a stable `code`, a message that says what was expected,
 * optional `details` and the `cause`.
 *
 * @example
 * ```ts
 * try {
 *   await compileSolidity({ 'Broken.sol': 'contract {' });
 * } catch (error) {
 *   if (error instanceof DevChainError && error.code === 'compile_failed') console.error(error.details);
 * }
 * ```
 */
export class DevChainError extends Error {
  override readonly name = 'DevChainError';
  readonly code: DevChainErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: DevChainErrorCode,
    message: string,
    options: { details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details;
  }
}
