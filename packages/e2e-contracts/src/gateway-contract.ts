import { type CryptoKey, decodeJwt, type JWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { describeHttpContract, type GatewayHttpContractOptions } from './gateway-http-contract.js';
import { describeInputContract } from './gateway-input-contract.js';
import { describeLedgerContract } from './gateway-ledger-contract.js';
import { describeRevenueRuleContract } from './gateway-revenue-contract.js';
import { createGatewayClient, type GatewayClient, type GatewayResult } from './http-client.js';
import {
  forgeAlgNoneToken,
  forgeHs256WithPublicKeyToken,
  garbageToken,
  generateTestKeyPair,
  mintExpiredToken,
  mintTestToken,
  mintWrongAudienceToken,
  type TestSigningAlgorithm,
  tamperTokenClaims,
} from './jwt.js';
import { type GatewayAudience, whoamiBodySchema } from './schemas.js';

/** Paths every gateway's `/openapi.json` documents. */
export const gatewayContractPaths = [
  '/health',
  '/ready',
  '/metrics',
  '/v1/whoami',
  '/v1/admin/whoami',
  '/v1/accounts',
  '/v1/accounts/{id}',
  '/v1/accounts/{id}/balance',
  '/v1/accounts/{id}/lots',
  '/v1/accounts/{id}/entries',
  '/v1/accounts/{id}/grants',
  '/v1/reservations',
  '/v1/reservations/{id}',
  '/v1/reservations/{id}/finalize',
  '/v1/reservations/{id}/release',
  '/v1/reservations/{id}/distribution',
  '/v1/events',
  '/v1/meters',
  '/v1/meters/{id}',
  '/v1/meters/{id}/versions',
  '/v1/accounts/{id}/spend-caps',
  '/v1/credit-packs',
  '/v1/credit-packs/{packId}/purchase',
  '/v1/payments',
  '/v1/payments/{id}',
  '/v1/revenue-rules',
  '/v1/revenue-rules/active',
  '/v1/revenue-rules/{id}',
  '/v1/revenue-rules/{id}/submit',
  '/v1/revenue-rules/{id}/approve',
  '/v1/revenue-rules/{id}/reject',
  '/v1/revenue-rules/{id}/activate-now',
  '/v1/revenue-rules/{id}/audit',
  '/v1/revenue/totals',
  '/v1/accounts/{id}/anchor',
  '/v1/accounts/{id}/anchor/audit',
  '/v1/accounts/{id}/anchor/rotations',
  '/v1/anchor-rotations/{rid}',
  '/v1/anchor-rotations/{rid}/approve',
  '/v1/accounts/{id}/anchor-token',
  '/api/internal/verify-anchor',
  '/.well-known/jwks.json',
] as const;

/** One valid token per audience, accepted by the gateway under test. */
export interface GatewayContractTokens {
  /** `aud: arrakis-api`. */
  user: string;
  /** `aud: arrakis-internal`. */
  service: string;
  /** `aud: arrakis-admin`, with the scope `admin` (the ledger cases grant, read and price; reads need a scope). */
  admin: string;
}

/** The gateway's signing key, when the test has it: enables the expired, too-old, wrong-issuer and unknown-key cases. */
export interface GatewayContractSigner {
  privateKey: CryptoKey | JWK;
  kid?: string;
  alg?: TestSigningAlgorithm;
  /** The gateway's `JWT_ISSUER`. Default `arrakis-gateway`. */
  issuer?: string;
}

/** Options of {@link describeGatewayContract}. */
export interface GatewayContractOptions extends GatewayHttpContractOptions {
  /** Base URL of the running gateway; read when the tests run (after `beforeAll` started it). */
  baseUrl: () => string;
  /** Valid tokens, one per audience; read when the tests run. */
  tokens: () => GatewayContractTokens | Promise<GatewayContractTokens>;
  /** The signing key; without it the cases that must mint with the real key are skipped. */
  signer?: () => GatewayContractSigner | Promise<GatewayContractSigner>;
  /** The gateway's public JWK; without it the HS256 key-confusion case is skipped. */
  publicJwk?: () => JWK | Promise<JWK>;
  /** The gateway's `JWT_MAX_TOKEN_AGE_SECONDS`. Default 3600. */
  maxTokenAgeSeconds?: number;
  /** Names `/ready` must list. Default `['counters', 'ledger']`. */
  dependencies?: readonly string[];
  /** A fetch implementation (default: global `fetch`). */
  fetch?: typeof fetch;
}

function expectAuthRejection(result: GatewayResult<unknown>, code: string): void {
  expect(result.ok, `expected a 401 ${code}, got ${result.status} ${JSON.stringify(result.body)}`).toBe(false);
  expect(result.status).toBe(401);
  if (!result.ok) {
    expect(result.body.error).toBe(code);
    expect(result.body.message.length).toBeGreaterThan(0);
  }
  expect(result.headers.get('www-authenticate') ?? '').toMatch(/^Bearer\b/);
  expect(result.headers.get('content-type') ?? '').toMatch(/^application\/json/);
}

/**
 * Registers a vitest suite that checks a running gateway at `baseUrl()` against the HTTP contract:
 * probes, OpenAPI 3.1 document, offline docs page, JSON 404, every auth rejection a 401 with the error shape and
 * a stable code, a working token per audience, and the ledger routes (accounts, grants, balances, lots, entries
 * pagination, reserve → finalize, reserve → release, 402 insufficient credits, idempotent replay, 400s, 403s,
 * 404s and 409s, the event feed). The ledger cases create their own accounts (entity type `contract`, random ids)
 * and the user token's own account, so they can run repeatedly against a long-lived gateway.
 *
 * @example
 * ```ts
 * import { describeGatewayContract } from '@arrakis/e2e-contracts';
 *
 * describeGatewayContract('staging gateway', {
 *   baseUrl: () => process.env.GATEWAY_URL!,
 *   tokens: () => ({ user: process.env.USER_TOKEN!, service: process.env.SERVICE_TOKEN!, admin: process.env.ADMIN_TOKEN! }),
 * });
 * ```
 */
export function describeGatewayContract(name: string, options: GatewayContractOptions): void {
  const maxTokenAgeSeconds = options.maxTokenAgeSeconds ?? 3600;
  const dependencies = options.dependencies ?? ['counters', 'ledger'];
  const client = (): GatewayClient => createGatewayClient({ baseUrl: options.baseUrl(), fetch: options.fetch });

  async function userClaims(): Promise<{ iss: string; sub: string }> {
    const claims = decodeJwt((await options.tokens()).user);
    return { iss: String(claims.iss), sub: String(claims.sub) };
  }

  describe(`gateway contract: ${name}`, () => {
    describe('probes and documents', () => {
      it('GET /health answers 200 {status: ok} with a request id', async () => {
        const result = await client().health();
        expect(result.status).toBe(200);
        expect(result.ok && result.body.status).toBe('ok');
        expect(result.headers.get('x-request-id') ?? '').not.toBe('');
      });

      it('echoes a well-formed incoming X-Request-Id', async () => {
        const requestId = `contract-${Date.now()}`;
        const result = await client().health({ headers: { 'x-request-id': requestId } });
        expect(result.headers.get('x-request-id')).toBe(requestId);
      });

      it('GET /ready answers 200 with every dependency listed and up', async () => {
        const result = await client().ready();
        expect(result.status, JSON.stringify(result.body)).toBe(200);
        if (!result.ok) return;
        expect(result.body.status).toBe('ready');
        const names = result.body.dependencies.map((d) => d.name);
        for (const dependency of dependencies) expect(names).toContain(dependency);
        for (const dependency of result.body.dependencies) expect(dependency.status).toBe('up');
      });

      it('GET /openapi.json is an OpenAPI 3.1 document with the known paths', async () => {
        const result = await client().openapi();
        expect(result.status).toBe(200);
        if (!result.ok) return;
        expect(result.body.openapi.startsWith('3.1.')).toBe(true);
        for (const path of gatewayContractPaths) {
          expect(Object.keys(result.body.paths)).toContain(path);
          expect(Object.keys(result.body.paths[path] ?? {}).length).toBeGreaterThan(0);
        }
      });

      it('GET /docs serves an HTML page whose assets come from the gateway itself', async () => {
        const gateway = client();
        const page = await gateway.raw('/docs');
        expect(page.status).toBe(200);
        expect(page.headers.get('content-type') ?? '').toMatch(/^text\/html/);
        expect(page.text).toMatch(/<html/i);
        const assets = [...page.text.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] ?? '');
        expect(assets.length).toBeGreaterThan(0);
        for (const asset of assets) {
          expect(asset, 'docs must work offline: no absolute asset URLs').not.toMatch(/^(?:[a-z]+:)?\/\//i);
          const url = new URL(asset, `${gateway.baseUrl}/docs`);
          const response = await gateway.raw(url.pathname);
          expect(response.status, `asset ${url.pathname}`).toBe(200);
        }
      });

      it('GET /metrics serves Prometheus text', async () => {
        const result = await client().raw('/metrics');
        expect(result.status).toBe(200);
        expect(result.headers.get('content-type') ?? '').toMatch(/^text\/plain/);
        expect(result.text).toMatch(/^# (HELP|TYPE) /m);
        expect(result.text).toContain('http_requests_total');
      });

      it('an unknown route is a 404 with the JSON error shape', async () => {
        const result = await client().request('/v1/no-such-route-contract', { schema: whoamiBodySchema });
        expect(result.status).toBe(404);
        expect(result.ok).toBe(false);
        if (!result.ok) expect(result.body.error).toBe('not_found');
      });
    });

    describe('authentication rejections are 401 with a stable code', () => {
      it('no Authorization header → missing_token', async () => {
        expectAuthRejection(await client().whoami({ token: null }), 'missing_token');
      });

      it('a non-Bearer Authorization header → invalid_token', async () => {
        const result = await client().whoami({ token: null, headers: { authorization: 'Basic YWxpY2U6c2VjcmV0' } });
        expectAuthRejection(result, 'invalid_token');
      });

      it('a garbage token → invalid_token', async () => {
        expectAuthRejection(await client().whoami({ token: garbageToken }), 'invalid_token');
      });

      it('alg none → invalid_token', async () => {
        const { iss, sub } = await userClaims();
        const token = forgeAlgNoneToken({ issuer: iss, audience: 'arrakis-admin', sub, scope: 'admin' });
        expectAuthRejection(await client().adminWhoami({ token }), 'invalid_token');
      });

      it('a valid token with rewritten claims (old signature) → invalid_token', async () => {
        const forged = tamperTokenClaims((await options.tokens()).user, { aud: 'arrakis-admin', scope: 'admin' });
        expectAuthRejection(await client().adminWhoami({ token: forged }), 'invalid_token');
      });

      it('a user token on an admin route → wrong_audience', async () => {
        expectAuthRejection(await client().adminWhoami({ token: (await options.tokens()).user }), 'wrong_audience');
      });

      it('a service token on an admin route → wrong_audience', async () => {
        expectAuthRejection(await client().adminWhoami({ token: (await options.tokens()).service }), 'wrong_audience');
      });

      it.skipIf(options.publicJwk === undefined)(
        'HS256 signed with the public key as the secret → invalid_token (skipped without publicJwk)',
        async () => {
          const { iss, sub } = await userClaims();
          const publicJwk = await options.publicJwk?.();
          if (publicJwk === undefined) throw new Error('publicJwk is required');
          const token = await forgeHs256WithPublicKeyToken(publicJwk, { issuer: iss, audience: 'arrakis-api', sub });
          expectAuthRejection(await client().whoami({ token }), 'invalid_token');
        },
      );

      describe.skipIf(options.signer === undefined)('with the signing key (skipped without signer)', () => {
        async function signer(): Promise<GatewayContractSigner> {
          const value = await options.signer?.();
          if (value === undefined) throw new Error('signer is required');
          return value;
        }

        it('expired → token_expired', async () => {
          const s = await signer();
          const token = await mintExpiredToken({ ...s, audience: 'arrakis-api', sub: 'contract-user' });
          expectAuthRejection(await client().whoami({ token }), 'token_expired');
        });

        it('issued longer ago than the maximum token age → token_too_old', async () => {
          const s = await signer();
          const iat = Math.floor(Date.now() / 1000) - maxTokenAgeSeconds - 120;
          const token = await mintTestToken({
            ...s,
            audience: 'arrakis-api',
            sub: 'contract-user',
            iat,
            ttlSeconds: maxTokenAgeSeconds + 3600,
          });
          expectAuthRejection(await client().whoami({ token }), 'token_too_old');
        });

        it('wrong issuer → wrong_issuer', async () => {
          const s = await signer();
          const token = await mintTestToken({
            ...s,
            issuer: 'someone-else',
            audience: 'arrakis-api',
            sub: 'contract-user',
          });
          expectAuthRejection(await client().whoami({ token }), 'wrong_issuer');
        });

        it('an audience the gateway does not serve → wrong_audience', async () => {
          const s = await signer();
          const token = await mintWrongAudienceToken({ ...s, sub: 'contract-user' });
          expectAuthRejection(await client().whoami({ token }), 'wrong_audience');
        });

        it('signed by an unknown key with an unknown kid → unknown_key', async () => {
          const s = await signer();
          const stranger = await generateTestKeyPair({ kid: 'contract-unknown-kid' });
          const token = await mintTestToken({
            privateKey: stranger.privateKey,
            kid: stranger.kid,
            issuer: s.issuer,
            audience: 'arrakis-api',
            sub: 'contract-user',
          });
          expectAuthRejection(await client().whoami({ token }), 'unknown_key');
        });

        it('signed by another key under the right kid → invalid_token', async () => {
          const s = await signer();
          const stranger = await generateTestKeyPair();
          const token = await mintTestToken({
            privateKey: stranger.privateKey,
            kid: s.kid,
            issuer: s.issuer,
            audience: 'arrakis-api',
            sub: 'contract-user',
          });
          expectAuthRejection(await client().whoami({ token }), 'invalid_token');
        });
      });
    });

    describe('a valid token per audience is accepted', () => {
      const cases: { audience: GatewayAudience; token: keyof GatewayContractTokens }[] = [
        { audience: 'arrakis-api', token: 'user' },
        { audience: 'arrakis-internal', token: 'service' },
        { audience: 'arrakis-admin', token: 'admin' },
      ];
      for (const { audience, token } of cases) {
        it(`GET /v1/whoami with a ${token} token → 200 audience ${audience}`, async () => {
          const result = await client().whoami({ token: (await options.tokens())[token] });
          expect(result.status, JSON.stringify(result.body)).toBe(200);
          if (!result.ok) return;
          expect(result.body.audience).toBe(audience);
          expect(result.body.sub.length).toBeGreaterThan(0);
          expect(Date.parse(result.body.expiresAt)).toBeGreaterThan(Date.now());
        });
      }

      it('GET /v1/admin/whoami with the admin token → 200 with its scopes', async () => {
        const token = (await options.tokens()).admin;
        const result = await client().adminWhoami({ token });
        expect(result.status, JSON.stringify(result.body)).toBe(200);
        if (!result.ok) return;
        expect(result.body.audience).toBe('arrakis-admin');
        const scope = decodeJwt(token).scope;
        const expected = typeof scope === 'string' ? scope.split(' ').filter((s) => s !== '') : [];
        expect(result.body.scopes).toEqual(expected);
      });
    });

    describeLedgerContract({
      client,
      tokens: options.tokens,
      ...(options.signer === undefined ? {} : { signer: options.signer }),
    });
    describeRevenueRuleContract({
      client,
      tokens: options.tokens,
      ...(options.signer === undefined ? {} : { signer: options.signer }),
    });
    describeInputContract({
      client,
      tokens: options.tokens,
      ...(options.signer === undefined ? {} : { signer: options.signer }),
    });
    describeHttpContract({
      client,
      tokens: options.tokens,
      ...(options.signer === undefined ? {} : { signer: options.signer }),
      ...(options.httpLimits === undefined ? {} : { limits: options.httpLimits }),
    });
  });
}
