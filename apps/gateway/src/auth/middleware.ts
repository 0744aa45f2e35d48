import type { Clock } from '@arrakis/atomic-counter';
import type { MiddlewareHandler } from 'hono';
import { errors, type JWTPayload, jwtVerify } from 'jose';
import type { JwtAlgorithm } from '../config.js';
import { type Audience, type AuthedEnv, audiences, type Principal } from '../context.js';
import { AuthenticationError, GatewayError, InsufficientScopeError } from '../errors.js';
import type { AuthKeyResolver } from './keys.js';
import { checkRequireAuthOptions, missingScopes, type RequireAuthOptions } from './scopes.js';
import { scopeCountMax, subjectLengthMax } from './tokens.js';
import { createVerifiedTokens } from './verified-tokens.js';

export type { RequireAuthOptions } from './scopes.js';

/** Longest bearer token accepted, in characters. */
export const bearerTokenLengthMax = 8192;
/**
 * Longest `Authorization` header inspected, in characters: a longer one is a 401 `invalid_token` before any parsing
 * (the server admits headers up to `headersBytesMax`, so a 100 kB token reaches this check).
 */
export const authorizationHeaderLengthMax = bearerTokenLengthMax + 64;
/** Clock skew tolerated on `exp`, `nbf` and `iat`. */
export const clockToleranceSeconds = 5;
/** `typ` header values accepted when present (compared case-insensitively). */
export const tokenTypesAccepted = ['jwt', 'at+jwt', 'application/jwt', 'application/at+jwt'] as const;

/** Options of {@link createAuth}. */
export interface AuthOptions {
  keys: AuthKeyResolver;
  issuer: string;
  /** Allowlist, a non-empty subset of ES256 and EdDSA. */
  algorithms: readonly JwtAlgorithm[];
  maxTokenAgeSeconds: number;
  clock: Clock;
}

/** The auth factory: one middleware per route group. */
export interface Auth {
  /**
   * Verifies the bearer token for `allowed` audiences, checks the scopes of `options` (all of `scopes`, one of
   * `anyScope`, for the `scopedAudiences`) and sets `c.var.principal`.
   */
  require(allowed: readonly Audience[], options?: RequireAuthOptions): MiddlewareHandler<AuthedEnv>;
  /** Verifies a token outside a request (tests, tooling). */
  verify(token: string, allowed: readonly Audience[]): Promise<Principal>;
}

function claimsFrom(error: unknown): string {
  return error instanceof errors.JWTClaimValidationFailed || error instanceof errors.JWTExpired ? error.claim : '';
}

/** Maps jose's verification errors to stable 401 codes. */
function toAuthenticationError(error: unknown, allowed: readonly Audience[], options: AuthOptions): GatewayError {
  if (error instanceof GatewayError) return error;
  if (error instanceof errors.JWTExpired) {
    return claimsFrom(error) === 'iat'
      ? new AuthenticationError(
          'token_too_old',
          `the token was issued more than ${options.maxTokenAgeSeconds} seconds ago; get a new one`,
          { cause: error },
        )
      : new AuthenticationError('token_expired', 'the token has expired; get a new one', { cause: error });
  }
  if (error instanceof errors.JWTClaimValidationFailed) {
    switch (error.claim) {
      case 'aud':
        return new AuthenticationError('wrong_audience', `this route accepts tokens for ${allowed.join(', ')} only`, {
          cause: error,
        });
      case 'iss':
        return new AuthenticationError(
          'wrong_issuer',
          `the token must be issued by ${JSON.stringify(options.issuer)}`,
          {
            cause: error,
          },
        );
      case 'nbf':
        return new AuthenticationError('token_not_yet_valid', 'the token is not valid yet ("nbf" is in the future)', {
          cause: error,
        });
      default:
        return new AuthenticationError('invalid_token', `invalid token: ${error.message}`, { cause: error });
    }
  }
  if (error instanceof errors.JWKSNoMatchingKey) {
    return new AuthenticationError('unknown_key', 'no configured key matches the token\'s "kid" and "alg"', {
      cause: error,
    });
  }
  if (error instanceof errors.JOSEAlgNotAllowed) {
    return new AuthenticationError(
      'invalid_token',
      `the token's algorithm is not allowed; expected ${options.algorithms.join(' or ')}`,
      {
        cause: error,
      },
    );
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) {
    return new AuthenticationError('invalid_token', 'the token signature does not verify', { cause: error });
  }
  return new AuthenticationError('invalid_token', 'the token is malformed or cannot be verified', { cause: error });
}

