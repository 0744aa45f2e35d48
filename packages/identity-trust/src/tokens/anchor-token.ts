import { randomUUID } from 'node:crypto';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
  SignJWT,
} from 'jose';
import { type Anchor, anchorVersion, assertAnchor, isAnchor } from '../anchor/derive-anchor.js';
import {
  AnchorTokenExpiredError,
  AnchorTokenInvalidError,
  IdentityError,
  InvalidArgumentError,
  quoteValue,
} from '../errors.js';
import type { Clock } from '../ports/clock.js';
import { systemClock } from '../ports/clock.js';
import { canonicalEs256Token } from './canonical-signature.js';
import { checkClaimText } from './claim-text.js';
import { type AnchorSigningKey, type AnchorTokenAlgorithm, anchorTokenAlgorithms } from './key-ring.js';

/** Longest lifetime of an anchor token: 10 minutes. A rotated anchor cannot be revoked statelessly, so keep it short. */
export const anchorTokenTtlSecondsMax = 600;
/** Default lifetime of an anchor token: 5 minutes. */
export const anchorTokenTtlSecondsDefault = 300;
/** The `typ` header of anchor tokens (RFC 8725 §3.11), so no other JWT can pass for one. */
export const anchorTokenType = 'anchor+jwt';
/** Clock skew tolerated on `exp`, `nbf` and `iat` by default, in seconds. */
export const anchorTokenClockToleranceSecondsDefault = 5;
/** Longest token accepted by {@link verifyAnchorToken}, in characters. */
export const anchorTokenLengthMax = 4096;
/** Longest `iss`, `aud` or `sub` accepted, in characters. */
export const anchorTokenClaimLengthMax = 256;

/** Options of {@link issueAnchorToken}. */
export interface IssueAnchorTokenOptions {
  key: AnchorSigningKey;
  issuer: string;
  /** Who the token is for (a sibling service). */
  audience: string;
  /** Written as `sub`. */
  accountId: string;
  anchor: Anchor;
  /** The anchor's epoch (1 at binding, +1 per rotation), written as `anc_epoch`. */
  epoch: number;
  /** 1 … 600; default 300. */
  ttlSeconds?: number;
  /** Issue time in epoch ms (from the injected clock). */
  nowMs: number;
  /** `jti`; default a random UUID. */
  tokenId?: string;
}

/** What an anchor token says, once verified. */
export interface AnchorClaims {
  accountId: string;
  anchor: Anchor;
  /** `anc_v`: the anchor encoding version. */
  anchorVersion: number;
  /** `anc_epoch`. */
  epoch: number;
  tokenId: string;
  issuer: string;
  audience: string;
  issuedAtMs: number;
  expiresAtMs: number;
  /** `kid` of the key that signed it. */
  kid: string;
}

function assertText(field: string, value: unknown, max = anchorTokenClaimLengthMax): asserts value is string {
  checkClaimText(field, value, max);
}

/**
 * Signs an anchor token: a JWT (`typ: anchor+jwt`, `kid`, ES256 or EdDSA) with `iss`, `aud`, `sub` = the account id,
 * `anchor`, `anc_v`, `anc_epoch`, `iat`, `nbf`, `exp` (at most 10 minutes later) and a `jti`.
 *
 * @throws {InvalidArgumentError} `invalid_argument` when an option is out of range (nothing is signed).
 * @throws {InvalidAnchorError} `invalid_anchor` when `anchor` is not an anchor.
 * @example
 * const { token, expiresAtMs } = await issueAnchorToken({
 *   key: ring.signingKey, issuer: 'arrakis-gateway', audience: 'arrakis-services',
 *   accountId: 'acc_1', anchor, epoch: 1, nowMs: Date.now(),
 * });
 */
