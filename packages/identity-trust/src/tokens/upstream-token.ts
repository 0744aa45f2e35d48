import { randomUUID } from 'node:crypto';
import {
  createLocalJWKSet,
  errors,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
  SignJWT,
} from 'jose';
import { type Anchor, anchorVersion, assertAnchor, isAnchor } from '../anchor/derive-anchor.js';
import { IdentityError, InvalidArgumentError, quoteValue } from '../errors.js';
import { canonicalEs256Token, hasCanonicalSignature } from './canonical-signature.js';
import { checkClaimText } from './claim-text.js';
import { type AnchorSigningKey, anchorTokenAlgorithms } from './key-ring.js';

/**
 * Upstream service tokens: the gateway forwards a paid call to an upstream service and replaces the caller's
 * `Authorization` with one of these, signed by its anchor key ring (the keys of `/.well-known/jwks.json`). The `typ`
 * header `upstream+jwt` keeps them apart from anchor tokens (`anchor+jwt`): neither verifier accepts the other.
 */

/** The `typ` header of upstream tokens (RFC 8725 §3.11). */
export const upstreamTokenType = 'upstream+jwt';
/** Longest lifetime of an upstream token: one day (the gateway passes at most the hold's remaining lifetime). */
export const upstreamTokenTtlSecondsMax = 86_400;
/** Clock skew tolerated on `exp`, `nbf` and `iat` by default, in seconds. */
export const upstreamTokenClockToleranceSecondsDefault = 5;
/** Largest clock skew a verifier may be configured to tolerate, in seconds. */
export const upstreamTokenClockToleranceSecondsMax = 300;
/** Longest token accepted by {@link verifyUpstreamToken}, in characters. */
export const upstreamTokenLengthMax = 4096;
/** Longest `iss`, `aud`, `sub`, `reservation_id` or `meter_id`, in characters. */
export const upstreamTokenClaimLengthMax = 256;
/** Longest `jti`, in characters. */
export const upstreamTokenIdLengthMax = 128;
/** Largest `hold_micro`: 10^15 micro-USD (the ledger's `amountMicroMax`). */
export const upstreamHoldMicroMax = 10n ** 15n;
/** Longest `hold_micro` wire string, in characters (read before any parsing). */
export const upstreamHoldMicroLengthMax = 20;

/** Stable codes of {@link UpstreamTokenError}. */
export type UpstreamTokenErrorCode = 'upstream_token_invalid' | 'upstream_token_expired';

/** Why an upstream token was refused (`details.reason` of {@link UpstreamTokenInvalidError}). */
export type UpstreamTokenRejection =
  | 'malformed'
  | 'unknown_key'
  | 'alg_not_allowed'
  | 'bad_signature'
  | 'non_canonical_signature'
  | 'wrong_type'
  | 'wrong_issuer'
  | 'wrong_audience'
  | 'not_yet_valid'
  | 'too_old'
  | 'lifetime_too_long'
  | 'missing_claim'
  | 'invalid_claim';

/**
 * Base of the upstream-token errors: an `IdentityError` with code `upstream_token_invalid` or `upstream_token_expired`
 * (HTTP 401).
 *
 * @example
 * try {
 *   await verifyUpstreamToken(token, { keys, issuer: 'arrakis-gateway', audience: 'llm' });
 * } catch (error) {
 *   if (error instanceof UpstreamTokenError) return c.json(error.toJSON(), error.httpStatus);
 *   throw error;
 * }
 */
