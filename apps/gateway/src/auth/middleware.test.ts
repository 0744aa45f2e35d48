import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  errorBodySchema,
  forgeAlgNoneToken,
  forgeHs256WithPublicKeyToken,
  garbageToken,
  generateTestKeyPair,
  mintExpiredToken,
  mintTestToken,
  tamperTokenClaims,
  whoamiBodySchema,
} from '@arrakis/e2e-contracts';
import { base64url, createLocalJWKSet, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config.js';
import type { AuthedEnv } from '../context.js';
import { makeAppFixture } from '../testing/app-fixture.js';
import { resolveAuthKeys } from './keys.js';
import { clockToleranceSeconds, createAuth } from './middleware.js';
import { createVerifiedTokens, verifiedTokenReuseMsMax, verifiedTokensMax } from './verified-tokens.js';

async function expect401(response: Response, code: string): Promise<void> {
  const text = await response.text();
  expect(response.status, text).toBe(401);
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  const body = errorBodySchema.parse(JSON.parse(text));
  expect(body.error).toBe(code);
  expect(response.headers.get('www-authenticate')).toMatch(/^Bearer realm="arrakis"/);
}

describe('JWT auth: valid tokens', () => {
  it('accepts a token of each audience on /v1/whoami and returns the principal', async () => {
    const f = await makeAppFixture();
    for (const audience of ['arrakis-api', 'arrakis-internal', 'arrakis-admin'] as const) {
      const response = await f.get('/v1/whoami', { token: await f.token(audience, `sub-${audience}`) });
      expect(response.status).toBe(200);
      const body = whoamiBodySchema.parse(await response.json());
      expect(body).toMatchObject({ sub: `sub-${audience}`, audience, issuer: 'arrakis-gateway', scopes: [] });
    }
  });

  it('returns the admin scopes on /v1/admin/whoami', async () => {
    const f = await makeAppFixture();
    const token = await f.token('arrakis-admin', 'root', { scope: ['admin', 'rules:approve'] });
    const response = await f.get('/v1/admin/whoami', { token });
    expect(response.status).toBe(200);
    expect(whoamiBodySchema.parse(await response.json()).scopes).toEqual(['admin', 'rules:approve']);
  });

  it('accepts EdDSA when allowed, and refuses ES256 once the allowlist is EdDSA only', async () => {
    const ed = await generateTestKeyPair({ alg: 'EdDSA' });
    const es = await generateTestKeyPair();
    const f = await makeAppFixture({
      keys: ed,
      env: { JWT_ALGORITHMS: 'EdDSA' },
      // Both public keys are known: only the allowlist can refuse the ES256 token.
      authKeys: createLocalJWKSet({ keys: [ed.publicJwk, es.publicJwk] }),
    });
    expect((await f.get('/v1/whoami', { token: await f.token('arrakis-api') })).status).toBe(200);
    const esToken = await mintTestToken({ privateKey: es.privateKey, kid: es.kid, audience: 'arrakis-api', sub: 'a' });
    await expect401(await f.get('/v1/whoami', { token: esToken }), 'invalid_token');
  });

  it('accepts a token without typ and with typ at+jwt', async () => {
    const f = await makeAppFixture();
    for (const typ of ['at+jwt', 'JWT']) {
      const response = await f.get('/v1/whoami', { token: await f.token('arrakis-api', 'alice', { typ }) });
      expect(response.status, typ).toBe(200);
    }
  });
});

describe('JWT auth: every rejection is a 401 JSON with a stable code', () => {
  it('missing token → missing_token', async () => {
    const f = await makeAppFixture();
    await expect401(await f.get('/v1/whoami'), 'missing_token');
    await expect401(await f.get('/v1/whoami', { headers: { authorization: '  ' } }), 'missing_token');
  });

  it('a non-Bearer scheme or an empty bearer → invalid_token', async () => {
    const f = await makeAppFixture();
    await expect401(await f.get('/v1/whoami', { headers: { authorization: 'Basic YWxpY2U6eA==' } }), 'invalid_token');
    await expect401(await f.get('/v1/whoami', { headers: { authorization: 'Bearer' } }), 'invalid_token');
    await expect401(await f.get('/v1/whoami', { headers: { authorization: 'Bearer a b' } }), 'invalid_token');
  });

  it('garbage → invalid_token', async () => {
    const f = await makeAppFixture();
    await expect401(await f.get('/v1/whoami', { token: garbageToken }), 'invalid_token');
    await expect401(await f.get('/v1/whoami', { token: 'a.b.c' }), 'invalid_token');
    await expect401(await f.get('/v1/whoami', { token: 'x'.repeat(9000) }), 'invalid_token');
    // A 100 kB token (what the server's header limit admits) is refused on its length, with or without spaces.
    await expect401(await f.get('/v1/whoami', { token: 'x'.repeat(100_000) }), 'invalid_token');
    const spaced = { authorization: `Bearer ${'x '.repeat(50_000)}` };
    await expect401(await f.get('/v1/whoami', { headers: spaced }), 'invalid_token');
  });

  it('alg none → invalid_token', async () => {
    const f = await makeAppFixture();
    const token = forgeAlgNoneToken({ audience: 'arrakis-admin', sub: 'mallory', scope: 'admin', kid: f.keys.kid });
    await expect401(await f.get('/v1/admin/whoami', { token }), 'invalid_token');
  });

  it('HS256 signed with the public key as the HMAC secret → invalid_token', async () => {
    const f = await makeAppFixture();
    const token = await forgeHs256WithPublicKeyToken(f.keys.publicJwk, { audience: 'arrakis-admin', sub: 'mallory' });
    await expect401(await f.get('/v1/admin/whoami', { token }), 'invalid_token');
  });

  it('wrong audience → wrong_audience (unknown audience, and a user token on an admin route)', async () => {
    const f = await makeAppFixture();
    await expect401(await f.get('/v1/whoami', { token: await f.token('arrakis-partner') }), 'wrong_audience');
    await expect401(await f.get('/v1/admin/whoami', { token: await f.token('arrakis-api') }), 'wrong_audience');
    await expect401(await f.get('/v1/admin/whoami', { token: await f.token('arrakis-internal') }), 'wrong_audience');
  });

  it('a token naming several arrakis audiences → invalid_token', async () => {
    const f = await makeAppFixture();
    const nowSeconds = Math.floor(f.clock.nowMs() / 1000);
    const multi = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: f.keys.kid })
      .setIssuer('arrakis-gateway')
      .setAudience(['arrakis-api', 'arrakis-admin'])
      .setSubject('alice')
      .setIssuedAt(nowSeconds)
      .setExpirationTime(nowSeconds + 60)
      .sign(f.keys.privateKey);
    await expect401(await f.get('/v1/whoami', { token: multi }), 'invalid_token');
  });

  it('wrong issuer → wrong_issuer', async () => {
    const f = await makeAppFixture();
    const token = await f.token('arrakis-api', 'alice', { issuer: 'https://evil.example' });
    await expect401(await f.get('/v1/whoami', { token }), 'wrong_issuer');
  });

  it('expired → token_expired', async () => {
    const f = await makeAppFixture();
    const token = await mintExpiredToken({
      privateKey: f.keys.privateKey,
      kid: f.keys.kid,
      audience: 'arrakis-api',
      sub: 'a',
    });
    await expect401(await f.get('/v1/whoami', { token }), 'token_expired');
  });

  it('a token expires when the injected clock passes exp (+ tolerance)', async () => {
    const f = await makeAppFixture();
    const token = await f.token('arrakis-api', 'alice', { ttlSeconds: 60 });
    expect((await f.get('/v1/whoami', { token })).status).toBe(200);
    f.clock.advance(66_000);
    await expect401(await f.get('/v1/whoami', { token }), 'token_expired');
  });

  it('issued longer ago than JWT_MAX_TOKEN_AGE_SECONDS → token_too_old, even when exp is later', async () => {
    const f = await makeAppFixture({ env: { JWT_MAX_TOKEN_AGE_SECONDS: '600' } });
    const token = await f.token('arrakis-api', 'alice', { ttlSeconds: 3600 });
    expect((await f.get('/v1/whoami', { token })).status).toBe(200);
    f.clock.advance(606_000);
    await expect401(await f.get('/v1/whoami', { token }), 'token_too_old');
  });

  it('iat in the future → invalid_token; nbf in the future → token_not_yet_valid', async () => {
    const f = await makeAppFixture();
    const nowSeconds = Math.floor(f.clock.nowMs() / 1000);
    const future = await f.token('arrakis-api', 'alice', { iat: nowSeconds + 600 });
    await expect401(await f.get('/v1/whoami', { token: future }), 'invalid_token');
    const notYet = await f.token('arrakis-api', 'alice', { claims: { nbf: nowSeconds + 600 } });
    await expect401(await f.get('/v1/whoami', { token: notYet }), 'token_not_yet_valid');
  });

  it('missing exp, iat or sub → invalid_token', async () => {
    const f = await makeAppFixture();
    const nowSeconds = Math.floor(f.clock.nowMs() / 1000);
    const base = () =>
      new SignJWT({})
        .setProtectedHeader({ alg: 'ES256', kid: f.keys.kid })
        .setIssuer('arrakis-gateway')
        .setAudience('arrakis-api');
    const noExp = await base().setSubject('a').setIssuedAt(nowSeconds).sign(f.keys.privateKey);
    const noIat = await base()
      .setSubject('a')
      .setExpirationTime(nowSeconds + 60)
      .sign(f.keys.privateKey);
    const noSub = await base()
      .setIssuedAt(nowSeconds)
      .setExpirationTime(nowSeconds + 60)
      .sign(f.keys.privateKey);
    for (const token of [noExp, noIat, noSub]) await expect401(await f.get('/v1/whoami', { token }), 'invalid_token');
  });

  it('unknown kid → unknown_key; right kid but another key → invalid_token', async () => {
    const f = await makeAppFixture();
    const stranger = await generateTestKeyPair({ kid: 'not-ours' });
    const unknown = await mintTestToken({
      privateKey: stranger.privateKey,
      kid: 'not-ours',
      audience: 'arrakis-api',
      sub: 'a',
    });
    await expect401(await f.get('/v1/whoami', { token: unknown }), 'unknown_key');
    const impostor = await mintTestToken({
      privateKey: stranger.privateKey,
      kid: f.keys.kid,
      audience: 'arrakis-api',
      sub: 'a',
    });
    await expect401(await f.get('/v1/whoami', { token: impostor }), 'invalid_token');
  });

  it('rewritten claims under the old signature → invalid_token', async () => {
    const f = await makeAppFixture();
    const forged = tamperTokenClaims(await f.token('arrakis-api'), { aud: 'arrakis-admin', scope: 'admin' });
    await expect401(await f.get('/v1/admin/whoami', { token: forged }), 'invalid_token');
  });

  it('a typ other than an access token type → invalid_token', async () => {
    const f = await makeAppFixture();
    const token = await f.token('arrakis-api', 'alice', { typ: 'anchor+jwt' });
    await expect401(await f.get('/v1/whoami', { token }), 'invalid_token');
  });

  it('a malformed scope claim → invalid_token', async () => {
    const f = await makeAppFixture();
    const token = await f.token('arrakis-admin', 'root', { claims: { scope: { admin: true } } });
    await expect401(await f.get('/v1/admin/whoami', { token }), 'invalid_token');
  });

  it('a header that is not JSON → invalid_token (never a 500)', async () => {
    const f = await makeAppFixture();
    const token = `${base64url.encode('{not json')}.${base64url.encode('{}')}.${base64url.encode('sig')}`;
    await expect401(await f.get('/v1/whoami', { token }), 'invalid_token');
  });
});