function parseScopes(claim: unknown): string[] | undefined {
  if (claim === undefined) return [];
  if (typeof claim === 'string') return claim.split(' ').filter((s) => s !== '');
  if (Array.isArray(claim) && claim.every((s) => typeof s === 'string')) return [...claim];
  return undefined;
}

function principalFrom(payload: JWTPayload, allowed: readonly Audience[]): Principal {
  const aud = typeof payload.aud === 'string' ? [payload.aud] : (payload.aud ?? []);
  const ours = aud.filter((a): a is Audience => (audiences as readonly string[]).includes(a));
  if (ours.length !== 1) {
    throw new AuthenticationError('invalid_token', 'the token must name exactly one arrakis audience');
  }
  const audience = ours[0] as Audience;
  if (!allowed.includes(audience)) {
    throw new AuthenticationError('wrong_audience', `this route accepts tokens for ${allowed.join(', ')} only`);
  }
  const sub = payload.sub;
  if (typeof sub !== 'string' || sub.length === 0 || sub.length > subjectLengthMax) {
    throw new AuthenticationError('invalid_token', `"sub" must be a string of 1-${subjectLengthMax} characters`);
  }
  const scopes = parseScopes(payload.scope);
  if (scopes === undefined || scopes.length > scopeCountMax) {
    throw new AuthenticationError(
      'invalid_token',
      `"scope" must be a space-separated string of at most ${scopeCountMax} scopes`,
    );
  }
  return {
    sub,
    audience,
    scopes,
    issuer: String(payload.iss),
    expiresAtMs: (payload.exp as number) * 1000,
    tokenId: typeof payload.jti === 'string' ? payload.jti : undefined,
  };
}

/**
 * The token of an `Authorization: Bearer <token>` header. An over-long header is refused before the pattern runs.
 *
 * @throws {AuthenticationError} `missing_token` without a header, `invalid_token` for any other shape or length.
 */
function bearerTokenOf(header: string | undefined): string {
  if (header === undefined || header.trim() === '') {
    throw new AuthenticationError('missing_token', 'this route needs an "Authorization: Bearer <token>" header');
  }
  if (header.length > authorizationHeaderLengthMax) {
    throw new AuthenticationError('invalid_token', `the token is longer than ${bearerTokenLengthMax} characters`);
  }
  const token = /^Bearer +([A-Za-z0-9._~+/=-]+) *$/i.exec(header)?.[1];
  if (token === undefined) {
    throw new AuthenticationError('invalid_token', 'the Authorization header must be "Bearer <token>"');
  }
  if (token.length > bearerTokenLengthMax) {
    throw new AuthenticationError('invalid_token', `the token is longer than ${bearerTokenLengthMax} characters`);
  }
  return token;
}