export class UpstreamTokenError extends IdentityError {
  override readonly name: string = 'UpstreamTokenError';
  declare readonly code: UpstreamTokenErrorCode;
  constructor(
    code: UpstreamTokenErrorCode,
    message: string,
    options: { details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(code, message, options);
  }
}

/**
 * An upstream token failed verification; `reason` names the rule.
 *
 * @example
 * throw new UpstreamTokenInvalidError({ reason: 'wrong_audience', message: 'the token is for another audience' });
 */
export class UpstreamTokenInvalidError extends UpstreamTokenError {
  override readonly name = 'UpstreamTokenInvalidError';
  readonly reason: UpstreamTokenRejection;
  constructor(input: { reason: UpstreamTokenRejection; message: string; cause?: unknown }) {
    super('upstream_token_invalid', `invalid upstream token: ${input.message}`, {
      details: { reason: input.reason },
      cause: input.cause,
    });
    this.reason = input.reason;
  }
}

/**
 * The upstream token's `exp` has passed (its hold has expired too, or is about to).
 *
 * @example
 * throw new UpstreamTokenExpiredError({ expiresAtMs: 1_780_000_000_000 });
 */
export class UpstreamTokenExpiredError extends UpstreamTokenError {
  override readonly name = 'UpstreamTokenExpiredError';
  constructor(input: { expiresAtMs?: number; cause?: unknown } = {}) {
    super(
      'upstream_token_expired',
      input.expiresAtMs === undefined
        ? 'the upstream token has expired'
        : `the upstream token expired at ${new Date(input.expiresAtMs).toISOString()}`,
      {
        details: input.expiresAtMs === undefined ? {} : { expiresAtMs: input.expiresAtMs },
        cause: input.cause,
      },
    );
  }
}

/** Options of {@link issueUpstreamToken}. */
export interface IssueUpstreamTokenOptions {
  /** The signing key (the gateway's key ring `signingKey`). */
  key: AnchorSigningKey;
  /** `iss`, e.g. `arrakis-gateway`. */
  issuer: string;
  /** `aud`: the upstream's id. */
  audience: string;
  /** `sub`: the account the call is charged to. */
  accountId: string;
  /** `reservation_id`: the hold the call is charged against. */
  reservationId: string;
  /** `meter_id`. */
  meterId: string;
  /** `meter_version`: the meter version the hold was priced with (integer ≥ 1). */
  meterVersion: number;
  /** `hold_micro`: the held amount, written as a base-10 string (0 … 10^15). */
  holdMicro: bigint;
  /** `anchor` (with `anc_v`), when the account has one bound. */
  anchor?: Anchor | null;
  /** Lifetime, 1 … 86 400; pass at most the hold's remaining lifetime. */
  ttlSeconds: number;
  /** Issue time in epoch ms (from the injected clock). */
  nowMs: number;
  /** `jti`; default a random UUID. */
  tokenId?: string;
}

/** What {@link issueUpstreamToken} returns. */
export interface IssuedUpstreamToken {
  token: string;
  /** `jti`. */
  tokenId: string;
  /** `exp` in epoch ms. */
  expiresAtMs: number;
}

/** What an upstream token says, once verified. */
export interface UpstreamClaims {
  accountId: string;
  reservationId: string;
  meterId: string;
  meterVersion: number;
  holdMicro: bigint;
  /** The account's anchor when one was bound at issue, else `null`. */
  anchor: Anchor | null;
  tokenId: string;
  issuer: string;
  audience: string;
  issuedAtMs: number;
  expiresAtMs: number;
  /** `kid` of the key that signed it. */
  kid: string;
}

function checkText(field: string, value: unknown, max = upstreamTokenClaimLengthMax): asserts value is string {
  checkClaimText(field, value, max);
}

function checkIssueOptions(options: IssueUpstreamTokenOptions): void {
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError('expected an options object');
  if (options.key === null || typeof options.key !== 'object' || typeof options.key.kid !== 'string') {
    throw new InvalidArgumentError('key must be an AnchorSigningKey (a key ring signingKey)');
  }
  for (const field of ['issuer', 'audience', 'accountId', 'reservationId', 'meterId'] as const) {
    checkText(field, options[field]);
  }
  if (!Number.isSafeInteger(options.meterVersion) || options.meterVersion < 1) {
    throw new InvalidArgumentError(`meterVersion ${quoteValue(options.meterVersion)} must be an integer ≥ 1`, {
      details: { field: 'meterVersion' },
    });
  }
  const hold = options.holdMicro;
  if (typeof hold !== 'bigint' || hold < 0n || hold > upstreamHoldMicroMax) {
    throw new InvalidArgumentError(
      `holdMicro ${quoteValue(hold)} must be a bigint in [0, ${upstreamHoldMicroMax}] micro-USD`,
      { details: { field: 'holdMicro' } },
    );
  }
  if (options.anchor !== undefined && options.anchor !== null) assertAnchor(options.anchor);
  const ttl = options.ttlSeconds;
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > upstreamTokenTtlSecondsMax) {
    throw new InvalidArgumentError(
      `ttlSeconds ${quoteValue(ttl)} must be an integer in [1, ${upstreamTokenTtlSecondsMax}]`,
      { details: { field: 'ttlSeconds' } },
    );
  }
  if (!Number.isSafeInteger(options.nowMs) || options.nowMs < 0) {
    throw new InvalidArgumentError(`nowMs ${quoteValue(options.nowMs)} must be a non-negative integer`, {
      details: { field: 'nowMs' },
    });
  }
  if (options.tokenId !== undefined) checkText('tokenId', options.tokenId, upstreamTokenIdLengthMax);
}

