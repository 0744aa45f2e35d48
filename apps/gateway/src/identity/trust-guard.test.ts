import { createAnchorKeyRing, generateAnchorSigningKey, issueAnchorToken } from '@arrakis/identity-trust';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { anchorOfBody, nftBody } from '../testing/identity-helpers.js';
import { errorOf, type LedgerAppFixture, makeLedgerAppFixture } from '../testing/ledger-fixture.js';
import { trustMayRefuse } from './trust-guard.js';

const backend = process.env.DATABASE_URL ? 'Postgres' : 'PGlite';
const threshold = '100000000';
const aboveThreshold = '100000001';

describe(`trust policy at the money routes on ${backend}`, () => {
  let f: LedgerAppFixture;
  beforeAll(async () => {
    f = await makeLedgerAppFixture();
  });
  afterAll(async () => {
    await f.close();
  });

  /** A user account funded with $300 (granted in three steps, each within the threshold). */
  async function funded(label: string) {
    const user = await f.userAccount(label);
    for (let i = 0; i < 3; i += 1) await f.grant(user.accountId, threshold);
    return user;
  }

  async function anchor(accountId: string) {
    const nft = nftBody();
    const response = await f.post(`/v1/accounts/${accountId}/anchor`, { token: f.tokens.admin, json: nft });
    expect(response.status).toBe(201);
    return anchorOfBody(nft);
  }

  const reserve = (accountId: string, amountMicro: string, token = f.tokens.service) =>
    f.post('/v1/reservations', { token, json: { accountId, amountMicro } });

  describe('reserve', () => {
    it('allows exactly the threshold without an anchor', async () => {
      const { accountId } = await funded('at-threshold');
      expect((await reserve(accountId, threshold)).status).toBe(201);
    });

    it('refuses one micro-USD above it with 403 identity_anchor_required, and changes nothing', async () => {
      const { accountId, token } = await funded('above');
      const meter = await f.createMeter('above-threshold', { holdMicro: aboveThreshold });
      const before = await f.snapshot(accountId);
      const body = await errorOf(await reserve(accountId, aboveThreshold), 403, 'identity_anchor_required');
      expect(body.details).toMatchObject({
        operation: 'reserve',
        amountMicro: aboveThreshold,
        thresholdMicro: threshold,
      });
      // The user's own token too (through a meter: users set no terms).
      await errorOf(
        await f.post('/v1/reservations', { token, json: { accountId, meterId: meter.id } }),
        403,
        'identity_anchor_required',
      );
      expect(await f.snapshot(accountId)).toEqual(before);
    });

    it('a metered reserve is checked at the hold the meter places: holdMicro, or the cost of the estimate', async () => {
      const { accountId, token } = await funded('metered');
      const meter = await f.createMeter('pricey', {
        holdMicro: '1000',
        unitPrices: [{ dimension: 'request', priceMicro: '1000000', perUnits: '1', unitsMax: '1000' }],
      });
      const byMeter = (estimate: Record<string, number>) =>
        f.post('/v1/reservations', { token, json: { accountId, meterId: meter.id, estimate } });
      const before = await f.snapshot(accountId);
      const body = await errorOf(await byMeter({ request: 101 }), 403, 'identity_anchor_required');
      expect(body.details).toMatchObject({ operation: 'reserve', amountMicro: '101000000' });
      expect(await f.snapshot(accountId)).toEqual(before);
      expect((await byMeter({ request: 100 })).status).toBe(201);
    });

    it('allows it once the account has an anchor', async () => {
      const { accountId } = await funded('anchored');
      await anchor(accountId);
      expect((await reserve(accountId, aboveThreshold)).status).toBe(201);
    });
  });

  describe('admin grants', () => {
    it('refuse a grant above the threshold to an account without an anchor (403), allow it with one', async () => {
      const { accountId } = await f.userAccount('grant');
      const before = await f.snapshot(accountId);
      const response = await f.post(`/v1/accounts/${accountId}/grants`, {
        token: f.tokens.admin,
        json: { amountMicro: aboveThreshold, reason: 'big' },
      });
      const body = await errorOf(response, 403, 'identity_anchor_required');
      expect(body.details).toMatchObject({ operation: 'grant' });
      expect(await f.snapshot(accountId)).toEqual(before);
      await anchor(accountId);
      const again = await f.post(`/v1/accounts/${accountId}/grants`, {
        token: f.tokens.admin,
        json: { amountMicro: aboveThreshold, reason: 'big' },
      });
      expect(again.status).toBe(201);
    });
  });

  describe('finalize', () => {
    const finalize = (id: string, token: string, headers?: Record<string, string>) =>
      f.post(`/v1/reservations/${id}/finalize`, { token, json: { actualCostMicro: '1000' }, headers });
    const finalizeWith = (id: string, json: Record<string, unknown>) =>
      f.post(`/v1/reservations/${id}/finalize`, { token: f.tokens.service, json });

    it('a charge above the threshold needs an anchor whatever the hold: soft the cost, live min(cost, hold), shadow 0', async () => {
      const { accountId } = await funded('charge');
      const soft = await f.reserve(accountId, '1000', { billingMode: 'soft' });
      const before = await f.snapshot(accountId);
      const body = await errorOf(
        await finalizeWith(soft.id, { actualCostMicro: aboveThreshold }),
        403,
        'identity_anchor_required',
      );
      expect(body.details).toMatchObject({
        operation: 'finalize',
        amountMicro: aboveThreshold,
        thresholdMicro: threshold,
      });
      expect(await f.snapshot(accountId)).toEqual(before);
      const live = await f.reserve(accountId, '1000');
      const charged = await finalizeWith(live.id, { actualCostMicro: '200000000' });
      expect(await charged.json()).toMatchObject({ chargedMicro: '1000', overrunMicro: '199999000' });
      const shadow = await f.reserve(accountId, '1000', { billingMode: 'shadow' });
      expect((await finalizeWith(shadow.id, { actualCostMicro: '200000000' })).status).toBe(200);
      await anchor(accountId);
      const anchored = await finalizeWith(soft.id, { actualCostMicro: aboveThreshold });
      expect(await anchored.json()).toMatchObject({ chargedMicro: aboveThreshold });
    });

    it('a finalize by usage is checked at its priced cost (the version the hold recorded)', async () => {
      const { accountId } = await funded('usage-charge');
      const meter = await f.createMeter('dear', {
        holdMicro: '1000',
        billingMode: 'soft',
        unitPrices: [{ dimension: 'request', priceMicro: '150000000', perUnits: '1', unitsMax: '10' }],
      });
      const hold = await f.reserveByMeter(accountId, meter.id);
      const before = await f.snapshot(accountId);
      const body = await errorOf(
        await finalizeWith(hold.id, { usage: { request: 1 } }),
        403,
        'identity_anchor_required',
      );
      expect(body.details).toMatchObject({ operation: 'finalize', amountMicro: '150000000' });
      expect(await f.snapshot(accountId)).toEqual(before);
      await anchor(accountId);
      const done = await finalizeWith(hold.id, { usage: { request: 1 } });
      expect(await done.json()).toMatchObject({ chargedMicro: '150000000', pricing: { totalMicro: '150000000' } });
    });

    it('attack: a service token carrying another anchor than the account’s is 403 anchor_mismatch, nothing charged', async () => {
      const { accountId } = await funded('mismatch');
      await anchor(accountId);
      const other = await f.userAccount('other-anchored');
      const otherAnchor = await anchor(other.accountId);
      const hold = await f.reserve(accountId, '5000');
      const token = await f.token('arrakis-internal', 'billing-service', { claims: { anchor: otherAnchor } });
      const before = await f.snapshot(accountId);
      const body = await errorOf(await finalize(hold.id, token), 403, 'anchor_mismatch');
      expect(body.details).toMatchObject({ reason: 'account_has_other_anchor' });
      expect(await f.snapshot(accountId)).toEqual(before);
    });

    it('passes with the account’s own anchor, and without any anchor claim', async () => {
      const { accountId } = await funded('match');
      const own = await anchor(accountId);
      const first = await f.reserve(accountId, '5000');
      const token = await f.token('arrakis-internal', 'billing-service', { claims: { anchor: own } });
      expect((await finalize(first.id, token)).status).toBe(200);
      const second = await f.reserve(accountId, '5000');
      expect((await finalize(second.id, f.tokens.service)).status).toBe(200);
    });

    it('passes when the account has no anchor (nothing to mismatch)', async () => {
      const { accountId } = await funded('unanchored');
      const other = await f.userAccount('someone');
      const otherAnchor = await anchor(other.accountId);
      const hold = await f.reserve(accountId, '5000');
      const token = await f.token('arrakis-internal', 'billing-service', { claims: { anchor: otherAnchor } });
      expect((await finalize(hold.id, token)).status).toBe(200);
    });

    it('checks an X-Anchor-Token: another account’s token is anchor_mismatch, a forged one is 401', async () => {
      const { accountId } = await funded('header');
      await anchor(accountId);
      const other = await f.userAccount('header-other');
      await anchor(other.accountId);
      const issued = await f.post(`/v1/accounts/${other.accountId}/anchor-token`, { token: f.tokens.service });
      const otherToken = ((await issued.json()) as { token: string }).token;
      const hold = await f.reserve(accountId, '5000');
      const body = await errorOf(
        await finalize(hold.id, f.tokens.service, { 'x-anchor-token': otherToken }),
        403,
        'anchor_mismatch',
      );
      expect(body.details).toMatchObject({ reason: 'other_account' });

      const stranger = createAnchorKeyRing([(await generateAnchorSigningKey()).key]);
      const forged = await issueAnchorToken({
        key: stranger.signingKey,
        issuer: f.config.jwt.issuer,
        audience: f.config.identity.anchorTokens.audience,
        accountId,
        anchor: anchorOfBody(nftBody()),
        epoch: 1,
        nowMs: f.clock.nowMs(),
      });
      const rejected = await errorOf(
        await finalize(hold.id, f.tokens.service, { 'x-anchor-token': forged.token }),
        401,
        'anchor_token_invalid',
      );
      expect(rejected.details).toMatchObject({ reason: 'unknown_key' });

      const ownIssued = await f.post(`/v1/accounts/${accountId}/anchor-token`, { token: f.tokens.service });
      const ownToken = ((await ownIssued.json()) as { token: string }).token;
      expect((await finalize(hold.id, f.tokens.service, { 'x-anchor-token': ownToken })).status).toBe(200);
    });
  });
});

