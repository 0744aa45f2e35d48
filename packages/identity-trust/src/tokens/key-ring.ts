import {
  type CryptoKey,
  calculateJwkThumbprint,
  createLocalJWKSet,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JSONWebKeySet,
  type JWK,
  type JWTVerifyGetKey,
} from 'jose';
import { InvalidSigningKeyError, quoteValue } from '../errors.js';

/** Algorithms anchor tokens are signed with. Nothing else (none, HS*, RS*) is ever accepted. */
export const anchorTokenAlgorithms = ['ES256', 'EdDSA'] as const;

/** One of {@link anchorTokenAlgorithms}. */
export type AnchorTokenAlgorithm = (typeof anchorTokenAlgorithms)[number];

/** Most keys a key ring holds (the signing key and the ones still verifying). */
export const keyRingSizeMax = 16;

/** A private signing key of anchor tokens, with its public JWK (with `kid`, `alg`, `use: 'sig'`). */
export interface AnchorSigningKey {
  kid: string;
  alg: AnchorTokenAlgorithm;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

/** A private JWK Set: the persisted form of a key ring (the first key signs). */
export interface PrivateJwkSet {
  keys: JWK[];
}

/**
 * The keys of an anchor-token issuer: the first signs, all of them verify and are published in the JWKS. Rotation:
 * put a new key first (it signs from then on), keep the old one until every token it signed has expired (10 minutes
 * at most), then retire it.
 */
export interface AnchorKeyRing {
  /** The key new tokens are signed with. */
  readonly signingKey: AnchorSigningKey;
  /** Every key, signing key first. */
  readonly keys: readonly AnchorSigningKey[];
  /** The public JWKS to publish at `/.well-known/jwks.json`. */
  jwks(): JSONWebKeySet;
  /** A jose key resolver over the public keys (select by `kid` and `alg`), for local verification. */
  readonly resolver: JWTVerifyGetKey;
}

function algorithmOfJwk(jwk: JWK, where: string): AnchorTokenAlgorithm {
  if (jwk.kty === 'EC' && jwk.crv === 'P-256' && (jwk.alg === undefined || jwk.alg === 'ES256')) return 'ES256';
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519' && (jwk.alg === undefined || jwk.alg === 'EdDSA')) return 'EdDSA';
  throw new InvalidSigningKeyError(
    `${where}kty ${quoteValue(jwk.kty)} crv ${quoteValue(jwk.crv)} alg ${quoteValue(jwk.alg)} is neither an ES256 (EC P-256) nor an EdDSA (OKP Ed25519) key`,
  );
}

function publicPart(jwk: JWK, kid: string, alg: AnchorTokenAlgorithm): JWK {
  const base: JWK =
    jwk.kty === 'EC' ? { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y } : { kty: jwk.kty, crv: jwk.crv, x: jwk.x };
  return { ...base, kid, alg, use: 'sig' };
}

/**
 * Generates a signing key (ES256 by default, or EdDSA with Ed25519). The `kid` is the RFC 7638 thumbprint of the
 * public key. `privateJwk` is what to persist (keep it secret).
 *
 * @example
 * const { key, privateJwk } = await generateAnchorSigningKey({ alg: 'EdDSA' });
 */
export async function generateAnchorSigningKey(
  options: { alg?: AnchorTokenAlgorithm } = {},
): Promise<{ key: AnchorSigningKey; privateJwk: JWK }> {
  const alg = options.alg ?? 'ES256';
  if (!(anchorTokenAlgorithms as readonly string[]).includes(alg)) {
    throw new InvalidSigningKeyError(`alg ${quoteValue(alg)} must be one of ${anchorTokenAlgorithms.join(', ')}`);
  }
  const { privateKey } = await generateKeyPair(alg, {
    extractable: true,
    ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}),
  });
  const exported = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(publicPart(exported, '', alg));
  const privateJwk: JWK = { ...exported, kid, alg, use: 'sig' };
  return { key: await importAnchorSigningKey(privateJwk), privateJwk };
}

/**
 * Imports a private JWK (ES256 or EdDSA, with a `kid`) as a signing key.
 *
 * @throws {InvalidSigningKeyError} `invalid_signing_key` when it is not such a key.
 * @example
 * const key = await importAnchorSigningKey(JSON.parse(process.env.ANCHOR_SIGNING_JWK!));
 */
