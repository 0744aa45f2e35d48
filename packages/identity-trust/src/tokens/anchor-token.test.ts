import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ManualClock } from '@arrakis/atomic-counter';
import { base64url, type JSONWebKeySet, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveAnchor } from '../anchor/derive-anchor.js';
import { AnchorTokenExpiredError, AnchorTokenInvalidError, IdentityError } from '../errors.js';
import {
  anchorTokenTtlSecondsMax,
  anchorTokenType,
  createAnchorTokenVerifier,
  issueAnchorToken,
  verifyAnchorToken,
} from './anchor-token.js';
import { hasCanonicalSignature, malleateEs256Signature } from './canonical-signature.js';
import {
  type AnchorKeyRing,
  type AnchorSigningKey,
  createAnchorKeyRing,
  generateAnchorSigningKey,
  importAnchorKeyRing,
  type PrivateJwkSet,
  retireAnchorKey,
  rotateAnchorKeySet,
} from './key-ring.js';

const issuer = 'arrakis-gateway';
const audience = 'arrakis-services';
const contract = '0x0000000000000000000000000000000000000a11';
const anchorA = deriveAnchor({
  chainId: 1n,
  contractAddress: contract,
  tokenId: 1n,
  ownerAddress: `0x${'1'.repeat(40)}`,
});
const anchorB = deriveAnchor({
  chainId: 1n,
  contractAddress: contract,
  tokenId: 2n,
  ownerAddress: `0x${'2'.repeat(40)}`,
});

const clock = new ManualClock(Date.UTC(2026, 4, 1, 12));
let ring: AnchorKeyRing;
let key: AnchorSigningKey;

async function rejection(promise: Promise<unknown>): Promise<IdentityError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof IdentityError) return error;
    throw error;
  }
  throw new Error('expected a rejection');
}

function issue(overrides: Partial<Parameters<typeof issueAnchorToken>[0]> = {}) {
  return issueAnchorToken({
    key,
    issuer,
    audience,
    accountId: 'acc_a',
    anchor: anchorA,
    epoch: 1,
    nowMs: clock.nowMs(),
    ...overrides,
  });
}

function verify(token: string, overrides: Partial<Parameters<typeof verifyAnchorToken>[1]> = {}) {
  return verifyAnchorToken(token, { keys: ring.resolver, issuer, audience, clock, ...overrides });
}

beforeAll(async () => {
  key = (await generateAnchorSigningKey()).key;
  ring = createAnchorKeyRing([key]);
});

