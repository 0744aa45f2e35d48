/**
 * upstreamAuth() against a real JWKS: a Hono app serving a key ring's public JWKS with @hono/node-server on
 * 127.0.0.1, as the gateway's `/.well-known/jwks.json`. The protected upstream app is called with `app.request()`.
 */
import type { AddressInfo } from 'node:net';
import { ManualClock } from '@arrakis/atomic-counter';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import type { JSONWebKeySet } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveAnchor } from '../anchor/derive-anchor.js';
import { issueAnchorToken } from '../tokens/anchor-token.js';
import { type AnchorSigningKey, createAnchorKeyRing, generateAnchorSigningKey } from '../tokens/key-ring.js';
import { type IssueUpstreamTokenOptions, issueUpstreamToken } from '../tokens/upstream-token.js';
import { type UpstreamAuthEnv, type UpstreamAuthOptions, upstreamAuth } from './upstream-auth.js';

const issuer = 'arrakis-gateway';
const audience = 'llm';
const anchor = deriveAnchor({
  chainId: 1n,
  contractAddress: '0x0000000000000000000000000000000000000a11',
  tokenId: 7n,
  ownerAddress: `0x${'3'.repeat(40)}`,
});

/** A real JWKS server: serves `published` and counts the fetches; `/broken` answers 500, `/not-json` text. */
interface JwksServer {
  origin: string;
  jwksUrl: string;
  fetches: number;
  published: JSONWebKeySet;
  close(): Promise<void>;
}

function startJwksServer(): Promise<JwksServer> {
  const state = { fetches: 0, published: { keys: [] } as JSONWebKeySet };
  const app = new Hono();
  app.get('/.well-known/jwks.json', (c) => {
    state.fetches += 1;
    return c.json(state.published);
  });
  app.get('/broken', (c) => c.json({ error: 'internal_error' }, 500));
  app.get('/not-json', (c) => c.text('<html>maintenance</html>'));
  return new Promise((resolve) => {
    const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, (info: AddressInfo) => {
      const origin = `http://127.0.0.1:${info.port}`;
      resolve(
        Object.assign(state, {
          origin,
          jwksUrl: `${origin}/.well-known/jwks.json`,
          close: () =>
            new Promise<void>((done) => {
              if ('closeAllConnections' in server) server.closeAllConnections();
              server.close(() => done());
            }),
        }),
      );
    });
  });
}

const clock = new ManualClock(Date.UTC(2026, 4, 1, 12));
let jwks: JwksServer;
let keyA: AnchorSigningKey;

beforeAll(async () => {
  jwks = await startJwksServer();
  keyA = (await generateAnchorSigningKey()).key;
  jwks.published = createAnchorKeyRing([keyA]).jwks();
});
afterAll(() => jwks.close());

function upstreamApp(overrides: Partial<UpstreamAuthOptions> = {}) {
  const app = new Hono<UpstreamAuthEnv>();
  app.use('/v1/*', upstreamAuth({ jwksUrl: jwks.jwksUrl, issuer, audience, clock, ...overrides }));
  app.post('/v1/chat/completions', (c) => {
    const upstream = c.get('upstream');
    return c.json({ ...upstream, holdMicro: upstream.holdMicro.toString() });
  });
  app.get('/health', (c) => c.text('ok'));
  return app;
}

function issue(overrides: Partial<IssueUpstreamTokenOptions> = {}) {
  return issueUpstreamToken({
    key: keyA,
    issuer,
    audience,
    accountId: 'acc_a',
    reservationId: 'res_1',
    meterId: 'llm-tokens',
    meterVersion: 3,
    holdMicro: 40_000n,
    anchor,
    ttlSeconds: 120,
    nowMs: clock.nowMs(),
    ...overrides,
  });
}

function call(app: Hono<UpstreamAuthEnv>, authorization?: string) {
  return app.request('/v1/chat/completions', {
    method: 'POST',
    headers: authorization === undefined ? {} : { authorization },
  });
}