export async function issueAnchorToken(
  options: IssueAnchorTokenOptions,
): Promise<{ token: string; expiresAtMs: number; tokenId: string }> {
  assertText('issuer', options.issuer);
  assertText('audience', options.audience);
  assertText('accountId', options.accountId);
  assertAnchor(options.anchor);
  if (!Number.isSafeInteger(options.epoch) || options.epoch < 1) {
    throw new InvalidArgumentError(`epoch ${quoteValue(options.epoch)} must be an integer ≥ 1`);
  }
  const ttlSeconds = options.ttlSeconds ?? anchorTokenTtlSecondsDefault;
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > anchorTokenTtlSecondsMax) {
    throw new InvalidArgumentError(
      `ttlSeconds ${quoteValue(ttlSeconds)} must be an integer in [1, ${anchorTokenTtlSecondsMax}]`,
    );
  }
  if (!Number.isSafeInteger(options.nowMs) || options.nowMs < 0) {
    throw new InvalidArgumentError(`nowMs ${quoteValue(options.nowMs)} must be a non-negative integer`);
  }
  const tokenId = options.tokenId ?? randomUUID();
  assertText('tokenId', tokenId, 128);
  const iat = Math.floor(options.nowMs / 1000);
  const exp = iat + ttlSeconds;
  const signed = await new SignJWT({ anchor: options.anchor, anc_v: anchorVersion, anc_epoch: options.epoch })
    .setProtectedHeader({ alg: options.key.alg, kid: options.key.kid, typ: anchorTokenType })
    .setIssuer(options.issuer)
    .setAudience(options.audience)
    .setSubject(options.accountId)
    .setIssuedAt(iat)
    .setNotBefore(iat)
    .setExpirationTime(exp)
    .setJti(tokenId)
    .sign(options.key.privateKey);
  // WebCrypto emits the high-S encoding of about half its ECDSA signatures; issue the canonical (low-S) one, which
  // strict verifiers require and every verifier accepts.
  return { token: canonicalEs256Token(signed), expiresAtMs: exp * 1000, tokenId };
}

/** Options of {@link verifyAnchorToken}. */
export interface VerifyAnchorTokenOptions {
  /**
   * The issuer's public keys: a key resolver (a key ring's `resolver`, `createRemoteJWKSet(url)`), a JWK Set, or
   * the JWKS URL (fetched with jose's `createRemoteJWKSet`; prefer {@link createAnchorTokenVerifier} to reuse it).
   */
  keys: JWTVerifyGetKey | JSONWebKeySet | URL;
  issuer: string;
  /** The audience this verifier is (the token's `aud` must include it). */
  audience: string;
  /** Allowlist; default ES256 and EdDSA. */
  algorithms?: readonly AnchorTokenAlgorithm[];
  /** When set, the token's `sub` must be this account. */
  accountId?: string;
  /** When set, the token's `anchor` claim must be this anchor. */
  anchor?: string;
  clock?: Clock;
  clockToleranceSeconds?: number;
}

function rejectionOf(error: unknown): unknown {
  if (error instanceof IdentityError) return error;
  if (error instanceof errors.JWTExpired) {
    return error.claim === 'iat'
      ? new AnchorTokenInvalidError('too_old', `issued more than ${anchorTokenTtlSecondsMax} seconds ago`, {
          cause: error,
        })
      : new AnchorTokenExpiredError({ cause: error });
  }
  if (error instanceof errors.JWTClaimValidationFailed) {
    switch (error.claim) {
      case 'aud':
        return new AnchorTokenInvalidError('wrong_audience', 'the token is for another audience', { cause: error });
      case 'iss':
        return new AnchorTokenInvalidError('wrong_issuer', 'the token comes from another issuer', { cause: error });
      case 'nbf':
        return new AnchorTokenInvalidError('not_yet_valid', '"nbf" is in the future', { cause: error });
      case 'typ':
        return new AnchorTokenInvalidError('wrong_type', `the "typ" header must be ${anchorTokenType}`, {
          cause: error,
        });
      default:
        return new AnchorTokenInvalidError('missing_claim', error.message, { cause: error });
    }
  }
  if (error instanceof errors.JWKSNoMatchingKey) {
    return new AnchorTokenInvalidError('unknown_key', 'no published key matches its "kid" and "alg"', {
      cause: error,
    });
  }
  if (error instanceof errors.JOSEAlgNotAllowed) {
    return new AnchorTokenInvalidError('alg_not_allowed', 'its "alg" is not allowed', { cause: error });
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) {
    return new AnchorTokenInvalidError('bad_signature', 'the signature does not verify', { cause: error });
  }
  if (
    error instanceof errors.JWSInvalid ||
    error instanceof errors.JWTInvalid ||
    error instanceof errors.JOSENotSupported ||
    error instanceof errors.JWKSMultipleMatchingKeys
  ) {
    return new AnchorTokenInvalidError('malformed', error.message, { cause: error });
  }
  // Anything else (the JWKS URL unreachable, a timeout) is not the token's fault: let it through unchanged.
  return error;
}

