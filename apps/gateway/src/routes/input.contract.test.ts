// The input part of the gateway contract (@arrakis/e2e-contracts: free text, Idempotency-Key on anchor writes), run in
// process against `app.request` (the process run is in server.e2e.test.ts, through describeGatewayContract).
import { createGatewayClient, describeInputContract } from '@arrakis/e2e-contracts';
import { afterAll, beforeAll, beforeEach, describe } from 'vitest';
import { type LedgerAppFixture, makeLedgerAppFixture } from '../testing/ledger-fixture.js';

describe(`input contract in process on ${process.env.DATABASE_URL ? 'Postgres' : 'PGlite'}`, () => {
  let f: LedgerAppFixture;
  const tokens = { user: '', service: '', admin: '' };

  beforeAll(async () => {
    f = await makeLedgerAppFixture();
  });
  beforeEach(async () => {
    // The contract mints tokens at the wall clock; keep the gateway's clock with it.
    f.clock.set(Math.max(f.clock.nowMs(), Date.now()));
    await f.refreshTokens();
    tokens.user = (await f.user('contract')).token;
    tokens.service = f.tokens.service;
    tokens.admin = f.tokens.admin;
  });
  afterAll(async () => {
    await f.close();
  });

  describeInputContract({
    client: () =>
      createGatewayClient({
        baseUrl: 'http://gateway.test',
        fetch: async (input, init) => f.app.request(String(input), init),
      }),
    tokens: () => tokens,
    signer: () => ({ privateKey: f.keys.privateKey, kid: f.keys.kid, issuer: f.config.jwt.issuer }),
  });
});