/**
 * Builds the bearer-token auth of the gateway. Tokens are verified with jose against the configured keys with an
 * explicit algorithm allowlist (ES256/EdDSA), the issuer, the route group's audiences, a required `exp`, `iat` and
 * `sub`, and a maximum token age. Every rejection is a 401 with a stable code; a missing scope is a 403
 * (`scopes`: all of them; `anyScope`: one of them; `scopedAudiences`: only for those audiences).
 *
 * @throws {TypeError} when the options are invalid (at build time, not per request).
 * @example
 * ```ts
 * const auth = createAuth({ keys, issuer: 'arrakis-gateway', algorithms: ['ES256'], maxTokenAgeSeconds: 3600, clock: systemClock });
 * app.get('/v1/admin/thing', auth.require(['arrakis-admin'], { scopes: ['admin'] }), (c) => c.json(c.var.principal));
 * app.get('/v1/things', auth.require(['arrakis-api', 'arrakis-admin'], { anyScope: ['ledger:read', 'admin'], scopedAudiences: ['arrakis-admin'] }), handler);
 * ```
 */
export function createAuth(options: AuthOptions): Auth {
  if (options.algorithms.length === 0) throw new TypeError('algorithms must not be empty');
  for (const alg of options.algorithms) {
    if (alg !== 'ES256' && alg !== 'EdDSA') throw new TypeError(`algorithm ${String(alg)} is not allowed`);
  }
  if (!Number.isInteger(options.maxTokenAgeSeconds) || options.maxTokenAgeSeconds < 1) {
    throw new TypeError(`maxTokenAgeSeconds must be a positive integer, got ${options.maxTokenAgeSeconds}`);
  }

  const verified = createVerifiedTokens();

  async function verify(token: string, allowed: readonly Audience[]): Promise<Principal> {
    const nowMs = options.clock.nowMs();
    const cacheKey = `${allowed.join(' ')}\n${token}`;
    const known = verified.get(cacheKey, nowMs);
    if (known !== undefined) return known;
    return verifySigned(token, allowed, nowMs, cacheKey);
  }

  async function verifySigned(
    token: string,
    allowed: readonly Audience[],
    nowMs: number,
    cacheKey: string,
  ): Promise<Principal> {
    try {
      const { payload, protectedHeader } = await jwtVerify(token, options.keys, {
        algorithms: [...options.algorithms],
        issuer: options.issuer,
        audience: [...allowed],
        maxTokenAge: options.maxTokenAgeSeconds,
        requiredClaims: ['exp', 'iat', 'sub'],
        clockTolerance: clockToleranceSeconds,
        currentDate: new Date(nowMs),
      });
      const typ = protectedHeader.typ;
      if (typ !== undefined && !(tokenTypesAccepted as readonly string[]).includes(typ.toLowerCase())) {
        throw new AuthenticationError('invalid_token', `a token of type ${JSON.stringify(typ)} is not an access token`);
      }
      // Shared by the requests that present the same token: frozen, so none can change another's.
      const principal = Object.freeze(principalFrom(payload, allowed));
      Object.freeze(principal.scopes);
      verified.set(
        cacheKey,
        principal,
        {
          expiresAtSeconds: payload.exp as number,
          issuedAtSeconds: payload.iat as number,
          notBeforeSeconds: payload.nbf,
          maxTokenAgeSeconds: options.maxTokenAgeSeconds,
          clockToleranceSeconds,
        },
        nowMs,
      );
      return principal;
    } catch (error) {
      throw toAuthenticationError(error, allowed, options);
    }
  }

  function requireAuth(
    allowed: readonly Audience[],
    requireOptions: RequireAuthOptions = {},
  ): MiddlewareHandler<AuthedEnv> {
    if (allowed.length === 0) throw new TypeError('at least one audience is required');
    for (const audience of allowed) {
      if (!(audiences as readonly string[]).includes(audience)) throw new TypeError(`unknown audience ${audience}`);
    }
    checkRequireAuthOptions(allowed, requireOptions);
    return async function authenticate(c, next) {
      const principal = await verify(bearerTokenOf(c.req.header('authorization')), allowed);
      const missing = missingScopes(principal, requireOptions);
      if (missing.length > 0) throw new InsufficientScopeError(missing, principal.scopes);
      c.set('principal', principal);
      await next();
    };
  }

  return { require: requireAuth, verify };
}