describe('upstreamAuth()', () => {
  it('verifies the bearer token through the JWKS and sets the typed context variable `upstream`', async () => {
    const app = upstreamApp();
    const { token, tokenId, expiresAtMs } = await issue();
    const response = await call(app, `Bearer ${token}`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      accountId: 'acc_a',
      reservationId: 'res_1',
      meterId: 'llm-tokens',
      meterVersion: 3,
      holdMicro: '40000',
      anchor,
      tokenId,
      issuer,
      audience,
      issuedAtMs: expiresAtMs - 120_000,
      expiresAtMs,
      kid: keyA.kid,
    });
    // Routes outside the middleware are not protected; the scheme is case-insensitive.
    expect((await app.request('/health')).status).toBe(200);
    expect((await call(app, `bearer ${token}`)).status).toBe(200);
  });

  it('answers 401 missing_token without a bearer token, with WWW-Authenticate', async () => {
    const app = upstreamApp();
    for (const authorization of [undefined, '', 'Bearer', 'Bearer ', 'Basic YWxhZGRpbjpvcGVuc2VzYW1l']) {
      const response = await call(app, authorization);
      expect(response.status, String(authorization)).toBe(401);
      expect(await response.json()).toEqual({
        error: 'missing_token',
        message: 'send Authorization: Bearer <upstream token>',
      });
      expect(response.headers.get('www-authenticate')).toBe('Bearer realm="upstream"');
    }
  });

  it('answers 401 invalid_token, token_expired, wrong_audience for refused tokens', async () => {
    const app = upstreamApp();
    const garbage = await call(app, 'Bearer not.a.jwt');
    expect(garbage.status).toBe(401);
    expect(garbage.headers.get('www-authenticate')).toBe('Bearer realm="upstream", error="invalid_token"');
    expect(await garbage.json()).toMatchObject({ error: 'invalid_token', details: { reason: 'malformed' } });

    const other = await call(app, `Bearer ${(await issue({ audience: 'image-gen' })).token}`);
    expect(other.status).toBe(401);
    expect(await other.json()).toMatchObject({ error: 'wrong_audience', details: { reason: 'wrong_audience' } });

    const anchorToken = await issueAnchorToken({
      key: keyA,
      issuer,
      audience,
      accountId: 'acc_a',
      anchor,
      epoch: 1,
      nowMs: clock.nowMs(),
    });
    const wrongType = await call(app, `Bearer ${anchorToken.token}`);
    expect(await wrongType.json()).toMatchObject({ error: 'invalid_token', details: { reason: 'wrong_type' } });

    const { token } = await issue({ ttlSeconds: 60 });
    expect((await call(app, `Bearer ${token}`)).status).toBe(200);
    clock.advance(60_000 + 5_000);
    try {
      const expired = await call(app, `Bearer ${token}`);
      expect(expired.status).toBe(401);
      expect(await expired.json()).toMatchObject({ error: 'token_expired' });
    } finally {
      clock.set(Date.UTC(2026, 4, 1, 12));
    }
  });

  it('refetches the JWKS when a token names a new kid (key rotation), and keeps verifying the old key', async () => {
    const app = upstreamApp({ jwksCooldownMs: 0 });
    const oldToken = (await issue()).token;
    expect((await call(app, `Bearer ${oldToken}`)).status).toBe(200);
    const fetchesBefore = jwks.fetches;
    // Cached: a second call does not fetch.
    expect((await call(app, `Bearer ${oldToken}`)).status).toBe(200);
    expect(jwks.fetches).toBe(fetchesBefore);

    const keyB = (await generateAnchorSigningKey({ alg: 'EdDSA' })).key;
    const newToken = (await issue({ key: keyB })).token;
    // Before the gateway publishes keyB, its token is refused as signed by an unknown key.
    const early = await call(app, `Bearer ${newToken}`);
    expect(await early.json()).toMatchObject({ error: 'invalid_token', details: { reason: 'unknown_key' } });
    expect(jwks.fetches).toBe(fetchesBefore + 1);

    jwks.published = createAnchorKeyRing([keyB, keyA]).jwks();
    try {
      const rotated = await call(app, `Bearer ${newToken}`);
      expect(rotated.status).toBe(200);
      expect(((await rotated.json()) as { kid: string }).kid).toBe(keyB.kid);
      expect(jwks.fetches).toBe(fetchesBefore + 2);
      expect((await call(app, `Bearer ${oldToken}`)).status).toBe(200);
      expect(jwks.fetches).toBe(fetchesBefore + 2);
    } finally {
      jwks.published = createAnchorKeyRing([keyA]).jwks();
    }
  });

  it('does not refetch for an unknown kid within the cooldown (no fetch storm from forged kids)', async () => {
    const app = upstreamApp({ jwksCooldownMs: 600_000 });
    expect((await call(app, `Bearer ${(await issue()).token}`)).status).toBe(200);
    const fetchesBefore = jwks.fetches;
    const stranger = (await generateAnchorSigningKey()).key;
    for (let i = 0; i < 3; i += 1) {
      const response = await call(app, `Bearer ${(await issue({ key: stranger })).token}`);
      expect(await response.json()).toMatchObject({ error: 'invalid_token', details: { reason: 'unknown_key' } });
    }
    expect(jwks.fetches).toBe(fetchesBefore);
  });

  it('answers 503 jwks_unavailable when the JWKS cannot be fetched or read', async () => {
    const { token } = await issue();
    const down = await startJwksServer();
    await down.close();
    for (const jwksUrl of [down.jwksUrl, `${jwks.origin}/broken`, `${jwks.origin}/not-json`]) {
      const response = await call(upstreamApp({ jwksUrl }), `Bearer ${token}`);
      expect(response.status, jwksUrl).toBe(503);
      expect(response.headers.get('retry-after')).toBe('5');
      expect(await response.json()).toEqual({
        error: 'jwks_unavailable',
        message: "the gateway's JWKS cannot be fetched; retry later",
      });
    }
  });

  it('verifies offline from the cached JWKS while the JWKS server is down', async () => {
    const server = await startJwksServer();
    server.published = createAnchorKeyRing([keyA]).jwks();
    const app = upstreamApp({ jwksUrl: server.jwksUrl, jwksCooldownMs: 0 });
    const { token } = await issue();
    expect((await call(app, `Bearer ${token}`)).status).toBe(200);
    await server.close();
    expect((await call(app, `Bearer ${token}`)).status).toBe(200);
    // A new kid needs a refetch (no cooldown here), which fails: 503, not a verdict on the token.
    const keyC = (await generateAnchorSigningKey()).key;
    const unknown = await call(app, `Bearer ${(await issue({ key: keyC })).token}`);
    expect(unknown.status).toBe(503);
  });

  it('uses the given fetch for the JWKS', async () => {
    const urls: string[] = [];
    const app = upstreamApp({
      fetch: (url, init) => {
        urls.push(url);
        return fetch(url, init);
      },
    });
    expect((await call(app, `Bearer ${(await issue()).token}`)).status).toBe(200);
    expect(urls).toEqual([jwks.jwksUrl]);
  });

  it('validates its options when built', () => {
    const base = { jwksUrl: jwks.jwksUrl, issuer, audience };
    expect(() => upstreamAuth({ ...base, jwksUrl: 'file:///etc/passwd' })).toThrow(/http/);
    expect(() => upstreamAuth({ ...base, jwksUrl: 'not a url' })).toThrow(/not a URL/);
    expect(() => upstreamAuth({ ...base, issuer: '' })).toThrow(/issuer/);
    expect(() => upstreamAuth({ ...base, audience: ' llm' })).toThrow(/audience/);
    expect(() => upstreamAuth({ ...base, clockToleranceSeconds: 301 })).toThrow(/clockToleranceSeconds/);
    expect(() => upstreamAuth({ ...base, jwksTimeoutMs: 0 })).toThrow(/jwksTimeoutMs/);
    expect(() => upstreamAuth({ ...base, jwksCooldownMs: -1 })).toThrow(/jwksCooldownMs/);
    expect(() => upstreamAuth({ ...base, fetch: 'fetch' as never })).toThrow(/fetch/);
  });
});