describe('issueAnchorToken / verifyAnchorToken', () => {
  it('issues the canonical low-S ES256 signature; a high-S twin still verifies (standard issuers emit both)', async () => {
    for (let i = 0; i < 16; i += 1) {
      const { token } = await issue();
      expect(hasCanonicalSignature(token)).toBe(true);
      await expect(verify(malleateEs256Signature(token))).resolves.toMatchObject({ accountId: 'acc_a' });
    }
  });

  it('round-trips the claims: sub = account, anchor, epoch, kid, iss, aud, a lifetime ≤ 10 minutes', async () => {
    const { token, expiresAtMs, tokenId } = await issue({ epoch: 3, ttlSeconds: 600 });
    const [headerPart] = token.split('.');
    expect(JSON.parse(new TextDecoder().decode(base64url.decode(headerPart as string)))).toEqual({
      alg: 'ES256',
      kid: key.kid,
      typ: anchorTokenType,
    });
    const claims = await verify(token, { accountId: 'acc_a', anchor: anchorA });
    expect(claims).toEqual({
      accountId: 'acc_a',
      anchor: anchorA,
      anchorVersion: 1,
      epoch: 3,
      tokenId,
      issuer,
      audience,
      issuedAtMs: Math.floor(clock.nowMs() / 1000) * 1000,
      expiresAtMs,
      kid: key.kid,
    });
    expect(expiresAtMs - claims.issuedAtMs).toBe(600_000);
  });

  it('signs and verifies with EdDSA too', async () => {
    const ed = (await generateAnchorSigningKey({ alg: 'EdDSA' })).key;
    const edRing = createAnchorKeyRing([ed]);
    const { token } = await issue({ key: ed });
    expect((await verify(token, { keys: edRing.resolver })).kid).toBe(ed.kid);
    // An ES256-only verifier refuses it.
    expect((await rejection(verify(token, { keys: edRing.resolver, algorithms: ['ES256'] }))).details.reason).toBe(
      'alg_not_allowed',
    );
  });

  it('refuses to issue a token living longer than 10 minutes, or with bad claims', async () => {
    expect((await rejection(issue({ ttlSeconds: anchorTokenTtlSecondsMax + 1 }))).code).toBe('invalid_argument');
    expect((await rejection(issue({ ttlSeconds: 0 }))).code).toBe('invalid_argument');
    expect((await rejection(issue({ anchor: 'sha256:00' as never }))).code).toBe('invalid_anchor');
    expect((await rejection(issue({ accountId: '' }))).code).toBe('invalid_argument');
    expect((await rejection(issue({ epoch: 0 }))).code).toBe('invalid_argument');
  });

  it('attack: a token signed by an unknown key is refused (unknown_key)', async () => {
    const stranger = (await generateAnchorSigningKey()).key;
    const { token } = await issue({ key: stranger });
    const error = await rejection(verify(token));
    expect(error).toBeInstanceOf(AnchorTokenInvalidError);
    expect(error.details.reason).toBe('unknown_key');
  });

  it('attack: a token signed by another key under a published kid is refused (bad_signature)', async () => {
    const stranger = (await generateAnchorSigningKey()).key;
    const { token } = await issue({ key: { ...stranger, kid: key.kid } });
    expect((await rejection(verify(token))).details.reason).toBe('bad_signature');
  });

  it('attack: alg swapped to HS256 with the public key as the HMAC secret is refused (alg_not_allowed)', async () => {
    const secret = new TextEncoder().encode(JSON.stringify(key.publicJwk));
    const token = await new SignJWT({ anchor: anchorA, anc_v: 1, anc_epoch: 1 })
      .setProtectedHeader({ alg: 'HS256', kid: key.kid, typ: anchorTokenType })
      .setIssuer(issuer)
      .setAudience(audience)
      .setSubject('acc_a')
      .setJti('forged')
      .setIssuedAt(Math.floor(clock.nowMs() / 1000))
      .setExpirationTime(Math.floor(clock.nowMs() / 1000) + 60)
      .sign(secret);
    expect((await rejection(verify(token))).details.reason).toBe('alg_not_allowed');
  });

  it('attack: alg swapped to "none" (unsigned) is refused (alg_not_allowed)', async () => {
    const { token } = await issue();
    const [, payload] = token.split('.');
    const header = base64url.encode(JSON.stringify({ alg: 'none', kid: key.kid, typ: anchorTokenType }));
    expect((await rejection(verify(`${header}.${payload}.`))).details.reason).toBe('alg_not_allowed');
  });

  it('attack: alg swapped between the allowed ones (EdDSA header on an ES256 kid) finds no key', async () => {
    const ed = (await generateAnchorSigningKey({ alg: 'EdDSA' })).key;
    const { token } = await issue({ key: { ...ed, kid: key.kid } });
    expect((await rejection(verify(token))).details.reason).toBe('unknown_key');
  });

  it('attack: an expired token is refused (anchor_token_expired)', async () => {
    const { token } = await issue({ ttlSeconds: 60 });
    clock.advance(61_000 + 5_000);
    try {
      const error = await rejection(verify(token));
      expect(error).toBeInstanceOf(AnchorTokenExpiredError);
      expect(error.code).toBe('anchor_token_expired');
      expect(error.httpStatus).toBe(401);
    } finally {
      clock.set(Date.UTC(2026, 4, 1, 12));
    }
  });

  it('attack: a token for another audience is refused (wrong_audience)', async () => {
    const { token } = await issue({ audience: 'some-other-service' });
    expect((await rejection(verify(token))).details.reason).toBe('wrong_audience');
  });

  it('attack: an anchor claim for another account is refused (wrong_account, wrong_anchor)', async () => {
    // Account A's token presented for account B.
    const { token } = await issue({ accountId: 'acc_a', anchor: anchorA });
    expect((await rejection(verify(token, { accountId: 'acc_b' }))).details.reason).toBe('wrong_account');
    // A token whose anchor claim is another anchor than the one expected for the account.
    expect((await rejection(verify(token, { accountId: 'acc_a', anchor: anchorB }))).details.reason).toBe(
      'wrong_anchor',
    );
  });

  it('refuses another issuer, another typ (a bearer token cannot pass for an anchor token), a too-long lifetime', async () => {
    expect((await rejection(verify((await issue({ issuer: 'evil' })).token))).details.reason).toBe('wrong_issuer');
    const iat = Math.floor(clock.nowMs() / 1000);
    const sign = (typ: string, exp: number, issuedAt = iat) =>
      new SignJWT({ anchor: anchorA, anc_v: 1, anc_epoch: 1 })
        .setProtectedHeader({ alg: 'ES256', kid: key.kid, typ })
        .setIssuer(issuer)
        .setAudience(audience)
        .setSubject('acc_a')
        .setJti('j')
        .setIssuedAt(issuedAt)
        .setExpirationTime(exp)
        .sign(key.privateKey);
    expect((await rejection(verify(await sign('JWT', iat + 60)))).details.reason).toBe('wrong_type');
    expect((await rejection(verify(await sign(anchorTokenType, iat + 3600)))).details.reason).toBe('lifetime_too_long');
    expect((await rejection(verify(await sign(anchorTokenType, iat + 3600, iat - 700)))).details.reason).toBe(
      'too_old',
    );
    expect((await rejection(verify('not.a.jwt'))).details.reason).toBe('malformed');
  });

  it('refuses a token without the anchor claims', async () => {
    const iat = Math.floor(clock.nowMs() / 1000);
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: key.kid, typ: anchorTokenType })
      .setIssuer(issuer)
      .setAudience(audience)
      .setSubject('acc_a')
      .setJti('j')
      .setIssuedAt(iat)
      .setExpirationTime(iat + 60)
      .sign(key.privateKey);
    expect((await rejection(verify(token))).details.reason).toBe('missing_claim');
  });
});