/**
 * Signs an upstream token: a JWT (`typ: upstream+jwt`, `kid`, ES256 in canonical low-S form or EdDSA) with `iss`,
 * `aud` = the upstream id, `sub` = the account id, `iat`, `nbf`, `exp`, `jti`, `reservation_id`, `meter_id`,
 * `meter_version`, `hold_micro` (base-10 string) and, when bound, `anchor` + `anc_v` (as in anchor tokens).
 *
 * @throws {InvalidArgumentError} `invalid_argument` when an option is out of range (nothing is signed).
 * @throws {InvalidAnchorError} `invalid_anchor` when `anchor` is given and is not an anchor.
 * @example
 * const { token, tokenId, expiresAtMs } = await issueUpstreamToken({
 *   key: ring.signingKey, issuer: 'arrakis-gateway', audience: 'llm', accountId: 'acc_1',
 *   reservationId: 'res_1', meterId: 'llm-tokens', meterVersion: 3, holdMicro: 40_000n, anchor: null,
 *   ttlSeconds: 300, nowMs: clock.nowMs(),
 * });
 * await fetch(upstreamUrl, { headers: { authorization: `Bearer ${token}` } });
 */
export async function issueUpstreamToken(options: IssueUpstreamTokenOptions): Promise<IssuedUpstreamToken> {
  checkIssueOptions(options);
  const tokenId = options.tokenId ?? randomUUID();
  const iat = Math.floor(options.nowMs / 1000);
  const exp = iat + options.ttlSeconds;
  const anchor = options.anchor ?? null;
  const claims: Record<string, unknown> = {
    reservation_id: options.reservationId,
    meter_id: options.meterId,
    meter_version: options.meterVersion,
    hold_micro: options.holdMicro.toString(10),
    ...(anchor === null ? {} : { anchor, anc_v: anchorVersion }),
  };
  const signed = await new SignJWT(claims)
    .setProtectedHeader({ alg: options.key.alg, kid: options.key.kid, typ: upstreamTokenType })
    .setIssuer(options.issuer)
    .setAudience(options.audience)
    .setSubject(options.accountId)
    .setIssuedAt(iat)
    .setNotBefore(iat)
    .setExpirationTime(exp)
    .setJti(tokenId)
    .sign(options.key.privateKey);
  // WebCrypto emits the high-S twin of about half its ECDSA signatures; the verifier refuses those, so issue low-S.
  return { token: canonicalEs256Token(signed), tokenId, expiresAtMs: exp * 1000 };
}

/** Options of {@link verifyUpstreamToken}. */
export interface VerifyUpstreamTokenOptions {
  /**
   * The issuer's public keys: a key resolver (a key ring's `resolver`, jose's `createRemoteJWKSet(url)`) or a JWK
   * Set. `upstreamAuth()` of `@arrakis/identity-trust/hono` wires the JWKS URL for you.
   */
  keys: JWTVerifyGetKey | JSONWebKeySet;
  /** The expected `iss`. */
  issuer: string;
  /** The upstream id this verifier is (the token's `aud` must include it). */
  audience: string;
  /** Verification time in epoch ms; default `Date.now()`. */
  nowMs?: number;
  /** 0 … 300; default 5. */
  clockToleranceSeconds?: number;
}

const localSets = new WeakMap<JSONWebKeySet, JWTVerifyGetKey>();

function resolverOf(keys: VerifyUpstreamTokenOptions['keys']): JWTVerifyGetKey {
  if (typeof keys === 'function') return keys;
  if (keys !== null && typeof keys === 'object' && Array.isArray((keys as JSONWebKeySet).keys)) {
    let resolver = localSets.get(keys);
    if (resolver === undefined) {
      resolver = createLocalJWKSet(keys);
      localSets.set(keys, resolver);
    }
    return resolver;
  }
  throw new InvalidArgumentError('keys must be a key resolver or a JWK Set ({ keys: [...] })');
}

function invalid(reason: UpstreamTokenRejection, message: string, cause?: unknown): UpstreamTokenInvalidError {
  return new UpstreamTokenInvalidError({ reason, message, cause });
}

