import { randomBytes, randomUUID } from 'node:crypto';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';

/** Tokens the identity cases need: a service, and three admins (scope `admin`) with distinct subjects. */
export interface IdentityContractTokens {
  service: string;
  /** Binds the anchors (so it is their creator). */
  creator: string;
  /** Requests rotations. */
  requester: string;
  /** Approves rotations. */
  approver: string;
}

/** What the identity cases need: the gateway's base URL, its tokens, and its settings. */
export interface IdentityContractContext {
  baseUrl: () => string;
  tokens: () => IdentityContractTokens | Promise<IdentityContractTokens>;
  /** `JWT_ISSUER` of the gateway. Default `arrakis-gateway`. */
  issuer?: string;
  /** `ANCHOR_TOKEN_AUDIENCE`. Default `arrakis-services`. */
  anchorAudience?: string;
  /** `TRUST_THRESHOLD_MICRO`. Default `100000000`. */
  trustThresholdMicro?: string;
}

/** Longest anchor-token lifetime the contract accepts: 10 minutes. */
export const contractAnchorTokenTtlSecondsMax = 600;

interface RawResult {
  status: number;
  body: Record<string, unknown>;
}

/**
 * Registers the identity part of the gateway contract against a running gateway (no chain RPC needed): the JWKS,
 * binding (201, 200 on repeat, 409 `anchor_in_use`), anchor tokens verified through the JWKS URL, the live
 * verify-anchor answer, the trust threshold on reserves (403 `identity_anchor_required`), and four-eyes rotation
 * (403 `four_eyes_violation` for the requester and the creator, 200 for another admin).
 *
 * @example
 * ```ts
 * describe('identity', () => {
 *   describeIdentityContract({ baseUrl: () => gateway.url, tokens: () => tokens });
 * });
 * ```
 */
