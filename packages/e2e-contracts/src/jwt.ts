import {
  base64url,
  type CryptoKey,
  calculateJwkThumbprint,
  exportJWK,
  exportSPKI,
  generateKeyPair,
  importJWK,
  type JWK,
  SignJWT,
} from 'jose';
import type { GatewayAudience } from './schemas.js';

/** Signature algorithms the gateway accepts and these helpers sign with. */
export type TestSigningAlgorithm = 'ES256' | 'EdDSA';

/** Longest token lifetime the helpers mint: 7 days (a test token has no business living longer). */
export const testTokenTtlSecondsMax = 7 * 24 * 3600;

/** Default issuer of the gateway (`JWT_ISSUER`). */
export const defaultTestIssuer = 'arrakis-gateway';

/** A signing key pair for tests, with its public JWK ready for `JWT_PUBLIC_JWK` or a JWKS. */
export interface TestKeyPair {
  alg: TestSigningAlgorithm;
  /** Key id: the RFC 7638 thumbprint unless given. */
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  /** Public JWK with `kid`, `alg` and `use: 'sig'`. */
  publicJwk: JWK;
  /** Private JWK with `kid`, `alg` and `use: 'sig'` (the format of the gateway's `dev-jwk.json`). */
  privateJwk: JWK;
}

/**
 * Generates a signing key pair (ES256 by default) for tests.
 *
 * @example
 * ```ts
 * const keys = await generateTestKeyPair();
 * process.env.JWT_PUBLIC_JWK = JSON.stringify(keys.publicJwk);
 * ```
 */
export async function generateTestKeyPair(
  options: { alg?: TestSigningAlgorithm; kid?: string } = {},
): Promise<TestKeyPair> {
  const alg = options.alg ?? 'ES256';
  const { privateKey, publicKey } = await generateKeyPair(alg, {
    extractable: true,
    crv: alg === 'EdDSA' ? 'Ed25519' : undefined,
  });
  const publicBare = await exportJWK(publicKey);
  const kid = options.kid ?? (await calculateJwkThumbprint(publicBare));
  const publicJwk: JWK = { ...publicBare, kid, alg, use: 'sig' };
  const privateJwk: JWK = { ...(await exportJWK(privateKey)), kid, alg, use: 'sig' };
  return { alg, kid, privateKey, publicKey, publicJwk, privateJwk };
}

/** Options of {@link mintTestToken}. */
export interface MintTestTokenOptions {
  /** A private CryptoKey, or a private JWK (e.g. the gateway's `dev-jwk.json`). */
  privateKey: CryptoKey | JWK;
  /** `kid` header; omitted when not given. */
  kid?: string;
  /** Default: EdDSA for an Ed25519 key, else ES256. */
  alg?: TestSigningAlgorithm;
  /** `iss` claim. Default {@link defaultTestIssuer}. */
  issuer?: string;
  /** `aud` claim: one of the gateway audiences, or anything else for attack tests. */
  audience: GatewayAudience | (string & {});
  /** `sub` claim. */
  sub: string;
  /** `scope` claim, written space-separated (OAuth style). */
  scope?: string | readonly string[];
  /** Lifetime: `exp = iat + ttlSeconds`. Default 300, at most {@link testTokenTtlSecondsMax}. */
  ttlSeconds?: number;
  /** `iat` claim, epoch seconds. Default now. */
  iat?: number;
  /** `typ` header. Default `JWT`. */
  typ?: string;
  /** More claims (e.g. `jti`). */
  claims?: Record<string, unknown>;
}

/** Thrown by the JWT helpers when an option is out of range, before anything is signed. */
export class TestTokenOptionError extends Error {
  override readonly name = 'TestTokenOptionError';
  readonly code = 'invalid_token_option' as const;
}

async function toSigningKey(key: CryptoKey | JWK, alg: TestSigningAlgorithm): Promise<CryptoKey | Uint8Array> {
  if (isJwk(key)) {
    if (typeof key.d !== 'string')
      throw new TestTokenOptionError('privateKey JWK has no "d": a private key is required');
    return importJWK(key, alg);
  }
  return key;
}

/** The signing algorithm a key implies: EdDSA for Ed25519 keys, ES256 otherwise. */
function algorithmOf(key: CryptoKey | JWK): TestSigningAlgorithm {
  if (isJwk(key)) return key.alg === 'EdDSA' || key.crv === 'Ed25519' ? 'EdDSA' : 'ES256';
  const name = key.algorithm.name;
  return name === 'Ed25519' || name === 'EdDSA' ? 'EdDSA' : 'ES256';
}

