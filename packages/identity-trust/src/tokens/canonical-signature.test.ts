import { generateKeyPair, jwtVerify, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { hasCanonicalSignature, malleateEs256Signature } from './canonical-signature.js';

const signCount = 40;

async function es256Tokens() {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const tokens: string[] = [];
  for (let i = 0; i < signCount; i += 1) {
    tokens.push(await new SignJWT({ n: i }).setProtectedHeader({ alg: 'ES256' }).sign(privateKey));
  }
  return { publicKey, tokens };
}

describe('canonical (low-S) ECDSA signatures', () => {
  it('of every ES256 signature and its malleated twin, exactly one is canonical, and jose accepts both', async () => {
    const { publicKey, tokens } = await es256Tokens();
    for (const token of tokens) {
      const twin = malleateEs256Signature(token);
      expect(twin).not.toBe(token);
      expect(hasCanonicalSignature(token) !== hasCanonicalSignature(twin)).toBe(true);
      // The defect this guards against: WebCrypto verifies both encodings of the same signature.
      await expect(jwtVerify(twin, publicKey)).resolves.toBeDefined();
      expect(malleateEs256Signature(twin)).toBe(token);
    }
  });

  it('leaves EdDSA and malformed tokens to the verifier', async () => {
    const { privateKey } = await generateKeyPair('EdDSA');
    const token = await new SignJWT({}).setProtectedHeader({ alg: 'EdDSA' }).sign(privateKey);
    expect(hasCanonicalSignature(token)).toBe(true);
    for (const bad of ['', 'a.b.c', 'x', `${Buffer.from('{"alg":"ES256"}').toString('base64url')}.e30.AAAA`]) {
      expect(hasCanonicalSignature(bad)).toBe(true);
    }
    expect(() => malleateEs256Signature('a.b.c')).toThrow(TypeError);
  });
});
