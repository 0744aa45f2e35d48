/**
 * ECDSA signatures are malleable: if (r, s) verifies, so does (r, n − s). WebCrypto (and so jose) accepts both, and
 * also PRODUCES both: about half the ES256 signatures it makes are high-S. Refusing high-S tokens would therefore
 * refuse half the tokens of any standard JWT issuer (RFC 7518 does not require low-S), so the verifiers here accept
 * both encodings and nothing keys on a token's text (replay and rate-limit state key on claims: `jti`, `sub`), while
 * the tokens we issue carry the canonical low-S form (s ≤ n / 2), which strict verifiers require. EdDSA (Ed25519)
 * signatures are not malleable: the verifier refuses S ≥ L.
 */

/** The order n of the P-256 group (ES256). */
const p256OrderN = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
/** Bytes of an ES256 JWS signature: r and s, 32 bytes each, big-endian. */
const es256SignatureBytes = 64;

function algOf(token: string): unknown {
  const [header] = token.split('.');
  try {
    return (JSON.parse(Buffer.from(header ?? '', 'base64url').toString('utf8')) as { alg?: unknown }).alg;
  } catch {
    return undefined;
  }
}

/**
 * False when a compact JWS is ES256 and its signature is not in the canonical low-S form (1 ≤ s ≤ n / 2); true
 * otherwise (other algorithms, or a token too malformed to tell — the verifier refuses those itself).
 *
 * @example
 * if (!hasCanonicalSignature(token)) throw new Error('non-canonical (high-S) ECDSA signature');
 */
export function hasCanonicalSignature(token: string): boolean {
  if (algOf(token) !== 'ES256') return true;
  const signature = Buffer.from(token.split('.')[2] ?? '', 'base64url');
  if (signature.length !== es256SignatureBytes) return true;
  const s = BigInt(`0x${signature.subarray(32).toString('hex')}`);
  return s >= 1n && s <= p256OrderN / 2n;
}

/**
 * The token with its ES256 signature in the canonical low-S form (unchanged when it already is, or is not ES256).
 *
 * @example
 * const token = canonicalEs256Token(await new SignJWT(claims).setProtectedHeader({ alg: 'ES256' }).sign(key));
 */
export function canonicalEs256Token(token: string): string {
  return hasCanonicalSignature(token) ? token : malleateEs256Signature(token);
}

/**
 * The other valid encoding of an ES256 token's signature, (r, n − s) — for tests of verifiers that must refuse it.
 *
 * @example
 * const highS = malleateEs256Signature(token);
 */
export function malleateEs256Signature(token: string): string {
  const [header, payload, encoded] = token.split('.');
  const signature = Buffer.from(encoded ?? '', 'base64url');
  if (signature.length !== es256SignatureBytes) throw new TypeError('not an ES256 compact JWS');
  const s = BigInt(`0x${signature.subarray(32).toString('hex')}`);
  const twinHex = signature.subarray(0, 32).toString('hex') + (p256OrderN - s).toString(16).padStart(64, '0');
  return `${header}.${payload}.${Buffer.from(twinHex, 'hex').toString('base64url')}`;
}