function isJwk(key: CryptoKey | JWK): key is JWK {
  return typeof (key as JWK).kty === 'string';
}

function publicOnly(jwk: JWK): JWK {
  const copy: JWK = { ...jwk };
  delete copy.d;
  return copy;
}

function scopeClaim(scope: string | readonly string[] | undefined): string | undefined {
  if (scope === undefined) return undefined;
  return typeof scope === 'string' ? scope : scope.join(' ');
}

/**
 * Signs a JWT the way the gateway expects: `iss`, `aud`, `sub`, `iat`, `exp`, optional `scope`, with a `kid`.
 *
 * @throws {TestTokenOptionError} when `ttlSeconds` is not an integer in [-testTokenTtlSecondsMax, testTokenTtlSecondsMax].
 * @example
 * ```ts
 * const keys = await generateTestKeyPair();
 * const token = await mintTestToken({ privateKey: keys.privateKey, kid: keys.kid, audience: 'arrakis-api', sub: 'alice' });
 * await fetch(`${baseUrl}/v1/whoami`, { headers: { authorization: `Bearer ${token}` } });
 * ```
 */
export async function mintTestToken(options: MintTestTokenOptions): Promise<string> {
  const alg = options.alg ?? algorithmOf(options.privateKey);
  const ttlSeconds = options.ttlSeconds ?? 300;
  if (!Number.isInteger(ttlSeconds) || Math.abs(ttlSeconds) > testTokenTtlSecondsMax) {
    throw new TestTokenOptionError(
      `ttlSeconds must be an integer in [-${testTokenTtlSecondsMax}, ${testTokenTtlSecondsMax}], got ${ttlSeconds}`,
    );
  }
  const iat = options.iat ?? Math.floor(Date.now() / 1000);
  const kid = options.kid ?? (isJwk(options.privateKey) ? options.privateKey.kid : undefined);
  const scope = scopeClaim(options.scope);
  const jwt = new SignJWT({ ...options.claims, ...(scope === undefined ? {} : { scope }) })
    .setProtectedHeader({ alg, typ: options.typ ?? 'JWT', ...(kid === undefined ? {} : { kid }) })
    .setIssuer(options.issuer ?? defaultTestIssuer)
    .setAudience(options.audience)
    .setSubject(options.sub)
    .setIssuedAt(iat)
    .setExpirationTime(iat + ttlSeconds);
  return jwt.sign(await toSigningKey(options.privateKey, alg));
}

/** Options of the per-audience helpers: {@link MintTestTokenOptions} without `audience`. */
export type MintAudienceTokenOptions = Omit<MintTestTokenOptions, 'audience'>;

/**
 * A user token (`aud: arrakis-api`).
 *
 * @example
 * ```ts
 * const token = await mintUserToken({ privateKey: keys.privateKey, kid: keys.kid, sub: 'alice' });
 * ```
 */
export function mintUserToken(options: MintAudienceTokenOptions): Promise<string> {
  return mintTestToken({ ...options, audience: 'arrakis-api' });
}

/**
 * A service token (`aud: arrakis-internal`).
 *
 * @example
 * ```ts
 * const token = await mintServiceToken({ privateKey: keys.privateKey, kid: keys.kid, sub: 'billing-worker' });
 * ```
 */
export function mintServiceToken(options: MintAudienceTokenOptions): Promise<string> {
  return mintTestToken({ ...options, audience: 'arrakis-internal' });
}

/**
 * An admin token (`aud: arrakis-admin`), with scope `admin` unless given.
 *
 * @example
 * ```ts
 * const token = await mintAdminToken({ privateKey: keys.privateKey, kid: keys.kid, sub: 'root', scope: ['rules:approve'] });
 * ```
 */
export function mintAdminToken(options: MintAudienceTokenOptions): Promise<string> {
  return mintTestToken({ scope: 'admin', ...options, audience: 'arrakis-admin' });
}

/** Claims of a forged token. */
export interface ForgedClaims {
  issuer?: string;
  audience: GatewayAudience | (string & {});
  sub: string;
  scope?: string | readonly string[];
  kid?: string;
}

