/**
 * The package's source of time, injected wherever time matters (rotation expiry, token lifetimes, wallet-proof
 * windows) so tests move time instead of sleeping. Structurally the same as `@arrakis/atomic-counter`'s and
 * `@arrakis/billing-ledger`'s `Clock`, so one clock object serves all three.
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
 * const identity = createIdentityTrust({ store, clock: systemClock });
 */
export const systemClock: Clock = { nowMs: () => Date.now() };