describe('JWT auth: scopes and key sources', () => {
  it('a route requiring a scope answers 403 insufficient_scope without it', async () => {
    const f = await makeAppFixture();
    const auth = createAuth({
      keys: (await resolveAuthKeys(f.config)).resolver,
      issuer: 'arrakis-gateway',
      algorithms: ['ES256'],
      maxTokenAgeSeconds: 3600,
      clock: f.clock,
    });
    f.app.get('/v1/test-scoped', auth.require(['arrakis-admin'], { scopes: ['rules:approve'] }), (c) =>
      c.json({ sub: (c as unknown as { var: AuthedEnv['Variables'] }).var.principal.sub }),
    );
    const without = await f.get('/v1/test-scoped', {
      token: await f.token('arrakis-admin', 'root', { scope: 'admin' }),
    });
    expect(without.status).toBe(403);
    expect(without.headers.get('www-authenticate')).toContain('insufficient_scope');
    expect(errorBodySchema.parse(await without.json())).toMatchObject({
      error: 'insufficient_scope',
      details: { required: ['rules:approve'], granted: ['admin'] },
    });
    const withScope = await f.get('/v1/test-scoped', {
      token: await f.token('arrakis-admin', 'root', { scope: 'admin rules:approve' }),
    });
    expect(withScope.status).toBe(200);
    expect(await withScope.json()).toEqual({ sub: 'root' });
  });

  it('anyScope admits a token holding one of the scopes; scopedAudiences limits the rule to those audiences', async () => {
    const f = await makeAppFixture();
    const auth = createAuth({
      keys: (await resolveAuthKeys(f.config)).resolver,
      issuer: 'arrakis-gateway',
      algorithms: ['ES256'],
      maxTokenAgeSeconds: 3600,
      clock: f.clock,
    });
    const options = { anyScope: ['ledger:read', 'admin'], scopedAudiences: ['arrakis-admin'] as const };
    f.app.get('/v1/test-any', auth.require(['arrakis-api', 'arrakis-admin'], options), (c) => c.json({ ok: true }));
    const status = async (audience: string, scope?: string) =>
      (await f.get('/v1/test-any', { token: await f.token(audience, 'x', scope === undefined ? {} : { scope }) }))
        .status;
    expect(await status('arrakis-admin', 'ledger:read')).toBe(200);
    expect(await status('arrakis-admin', 'other admin')).toBe(200);
    expect(await status('arrakis-admin')).toBe(403);
    expect(await status('arrakis-admin', 'ledger:grant Admin x,admin')).toBe(403);
    expect(await status('arrakis-api')).toBe(200);
    const denied = await f.get('/v1/test-any', {
      token: await f.token('arrakis-admin', 'x', { scope: 'ledger:grant' }),
    });
    expect(errorBodySchema.parse(await denied.json())).toMatchObject({
      error: 'insufficient_scope',
      details: { required: ['ledger:read or admin'], granted: ['ledger:grant'] },
    });
  });

  it('createAuth refuses bad scope requirements when a route is built', () => {
    const auth = createAuth({
      keys: async () => new Uint8Array(),
      issuer: 'i',
      algorithms: ['ES256'],
      maxTokenAgeSeconds: 60,
      clock: { nowMs: () => 0 },
    });
    expect(() => auth.require(['arrakis-admin'], { anyScope: [] })).toThrow(/anyScope must name at least one/);
    expect(() => auth.require(['arrakis-admin'], { scopes: ['has space'] })).toThrow(/invalid scope/);
    expect(() => auth.require(['arrakis-admin'], { anyScope: ['a'], scopedAudiences: ['arrakis-api'] })).toThrow(
      /not one of the route's audiences/,
    );
  });

  it('createAuth refuses an empty or unsafe algorithm allowlist when built', () => {
    const base = { keys: async () => new Uint8Array(), issuer: 'i', maxTokenAgeSeconds: 60, clock: { nowMs: () => 0 } };
    expect(() => createAuth({ ...base, algorithms: [] })).toThrow(/algorithms must not be empty/);
    expect(() => createAuth({ ...base, algorithms: ['HS256' as 'ES256'] })).toThrow(/HS256 is not allowed/);
    expect(() => createAuth({ ...base, algorithms: ['ES256'] }).require([])).toThrow(/at least one audience/);
  });

  it('verifies against a remote JWKS (JWT_JWKS_URL), and answers 503 auth_unavailable when it is unreachable', async () => {
    const keys = await generateTestKeyPair();
    const jwksServer = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [keys.publicJwk] }));
    });
    await new Promise<void>((r) => jwksServer.listen(0, '127.0.0.1', () => r()));
    const port = (jwksServer.address() as AddressInfo).port;
    try {
      const config = parseConfig({ NODE_ENV: 'test', JWT_JWKS_URL: `http://127.0.0.1:${port}/jwks.json` });
      const remote = await resolveAuthKeys(config);
      expect(remote.source).toBe('jwks-url');
      const f = await makeAppFixture({ keys, authKeys: remote.resolver });
      expect((await f.get('/v1/whoami', { token: await f.token('arrakis-api') })).status).toBe(200);

      const down = parseConfig({ NODE_ENV: 'test', JWT_JWKS_URL: 'http://127.0.0.1:9/jwks.json' });
      const unreachable = await makeAppFixture({ keys, authKeys: (await resolveAuthKeys(down)).resolver });
      const response = await unreachable.get('/v1/whoami', { token: await unreachable.token('arrakis-api') });
      expect(response.status).toBe(503);
      expect(errorBodySchema.parse(await response.json()).error).toBe('auth_unavailable');
    } finally {
      await new Promise((r) => jwksServer.close(r));
    }
  });
});

