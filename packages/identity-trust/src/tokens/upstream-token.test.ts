import fc from 'fast-check';
import { base64url, SignJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Anchor, deriveAnchor } from '../anchor/derive-anchor.js';
import { AnchorTokenInvalidError, IdentityError } from '../errors.js';
import { issueAnchorToken, verifyAnchorToken } from './anchor-token.js';
import { canonicalEs256Token, hasCanonicalSignature, malleateEs256Signature } from './canonical-signature.js';
import {
  type AnchorKeyRing,
  type AnchorSigningKey,
  createAnchorKeyRing,
  generateAnchorSigningKey,
} from './key-ring.js';
import {
  type IssueUpstreamTokenOptions,
  issueUpstreamToken,
  UpstreamTokenError,
  UpstreamTokenExpiredError,
  UpstreamTokenInvalidError,
  upstreamHoldMicroMax,
  upstreamTokenTtlSecondsMax,
  upstreamTokenType,
  verifyUpstreamToken,
} from './upstream-token.js';

const issuer = 'arrakis-gateway';
const audience = 'llm';
const nowMs = Date.UTC(2026, 4, 1, 12);
const nowSeconds = nowMs / 1000;
const anchorA = deriveAnchor({
  chainId: 1n,
  contractAddress: '0x0000000000000000000000000000000000000a11',
  tokenId: 1n,
  ownerAddress: `0x${'1'.repeat(40)}`,
});

let key: AnchorSigningKey;
let edKey: AnchorSigningKey;
let ring: AnchorKeyRing;

beforeAll(async () => {
  key = (await generateAnchorSigningKey()).key;
  edKey = (await generateAnchorSigningKey({ alg: 'EdDSA' })).key;
  ring = createAnchorKeyRing([key, edKey]);
});

function issue(overrides: Partial<IssueUpstreamTokenOptions> = {}) {
  return issueUpstreamToken({
    key,
    issuer,
    audience,
    accountId: 'acc_a',
    reservationId: 'res_1',
    meterId: 'llm-tokens',
    meterVersion: 2,
    holdMicro: 40_000n,
    anchor: anchorA,
    ttlSeconds: 300,
    nowMs,
    ...overrides,
  });
}

function verify(token: string, overrides: Partial<Parameters<typeof verifyUpstreamToken>[1]> = {}) {
  return verifyUpstreamToken(token, { keys: ring.resolver, issuer, audience, nowMs, ...overrides });
}

async function rejection(promise: Promise<unknown>): Promise<UpstreamTokenError | IdentityError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof UpstreamTokenError || error instanceof IdentityError) return error;
    throw error;
  }
  throw new Error('expected a rejection');
}

async function reasonOf(promise: Promise<unknown>): Promise<unknown> {
  const error = await rejection(promise);
  expect(error).toBeInstanceOf(UpstreamTokenInvalidError);
  return error.details.reason;
}

/** The claims the gateway signs, as a JSON payload, with overrides (undefined removes a claim). */
function payloadOf(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const payload: Record<string, unknown> = {
    iss: issuer,
    aud: audience,
    sub: 'acc_a',
    iat: nowSeconds,
    nbf: nowSeconds,
    exp: nowSeconds + 300,
    jti: 'jti_1',
    reservation_id: 'res_1',
    meter_id: 'llm-tokens',
    meter_version: 2,
    hold_micro: '40000',
    ...overrides,
  };
  for (const [name, value] of Object.entries(payload)) if (value === undefined) delete payload[name];
  return payload;
}

/** Signs any payload with the published ES256 key (canonical low-S), for tokens the issuer refuses to make. */
async function signRaw(payload: Record<string, unknown>, typ = upstreamTokenType): Promise<string> {
  const token = await new SignJWT(payload).setProtectedHeader({ alg: 'ES256', kid: key.kid, typ }).sign(key.privateKey);
  return canonicalEs256Token(token);
}

