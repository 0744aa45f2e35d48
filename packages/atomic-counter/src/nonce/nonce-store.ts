import { InvalidCounterInputError, NonceReusedError } from '../errors.js';
import { assertBackend, assertClock, assertOptionsObject, assertPrefix, readClock } from '../limiters/options.js';
import type { Clock } from '../ports/clock.js';
import { systemClock } from '../ports/clock.js';
import type { CounterBackend, ExpiryOptions } from '../ports/counter-backend.js';
import { assertExpiry, ttlMsMax } from '../validate.js';

/** Longest scope accepted, in characters (`[A-Za-z0-9._-]`). */
export const scopeBytesMax = 64;
/** Longest nonce accepted, in UTF-8 bytes (prefix, scope and nonce always fit a 512-byte key). */
export const nonceBytesMax = 256;

const scopePattern = /^[A-Za-z0-9._-]+$/;
const encoder = new TextEncoder();

/** Options of {@link nonceStore}. */
export interface NonceStoreOptions {
  /** Where claimed nonces live; share it between instances so a replay fails everywhere. */
  backend: CounterBackend;
  /** How long a claimed nonce is remembered, unless a claim says otherwise; 1 ms to 10 years. */
  ttlMs: number;
  /** Scope used when a claim names none, `[A-Za-z0-9._-]{1,64}`. Default `default`. */
  scope?: string;
  /** Key namespace, 1–64 printable ASCII characters. Default `nonce`. */
  prefix?: string;
  /** Time source, used to refuse an `expiresAtMs` already past. Default: the wall clock. */
  clock?: Clock;
}

/** Per-claim options of {@link NonceStore.claim}; give at most one of `ttlMs` and `expiresAtMs`. */
export interface NonceClaimOptions {
  /** Scope of this claim, e.g. `x402:base-sepolia` or a facilitator id. Default: the store's scope. */
  scope?: string;
  /** Remember this nonce for `ttlMs` instead of the store's default. */
  ttlMs?: number;
  /** Remember this nonce until this epoch ms (e.g. an authorization's `validBefore`); must be in the future. */
  expiresAtMs?: number;
}

/** A single-use nonce registry; see {@link nonceStore}. */
export interface NonceStore {
  /** Claims `nonce` in its scope: true for exactly one caller until the claim expires, false for every other. */
  claim(nonce: string, options?: NonceClaimOptions): Promise<boolean>;
  /** Like {@link NonceStore.claim}, but throws {@link NonceReusedError} instead of returning false. */
  claimOrThrow(nonce: string, options?: NonceClaimOptions): Promise<void>;
}

function assertScope(scope: unknown): asserts scope is string {
  if (typeof scope !== 'string' || scope.length > scopeBytesMax || !scopePattern.test(scope)) {
    throw new InvalidCounterInputError(
      'invalid_key',
      `scope must be 1 to ${scopeBytesMax} characters of [A-Za-z0-9._-], got ${JSON.stringify(scope)}`,
    );
  }
}

function assertNonce(nonce: unknown): asserts nonce is string {
  if (typeof nonce !== 'string' || nonce.length === 0) {
    throw new InvalidCounterInputError('invalid_key', `nonce must be a non-empty string, got ${JSON.stringify(nonce)}`);
  }
  const bytes = encoder.encode(nonce).length;
  if (bytes > nonceBytesMax) {
    throw new InvalidCounterInputError('invalid_key', `nonce is ${bytes} bytes; at most ${nonceBytesMax} allowed`, {
      details: { bytes, nonceBytesMax },
    });
  }
}

/**
 * A single-use nonce store (replay protection for signed payments, webhooks, one-time tokens), backed by the
 * backend's atomic `setIfAbsent`: under any concurrency exactly one claim of a nonce wins until it expires.
 * The key is `${prefix}:${scope}:${nonce}`; scopes cannot contain `:`, so two (scope, nonce) pairs never share
 * a key.
 *
 * @throws {InvalidCounterInputError} `invalid_option` / `invalid_expiry` / `invalid_key` for bad options.
 * @example
 * const nonces = nonceStore({ backend: memoryBackend(), ttlMs: 24 * 3_600_000, scope: 'x402' });
 * await nonces.claimOrThrow('0x9f2c…'); // the first time: ok
 * await nonces.claimOrThrow('0x9f2c…'); // throws NonceReusedError
 */
export function nonceStore(options: NonceStoreOptions): NonceStore {
  const fn = 'nonceStore';
  assertOptionsObject(fn, options);
  assertBackend(fn, options.backend);
  assertExpiry({ ttlMs: options.ttlMs });
  const defaultScope = options.scope ?? 'default';
  assertScope(defaultScope);
  const prefix = options.prefix ?? 'nonce';
  assertPrefix(fn, prefix);
  const clock = options.clock ?? systemClock;
  assertClock(fn, clock);
  const { backend, ttlMs } = options;

  async function claim(nonce: string, claimOptions: NonceClaimOptions = {}): Promise<boolean> {
    assertNonce(nonce);
    if (claimOptions === null || typeof claimOptions !== 'object') {
      throw new InvalidCounterInputError('invalid_option', 'claim options must be an object');
    }
    const scope = claimOptions.scope ?? defaultScope;
    assertScope(scope);
    let expiry: ExpiryOptions;
    if (claimOptions.expiresAtMs !== undefined) {
      expiry = { expiresAtMs: claimOptions.expiresAtMs };
      if (claimOptions.ttlMs !== undefined) {
        throw new InvalidCounterInputError('invalid_expiry', 'give at most one of ttlMs or expiresAtMs');
      }
      assertExpiry(expiry);
      const nowMs = readClock(clock);
      if (claimOptions.expiresAtMs <= nowMs || claimOptions.expiresAtMs - nowMs > ttlMsMax) {
        throw new InvalidCounterInputError(
          'invalid_expiry',
          `expiresAtMs must be in (now, now + ${ttlMsMax}], got ${claimOptions.expiresAtMs} at ${nowMs}`,
        );
      }
    } else {
      expiry = { ttlMs: claimOptions.ttlMs ?? ttlMs };
      assertExpiry(expiry);
    }
    return backend.setIfAbsent(`${prefix}:${scope}:${nonce}`, 1n, expiry);
  }

  return {
    claim,
    async claimOrThrow(nonce: string, claimOptions?: NonceClaimOptions): Promise<void> {
      if (!(await claim(nonce, claimOptions))) {
        throw new NonceReusedError(claimOptions?.scope ?? defaultScope, nonce);
      }
    },
  };
}
