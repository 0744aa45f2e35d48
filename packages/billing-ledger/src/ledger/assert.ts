/**
 * Invariant assertions of the ledger core. A failed assertion is a bug (or a corrupted database), never an
 * expected outcome: it throws {@link LedgerInvariantError}, which the ledger never catches or turns into a success;
 * the surrounding transaction rolls back.
 */

/**
 * A broken ledger invariant (bucket identity, a negative bucket, a hold whose parts do not add up). Not a
 * `LedgerError`: it has no HTTP status because it is a bug, and the gateway answers it with a 500.
 *
 * @example
 * try {
 *   await ledger.reserve(input);
 * } catch (error) {
 *   if (error instanceof LedgerInvariantError) logger.fatal({ err: error }, 'ledger invariant broken');
 *   throw error;
 * }
 */
export class LedgerInvariantError extends Error {
  override readonly name = 'LedgerInvariantError';
  readonly details: Record<string, string>;
  constructor(message: string, details: Record<string, string> = {}) {
    super(`ledger invariant broken: ${message}`);
    this.details = details;
  }
}

/**
 * Throws {@link LedgerInvariantError} when `condition` is false.
 *
 * @example
 * assert(lot.availableMicro >= 0n, 'available must not go negative', { lotId: lot.id });
 */
export function assert(condition: boolean, message: string, details?: Record<string, string>): asserts condition {
  if (!condition) throw new LedgerInvariantError(message, details);
}
