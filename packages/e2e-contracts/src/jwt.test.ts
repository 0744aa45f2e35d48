import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import {
  forgeAlgNoneToken,
  forgeHs256WithPublicKeyToken,
  generateTestKeyPair,
  mintAdminToken,
  mintExpiredToken,
  mintServiceToken,
  mintTestToken,
  mintUserToken,
  mintWrongAudienceToken,
  TestTokenOptionError,
  tamperTokenClaims,
} from './jwt.js';

describe('test tokens', () => {
  it('mints tokens that verify with the public JWK, one helper per audience', async () => {
    for (const alg of ['ES256', 'EdDSA'] as const) {
      const keys = await generateTestKeyPair({ alg });
      const jwks = createLocalJWKSet({ keys: [keys.publicJwk] });
      const minted = [
        [await mintUserToken({ privateKey: keys.privateKey, kid: keys.kid, sub: 'u' }), 'arrakis-api'],
        [await mintServiceToken({ privateKey: keys.privateKey, kid: keys.kid, sub: 's' }), 'arrakis-internal'],
        [await mintAdminToken({ privateKey: keys.privateJwk, sub: 'a' }), 'arrakis-admin'],
      ] as const;
      for (const [token, audience] of minted) {
        const { payload, protectedHeader } = await jwtVerify(token, jwks, {
          algorithms: [alg],
          issuer: 'arrakis-gateway',
          audience,
        });
        expect(protectedHeader).toMatchObject({ alg, kid: keys.kid, typ: 'JWT' });
        expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(300);
      }
      expect(decodeJwt(minted[2][0]).scope).toBe('admin');
    }
  });

  it('writes scopes space-separated and honours iat and ttlSeconds', async () => {
    const keys = await generateTestKeyPair();
    const token = await mintTestToken({
      privateKey: keys.privateKey,
      audience: 'arrakis-admin',
      sub: 'root',
      scope: ['admin', 'rules:approve'],
      iat: 1_800_000_000,
      ttlSeconds: 60,
      claims: { jti: 'j1' },
    });
    expect(decodeJwt(token)).toMatchObject({
      scope: 'admin rules:approve',
      iat: 1_800_000_000,
      exp: 1_800_000_060,
      jti: 'j1',
    });
    await expect(
      mintTestToken({ privateKey: keys.privateKey, audience: 'x', sub: 'a', ttlSeconds: 1.5 }),
    ).rejects.toThrow(TestTokenOptionError);
    await expect(mintTestToken({ privateKey: keys.publicJwk, audience: 'x', sub: 'a' })).rejects.toThrow(/private key/);
  });

  it('forges the attack tokens it names', async () => {
    const keys = await generateTestKeyPair();
    const none = forgeAlgNoneToken({ audience: 'arrakis-admin', sub: 'mallory' });
    expect(decodeProtectedHeader(none).alg).toBe('none');
    expect(none.endsWith('.')).toBe(true);

    const hs = await forgeHs256WithPublicKeyToken(keys.publicJwk, { audience: 'arrakis-admin', sub: 'mallory' });
    expect(decodeProtectedHeader(hs)).toMatchObject({ alg: 'HS256', kid: keys.kid });

    const expired = await mintExpiredToken({ privateKey: keys.privateKey, audience: 'arrakis-api', sub: 'a' });
    // exp is a whole second at least an hour back (equal when this runs on the second it was minted in).
    expect(decodeJwt(expired).exp ?? Number.POSITIVE_INFINITY).toBeLessThanOrEqual(Date.now() / 1000 - 3600);

    const wrong = await mintWrongAudienceToken({ privateKey: keys.privateKey, sub: 'a' });
    expect(decodeJwt(wrong).aud).toBe('arrakis-unknown');

    const tampered = tamperTokenClaims(wrong, { aud: 'arrakis-admin' });
    expect(decodeJwt(tampered).aud).toBe('arrakis-admin');
    expect(tampered.split('.')[2]).toBe(wrong.split('.')[2]);
    await expect(
      jwtVerify(tampered, createLocalJWKSet({ keys: [keys.publicJwk] }), { algorithms: ['ES256'] }),
    ).rejects.toThrow(/signature verification failed/);
  });
});