describe('key rotation', () => {
  it('keeps verifying the old key until it is retired', async () => {
    const first = await generateAnchorSigningKey();
    let set: PrivateJwkSet = { keys: [first.privateJwk] };
    const before = await importAnchorKeyRing(set);
    const oldToken = (await issue({ key: before.signingKey })).token;

    const rotated = await rotateAnchorKeySet(set);
    set = rotated.set;
    const during = await importAnchorKeyRing(set);
    expect(during.signingKey.kid).toBe(rotated.kid);
    expect(during.jwks().keys.map((k) => k.kid)).toEqual([rotated.kid, first.key.kid]);
    const newToken = (await issue({ key: during.signingKey })).token;
    expect((await verify(oldToken, { keys: during.resolver })).kid).toBe(first.key.kid);
    expect((await verify(newToken, { keys: during.resolver })).kid).toBe(rotated.kid);

    const after = await importAnchorKeyRing(retireAnchorKey(set, first.key.kid));
    expect((await rejection(verify(oldToken, { keys: after.resolver }))).details.reason).toBe('unknown_key');
    expect((await verify(newToken, { keys: after.resolver })).kid).toBe(rotated.kid);
  });

  it('never retires the signing key, never publishes private parts, refuses duplicate kids', async () => {
    const first = await generateAnchorSigningKey();
    expect(() => retireAnchorKey({ keys: [first.privateJwk] }, first.key.kid)).toThrow(/signing key/);
    const ringOf = await importAnchorKeyRing({ keys: [first.privateJwk] });
    expect(ringOf.jwks().keys[0]).not.toHaveProperty('d');
    expect(ringOf.jwks().keys[0]).toMatchObject({ kid: first.key.kid, alg: 'ES256', use: 'sig' });
    await expect(importAnchorKeyRing({ keys: [first.privateJwk, first.privateJwk] })).rejects.toMatchObject({
      code: 'invalid_signing_key',
    });
    const publicOnly = { ...first.privateJwk };
    delete publicOnly.d;
    await expect(importAnchorKeyRing({ keys: [{ ...publicOnly, kid: 'x' }] })).rejects.toMatchObject({
      code: 'invalid_signing_key',
    });
  });
});

describe('createAnchorTokenVerifier (remote JWKS, as a sibling service uses it)', () => {
  let server: Server;
  let served: JSONWebKeySet = { keys: [] };
  let fetches = 0;
  let jwksUrl: string;

  beforeAll(async () => {
    server = createServer((_req, res) => {
      fetches += 1;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(served));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('verifies through the URL only, across a key rotation', async () => {
    const first = await generateAnchorSigningKey();
    let set: PrivateJwkSet = { keys: [first.privateJwk] };
    served = (await importAnchorKeyRing(set)).jwks();
    const verifier = createAnchorTokenVerifier({ jwksUrl, issuer, audience, clock, jwksCooldownMs: 0 });
    const oldToken = (await issue({ key: first.key })).token;
    expect((await verifier.verify(oldToken, { accountId: 'acc_a' })).kid).toBe(first.key.kid);
    const fetchesBefore = fetches;

    set = (await rotateAnchorKeySet(set, { alg: 'EdDSA' })).set;
    const during = await importAnchorKeyRing(set);
    served = during.jwks();
    const newToken = (await issue({ key: during.signingKey })).token;
    // The unknown kid makes the verifier fetch the JWKS again; the old key still verifies.
    expect((await verifier.verify(newToken)).kid).toBe(during.signingKey.kid);
    expect(fetches).toBe(fetchesBefore + 1);
    expect((await verifier.verify(oldToken)).kid).toBe(first.key.kid);

    served = (await importAnchorKeyRing(retireAnchorKey(set, first.key.kid))).jwks();
    const fresh = createAnchorTokenVerifier({ jwksUrl, issuer, audience, clock });
    expect((await rejection(fresh.verify(oldToken))).details.reason).toBe('unknown_key');
    expect((await fresh.verify(newToken)).kid).toBe(during.signingKey.kid);
  });

  it('lets an unreachable JWKS surface as a fetch error, not as an invalid token', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const verifier = createAnchorTokenVerifier({
      jwksUrl: `http://127.0.0.1:${port}/jwks.json`,
      issuer,
      audience,
      clock,
    });
    const { token } = await issue();
    const error = await verifier.verify(token).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(IdentityError);
  });

  it('refuses a non-http JWKS URL', () => {
    expect(() => createAnchorTokenVerifier({ jwksUrl: 'file:///etc/passwd', issuer, audience })).toThrow(/http/);
  });
});
