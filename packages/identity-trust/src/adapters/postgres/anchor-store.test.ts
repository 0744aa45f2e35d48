// Runs on PGlite in memory, or on a fresh Postgres database when DATABASE_URL is set.
import { randomBytes } from 'node:crypto';
import { ManualClock } from '@arrakis/atomic-counter';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AnchorInput, deriveAnchor } from '../../anchor/derive-anchor.js';
import { execRows } from '../../db/identity-db.js';
import { migrateIdentity } from '../../db/migrate.js';
import { FourEyesViolationError, IdentityError } from '../../errors.js';
import type { AnchorStore } from '../../ports/anchor-store.js';
import { createIdentityTrust, type IdentityTrust } from '../../service/identity-trust.js';
import { openTestIdentityDb, type TestIdentityDb } from '../../testing/test-db.js';
import { createPostgresAnchorStore } from './anchor-store.js';

const contract = '0x5fbdb2315678afecb367f032d93f642f64180aa3';
let handle: TestIdentityDb;
let store: AnchorStore;
let identity: IdentityTrust;
const clock = new ManualClock(Date.UTC(2026, 4, 1, 12));
let tokenIds = 1000n;

/** A fresh NFT (unique token id) owned by a random address. */
function nft(overrides: Partial<AnchorInput> = {}): AnchorInput {
  tokenIds += 1n;
  return {
    chainId: 31337n,
    contractAddress: contract,
    tokenId: tokenIds,
    ownerAddress: `0x${randomBytes(20).toString('hex')}`,
    ...overrides,
  };
}

function account(): string {
  return `acc_${randomBytes(6).toString('hex')}`;
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof IdentityError) return error.code;
    throw error;
  }
  return 'ok';
}

beforeAll(async () => {
  handle = await openTestIdentityDb();
  store = createPostgresAnchorStore(handle.db);
  identity = createIdentityTrust({ store, clock });
});
afterAll(() => handle?.close());

