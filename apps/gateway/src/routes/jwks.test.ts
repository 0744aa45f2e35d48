import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { anchorOfBody, nftBody, verifyWithAppJwks } from '../testing/identity-helpers.js';
import { type LedgerAppFixture, makeLedgerAppFixture } from '../testing/ledger-fixture.js';

describe('GET /.well-known/jwks.json', () => {
  let f: LedgerAppFixture;
  beforeAll(async () => {
    f = await makeLedgerAppFixture();
  });
  afterAll(async () => {
    await f.close();
  });

  it('publishes the anchor-signing public keys: no private part, kid, alg, use, cacheable, no token needed', async () => {
    const response = await f.get('/.well-known/jwks.json');
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('public, max-age=60');
    const jwks = (await response.json()) as { keys: Record<string, unknown>[] };
    expect(jwks.keys.length).toBe(1);
    const [key] = jwks.keys;
    expect(key).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    expect(typeof key?.kid).toBe('string');
    expect(key).not.toHaveProperty('d');
    // Not the bearer-token verification key of the fixture.
    expect(key?.kid).not.toBe(f.keys.kid);
  });

  it('verifies the anchor tokens the gateway issues, and is listed in the OpenAPI document', async () => {
    const user = await f.userAccount('jwks');
    const nft = nftBody();
    expect((await f.post(`/v1/accounts/${user.accountId}/anchor`, { token: f.tokens.admin, json: nft })).status).toBe(
      201,
    );
    const issued = await f.post(`/v1/accounts/${user.accountId}/anchor-token`, { token: user.token });
    const { token } = (await issued.json()) as { token: string };
    const claims = await verifyWithAppJwks(f, token, { accountId: user.accountId, anchor: anchorOfBody(nft) });
    expect(claims.accountId).toBe(user.accountId);
    const spec = (await (await f.get('/openapi.json')).json()) as { paths: Record<string, unknown> };
    for (const path of [
      '/.well-known/jwks.json',
      '/api/internal/verify-anchor',
      '/v1/accounts/{id}/anchor',
      '/v1/accounts/{id}/anchor/rotations',
      '/v1/anchor-rotations/{rid}/approve',
      '/v1/accounts/{id}/anchor-token',
    ]) {
      expect(spec.paths, path).toHaveProperty([path]);
    }
  });
});
