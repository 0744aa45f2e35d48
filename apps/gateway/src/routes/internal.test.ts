import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { anchorOfBody, nftBody } from '../testing/identity-helpers.js';
import { errorOf, type LedgerAppFixture, makeLedgerAppFixture } from '../testing/ledger-fixture.js';

const backend = process.env.DATABASE_URL ? 'Postgres' : 'PGlite';

describe(`POST /api/internal/verify-anchor on ${backend}`, () => {
  let f: LedgerAppFixture;
  let accountId: string;
  let userToken: string;
  let current: string;
  beforeAll(async () => {
    f = await makeLedgerAppFixture();
    const user = await f.userAccount('verify');
    accountId = user.accountId;
    userToken = user.token;
    const nft = nftBody();
    expect((await f.post(`/v1/accounts/${accountId}/anchor`, { token: f.tokens.admin, json: nft })).status).toBe(201);
    current = anchorOfBody(nft);
  });
  afterAll(async () => {
    await f.close();
  });

  const verify = (json: unknown, token = f.tokens.service) => f.post('/api/internal/verify-anchor', { token, json });

  it('200 {verified: true, anchorHash, epoch, checkedAt} for the current anchor', async () => {
    const response = await verify({ accountId, anchor: current });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      verified: true,
      anchorHash: current,
      epoch: 1,
      ownershipChecked: false,
      checkedAt: new Date(f.clock.nowMs()).toISOString(),
    });
  });

  it('403 {verified: false, reason} for another anchor or an account without one', async () => {
    const other = anchorOfBody(nftBody());
    const mismatch = await verify({ accountId, anchor: other });
    expect(mismatch.status).toBe(403);
    expect(await mismatch.json()).toMatchObject({
      error: 'anchor_not_verified',
      verified: false,
      reason: 'anchor_mismatch',
    });
    const none = await verify({ accountId: 'acc_nobody', anchor: other });
    expect(await none.json()).toMatchObject({ verified: false, reason: 'no_anchor' });
  });

  it('is for services only', async () => {
    await errorOf(await verify({ accountId, anchor: current }, userToken), 401, 'wrong_audience');
    await errorOf(await verify({ accountId, anchor: current }, f.tokens.admin), 401, 'wrong_audience');
    await errorOf(
      await f.post('/api/internal/verify-anchor', { json: { accountId, anchor: current } }),
      401,
      'missing_token',
    );
  });

  it('refuses a malformed anchor (400) and checkOwnership without CHAIN_RPC_URL (400)', async () => {
    await errorOf(await verify({ accountId, anchor: 'sha256:zz' }), 400, 'invalid_anchor');
    await errorOf(await verify({ accountId, anchor: current, checkOwnership: true }), 400, 'invalid_argument');
    await errorOf(await verify({ accountId, anchor: current, extra: 1 }), 400, 'validation_failed');
  });
});