function resolverOf(keys: VerifyAnchorTokenOptions['keys']): JWTVerifyGetKey {
  if (keys instanceof URL) return createRemoteJWKSet(keys);
  if (typeof keys === 'function') return keys;
  if (keys !== null && typeof keys === 'object' && Array.isArray((keys as JSONWebKeySet).keys)) {
    return createLocalJWKSet(keys as JSONWebKeySet);
  }
  throw new InvalidArgumentError('keys must be a key resolver, a JWK Set or a JWKS URL');
}

/**
 * Verifies an anchor token: the signature with a published key (by `kid`, algorithms ES256 / EdDSA only), `typ`,
 * `iss`, `aud`, `exp`, `nbf`, an `iat` at most 10 minutes old, a lifetime (`exp − iat`) of at most 10 minutes, the
 * claims `sub`, `anchor`, `anc_epoch`, `jti`, and — when asked — the account and the anchor.
 *
 * @throws {AnchorTokenExpiredError} `anchor_token_expired` when `exp` has passed.
 * @throws {AnchorTokenInvalidError} `anchor_token_invalid` with `reason`: `unknown_key`, `alg_not_allowed`,
 *   `bad_signature`, `wrong_type`, `wrong_issuer`, `wrong_audience`, `not_yet_valid`, `too_old`,
 *   `lifetime_too_long`, `missing_claim`, `wrong_account`, `wrong_anchor`, `malformed`.
 * @example
 * const claims = await verifyAnchorToken(token, {
 *   keys: new URL('https://gateway.example/.well-known/jwks.json'),
 *   issuer: 'arrakis-gateway', audience: 'arrakis-services', accountId: 'acc_1',
 * });
 */
export async function verifyAnchorToken(token: string, options: VerifyAnchorTokenOptions): Promise<AnchorClaims> {
  return verifyWith(token, resolverOf(options.keys), options);
}

async function verifyWith(
  token: string,
  resolver: JWTVerifyGetKey,
  options: Omit<VerifyAnchorTokenOptions, 'keys'>,
): Promise<AnchorClaims> {
  if (typeof token !== 'string' || token.length === 0 || token.length > anchorTokenLengthMax) {
    throw new AnchorTokenInvalidError('malformed', `expected a JWT of 1-${anchorTokenLengthMax} characters`);
  }
  const algorithms = options.algorithms ?? anchorTokenAlgorithms;
  for (const alg of algorithms) {
    if (!(anchorTokenAlgorithms as readonly string[]).includes(alg)) {
      throw new InvalidArgumentError(`algorithm ${quoteValue(alg)} is not one of ${anchorTokenAlgorithms.join(', ')}`);
    }
  }
  const clock = options.clock ?? systemClock;
  let payload: JWTPayload;
  let kid: string;
  try {
    const verified = await jwtVerify(token, resolver, {
      algorithms: [...algorithms],
      issuer: options.issuer,
      audience: options.audience,
      typ: anchorTokenType,
      maxTokenAge: anchorTokenTtlSecondsMax,
      clockTolerance: options.clockToleranceSeconds ?? anchorTokenClockToleranceSecondsDefault,
      currentDate: new Date(clock.nowMs()),
      requiredClaims: ['sub', 'jti', 'exp', 'iat', 'anchor', 'anc_epoch'],
    });
    payload = verified.payload;
    kid = verified.protectedHeader.kid ?? '';
  } catch (error) {
    throw rejectionOf(error);
  }
  const {
    sub,
    jti,
    iat,
    exp,
    anchor,
    anc_v: version,
    anc_epoch: epoch,
  } = payload as JWTPayload & Record<string, unknown>;
  if (typeof exp !== 'number' || typeof iat !== 'number' || exp - iat > anchorTokenTtlSecondsMax) {
    throw new AnchorTokenInvalidError(
      'lifetime_too_long',
      `its lifetime (exp - iat) exceeds ${anchorTokenTtlSecondsMax} seconds`,
    );
  }
  if (typeof sub !== 'string' || typeof jti !== 'string' || !isAnchor(anchor)) {
    throw new AnchorTokenInvalidError(
      'missing_claim',
      '"sub", "jti" and an "anchor" claim (sha256:<64 hex>) are required',
    );
  }
  if (typeof epoch !== 'number' || !Number.isSafeInteger(epoch) || epoch < 1) {
    throw new AnchorTokenInvalidError('missing_claim', '"anc_epoch" must be an integer ≥ 1');
  }
  if (options.accountId !== undefined && sub !== options.accountId) {
    throw new AnchorTokenInvalidError(
      'wrong_account',
      `it was issued for another account than ${quoteValue(options.accountId)}`,
    );
  }
  if (options.anchor !== undefined && anchor !== options.anchor) {
    throw new AnchorTokenInvalidError('wrong_anchor', 'its anchor claim is not the expected anchor');
  }
  return {
    accountId: sub,
    anchor,
    anchorVersion: typeof version === 'number' ? version : anchorVersion,
    epoch,
    tokenId: jti,
    issuer: options.issuer,
    audience: options.audience,
    issuedAtMs: iat * 1000,
    expiresAtMs: exp * 1000,
    kid,
  };
}