function claimRejection(error: InstanceType<typeof errors.JWTClaimValidationFailed>): UpstreamTokenInvalidError {
  switch (error.claim) {
    case 'typ':
      return invalid('wrong_type', `the "typ" header must be ${upstreamTokenType}`, error);
    case 'aud':
      return invalid('wrong_audience', 'the token is for another audience', error);
    case 'iss':
      return invalid('wrong_issuer', 'the token comes from another issuer', error);
    case 'nbf':
    case 'iat':
      return error.reason === 'missing'
        ? invalid('missing_claim', error.message, error)
        : invalid('not_yet_valid', `"${error.claim}" is in the future`, error);
    default:
      return invalid(error.reason === 'missing' ? 'missing_claim' : 'invalid_claim', error.message, error);
  }
}

/** Maps a jose failure to the rule it broke; anything else (a JWKS that cannot be fetched) passes unchanged. */
function rejectionOf(error: unknown): unknown {
  if (error instanceof UpstreamTokenError) return error;
  if (error instanceof errors.JWTExpired) {
    if (error.claim === 'iat') {
      return invalid('too_old', `issued more than ${upstreamTokenTtlSecondsMax} seconds ago`, error);
    }
    const exp = error.payload.exp;
    return new UpstreamTokenExpiredError({
      expiresAtMs: typeof exp === 'number' ? exp * 1000 : undefined,
      cause: error,
    });
  }
  if (error instanceof errors.JWTClaimValidationFailed) return claimRejection(error);
  if (error instanceof errors.JWKSNoMatchingKey) {
    return invalid('unknown_key', 'no published key matches its "kid" and "alg"', error);
  }
  if (error instanceof errors.JOSEAlgNotAllowed) return invalid('alg_not_allowed', 'its "alg" is not allowed', error);
  if (error instanceof errors.JWSSignatureVerificationFailed) {
    return invalid('bad_signature', 'the signature does not verify', error);
  }
  if (
    error instanceof errors.JWSInvalid ||
    error instanceof errors.JWTInvalid ||
    error instanceof errors.JOSENotSupported ||
    error instanceof errors.JWKSMultipleMatchingKeys
  ) {
    return invalid('malformed', error.message, error);
  }
  return error;
}

const holdMicroPattern = /^(?:0|[1-9][0-9]*)$/;

function parseHoldMicro(wire: unknown): bigint {
  if (typeof wire !== 'string' || wire.length > upstreamHoldMicroLengthMax || !holdMicroPattern.test(wire)) {
    throw invalid('invalid_claim', `"hold_micro" ${quoteValue(wire)} must be a canonical base-10 string of digits`);
  }
  const holdMicro = BigInt(wire);
  if (holdMicro > upstreamHoldMicroMax) {
    throw invalid('invalid_claim', `"hold_micro" ${wire} exceeds ${upstreamHoldMicroMax} micro-USD`);
  }
  return holdMicro;
}

function claimText(name: string, value: unknown, max = upstreamTokenClaimLengthMax): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > max || value.trim() !== value) {
    throw invalid('invalid_claim', `"${name}" ${quoteValue(value)} must be 1-${max} characters`);
  }
  return value;
}

function anchorClaim(payload: Record<string, unknown>): Anchor | null {
  if (!Object.hasOwn(payload, 'anchor')) return null;
  if (!isAnchor(payload.anchor)) {
    throw invalid('invalid_claim', '"anchor" must be "sha256:" followed by 64 lower-case hex digits');
  }
  if (payload.anc_v !== anchorVersion) {
    throw invalid('invalid_claim', `"anc_v" ${quoteValue(payload.anc_v)} must be ${anchorVersion}`);
  }
  return payload.anchor;
}

function claimsOf(payload: JWTPayload & Record<string, unknown>, kid: string, options: VerifyUpstreamTokenOptions) {
  const { iat, exp, meter_version: meterVersion } = payload;
  if (typeof iat !== 'number' || typeof exp !== 'number' || !Number.isSafeInteger(iat) || !Number.isSafeInteger(exp)) {
    throw invalid('invalid_claim', '"iat" and "exp" must be integer seconds');
  }
  if (exp - iat > upstreamTokenTtlSecondsMax) {
    throw invalid('lifetime_too_long', `its lifetime (exp - iat) exceeds ${upstreamTokenTtlSecondsMax} seconds`);
  }
  if (typeof meterVersion !== 'number' || !Number.isSafeInteger(meterVersion) || meterVersion < 1) {
    throw invalid('invalid_claim', `"meter_version" ${quoteValue(meterVersion)} must be an integer ≥ 1`);
  }
  const claims: UpstreamClaims = {
    accountId: claimText('sub', payload.sub),
    reservationId: claimText('reservation_id', payload.reservation_id),
    meterId: claimText('meter_id', payload.meter_id),
    meterVersion,
    holdMicro: parseHoldMicro(payload.hold_micro),
    anchor: anchorClaim(payload),
    tokenId: claimText('jti', payload.jti, upstreamTokenIdLengthMax),
    issuer: options.issuer,
    audience: options.audience,
    issuedAtMs: iat * 1000,
    expiresAtMs: exp * 1000,
    kid,
  };
  return claims;
}

