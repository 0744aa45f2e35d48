import { type CryptoKey, SignJWT } from 'jose';
import type { JwtAlgorithm } from '../config.js';
import { type Audience, audiences } from '../context.js';

/** Longest `sub` accepted, in characters. */
export const subjectLengthMax = 256;
/** Most scopes in one token. */
export const scopeCountMax = 32;
/** Longest token lifetime the gateway mints: one day. */
export const tokenTtlSecondsMax = 86_400;

/** What one scope may look like: 1-64 characters of `A-Z a-z 0-9 : . _ -` (minted and required alike). */
export const scopePattern = /^[A-Za-z0-9:._-]{1,64}$/;

/** Thrown by {@link mintToken} before signing when an option is out of range. */
export class TokenOptionError extends Error {
  override readonly name = 'TokenOptionError';
  readonly code = 'invalid_token_option' as const;
}

/** Options of {@link mintToken}. */
export interface MintTokenOptions {
  privateKey: CryptoKey;
  kid: string;
  alg: JwtAlgorithm;
  issuer: string;
  audience: Audience;
  sub: string;
  /** Written as the space-separated `scope` claim. */
  scopes?: readonly string[];
  /** 1 … {@link tokenTtlSecondsMax}. */
  ttlSeconds: number;
  /** Issue time in epoch ms (from the injected clock). */
  nowMs: number;
}

/**
 * Checks a token's `sub`, scopes and lifetime against the gateway's limits.
 *
 * @throws {TokenOptionError} naming the first rule broken.
 * @example
 * ```ts
 * assertTokenOptions({ audience: 'arrakis-admin', sub: 'alice', scopes: ['admin'], ttlSeconds: 900 });
 * ```
 */
export function assertTokenOptions(options: {
  audience: string;
  sub: string;
  scopes?: readonly string[];
  ttlSeconds: number;
}): asserts options is { audience: Audience; sub: string; scopes?: readonly string[]; ttlSeconds: number } {
  if (!(audiences as readonly string[]).includes(options.audience)) {
    throw new TokenOptionError(
      `audience must be one of ${audiences.join(', ')}, got ${JSON.stringify(options.audience)}`,
    );
  }
  if (options.sub.length === 0 || options.sub.length > subjectLengthMax || options.sub.trim() !== options.sub) {
    throw new TokenOptionError(
      `sub must be 1-${subjectLengthMax} characters without surrounding spaces, got ${JSON.stringify(options.sub)}`,
    );
  }
  const scopes = options.scopes ?? [];
  if (scopes.length > scopeCountMax)
    throw new TokenOptionError(`at most ${scopeCountMax} scopes, got ${scopes.length}`);
  for (const scope of scopes) {
    if (!scopePattern.test(scope)) {
      throw new TokenOptionError(`scope ${JSON.stringify(scope)} must be 1-64 characters of A-Z a-z 0-9 : . _ -`);
    }
  }
  if (!Number.isInteger(options.ttlSeconds) || options.ttlSeconds < 1 || options.ttlSeconds > tokenTtlSecondsMax) {
    throw new TokenOptionError(
      `ttlSeconds must be an integer in [1, ${tokenTtlSecondsMax}], got ${options.ttlSeconds}`,
    );
  }
}

/**
 * Signs a bearer token the gateway accepts: `iss`, `aud`, `sub`, `iat`, `exp`, optional `scope`, `kid` header.
 *
 * @throws {TokenOptionError} when an option is out of range (nothing is signed).
 * @example
 * ```ts
 * const key = await loadOrCreateDevKey('./.data');
 * const { token } = await mintToken({
 *   privateKey: key.privateKey, kid: key.kid, alg: 'ES256', issuer: 'arrakis-gateway',
 *   audience: 'arrakis-admin', sub: 'alice', scopes: ['admin'], ttlSeconds: 900, nowMs: Date.now(),
 * });
 * ```
 */
export async function mintToken(options: MintTokenOptions): Promise<{ token: string; expiresAtMs: number }> {
  assertTokenOptions(options);
  const iat = Math.floor(options.nowMs / 1000);
  const exp = iat + options.ttlSeconds;
  const scopes = options.scopes ?? [];
  const token = await new SignJWT(scopes.length > 0 ? { scope: scopes.join(' ') } : {})
    .setProtectedHeader({ alg: options.alg, kid: options.kid, typ: 'JWT' })
    .setIssuer(options.issuer)
    .setAudience(options.audience)
    .setSubject(options.sub)
    .setIssuedAt(iat)
    .setExpirationTime(exp)
    .sign(options.privateKey);
  return { token, expiresAtMs: exp * 1000 };
}