function decodePart(token: string, index: 0 | 1): Record<string, unknown> {
  return JSON.parse(new TextDecoder().decode(base64url.decode(token.split('.')[index] as string)));
}

describe('issueUpstreamToken / verifyUpstreamToken', () => {
  it('round-trips every claim, holdMicro as a bigint, for ES256 and EdDSA keys (property)', async () => {
    const text = fc.string({ minLength: 1, maxLength: 64, unit: 'grapheme' }).filter((s) => s.trim() === s);
    const anchors = fc.option(
      fc.bigInt({ min: 1n, max: 1000n }).map((tokenId) =>
        deriveAnchor({
          chainId: 8453n,
          contractAddress: '0x0000000000000000000000000000000000000a11',
          tokenId,
          ownerAddress: `0x${'2'.repeat(40)}`,
        }),
      ),
      { nil: null },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          accountId: text,
          reservationId: text,
          meterId: text,
          meterVersion: fc.integer({ min: 1, max: 2 ** 31 }),
          holdMicro: fc.bigInt({ min: 0n, max: upstreamHoldMicroMax }),
          anchor: anchors,
          ttlSeconds: fc.integer({ min: 1, max: upstreamTokenTtlSecondsMax }),
          issueMs: fc.integer({ min: nowMs - 10_000_000, max: nowMs }),
          eddsa: fc.boolean(),
        }),
        async ({ issueMs, eddsa, ttlSeconds, ...claims }) => {
          const signer = eddsa ? edKey : key;
          const { token, tokenId, expiresAtMs } = await issue({ ...claims, ttlSeconds, key: signer, nowMs: issueMs });
          const issuedAtMs = Math.floor(issueMs / 1000) * 1000;
          expect(expiresAtMs).toBe(issuedAtMs + ttlSeconds * 1000);
          expect(hasCanonicalSignature(token)).toBe(true);
          const verified = await verify(token, { nowMs: issueMs });
          expect(verified).toEqual({
            ...claims,
            tokenId,
            issuer,
            audience,
            issuedAtMs,
            expiresAtMs,
            kid: signer.kid,
          });
          expect(typeof verified.holdMicro).toBe('bigint');
        },
      ),
      { numRuns: 60 },
    );
  });

  it('writes typ upstream+jwt, kid, and the wire claims (hold_micro a base-10 string, anchor as in anchor tokens)', async () => {
    const { token, tokenId } = await issue({ holdMicro: upstreamHoldMicroMax, tokenId: 'tok_fixed' });
    expect(tokenId).toBe('tok_fixed');
    expect(decodePart(token, 0)).toEqual({ alg: 'ES256', kid: key.kid, typ: 'upstream+jwt' });
    expect(decodePart(token, 1)).toEqual({
      iss: issuer,
      aud: audience,
      sub: 'acc_a',
      iat: nowSeconds,
      nbf: nowSeconds,
      exp: nowSeconds + 300,
      jti: 'tok_fixed',
      reservation_id: 'res_1',
      meter_id: 'llm-tokens',
      meter_version: 2,
      hold_micro: '1000000000000000',
      anchor: anchorA,
      anc_v: 1,
    });
    const unbound = decodePart((await issue({ anchor: null })).token, 1);
    expect(unbound).not.toHaveProperty('anchor');
    expect(unbound).not.toHaveProperty('anc_v');
    expect((await verify((await issue({ anchor: undefined })).token)).anchor).toBeNull();
  });

  it('refuses to issue with bad input, with InvalidArgumentError (nothing is signed)', async () => {
    const bad: Partial<IssueUpstreamTokenOptions>[] = [
      { ttlSeconds: 0 },
      { ttlSeconds: upstreamTokenTtlSecondsMax + 1 },
      { ttlSeconds: 1.5 },
      { holdMicro: -1n },
      { holdMicro: upstreamHoldMicroMax + 1n },
      { holdMicro: 5 as unknown as bigint },
      { meterVersion: 0 },
      { meterVersion: 1.5 },
      { accountId: '' },
      { reservationId: ' res_1' },
      { meterId: 'm'.repeat(257) },
      { audience: '' },
      { nowMs: -1 },
      { tokenId: '' },
    ];
    for (const overrides of bad) {
      const error = await rejection(issue(overrides));
      expect(error.code, JSON.stringify(Object.keys(overrides))).toBe('invalid_argument');
    }
    expect((await rejection(issue({ anchor: 'sha256:00' as Anchor }))).code).toBe('invalid_anchor');
  });

  it('accepts a JWK Set as keys, and refuses what is neither a resolver nor a set', async () => {
    const { token } = await issue();
    expect((await verify(token, { keys: ring.jwks() })).kid).toBe(key.kid);
    expect((await rejection(verify(token, { keys: 'jwks' as never }))).code).toBe('invalid_argument');
    expect((await rejection(verify(token, { clockToleranceSeconds: 301 }))).code).toBe('invalid_argument');
  });
});