function checkVerifyOptions(options: VerifyUpstreamTokenOptions): { nowMs: number; toleranceSeconds: number } {
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError('expected an options object');
  checkText('issuer', options.issuer);
  checkText('audience', options.audience);
  const nowMs = options.nowMs ?? Date.now();
  if (!Number.isSafeInteger(nowMs) || nowMs < 0) {
    throw new InvalidArgumentError(`nowMs ${quoteValue(nowMs)} must be a non-negative integer`);
  }
  const toleranceSeconds = options.clockToleranceSeconds ?? upstreamTokenClockToleranceSecondsDefault;
  if (!Number.isInteger(toleranceSeconds) || toleranceSeconds < 0) {
    throw new InvalidArgumentError(`clockToleranceSeconds ${quoteValue(toleranceSeconds)} must be an integer ≥ 0`);
  }
  if (toleranceSeconds > upstreamTokenClockToleranceSecondsMax) {
    throw new InvalidArgumentError(
      `clockToleranceSeconds ${toleranceSeconds} must be at most ${upstreamTokenClockToleranceSecondsMax}`,
    );
  }
  return { nowMs, toleranceSeconds };
}

/**
 * Verifies an upstream token offline: `typ` must be `upstream+jwt` (an anchor token is refused), the signature with
 * a published key (by `kid`; ES256 in canonical low-S form or EdDSA, never `none` or HS*), `iss`, `aud`, `exp`,
 * `nbf`, an `iat` at most a day old, a lifetime of at most a day, and well-formed claims.
 *
 * @throws {UpstreamTokenExpiredError} `upstream_token_expired` when `exp` has passed.
 * @throws {UpstreamTokenInvalidError} `upstream_token_invalid` with `reason`: `malformed`, `unknown_key`,
 *   `alg_not_allowed`, `bad_signature`, `non_canonical_signature`, `wrong_type`, `wrong_issuer`, `wrong_audience`,
 *   `not_yet_valid`, `too_old`, `lifetime_too_long`, `missing_claim`, `invalid_claim`.
 * @throws {InvalidArgumentError} `invalid_argument` when an option is invalid.
 * Errors of the key resolver itself (a JWKS that cannot be fetched) propagate unchanged.
 * @example
 * const claims = await verifyUpstreamToken(token, { keys: ring.resolver, issuer: 'arrakis-gateway', audience: 'llm' });
 * claims.holdMicro; // 40_000n
 */
export async function verifyUpstreamToken(token: string, options: VerifyUpstreamTokenOptions): Promise<UpstreamClaims> {
  const { nowMs, toleranceSeconds } = checkVerifyOptions(options);
  const resolver = resolverOf(options.keys);
  if (typeof token !== 'string' || token.length === 0 || token.length > upstreamTokenLengthMax) {
    throw invalid('malformed', `expected a JWT of 1-${upstreamTokenLengthMax} characters`);
  }
  if (!hasCanonicalSignature(token)) {
    throw invalid('non_canonical_signature', 'its ES256 signature is not in the canonical low-S form');
  }
  try {
    const verified = await jwtVerify(token, resolver, {
      algorithms: [...anchorTokenAlgorithms],
      issuer: options.issuer,
      audience: options.audience,
      typ: upstreamTokenType,
      maxTokenAge: upstreamTokenTtlSecondsMax,
      clockTolerance: toleranceSeconds,
      currentDate: new Date(nowMs),
      requiredClaims: ['sub', 'jti', 'exp', 'iat', 'reservation_id', 'meter_id', 'meter_version', 'hold_micro'],
    });
    return claimsOf(verified.payload, verified.protectedHeader.kid ?? '', options);
  } catch (error) {
    throw rejectionOf(error);
  }
}