describe('trust policy settings', () => {
  it('TRUST_POLICY_ENABLED=false turns it off; TRUST_THRESHOLD_MICRO moves the threshold', async () => {
    const off = await makeLedgerAppFixture({ env: { TRUST_POLICY_ENABLED: 'false' } });
    try {
      const { accountId } = await off.userAccount('off');
      const response = await off.post(`/v1/accounts/${accountId}/grants`, {
        token: off.tokens.admin,
        json: { amountMicro: '500000000', reason: 'no policy' },
      });
      expect(response.status).toBe(201);
    } finally {
      await off.close();
    }
    const low = await makeLedgerAppFixture({ env: { TRUST_THRESHOLD_MICRO: '1000' } });
    try {
      const { accountId } = await low.userAccount('low', '1000');
      const response = await low.post('/v1/reservations', {
        token: low.tokens.service,
        json: { accountId, amountMicro: '1001' },
      });
      await errorOf(response, 403, 'identity_anchor_required');
      expect(
        (await low.post('/v1/reservations', { token: low.tokens.service, json: { accountId, amountMicro: '1000' } }))
          .status,
      ).toBe(201);
    } finally {
      await low.close();
    }
  });
});

describe('trustMayRefuse (when the routes read a hold or a meter for the check)', () => {
  const deps = (enabled: boolean) =>
    ({ identity: { config: { trust: { enabled, thresholdMicro: 100n } } } }) as unknown as Parameters<
      typeof trustMayRefuse
    >[0];
  it('only with the policy on and a bound above the threshold (or no bound known)', () => {
    expect(trustMayRefuse(deps(false))).toBe(false);
    expect(trustMayRefuse(deps(false), 1_000n)).toBe(false);
    expect(trustMayRefuse(deps(true), 100n)).toBe(false);
    expect(trustMayRefuse(deps(true), 101n)).toBe(true);
    expect(trustMayRefuse(deps(true))).toBe(true);
  });
});
