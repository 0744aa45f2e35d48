/**
 * The source of time: validity windows (`validAfter`, `validBefore`) are judged against it. Structurally the same
 * as the `Clock` of `@arrakis/atomic-counter` and `@arrakis/billing-ledger`, so one clock object serves all three.
 *
 * @example
 * const clock: Clock = { nowMs: () => Date.now() };
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  nowMs(): number;
}

/**
 * The wall clock.
 *
 * @example
 * x402Paywall({ requirements, facilitator, onPaid, clock: systemClock });
 */
export const systemClock: Clock = Object.freeze({ nowMs: () => Date.now() });

/** Whole seconds since the epoch according to `clock`, as a bigint (EIP-3009 windows are uint256 seconds). */
export function nowSeconds(clock: Clock): bigint {
  const ms = clock.nowMs();
  if (!Number.isSafeInteger(ms) || ms < 0) throw new Error(`assertion failed: clock.nowMs() returned ${ms}`);
  return BigInt(Math.floor(ms / 1000));
}