describe(`postgres anchor store (${process.env.DATABASE_URL ? 'Postgres' : 'PGlite'})`, () => {
  it('migrates idempotently into its own tracking table', async () => {
    await migrateIdentity(handle.db, handle.kind);
    const rows = await execRows<{ n: bigint | string | number }>(
      handle.db,
      sql`select count(*)::int as n from drizzle.__identity_migrations`,
    );
    expect(Number(rows[0]?.n)).toBe(3);
  });

  it('binds an anchor and reads it back', async () => {
    const id = account();
    const input = nft();
    const { record, created } = await identity.bindAnchor({ accountId: id, nft: input, actor: 'root' });
    expect(created).toBe(true);
    expect(record).toMatchObject({
      accountId: id,
      anchor: deriveAnchor(input),
      chainId: 31337n,
      tokenId: input.tokenId,
      epoch: 1,
      createdBy: 'root',
      createdAt: new Date(clock.nowMs()),
    });
    expect(await identity.getAnchor(id)).toEqual(record);
    expect(await identity.getAnchor(account())).toBeNull();
  });

  it('binding is idempotent for the same account', async () => {
    const id = account();
    const input = nft();
    const first = await identity.bindAnchor({ accountId: id, nft: input, actor: 'root' });
    const again = await identity.bindAnchor({ accountId: id, nft: input, actor: 'someone-else' });
    expect(again.created).toBe(false);
    expect(again.record).toEqual(first.record);
    expect((await identity.listAudit(id)).length).toBe(1);
  });

  it('attack: an anchor bound twice to different accounts is refused (409 anchor_in_use), nothing changes', async () => {
    const input = nft();
    const first = account();
    const second = account();
    await identity.bindAnchor({ accountId: first, nft: input, actor: 'root' });
    const error = await identity.bindAnchor({ accountId: second, nft: input, actor: 'root' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IdentityError);
    expect((error as IdentityError).code).toBe('anchor_in_use');
    expect((error as IdentityError).httpStatus).toBe(409);
    // The holder is not disclosed.
    expect(JSON.stringify((error as IdentityError).toJSON())).not.toContain(first);
    expect(await identity.getAnchor(second)).toBeNull();
    expect(await identity.listAudit(second)).toEqual([]);
  });

  it('one NFT, one anchor: the same NFT claimed with another owner is anchor_in_use too', async () => {
    const input = nft();
    await identity.bindAnchor({ accountId: account(), nft: input, actor: 'root' });
    const sameNftOtherOwner = { ...input, ownerAddress: `0x${randomBytes(20).toString('hex')}` };
    expect(await codeOf(identity.bindAnchor({ accountId: account(), nft: sameNftOtherOwner, actor: 'root' }))).toBe(
      'anchor_in_use',
    );
    // ...whatever the case of the contract address.
    const upper = { ...sameNftOtherOwner, contractAddress: '0x5FbDB2315678afecb367f032d93F642f64180aa3' };
    expect(await codeOf(identity.bindAnchor({ accountId: account(), nft: upper, actor: 'root' }))).toBe(
      'anchor_in_use',
    );
  });

  it('an account keeps its anchor: binding another one is account_already_anchored', async () => {
    const id = account();
    await identity.bindAnchor({ accountId: id, nft: nft(), actor: 'root' });
    expect(await codeOf(identity.bindAnchor({ accountId: id, nft: nft(), actor: 'root' }))).toBe(
      'account_already_anchored',
    );
  });

  it('concurrent binds of one anchor to many accounts: exactly one wins', async () => {
    const input = nft();
    const accounts = Array.from({ length: 8 }, account);
    const results = await Promise.allSettled(
      accounts.map((id) => identity.bindAnchor({ accountId: id, nft: input, actor: 'root' })),
    );
    const won = results.filter((r) => r.status === 'fulfilled');
    expect(won.length).toBe(1);
    for (const result of results) {
      if (result.status === 'rejected') expect((result.reason as IdentityError).code).toBe('anchor_in_use');
    }
  });

  describe('four-eyes rotation', () => {
    it('requested by A, approved by B: the anchor changes, the epoch moves, the audit keeps prefixes, actors, times', async () => {
      const id = account();
      const before = nft();
      const after = nft();
      await identity.bindAnchor({ accountId: id, nft: before, actor: 'creator' });
      clock.advance(1000);
      const requestedAt = new Date(clock.nowMs());
      const rotation = await identity.requestRotation({
        accountId: id,
        nft: after,
        actor: 'alice',
        reason: 'wallet lost',
      });
      expect(rotation).toMatchObject({
        status: 'pending',
        fromAnchor: deriveAnchor(before),
        toAnchor: deriveAnchor(after),
        fromEpoch: 1,
        requestedBy: 'alice',
        requestedAt,
        expiresAt: new Date(requestedAt.getTime() + 24 * 3_600_000),
        approvedBy: null,
        reason: 'wallet lost',
      });
      expect(rotation.id).toMatch(/^rot_[0-9a-f]{32}$/);
      // Still the old anchor until approved.
      expect((await identity.getAnchor(id))?.anchor).toBe(deriveAnchor(before));
      clock.advance(2000);
      const approvedAt = new Date(clock.nowMs());
      const { rotation: approved, anchor } = await identity.approveRotation({ rotationId: rotation.id, actor: 'bob' });
      expect(approved).toMatchObject({ status: 'approved', approvedBy: 'bob', approvedAt });
      expect(anchor).toMatchObject({
        anchor: deriveAnchor(after),
        epoch: 2,
        createdBy: 'alice',
        createdAt: approvedAt,
      });
      expect(await identity.getAnchor(id)).toEqual(anchor);

      const audit = await identity.listAudit(id);
      expect(audit.map((row) => row.action)).toEqual(['anchor_bound', 'rotation_requested', 'rotation_approved']);
      const [, requested, approval] = audit;
      const oldPrefix = deriveAnchor(before).slice(7, 15);
      const newPrefix = deriveAnchor(after).slice(7, 15);
      expect(requested).toMatchObject({
        actor: 'alice',
        at: requestedAt,
        oldAnchorPrefix: oldPrefix,
        newAnchorPrefix: newPrefix,
      });
      expect(approval).toMatchObject({
        actor: 'bob',
        at: approvedAt,
        rotationId: rotation.id,
        oldAnchorPrefix: oldPrefix,
        newAnchorPrefix: newPrefix,
        requestedBy: 'alice',
        requestedAt,
      });
      // The audit keeps prefixes only: no full anchor anywhere in it.
      expect(JSON.stringify(audit, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))).not.toContain(
        deriveAnchor(before).slice(7),
      );
      // The same approval repeated answers it again; another approver is refused.
      expect((await identity.approveRotation({ rotationId: rotation.id, actor: 'bob' })).anchor).toEqual(anchor);
      expect(await codeOf(identity.approveRotation({ rotationId: rotation.id, actor: 'carol' }))).toBe(
        'rotation_not_pending',
      );
      expect((await identity.listAudit(id)).length).toBe(3);
    });

    it('attack: self-rotation (the requester approves) is refused with four_eyes_violation', async () => {
      const id = account();
      await identity.bindAnchor({ accountId: id, nft: nft(), actor: 'creator' });
      const rotation = await identity.requestRotation({ accountId: id, nft: nft(), actor: 'alice' });
      const error = await identity
        .approveRotation({ rotationId: rotation.id, actor: 'alice' })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(FourEyesViolationError);
      expect((error as FourEyesViolationError).rule).toBe('approver_is_requester');
      expect((error as FourEyesViolationError).httpStatus).toBe(403);
      expect((await identity.getRotation(rotation.id))?.status).toBe('pending');
      expect((await identity.getAnchor(id))?.epoch).toBe(1);
    });

    it('attack: a rotation approved by the anchor’s creator is refused with four_eyes_violation', async () => {
      const id = account();
      await identity.bindAnchor({ accountId: id, nft: nft(), actor: 'creator' });
      const rotation = await identity.requestRotation({ accountId: id, nft: nft(), actor: 'alice' });
      const error = await identity
        .approveRotation({ rotationId: rotation.id, actor: 'creator' })
        .catch((e: unknown) => e);
      expect((error as FourEyesViolationError).rule).toBe('approver_is_creator');
      expect((await identity.getAnchor(id))?.epoch).toBe(1);
    });

    it('the creator cannot request a rotation of its own anchor either', async () => {
      const id = account();
      await identity.bindAnchor({ accountId: id, nft: nft(), actor: 'creator' });
      const error = await identity
        .requestRotation({ accountId: id, nft: nft(), actor: 'creator' })
        .catch((e: unknown) => e);
      expect((error as FourEyesViolationError).rule).toBe('requester_is_creator');
    });

    it('the database refuses an approval by the requester even if the code were bypassed (CHECK)', async () => {
      const id = account();
      await identity.bindAnchor({ accountId: id, nft: nft(), actor: 'creator' });
      const rotation = await identity.requestRotation({ accountId: id, nft: nft(), actor: 'alice' });
      const bypass = handle.db.execute(
        sql`update identity_anchor_rotations set status = 'approved', approved_by = 'alice', approved_at = now()
            where id = ${rotation.id}`,
      );
      await expect(bypass).rejects.toThrow();
      expect((await identity.getRotation(rotation.id))?.status).toBe('pending');
    });

    it('requests expire after 24 h by default and can no longer be approved', async () => {
      const id = account();
      await identity.bindAnchor({ accountId: id, nft: nft(), actor: 'creator' });
      const rotation = await identity.requestRotation({ accountId: id, nft: nft(), actor: 'alice' });
      expect(await codeOf(identity.requestRotation({ accountId: id, nft: nft(), actor: 'dave' }))).toBe(
        'rotation_pending',
      );
      // The same request repeated answers the pending one.
      expect((await identity.requestRotation({ accountId: id, nft: rotation.to, actor: 'alice' })).id).toBe(
        rotation.id,
      );
      clock.advance(24 * 3_600_000);
      expect(await codeOf(identity.approveRotation({ rotationId: rotation.id, actor: 'bob' }))).toBe(
        'rotation_expired',
      );
      expect((await identity.getRotation(rotation.id))?.status).toBe('expired');
      expect((await identity.getAnchor(id))?.epoch).toBe(1);
      // A new request is possible once the old one expired.
      const next = await identity.requestRotation({ accountId: id, nft: nft(), actor: 'alice' });
      expect(next.status).toBe('pending');
    });

    it('a rotation to an anchor bound elsewhere is anchor_in_use, at request and at approval', async () => {
      const id = account();
      const taken = nft();
      await identity.bindAnchor({ accountId: id, nft: nft(), actor: 'creator' });
      await identity.bindAnchor({ accountId: account(), nft: taken, actor: 'root' });
      expect(await codeOf(identity.requestRotation({ accountId: id, nft: taken, actor: 'alice' }))).toBe(
        'anchor_in_use',
      );
      const target = nft();
      const rotation = await identity.requestRotation({ accountId: id, nft: target, actor: 'alice' });
      await identity.bindAnchor({ accountId: account(), nft: target, actor: 'root' });
      expect(await codeOf(identity.approveRotation({ rotationId: rotation.id, actor: 'bob' }))).toBe('anchor_in_use');
    });

    it('unknown rotations and accounts without an anchor', async () => {
      expect(await codeOf(identity.approveRotation({ rotationId: 'rot_missing', actor: 'bob' }))).toBe(
        'rotation_not_found',
      );
      expect(await codeOf(identity.requestRotation({ accountId: account(), nft: nft(), actor: 'alice' }))).toBe(
        'anchor_not_found',
      );
    });

    it('a rotation can move the anchor to the same NFT with a new owner (after a transfer)', async () => {
      const id = account();
      const input = nft();
      await identity.bindAnchor({ accountId: id, nft: input, actor: 'creator' });
      const moved = { ...input, ownerAddress: `0x${randomBytes(20).toString('hex')}` };
      const rotation = await identity.requestRotation({ accountId: id, nft: moved, actor: 'alice' });
      const { anchor } = await identity.approveRotation({ rotationId: rotation.id, actor: 'bob' });
      expect(anchor.anchor).toBe(deriveAnchor(moved));
    });
  });

  describe('audit', () => {
    it('is append-only: UPDATE, DELETE and TRUNCATE fail', async () => {
      const id = account();
      await identity.bindAnchor({ accountId: id, nft: nft(), actor: 'root' });
      await expect(
        handle.db.execute(sql`update identity_anchor_audit set actor = 'mallory' where account_id = ${id}`),
      ).rejects.toThrow();
      await expect(
        handle.db.execute(sql`delete from identity_anchor_audit where account_id = ${id}`),
      ).rejects.toThrow();
      await expect(handle.db.execute(sql`truncate identity_anchor_audit`)).rejects.toThrow();
      expect((await identity.listAudit(id))[0]?.actor).toBe('root');
    });
  });

  describe('trust and verification through the store', () => {
    it('evaluate reads the anchor only when it matters', async () => {
      const id = account();
      expect(await identity.evaluate({ accountId: id, amountMicro: 100_000_000n, operation: 'reserve' })).toMatchObject(
        {
          allowed: true,
        },
      );
      expect(
        await codeOf(identity.assertTrusted({ accountId: id, amountMicro: 100_000_001n, operation: 'reserve' })),
      ).toBe('identity_anchor_required');
      await identity.bindAnchor({ accountId: id, nft: nft(), actor: 'root' });
      expect(
        await codeOf(identity.assertTrusted({ accountId: id, amountMicro: 100_000_001n, operation: 'reserve' })),
      ).toBe('ok');
    });

    it('verifyAnchor and assertAnchorMatches compare a presented anchor with the current one', async () => {
      const id = account();
      const input = nft();
      const other = deriveAnchor(nft());
      expect(await identity.verifyAnchor({ accountId: id, anchor: other })).toMatchObject({
        verified: false,
        reason: 'no_anchor',
      });
      await identity.bindAnchor({ accountId: id, nft: input, actor: 'root' });
      expect(await identity.verifyAnchor({ accountId: id, anchor: deriveAnchor(input) })).toMatchObject({
        verified: true,
        anchor: deriveAnchor(input),
        epoch: 1,
        ownershipChecked: false,
      });
      expect(await identity.verifyAnchor({ accountId: id, anchor: other })).toMatchObject({
        verified: false,
        reason: 'anchor_mismatch',
      });
      expect(await codeOf(identity.assertAnchorMatches({ accountId: id, anchor: other }))).toBe('anchor_mismatch');
      expect(await codeOf(identity.assertAnchorMatches({ accountId: account(), anchor: other }))).toBe(
        'anchor_mismatch',
      );
      expect(
        await codeOf(identity.verifyAnchor({ accountId: id, anchor: deriveAnchor(input), checkOwnership: true })),
      ).toBe('invalid_argument');
    });

    it('refuses bad actors and ids before touching the store', async () => {
      expect(await codeOf(identity.bindAnchor({ accountId: account(), nft: nft(), actor: '' }))).toBe(
        'invalid_argument',
      );
      expect(await codeOf(identity.bindAnchor({ accountId: 'has space', nft: nft(), actor: 'root' }))).toBe(
        'invalid_argument',
      );
      expect(await codeOf(identity.listAudit('x', { limit: 0 }))).toBe('invalid_argument');
      expect(() => createIdentityTrust({ store, rotationTtlMs: 10 })).toThrow(/rotationTtlMs/);
    });
  });
});