/** Options of {@link createAnchorTokenVerifier}. */
export interface AnchorTokenVerifierOptions extends Omit<VerifyAnchorTokenOptions, 'keys' | 'accountId' | 'anchor'> {
  /** The issuer's JWKS URL, e.g. `https://gateway.example/.well-known/jwks.json`. */
  jwksUrl: string | URL;
  /** Timeout of one JWKS fetch; default 5000 ms. */
  jwksTimeoutMs?: number;
  /** How long a fetched JWKS is used before it is fetched again; default 10 minutes. */
  jwksCacheMaxAgeMs?: number;
  /** Least time between two fetches caused by an unknown `kid` (a key rotation); default 30 s. */
  jwksCooldownMs?: number;
}

/** A verifier bound to one issuer's JWKS URL; see {@link createAnchorTokenVerifier}. */
export interface AnchorTokenVerifier {
  verify(token: string, expected?: { accountId?: string; anchor?: string }): Promise<AnchorClaims>;
}

/**
 * A verifier for a sibling service that knows only the issuer's JWKS URL: keys come from jose's
 * `createRemoteJWKSet` (cached; a token signed by a new key after a rotation triggers a refetch, at most once per
 * cooldown). A JWKS that cannot be fetched surfaces as jose's error (not as an invalid token).
 *
 * @throws {InvalidArgumentError} `invalid_argument` when the URL is not http(s).
 * @example
 * const verifier = createAnchorTokenVerifier({
 *   jwksUrl: 'https://gateway.example/.well-known/jwks.json', issuer: 'arrakis-gateway', audience: 'arrakis-services',
 * });
 * const claims = await verifier.verify(token, { accountId: 'acc_1' });
 */
export function createAnchorTokenVerifier(options: AnchorTokenVerifierOptions): AnchorTokenVerifier {
  let url: URL;
  try {
    url = new URL(options.jwksUrl.toString());
  } catch (cause) {
    throw new InvalidArgumentError(`jwksUrl ${quoteValue(String(options.jwksUrl))} is not a URL`, { cause });
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new InvalidArgumentError(`jwksUrl ${quoteValue(url.href)} must be an http(s) URL`);
  }
  const resolver = createRemoteJWKSet(url, {
    timeoutDuration: options.jwksTimeoutMs ?? 5000,
    cacheMaxAge: options.jwksCacheMaxAgeMs ?? 600_000,
    cooldownDuration: options.jwksCooldownMs ?? 30_000,
  });
  const { jwksUrl: _url, jwksTimeoutMs: _t, jwksCacheMaxAgeMs: _c, jwksCooldownMs: _d, ...verifyOptions } = options;
  return {
    verify: (token, expected = {}) => verifyWith(token, resolver, { ...verifyOptions, ...expected }),
  };
}