describe('attack tokens', () => {
  it('alg "none" (unsigned) is refused (alg_not_allowed)', async () => {
    const { token } = await issue();
    const header = base64url.encode(JSON.stringify({ alg: 'none', kid: key.kid, typ: upstreamTokenType }));
    expect(await reasonOf(verify(`${header}.${token.split('.')[1]}.`))).toBe('alg_not_allowed');
  });

  it('HS256 with the public key as the HMAC secret is refused (alg_not_allowed)', async () => {
    const secret = new TextEncoder().encode(JSON.stringify(key.publicJwk));
    const forged = await new SignJWT(payloadOf({ hold_micro: '999999999' }))
      .setProtectedHeader({ alg: 'HS256', kid: key.kid, typ: upstreamTokenType })
      .sign(secret);
    expect(await reasonOf(verify(forged))).toBe('alg_not_allowed');
  });

  it('a token of another typ is refused (wrong_type), though signed by the published key', async () => {
    expect(await reasonOf(verify(await signRaw(payloadOf(), 'JWT')))).toBe('wrong_type');
    expect(await reasonOf(verify(await signRaw(payloadOf(), 'anchor+jwt')))).toBe('wrong_type');
  });

  it('an anchor token presented as an upstream token is refused (wrong_type), and vice versa', async () => {
    const anchorToken = await issueAnchorToken({
      key,
      issuer,
      audience,
      accountId: 'acc_a',
      anchor: anchorA,
      epoch: 1,
      nowMs,
    });
    expect(await reasonOf(verify(anchorToken.token))).toBe('wrong_type');

    const { token } = await issue();
    const error = await verifyAnchorToken(token, {
      keys: ring.resolver,
      issuer,
      audience,
      clock: { nowMs: () => nowMs },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AnchorTokenInvalidError);
    expect((error as AnchorTokenInvalidError).reason).toBe('wrong_type');
  });

  it('the high-S twin of a valid ES256 token is refused (non_canonical_signature)', async () => {
    const { token } = await issue();
    await expect(verify(token)).resolves.toMatchObject({ accountId: 'acc_a' });
    expect(await reasonOf(verify(malleateEs256Signature(token)))).toBe('non_canonical_signature');
  });

  it('a token by an unknown key, or by another key under a published kid, is refused', async () => {
    const stranger = (await generateAnchorSigningKey()).key;
    expect(await reasonOf(verify((await issue({ key: stranger })).token))).toBe('unknown_key');
    expect(await reasonOf(verify((await issue({ key: { ...stranger, kid: key.kid } })).token))).toBe('bad_signature');
  });

  it('wrong audience, wrong issuer, expired, not yet valid, too old, too long a lifetime', async () => {
    expect(await reasonOf(verify((await issue({ audience: 'other-upstream' })).token))).toBe('wrong_audience');
    expect(await reasonOf(verify((await issue({ issuer: 'evil' })).token))).toBe('wrong_issuer');

    const { token, expiresAtMs } = await issue({ ttlSeconds: 60 });
    await expect(verify(token, { nowMs: expiresAtMs + 4_000 })).resolves.toMatchObject({ tokenId: expect.any(String) });
    const expired = await rejection(verify(token, { nowMs: expiresAtMs + 5_000 }));
    expect(expired).toBeInstanceOf(UpstreamTokenExpiredError);
    expect(expired).toMatchObject({ code: 'upstream_token_expired', httpStatus: 401, details: { expiresAtMs } });
    expect((await rejection(verify(token, { nowMs: expiresAtMs, clockToleranceSeconds: 0 }))).code).toBe(
      'upstream_token_expired',
    );

    expect(await reasonOf(verify(token, { nowMs: nowMs - 60_000 }))).toBe('not_yet_valid');
    const old = payloadOf({ iat: nowSeconds - 90_000, nbf: nowSeconds - 90_000, exp: nowSeconds + 60 });
    expect(await reasonOf(verify(await signRaw(old)))).toBe('too_old');
    const long = payloadOf({ exp: nowSeconds + upstreamTokenTtlSecondsMax + 1 });
    expect(await reasonOf(verify(await signRaw(long)))).toBe('lifetime_too_long');
  });

  it('malformed claims are refused (missing_claim, invalid_claim), and so is text that is not a JWT', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ reservation_id: undefined }, 'missing_claim'],
      [{ hold_micro: undefined }, 'missing_claim'],
      [{ jti: undefined }, 'missing_claim'],
      [{ meter_version: undefined }, 'missing_claim'],
      [{ hold_micro: '007' }, 'invalid_claim'],
      [{ hold_micro: '1e3' }, 'invalid_claim'],
      [{ hold_micro: '-1' }, 'invalid_claim'],
      [{ hold_micro: ' 1' }, 'invalid_claim'],
      [{ hold_micro: 40000 }, 'invalid_claim'],
      [{ hold_micro: (upstreamHoldMicroMax + 1n).toString() }, 'invalid_claim'],
      [{ hold_micro: '9'.repeat(21) }, 'invalid_claim'],
      [{ meter_version: 0 }, 'invalid_claim'],
      [{ meter_version: '2' }, 'invalid_claim'],
      [{ meter_version: 1.5 }, 'invalid_claim'],
      [{ reservation_id: '' }, 'invalid_claim'],
      [{ sub: 42 }, 'invalid_claim'],
      [{ anchor: 'sha256:00', anc_v: 1 }, 'invalid_claim'],
      [{ anchor: null }, 'invalid_claim'],
      [{ anchor: anchorA }, 'invalid_claim'],
      [{ anchor: anchorA, anc_v: 2 }, 'invalid_claim'],
      [{ iat: nowSeconds + 0.5 }, 'invalid_claim'],
    ];
    for (const [overrides, reason] of cases) {
      expect(await reasonOf(verify(await signRaw(payloadOf(overrides)))), JSON.stringify(overrides)).toBe(reason);
    }
    await expect(verify(await signRaw(payloadOf({ anchor: anchorA, anc_v: 1 })))).resolves.toMatchObject({
      anchor: anchorA,
    });
    expect(await reasonOf(verify('not.a.jwt'))).toBe('malformed');
    expect(await reasonOf(verify(''))).toBe('malformed');
    expect(await reasonOf(verify('a'.repeat(5000)))).toBe('malformed');
  });

  it('errors carry the JSON shape { error, message, details }', async () => {
    const error = await rejection(verify((await issue({ audience: 'other-upstream' })).token));
    expect(error.toJSON()).toEqual({
      error: 'upstream_token_invalid',
      message: 'invalid upstream token: the token is for another audience',
      details: { reason: 'wrong_audience' },
    });
  });
});
