import type { VerifiedPayment } from '../verify/verify-exact.js';
import type { Settlement } from '../wire/schemas.js';

/** A JSON value: what a claim store keeps as an effect's result so a replay can return it. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** Input of {@link PaymentClaimStore.claim}. */
export interface PaymentClaimInput<TTx, TResult extends JsonValue> {
  /** The verified payment; recorded under `payment.reference` (unique). */
  payment: VerifiedPayment;
  /** Settles the payment (the paywall's `settle`); called once, after the effect, before commit. */
  settle: () => Promise<Settlement>;
  /** The effect (e.g. minting credits), run inside the same transaction through `tx`. */
  effect: (tx: TTx, payment: VerifiedPayment) => Promise<TResult>;
}

/** Outcome of {@link PaymentClaimStore.claim}. */
export interface PaymentClaimOutcome<TResult extends JsonValue> {
  reference: string;
  /** The effect's result (on a replay: the first result, as recorded). */
  result: TResult;
  /** The settlement (on a replay: the recorded one). */
  settlement: Settlement;
  /** True when the payment was already recorded: nothing ran, nothing was settled. */
  replayed: boolean;
}

/** A payment as a claim store recorded it. */
export interface RecordedPayment {
  reference: string;
  network: string;
  asset: string;
  payer: string;
  payTo: string;
  nonce: string;
  amountAtomic: bigint;
  validBefore: bigint;
  x402Version: 1 | 2;
  transaction: string;
  settlement: Settlement;
  result: JsonValue;
  recordedAtMs: number;
}

/**
 * The port of a persistent payment record for users without the billing ledger: `claim` runs
 * claim → effect → settle → commit in one transaction, keyed by the payment's unique reference.
 *
 * - The first submission records the payment, runs the effect, settles, and commits all together; if the effect
 *   or the settlement throws, the transaction rolls back: nothing recorded, no effect, the error propagates.
 * - A submission of an already recorded payment returns the first result with `replayed: true`, without running
 *   the effect or settling again; concurrent submissions wait for the first one and then replay (or, if it
 *   rolled back, claim it themselves).
 * - The same reference with a different authorization (another recipient or amount) throws `nonce_already_used`.
 *
 * @example
 * const outcome = await store.claim({ payment, settle, effect: async (tx) => mintCredits(tx, payment) });
 * outcome.replayed; // false the first time, true on every replay
 */
export interface PaymentClaimStore<TTx> {
  claim<TResult extends JsonValue>(input: PaymentClaimInput<TTx, TResult>): Promise<PaymentClaimOutcome<TResult>>;
  /** The recorded payment with this reference, or `null`. */
  find(reference: string): Promise<RecordedPayment | null>;
}
