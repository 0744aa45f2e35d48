/** A source of time. Injected everywhere time matters so tests move time instead of sleeping. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  nowMs(): number;
}

/** The wall clock. */
export const systemClock: Clock = { nowMs: () => Date.now() };

/** A clock for tests: starts at `startMs` and moves only when told. */
export class ManualClock implements Clock {
  #nowMs: number;
  constructor(startMs = Date.UTC(2026, 0, 1)) {
    this.#nowMs = startMs;
  }
  nowMs(): number {
    return this.#nowMs;
  }
  /** Moves time forward by `deltaMs` (≥ 0). */
  advance(deltaMs: number): void {
    if (!Number.isFinite(deltaMs) || deltaMs < 0) throw new RangeError(`deltaMs must be ≥ 0, got ${deltaMs}`);
    this.#nowMs += deltaMs;
  }
  /** Sets the time. */
  set(nowMs: number): void {
    this.#nowMs = nowMs;
  }
}
