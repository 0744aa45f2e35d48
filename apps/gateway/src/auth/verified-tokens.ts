// Tokens the gateway verified recently: a repeat of the same bearer token for the same audiences skips the signature
// check (an ES256 verify is most of what authenticating a request costs) while its time claims still hold.
import type { Principal } from '../context.js';

/** Tokens kept at most; past it the oldest entry goes (at most 2048 × an 8 KiB token: 16 MiB). */
export const verifiedTokensMax = 2048;
/**
 * Longest a verified token is reused without checking its signature again. It bounds how long a key removed from the
 * key set (a rotated remote JWKS) keeps authenticating tokens it signed, on top of the JWKS's own refetch interval.
 */
export const verifiedTokenReuseMsMax = 30_000;

/** When a verified token stops being reusable, from its claims (epoch seconds) and the verifier's rules. */
export interface VerifiedTokenWindow {
  /** `exp` (required). */
  expiresAtSeconds: number;
  /** `iat` (required). */
  issuedAtSeconds: number;
  /** `nbf` when present. */
  notBeforeSeconds: number | undefined;
  maxTokenAgeSeconds: number;
  clockToleranceSeconds: number;
}

interface Entry {
  principal: Principal;
  /** Reusable from (inclusive) … until (exclusive), epoch ms. */
  fromMs: number;
  untilMs: number;
}

/** A bounded map of verified tokens to their principal. */
export interface VerifiedTokens {
  /** The principal of a token verified for exactly these audiences, while its window holds at `nowMs`. */
  get(key: string, nowMs: number): Principal | undefined;
  set(key: string, principal: Principal, window: VerifiedTokenWindow, nowMs: number): void;
}

/**
 * The reuse window of a verified token: while jose would accept it again — before `exp` + tolerance, within
 * `iat` + max age + tolerance, not before `nbf` − tolerance nor `iat` − tolerance (a clock that went back) — and for
 * at most {@link verifiedTokenReuseMsMax}.
 */
export function reuseWindow(window: VerifiedTokenWindow, nowMs: number): { fromMs: number; untilMs: number } {
  const toleranceMs = window.clockToleranceSeconds * 1000;
  const untilMs = Math.min(
    window.expiresAtSeconds * 1000 + toleranceMs,
    (window.issuedAtSeconds + window.maxTokenAgeSeconds) * 1000 + toleranceMs,
    nowMs + verifiedTokenReuseMsMax,
  );
  // jose refuses an `iat` in the future (past the tolerance) as it does an `nbf`: reusable only from both.
  const fromMs = Math.max(window.issuedAtSeconds, window.notBeforeSeconds ?? -Infinity) * 1000 - toleranceMs;
  return { fromMs, untilMs };
}

/**
 * An empty cache of verified tokens.
 *
 * @example
 * ```ts
 * const verified = createVerifiedTokens();
 * verified.get(`arrakis-api\n${token}`, Date.now()); // undefined until set
 * ```
 */
export function createVerifiedTokens(): VerifiedTokens {
  const entries = new Map<string, Entry>();
  return {
    get(key, nowMs) {
      const entry = entries.get(key);
      if (entry === undefined) return undefined;
      // `untilMs` is exclusive: jose refuses `exp` at `now − tolerance` exactly; the age check is inclusive, kept.
      if (nowMs < entry.fromMs || nowMs >= entry.untilMs) {
        entries.delete(key);
        return undefined;
      }
      return entry.principal;
    },
    set(key, principal, window, nowMs) {
      const { fromMs, untilMs } = reuseWindow(window, nowMs);
      if (nowMs < fromMs || nowMs >= untilMs) return;
      entries.delete(key);
      if (entries.size >= verifiedTokensMax) {
        const oldest = entries.keys().next();
        if (oldest.done !== true) entries.delete(oldest.value);
      }
      entries.set(key, { principal, fromMs, untilMs });
    },
  };
}
