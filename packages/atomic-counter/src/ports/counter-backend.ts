/**
 * The counter port. Every backend (in-memory, SQLite, Redis, Postgres) implements it, and every
 * limiter, spend cap and nonce store is written against it only.
 *
 * Values are `bigint` and bounded by {@link counterValueMax} (2^53 − 1): Redis Lua arithmetic is
 * IEEE-754, so the bound keeps every backend exact and identical.
 */

/** When a counter key expires: a relative TTL or an absolute epoch time, exactly one. */
export type ExpiryOptions = { ttlMs: number; expiresAtMs?: never } | { expiresAtMs: number; ttlMs?: never };

/** Options of {@link CounterBackend.increment}: expiry applies when the key is created (or was expired). */
export type IncrementOptions = ExpiryOptions;

/** Options of {@link CounterBackend.advance}. */
export type AdvanceOptions = ExpiryOptions & {
  /** Added to the base; > 0. */
  by: bigint;
  /** The base is `max(current, floor)`; a missing or expired key counts as 0. Default 0. */
  floor?: bigint;
  /** The update applies only when `max(current, floor) + by <= max`. */
  max: bigint;
  /**
   * `extend` (default): on success the key's expiry is (re)set from these options.
   * `keep`: an existing live key keeps its expiry (a fixed window must not slide).
   */
  expiry?: 'extend' | 'keep';
};

/** Result of {@link CounterBackend.advance}. */
export interface AdvanceResult {
  /** Whether the bounded update was applied. */
  applied: boolean;
  /** The value after the call (unchanged when not applied; 0 for a missing key). */
  value: bigint;
  /** Epoch ms when the key expires, or null for a missing key. */
  expiresAtMs: number | null;
}

/** Current state of one counter key. */
export interface CounterSnapshot {
  value: bigint;
  expiresAtMs: number;
}

/** The atomic counter port (DESIGN.md §4). Every method is one atomic step on the backend. */
export interface CounterBackend {
  /** Backend name for logs and metrics: `memory`, `sqlite`, `redis`, `postgres`. */
  readonly name: string;
  /**
   * Adds `by` (≥ 0) to the key and returns the new total. A missing or expired key starts at 0 and
   * takes the expiry from `options`; a live key keeps its expiry.
   */
  increment(key: string, by: bigint, options: IncrementOptions): Promise<bigint>;
  /** Bounded, conditional increment: the primitive that spend caps and limiters need. */
  advance(key: string, options: AdvanceOptions): Promise<AdvanceResult>;
  /** The live value and expiry, or null when missing or expired. */
  get(key: string): Promise<CounterSnapshot | null>;
  /** Deletes the key. */
  reset(key: string): Promise<void>;
  /** Sets the key to `value` only when it is missing or expired; true when this call set it. */
  setIfAbsent(key: string, value: bigint, options: ExpiryOptions): Promise<boolean>;
  /** Releases connections the backend opened itself (not ones passed in). */
  close(): Promise<void>;
}