export function describeIdentityContract(context: IdentityContractContext): void {
  const issuer = context.issuer ?? 'arrakis-gateway';
  const audience = context.anchorAudience ?? 'arrakis-services';
  const threshold = BigInt(context.trustThresholdMicro ?? '100000000');

  async function call(method: string, path: string, token?: string, json?: unknown): Promise<RawResult> {
    const response = await fetch(`${context.baseUrl()}${path}`, {
      method,
      headers: {
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
        ...(json === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: json === undefined ? undefined : JSON.stringify(json),
    });
    const text = await response.text();
    return { status: response.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
  }

  function nft() {
    return {
      chainId: '1',
      contractAddress: `0x${randomBytes(20).toString('hex')}`,
      tokenId: String(1 + Math.floor(Math.random() * 1e9)),
      ownerAddress: `0x${randomBytes(20).toString('hex')}`,
    };
  }

  async function newAccount(label: string): Promise<string> {
    const t = await context.tokens();
    const created = await call('POST', '/v1/accounts', t.service, {
      entityType: 'contract',
      entityId: `ct-identity-${label}-${randomUUID()}`,
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    return created.body.id as string;
  }

  async function anchoredAccount(label: string): Promise<{ accountId: string; anchor: string }> {
    const t = await context.tokens();
    const accountId = await newAccount(label);
    const bound = await call('POST', `/v1/accounts/${accountId}/anchor`, t.creator, nft());
    expect(bound.status, JSON.stringify(bound.body)).toBe(201);
    return { accountId, anchor: bound.body.anchor as string };
  }

  describe('identity: JWKS and anchors', () => {
    it('GET /.well-known/jwks.json publishes ES256/EdDSA public keys with kid, without private parts', async () => {
      const jwks = await call('GET', '/.well-known/jwks.json');
      expect(jwks.status).toBe(200);
      const keys = jwks.body.keys as Record<string, unknown>[];
      expect(keys.length).toBeGreaterThan(0);
      for (const key of keys) {
        expect(['ES256', 'EdDSA']).toContain(key.alg);
        expect(typeof key.kid).toBe('string');
        expect(key).not.toHaveProperty('d');
      }
    });

    it('binds an anchor: 201, 200 on repeat, 409 anchor_in_use for another account', async () => {
      const t = await context.tokens();
      const accountId = await newAccount('bind');
      const body = nft();
      const first = await call('POST', `/v1/accounts/${accountId}/anchor`, t.creator, body);
      expect(first.status, JSON.stringify(first.body)).toBe(201);
      expect(first.body.anchor).toMatch(/^sha256:[0-9a-f]{64}$/);
      const again = await call('POST', `/v1/accounts/${accountId}/anchor`, t.creator, body);
      expect(again.status).toBe(200);
      expect(again.body.anchor).toBe(first.body.anchor);
      const other = await newAccount('bind-other');
      const taken = await call('POST', `/v1/accounts/${other}/anchor`, t.creator, body);
      expect(taken.status).toBe(409);
      expect(taken.body.error).toBe('anchor_in_use');
      expect((await call('GET', `/v1/accounts/${other}/anchor`, t.service)).body.error).toBe('anchor_not_found');
    });

    it('issues anchor tokens that verify through the JWKS URL alone', async () => {
      const t = await context.tokens();
      const { accountId, anchor } = await anchoredAccount('token');
      const issued = await call('POST', `/v1/accounts/${accountId}/anchor-token`, t.service);
      expect(issued.status, JSON.stringify(issued.body)).toBe(200);
      const token = issued.body.token as string;
      const jwks = createRemoteJWKSet(new URL(`${context.baseUrl()}/.well-known/jwks.json`));
      const { payload, protectedHeader } = await jwtVerify(token, jwks, {
        issuer,
        audience,
        algorithms: ['ES256', 'EdDSA'],
        typ: 'anchor+jwt',
      });
      expect(payload.sub).toBe(accountId);
      expect(payload.anchor).toBe(anchor);
      expect((payload.exp as number) - (payload.iat as number)).toBeLessThanOrEqual(contractAnchorTokenTtlSecondsMax);
      expect(typeof decodeProtectedHeader(token).kid).toBe('string');
      expect(protectedHeader.kid).toBeDefined();
      expect(Date.parse(issued.body.expiresAt as string)).toBe((payload.exp as number) * 1000);
    });

    it('POST /api/internal/verify-anchor: 200 for the current anchor, 403 {verified: false} otherwise', async () => {
      const t = await context.tokens();
      const { accountId, anchor } = await anchoredAccount('verify');
      const ok = await call('POST', '/api/internal/verify-anchor', t.service, { accountId, anchor });
      expect(ok.status).toBe(200);
      expect(ok.body).toMatchObject({ verified: true, anchorHash: anchor });
      const wrong = await call('POST', '/api/internal/verify-anchor', t.service, {
        accountId,
        anchor: `sha256:${'0'.repeat(64)}`,
      });
      expect(wrong.status).toBe(403);
      expect(wrong.body).toMatchObject({ verified: false, reason: 'anchor_mismatch' });
    });
  });

  describe('identity: trust policy and four-eyes rotation', () => {
    it('a reserve above the trust threshold needs an anchor (403 identity_anchor_required)', async () => {
      const t = await context.tokens();
      const accountId = await newAccount('trust');
      for (let i = 0; i < 2; i += 1) {
        const granted = await call('POST', `/v1/accounts/${accountId}/grants`, t.creator, {
          amountMicro: threshold.toString(),
          reason: 'contract test',
        });
        expect(granted.status, JSON.stringify(granted.body)).toBe(201);
      }
      const above = await call('POST', '/v1/reservations', t.service, {
        accountId,
        amountMicro: (threshold + 1n).toString(),
      });
      expect(above.status).toBe(403);
      expect(above.body.error).toBe('identity_anchor_required');
      const at = await call('POST', '/v1/reservations', t.service, { accountId, amountMicro: threshold.toString() });
      expect(at.status, JSON.stringify(at.body)).toBe(201);
    });

    it('rotation: the requester and the creator cannot approve; another admin can', async () => {
      const t = await context.tokens();
      const { accountId } = await anchoredAccount('rotation');
      const byCreator = await call('POST', `/v1/accounts/${accountId}/anchor/rotations`, t.creator, nft());
      expect(byCreator.status).toBe(403);
      expect(byCreator.body.error).toBe('four_eyes_violation');
      const target = nft();
      const requested = await call('POST', `/v1/accounts/${accountId}/anchor/rotations`, t.requester, target);
      expect(requested.status, JSON.stringify(requested.body)).toBe(202);
      const rid = requested.body.rotationId as string;
      for (const token of [t.requester, t.creator]) {
        const refused = await call('POST', `/v1/anchor-rotations/${rid}/approve`, token);
        expect(refused.status).toBe(403);
        expect(refused.body.error).toBe('four_eyes_violation');
      }
      const approved = await call('POST', `/v1/anchor-rotations/${rid}/approve`, t.approver);
      expect(approved.status, JSON.stringify(approved.body)).toBe(200);
      expect(approved.body).toMatchObject({ status: 'approved', anchor: { epoch: 2 } });
      const current = await call('GET', `/v1/accounts/${accountId}/anchor`, t.service);
      expect(current.body.anchor).toBe(requested.body.toAnchor);
    });
  });
}