function forgedPayload(claims: ForgedClaims): Record<string, unknown> {
  const iat = Math.floor(Date.now() / 1000);
  const scope = scopeClaim(claims.scope);
  return {
    iss: claims.issuer ?? defaultTestIssuer,
    aud: claims.audience,
    sub: claims.sub,
    iat,
    exp: iat + 300,
    ...(scope === undefined ? {} : { scope }),
  };
}

function encodeSegment(value: unknown): string {
  return base64url.encode(JSON.stringify(value));
}

/**
 * Attack: an unsigned token (`alg: none`, empty signature) with otherwise valid claims. Must be rejected.
 *
 * @example
 * ```ts
 * const token = forgeAlgNoneToken({ audience: 'arrakis-admin', sub: 'mallory' });
 * ```
 */
export function forgeAlgNoneToken(claims: ForgedClaims): string {
  const header = { alg: 'none', typ: 'JWT', ...(claims.kid === undefined ? {} : { kid: claims.kid }) };
  return `${encodeSegment(header)}.${encodeSegment(forgedPayload(claims))}.`;
}

/**
 * Attack: algorithm confusion, a token signed with HS256 using the server's PUBLIC key (its SPKI PEM) as the
 * HMAC secret. A verifier that lets the token pick its algorithm would accept it. Must be rejected.
 *
 * @example
 * ```ts
 * const token = await forgeHs256WithPublicKeyToken(keys.publicJwk, { audience: 'arrakis-admin', sub: 'mallory' });
 * ```
 */
export async function forgeHs256WithPublicKeyToken(publicKey: CryptoKey | JWK, claims: ForgedClaims): Promise<string> {
  const key = isJwk(publicKey) ? await importJWK(publicOnly(publicKey), publicKey.alg ?? 'ES256') : publicKey;
  if (key instanceof Uint8Array) throw new TestTokenOptionError('publicKey must be an asymmetric public key');
  const pem = await exportSPKI(key);
  const kid = claims.kid ?? (isJwk(publicKey) ? publicKey.kid : undefined);
  return new SignJWT(forgedPayload(claims))
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT', ...(kid === undefined ? {} : { kid }) })
    .sign(new TextEncoder().encode(pem));
}

/**
 * A correctly signed token that expired `expiredForSeconds` (default 3600) ago. Must be rejected with `token_expired`.
 *
 * @example
 * ```ts
 * const token = await mintExpiredToken({ privateKey: keys.privateKey, kid: keys.kid, audience: 'arrakis-api', sub: 'alice' });
 * ```
 */
export function mintExpiredToken(
  options: Omit<MintTestTokenOptions, 'iat' | 'ttlSeconds'> & { expiredForSeconds?: number },
): Promise<string> {
  const { expiredForSeconds = 3600, ...rest } = options;
  const nowSeconds = Math.floor(Date.now() / 1000);
  return mintTestToken({ ...rest, iat: nowSeconds - expiredForSeconds - 60, ttlSeconds: 60 });
}

/**
 * A correctly signed token for an audience the gateway does not serve (default `arrakis-unknown`).
 *
 * @example
 * ```ts
 * const token = await mintWrongAudienceToken({ privateKey: keys.privateKey, kid: keys.kid, sub: 'alice' });
 * ```
 */
export function mintWrongAudienceToken(
  options: Omit<MintTestTokenOptions, 'audience'> & { audience?: string },
): Promise<string> {
  return mintTestToken({ ...options, audience: options.audience ?? 'arrakis-unknown' });
}

/**
 * Attack: rewrites claims of a signed token and keeps the old signature. Must be rejected (`invalid_token`).
 *
 * @example
 * ```ts
 * const forged = tamperTokenClaims(userToken, { aud: 'arrakis-admin', scope: 'admin' });
 * ```
 */
export function tamperTokenClaims(token: string, patch: Record<string, unknown>): string {
  const [header, payload, signature] = token.split('.');
  if (header === undefined || payload === undefined || signature === undefined) {
    throw new TestTokenOptionError('token must be a compact JWS (three dot-separated parts)');
  }
  const claims = JSON.parse(new TextDecoder().decode(base64url.decode(payload))) as Record<string, unknown>;
  return `${header}.${encodeSegment({ ...claims, ...patch })}.${signature}`;
}

/** A string that is not a JWT at all. */
export const garbageToken = 'this-is.not-a.jwt';