export async function importAnchorSigningKey(privateJwk: JWK, where = ''): Promise<AnchorSigningKey> {
  if (privateJwk === null || typeof privateJwk !== 'object') {
    throw new InvalidSigningKeyError(`${where}expected a private JWK object, got ${quoteValue(privateJwk)}`);
  }
  const alg = algorithmOfJwk(privateJwk, where);
  if (typeof privateJwk.d !== 'string') {
    throw new InvalidSigningKeyError(`${where}the JWK has no private part ("d"); a signing key is required`);
  }
  if (typeof privateJwk.kid !== 'string' || privateJwk.kid.length === 0 || privateJwk.kid.length > 128) {
    throw new InvalidSigningKeyError(`${where}the JWK needs a "kid" of 1-128 characters`);
  }
  let privateKey: CryptoKey | Uint8Array;
  try {
    privateKey = await importJWK({ ...privateJwk, alg }, alg);
  } catch (cause) {
    throw new InvalidSigningKeyError(`${where}the JWK cannot be imported: ${(cause as Error).message}`, { cause });
  }
  if (privateKey instanceof Uint8Array) throw new InvalidSigningKeyError(`${where}a symmetric key cannot sign`);
  return { kid: privateJwk.kid, alg, privateKey, publicJwk: publicPart(privateJwk, privateJwk.kid, alg) };
}

/**
 * Builds a key ring from keys: the first signs, every key verifies and is published.
 *
 * @throws {InvalidSigningKeyError} `invalid_signing_key` when there is no key, more than 16, or two share a `kid`.
 * @example
 * const ring = createAnchorKeyRing([newKey, oldKey]); // newKey signs, oldKey still verifies
 */
export function createAnchorKeyRing(keys: readonly AnchorSigningKey[]): AnchorKeyRing {
  if (!Array.isArray(keys) || keys.length === 0) throw new InvalidSigningKeyError('a key ring needs at least one key');
  if (keys.length > keyRingSizeMax) {
    throw new InvalidSigningKeyError(`a key ring holds at most ${keyRingSizeMax} keys, got ${keys.length}`);
  }
  const kids = new Set<string>();
  for (const key of keys) {
    if (kids.has(key.kid)) throw new InvalidSigningKeyError(`two keys share the kid ${quoteValue(key.kid)}`);
    kids.add(key.kid);
  }
  const frozen = Object.freeze([...keys]);
  const jwks: JSONWebKeySet = { keys: frozen.map((key) => ({ ...key.publicJwk })) };
  return {
    signingKey: frozen[0] as AnchorSigningKey,
    keys: frozen,
    jwks: () => ({ keys: jwks.keys.map((key) => ({ ...key })) }),
    resolver: createLocalJWKSet(jwks),
  };
}

/**
 * Imports a private JWK Set (the persisted form) as a key ring; the first key signs.
 *
 * @throws {InvalidSigningKeyError} `invalid_signing_key` when a key is unusable or the set is empty.
 * @example
 * const ring = await importAnchorKeyRing(JSON.parse(await readFile('anchor-keys.json', 'utf8')));
 */
export async function importAnchorKeyRing(set: PrivateJwkSet): Promise<AnchorKeyRing> {
  if (set === null || typeof set !== 'object' || !Array.isArray(set.keys)) {
    throw new InvalidSigningKeyError('expected a JWK Set: { "keys": [ private JWKs ] }');
  }
  if (set.keys.length > keyRingSizeMax) {
    throw new InvalidSigningKeyError(`a key ring holds at most ${keyRingSizeMax} keys, got ${set.keys.length}`);
  }
  const keys: AnchorSigningKey[] = [];
  for (const [index, jwk] of set.keys.entries()) {
    keys.push(await importAnchorSigningKey(jwk, set.keys.length > 1 ? `key ${index}: ` : ''));
  }
  return createAnchorKeyRing(keys);
}

/**
 * Rotation step 1: a new private JWK Set with a freshly generated key first (it signs from now on) and the existing
 * keys after it (they keep verifying). Keys beyond the ring's limit are dropped from the end (the oldest).
 *
 * @example
 * const next = await rotateAnchorKeySet(current, { alg: 'ES256' });
 * await writeFile(path, JSON.stringify(next));
 */
export async function rotateAnchorKeySet(
  set: PrivateJwkSet,
  options: { alg?: AnchorTokenAlgorithm } = {},
): Promise<{ set: PrivateJwkSet; kid: string }> {
  const { privateJwk } = await generateAnchorSigningKey(options);
  return { set: { keys: [privateJwk, ...set.keys].slice(0, keyRingSizeMax) }, kid: privateJwk.kid as string };
}

/**
 * Rotation step 2: removes a key that no longer signs, once every token it signed has expired.
 *
 * @throws {InvalidSigningKeyError} `invalid_signing_key` when `kid` is the signing (first) key or is not in the set.
 * @example
 * const next = retireAnchorKey(current, oldKid);
 */
export function retireAnchorKey(set: PrivateJwkSet, kid: string): PrivateJwkSet {
  const index = set.keys.findIndex((key) => key.kid === kid);
  if (index < 0) throw new InvalidSigningKeyError(`no key with kid ${quoteValue(kid)} in the set`);
  if (index === 0)
    throw new InvalidSigningKeyError(`kid ${quoteValue(kid)} is the signing key; rotate before retiring it`);
  return { keys: set.keys.filter((key) => key.kid !== kid) };
}
