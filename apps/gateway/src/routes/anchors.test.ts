import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { anchorOfBody, nftBody, verifyWithAppJwks } from '../testing/identity-helpers.js';
import { errorOf, type LedgerAppFixture, makeLedgerAppFixture } from '../testing/ledger-fixture.js';

const backend = process.env.DATABASE_URL ? 'Postgres' : 'PGlite';

describe(`anchor routes on ${backend}`, () => {
  let f: LedgerAppFixture;
  /** Admins with the scope `admin` (tokens minted at the fixture clock). */
  const admins: Record<string, string> = {};
  beforeAll(async () => {
    f = await makeLedgerAppFixture();
    for (const sub of ['alice', 'bob', 'carol', 'creator']) {
      admins[sub] = await f.token('arrakis-admin', sub, { scope: 'admin' });
    }
  });
  afterAll(async () => {
    await f.close();
  });

  const bind = (accountId: string, body: object, token = admins.creator as string) =>
    f.post(`/v1/accounts/${accountId}/anchor`, { token, json: body });

  describe('POST /v1/accounts/{id}/anchor (admin)', () => {
    it('binds: 201 with the derived anchor, then 200 on a repeat', async () => {
      const { accountId } = await f.userAccount('bind');
      const nft = nftBody();
      const first = await bind(accountId, nft);
      expect(first.status).toBe(201);
      const body = (await first.json()) as Record<string, unknown>;
      expect(body).toMatchObject({
        accountId,
        anchor: anchorOfBody(nft),
        epoch: 1,
        chainId: '31337',
        tokenId: nft.tokenId,
        contractAddress: '0x5FbDB2315678afecb367f032d93F642f64180aa3',
        createdBy: 'creator',
      });
      const again = await bind(accountId, nft);
      expect(again.status).toBe(200);
      expect(await again.json()).toEqual(body);
    });

    it('attack: the same anchor bound to a second account is 409 anchor_in_use, and the second stays unbound', async () => {
      const a = await f.userAccount('first');
      const b = await f.userAccount('second');
      const nft = nftBody();
      expect((await bind(a.accountId, nft)).status).toBe(201);
      const body = await errorOf(await bind(b.accountId, nft), 409, 'anchor_in_use');
      expect(JSON.stringify(body)).not.toContain(a.accountId);
      await errorOf(
        await f.get(`/v1/accounts/${b.accountId}/anchor`, { token: f.tokens.service }),
        404,
        'anchor_not_found',
      );
    });

    it('an account keeps its anchor (409 account_already_anchored)', async () => {
      const { accountId } = await f.userAccount('keeps');
      expect((await bind(accountId, nftBody())).status).toBe(201);
      await errorOf(await bind(accountId, nftBody()), 409, 'account_already_anchored');
    });

    it('refuses bad input with 400 and changes nothing', async () => {
      const { accountId } = await f.userAccount('bad');
      const badChecksum = nftBody({ ownerAddress: '0x67b61169A24aD254c3900e946b41df8B748dAC71' });
      await errorOf(await bind(accountId, badChecksum), 400, 'invalid_address');
      for (const patch of [
        { chainId: '-1' },
        { chainId: '01' },
        { tokenId: '1e3' },
        { tokenId: (2n ** 256n).toString() },
        { contractAddress: '0x1234' },
        { extra: true },
      ]) {
        await errorOf(await bind(accountId, { ...nftBody(), ...patch }), 400, 'validation_failed');
      }
      await errorOf(
        await f.get(`/v1/accounts/${accountId}/anchor`, { token: f.tokens.service }),
        404,
        'anchor_not_found',
      );
    });

    it('accepts JSON integers for small ids', async () => {
      const { accountId } = await f.userAccount('numbers');
      const nft = nftBody();
      const response = await bind(accountId, { ...nft, chainId: 31337, tokenId: Number(nft.tokenId.slice(-6)) });
      expect(response.status).toBe(201);
    });

    it('needs the admin scope, and an existing account', async () => {
      const { accountId } = await f.userAccount('scope');
      await errorOf(await bind(accountId, nftBody(), f.tokens.adminNoScope), 403, 'insufficient_scope');
      await errorOf(await bind('acc_missing', nftBody()), 404, 'account_not_found');
      await errorOf(await bind(accountId, nftBody(), f.tokens.service), 401, 'wrong_audience');
    });
  });

  describe('users', () => {
    it('a user without a wallet proof is refused (403 wallet_proof_required)', async () => {
      const user = await f.userAccount('no-proof');
      await errorOf(await bind(user.accountId, nftBody(), user.token), 403, 'wallet_proof_required');
    });

    it('a user with a wallet proof but no CHAIN_RPC_URL is refused (503 ownership_check_unavailable)', async () => {
      const user = await f.userAccount('no-rpc');
      const response = await bind(user.accountId, { ...nftBody(), siweMessage: 'x', signature: '0x00' }, user.token);
      await errorOf(response, 503, 'ownership_check_unavailable');
    });

    it("a user cannot bind another user's account (403 forbidden)", async () => {
      const owner = await f.userAccount('owner');
      const other = await f.userAccount('other');
      const response = await bind(owner.accountId, { ...nftBody(), siweMessage: 'x', signature: '0x00' }, other.token);
      await errorOf(response, 403, 'forbidden');
    });
  });

  describe('GET /v1/accounts/{id}/anchor', () => {
    it('the user, a service and an admin read it; another user may not', async () => {
      const user = await f.userAccount('reader');
      const nft = nftBody();
      await bind(user.accountId, nft);
      for (const token of [user.token, f.tokens.service, f.tokens.admin]) {
        const response = await f.get(`/v1/accounts/${user.accountId}/anchor`, { token });
        expect(response.status).toBe(200);
        expect(((await response.json()) as { anchor: string }).anchor).toBe(anchorOfBody(nft));
      }
      const stranger = await f.userAccount('stranger');
      await errorOf(await f.get(`/v1/accounts/${user.accountId}/anchor`, { token: stranger.token }), 403, 'forbidden');
    });
  });

  describe('four-eyes rotation over HTTP', () => {
    async function anchored(label: string) {
      const user = await f.userAccount(label);
      const nft = nftBody();
      expect((await bind(user.accountId, nft)).status).toBe(201);
      return { ...user, nft };
    }
    const requestRotation = (accountId: string, nft: object, token: string) =>
      f.post(`/v1/accounts/${accountId}/anchor/rotations`, { token, json: nft });
    const approve = (rid: string, token: string) => f.post(`/v1/anchor-rotations/${rid}/approve`, { token });

    it('requested by alice (202 pending), approved by bob (200): the anchor moves and the audit records both', async () => {
      const { accountId, nft } = await anchored('rotate');
      const next = nftBody();
      const requested = await requestRotation(accountId, { ...next, reason: 'lost key' }, admins.alice as string);
      expect(requested.status).toBe(202);
      const rotation = (await requested.json()) as { rotationId: string; status: string; expiresAt: string };
      expect(rotation).toMatchObject({ status: 'pending', requestedBy: 'alice', toAnchor: anchorOfBody(next) });
      expect(Date.parse(rotation.expiresAt) - f.clock.nowMs()).toBe(24 * 3_600_000);

      const approved = await approve(rotation.rotationId, admins.bob as string);
      expect(approved.status).toBe(200);
      expect(await approved.json()).toMatchObject({
        status: 'approved',
        approvedBy: 'bob',
        anchor: { anchor: anchorOfBody(next), epoch: 2, createdBy: 'alice' },
      });
      const audit = (await (
        await f.get(`/v1/accounts/${accountId}/anchor/audit`, { token: f.tokens.admin })
      ).json()) as {
        audit: Record<string, unknown>[];
      };
      expect(audit.audit.map((row) => row.action)).toEqual(['anchor_bound', 'rotation_requested', 'rotation_approved']);
      expect(audit.audit[2]).toMatchObject({
        actor: 'bob',
        requestedBy: 'alice',
        oldAnchorPrefix: anchorOfBody(nft).slice(7, 15),
        newAnchorPrefix: anchorOfBody(next).slice(7, 15),
      });
      const read = await f.get(`/v1/anchor-rotations/${rotation.rotationId}`, { token: f.tokens.admin });
      expect(((await read.json()) as { status: string }).status).toBe('approved');
    });

    it('attack: self-rotation (the requester approves) is 403 four_eyes_violation', async () => {
      const { accountId } = await anchored('self');
      const rotation = (await (await requestRotation(accountId, nftBody(), admins.alice as string)).json()) as {
        rotationId: string;
      };
      const body = await errorOf(
        await approve(rotation.rotationId, admins.alice as string),
        403,
        'four_eyes_violation',
      );
      expect(body.details).toMatchObject({ rule: 'approver_is_requester' });
    });

    it('attack: a rotation approved by the anchor’s creator is 403 four_eyes_violation', async () => {
      const { accountId } = await anchored('by-creator');
      const rotation = (await (await requestRotation(accountId, nftBody(), admins.alice as string)).json()) as {
        rotationId: string;
      };
      const body = await errorOf(
        await approve(rotation.rotationId, admins.creator as string),
        403,
        'four_eyes_violation',
      );
      expect(body.details).toMatchObject({ rule: 'approver_is_creator' });
      // The creator may not request one either.
      await errorOf(await requestRotation(accountId, nftBody(), admins.creator as string), 403, 'four_eyes_violation');
    });

    it('expires after ANCHOR_ROTATION_TTL_SECONDS (409 rotation_expired); unknown ids are 404', async () => {
      const { accountId } = await anchored('expire');
      const rotation = (await (await requestRotation(accountId, nftBody(), admins.alice as string)).json()) as {
        rotationId: string;
      };
      f.clock.advance(24 * 3_600_000);
      try {
        const bob = await f.token('arrakis-admin', 'bob', { scope: 'admin' });
        await errorOf(await approve(rotation.rotationId, bob), 409, 'rotation_expired');
        await errorOf(await approve('rot_unknown', bob), 404, 'rotation_not_found');
        await errorOf(await f.get('/v1/anchor-rotations/rot_unknown', { token: bob }), 404, 'rotation_not_found');
      } finally {
        f.clock.set(f.clock.nowMs() - 24 * 3_600_000);
      }
    });

    it('services and users cannot rotate', async () => {
      const { accountId, token } = await anchored('no-rotate');
      await errorOf(await requestRotation(accountId, nftBody(), f.tokens.service), 401, 'wrong_audience');
      await errorOf(await requestRotation(accountId, nftBody(), token), 401, 'wrong_audience');
    });
  });

  describe('POST /v1/accounts/{id}/anchor-token', () => {
    it('issues a token verifiable with the JWKS: sub = account, anchor claim, ≤ 10 minutes', async () => {
      const user = await f.userAccount('token');
      const nft = nftBody();
      await bind(user.accountId, nft);
      for (const token of [user.token, f.tokens.service]) {
        const response = await f.post(`/v1/accounts/${user.accountId}/anchor-token`, { token });
        expect(response.status).toBe(200);
        const body = (await response.json()) as { token: string; expiresAt: string };
        const claims = await verifyWithAppJwks(f, body.token, { accountId: user.accountId });
        expect(claims).toMatchObject({ accountId: user.accountId, anchor: anchorOfBody(nft), epoch: 1 });
        expect(claims.expiresAtMs).toBe(Date.parse(body.expiresAt));
        expect(claims.expiresAtMs - claims.issuedAtMs).toBe(300_000);
      }
    });

    it('404 anchor_not_found without an anchor; 403 for another user', async () => {
      const user = await f.userAccount('token-none');
      await errorOf(
        await f.post(`/v1/accounts/${user.accountId}/anchor-token`, { token: user.token }),
        404,
        'anchor_not_found',
      );
      const other = await f.userAccount('token-other');
      await errorOf(
        await f.post(`/v1/accounts/${user.accountId}/anchor-token`, { token: other.token }),
        403,
        'forbidden',
      );
    });
  });
});
