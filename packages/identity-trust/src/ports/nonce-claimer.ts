/**
 * Where single-use nonces are claimed: `@arrakis/atomic-counter`'s `nonceStore(...)` fits as is (structurally), so
 * a replayed wallet proof fails across restarts and instances when its backend is shared (SQLite, Redis, Postgres).
 *
 * @example
 * import { memoryBackend, nonceStore } from '@arrakis/atomic-counter';
 * const nonces: NonceClaimer = nonceStore({ backend: memoryBackend(), ttlMs: 3_600_000 });
 */
export interface NonceClaimer {
  /** True for exactly one caller per (scope, nonce) until `expiresAtMs`; false for every other. */
  claim(nonce: string, options: { scope?: string; expiresAtMs?: number }): Promise<boolean>;
}
