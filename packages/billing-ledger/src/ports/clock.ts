/**
 * The ledger's source of time. Injected wherever time matters (hold expiry, lot expiry, idempotency keys,
 * entry timestamps) so tests move time instead of sleeping. Structurally identical to `@arrakis/atomic-counter`'s
 * `Clock`, so one clock object serves both packages.
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
 * const ledger = createLedger({ db, clock: systemClock });
 */
export const systemClock: Clock = { nowMs: () => Date.now() };

/**
 * A clock for tests: starts at `startMs` (default 2026-01-01T00:00:00Z) and moves only when told.
 *
 * @example
 * const clock = new ManualClock();
 * const ledger = createLedger({ db, clock });
 * clock.advance(300_000); // every hold placed with the default ttl is now expired
 */
export class ManualClock implements Clock {
  #nowMs: number;
  constructor(startMs = Date.UTC(2026, 0, 1)) {
    if (!Number.isSafeInteger(startMs)) throw new RangeError(`startMs must be a safe integer, got ${startMs}`);
    this.#nowMs = startMs;
  }
  nowMs(): number {
    return this.#nowMs;
  }
  /**
   * Moves time forward by `deltaMs` (an integer ≥ 0).
   *
   * @throws {RangeError} when `deltaMs` is negative or not an integer.
   * @example
   * clock.advance(1_000);
   */
  advance(deltaMs: number): void {
    if (!Number.isSafeInteger(deltaMs) || deltaMs < 0)
      throw new RangeError(`deltaMs must be an integer ≥ 0, got ${deltaMs}`);
    this.#nowMs += deltaMs;
  }
  /**
   * Sets the time.
   *
   * @throws {RangeError} when `nowMs` is not a safe integer.
   * @example
   * clock.set(Date.UTC(2026, 5, 1));
   */
  set(nowMs: number): void {
    if (!Number.isSafeInteger(nowMs)) throw new RangeError(`nowMs must be a safe integer, got ${nowMs}`);
    this.#nowMs = nowMs;
  }
}