describe('JWT auth: verified tokens reused', () => {
  async function counted(nowMs: { value: number }, maxTokenAgeSeconds = 3600) {
    const keys = await generateTestKeyPair();
    const jwks = createLocalJWKSet({ keys: [keys.publicJwk] });
    let resolved = 0;
    const auth = createAuth({
      keys: async (header, token) => {
        resolved += 1;
        return jwks(header, token);
      },
      issuer: 'arrakis-gateway',
      algorithms: ['ES256'],
      maxTokenAgeSeconds,
      clock: { nowMs: () => nowMs.value },
    });
    const mint = (options: { ttlSeconds?: number; iat?: number; claims?: Record<string, unknown> } = {}) =>
      mintTestToken({
        privateKey: keys.privateKey,
        kid: keys.kid,
        audience: 'arrakis-api',
        sub: 'alice',
        iat: Math.floor(nowMs.value / 1000),
        ...options,
      });
    return { auth, mint, resolvedCount: () => resolved };
  }
  const code = (promise: Promise<unknown>) =>
    promise.then(
      () => 'accepted',
      (error: { code?: string }) => error.code,
    );

  it('checks the signature of a token once for the same audiences, and every time for others', async () => {
    const now = { value: Date.UTC(2026, 11, 6, 12) };
    const { auth, mint, resolvedCount } = await counted(now);
    const token = await mint();
    const first = await auth.verify(token, ['arrakis-api']);
    expect(await auth.verify(token, ['arrakis-api'])).toBe(first);
    expect(resolvedCount()).toBe(1);
    expect(Object.isFrozen(first) && Object.isFrozen(first.scopes)).toBe(true);
    // Another audience list is another entry: the refusal is jose's, after a signature check.
    expect(await code(auth.verify(token, ['arrakis-internal']))).toBe('wrong_audience');
    expect(await code(auth.verify(token, ['arrakis-internal']))).toBe('wrong_audience');
    expect(resolvedCount()).toBe(3);
  });

  it('refuses a reused token once it expires or is too old, and checks its signature again past the reuse limit', async () => {
    const now = { value: Date.UTC(2026, 11, 6, 12) };
    const { auth, mint, resolvedCount } = await counted(now, 120);
    const nowSeconds = () => Math.floor(now.value / 1000);
    // exp + tolerance 15 s away: reused until then, then jose's token_expired.
    const shortLived = await mint({ ttlSeconds: 10 });
    await auth.verify(shortLived, ['arrakis-api']);
    now.value += (10 + clockToleranceSeconds) * 1000 - 1;
    await auth.verify(shortLived, ['arrakis-api']);
    expect(resolvedCount()).toBe(1);
    now.value += 1;
    expect(await code(auth.verify(shortLived, ['arrakis-api']))).toBe('token_expired');
    // iat + max age + tolerance 15 s away (exp later): reused until then; from there jose decides (it admits that
    // last second: an age of max + tolerance), then token_too_old.
    const aging = await mint({ iat: nowSeconds() - 110, ttlSeconds: 3600 });
    await auth.verify(aging, ['arrakis-api']);
    const agingChecks = resolvedCount();
    now.value += 15_000 - 1;
    await auth.verify(aging, ['arrakis-api']);
    expect(resolvedCount()).toBe(agingChecks);
    now.value += 1;
    expect(await code(auth.verify(aging, ['arrakis-api']))).toBe('accepted');
    expect(resolvedCount()).toBe(agingChecks + 1);
    now.value += 1000;
    expect(await code(auth.verify(aging, ['arrakis-api']))).toBe('token_too_old');
    // A fresh token: reused for verifiedTokenReuseMsMax, then its signature is checked again.
    const fresh = await mint({ ttlSeconds: 3600 });
    await auth.verify(fresh, ['arrakis-api']);
    const freshChecks = resolvedCount();
    now.value += verifiedTokenReuseMsMax - 1;
    await auth.verify(fresh, ['arrakis-api']);
    expect(resolvedCount()).toBe(freshChecks);
    now.value += 1;
    await auth.verify(fresh, ['arrakis-api']);
    expect(resolvedCount()).toBe(freshChecks + 1);
  });

  it('never keeps a refused token, and keeps at most verifiedTokensMax tokens (the oldest goes first)', async () => {
    const now = { value: Date.UTC(2026, 11, 6, 12) };
    const { auth, mint, resolvedCount } = await counted(now);
    const notYet = await mint({ claims: { nbf: Math.floor(now.value / 1000) + 60 } });
    expect(await code(auth.verify(notYet, ['arrakis-api']))).toBe('token_not_yet_valid');
    expect(await code(auth.verify(notYet, ['arrakis-api']))).toBe('token_not_yet_valid');
    expect(resolvedCount()).toBe(2);
    // A clock that goes back past iat − tolerance: the reused token is checked again, and jose refuses it.
    const issuedNow = await mint();
    await auth.verify(issuedNow, ['arrakis-api']);
    const before = resolvedCount();
    now.value -= (clockToleranceSeconds + 1) * 1000;
    expect(await code(auth.verify(issuedNow, ['arrakis-api']))).not.toBe('accepted');
    expect(resolvedCount()).toBe(before + 1);
    now.value += (clockToleranceSeconds + 1) * 1000;
    const verified = createVerifiedTokens();
    const window = {
      expiresAtSeconds: now.value / 1000 + 300,
      issuedAtSeconds: now.value / 1000,
      notBeforeSeconds: undefined,
      maxTokenAgeSeconds: 3600,
      clockToleranceSeconds,
    };
    const principal = await auth.verify(await mint(), ['arrakis-api']);
    for (let i = 0; i <= verifiedTokensMax; i += 1) verified.set(`t${i}`, principal, window, now.value);
    expect(verified.get('t0', now.value)).toBeUndefined();
    expect(verified.get('t1', now.value)).toBe(principal);
    expect(verified.get(`t${verifiedTokensMax}`, now.value)).toBe(principal);
  });
});
