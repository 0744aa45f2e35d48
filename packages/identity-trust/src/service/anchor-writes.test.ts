// Free text of the identity writes, on PGlite in memory or on a fresh Postgres database when DATABASE_URL is set.
import { randomBytes } from 'node:crypto';
import { ManualClock } from '@arrakis/atomic-counter';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresAnchorStore } from '../adapters/postgres/anchor-store.js';
import type { AnchorInput } from '../anchor/derive-anchor.js';
import { execRows } from '../db/identity-db.js';
import { InvalidArgumentError } from '../errors.js';
import { openTestIdentityDb, type TestIdentityDb } from '../testing/test-db.js';
import { createIdentityTrust, type IdentityTrust } from './identity-trust.js';

let handle: TestIdentityDb;
let identity: IdentityTrust;
let tokenIds = 9000n;
const unstorable = ['NUL \u0000 inside', 'lone high \ud800', 'lone low \udc00 surrogate'];

function nft(): AnchorInput {
  tokenIds += 1n;
  return {
    chainId: 31337n,
    contractAddress: '0x5fbdb2315678afecb367f032d93f642f64180aa3',
    tokenId: tokenIds,
    ownerAddress: `0x${'cd'.repeat(20)}`,
  };
}

async function rowCount(accountId: string): Promise<number> {
  const [row] = await execRows<{ n: number | string }>(
    handle.db,
    sql`select (select count(*) from identity_anchors where account_id = ${accountId})
      + (select count(*) from identity_anchor_rotations where account_id = ${accountId})
      + (select count(*) from identity_anchor_audit where account_id = ${accountId}) as n`,
  );
  return Number(row?.n);
}

beforeAll(async () => {
  handle = await openTestIdentityDb();
  identity = createIdentityTrust({
    store: createPostgresAnchorStore(handle.db),
    clock: new ManualClock(Date.UTC(2026, 4, 1)),
  });
});
afterAll(() => handle?.close());

describe('free text the database could not store as given is refused before any write', () => {
  it('a rotation reason with a NUL or a lone surrogate: invalid_argument, no rotation, no audit row', async () => {
    const accountId = `acc_${randomBytes(6).toString('hex')}`;
    await identity.bindAnchor({ accountId, nft: nft(), actor: 'creator' });
    const before = await rowCount(accountId);
    for (const reason of unstorable) {
      const refused = identity.requestRotation({ accountId, nft: nft(), actor: 'alice', reason });
      await expect(refused).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(identity.requestRotation({ accountId, nft: nft(), actor: 'alice', reason })).rejects.toThrow(
        /reason .* must not contain a NUL character or an unpaired UTF-16 surrogate/,
      );
    }
    expect(await rowCount(accountId)).toBe(before);
    const kept = await identity.requestRotation({ accountId, nft: nft(), actor: 'alice', reason: 'lost 🔑' });
    expect((await identity.getRotation(kept.id))?.reason).toBe('lost 🔑');
  });

  it('an actor (a token subject) with a NUL or a lone surrogate: invalid_argument on every write', async () => {
    const accountId = `acc_${randomBytes(6).toString('hex')}`;
    for (const text of unstorable) {
      const actor = `root ${text}`.trim();
      await expect(identity.bindAnchor({ accountId, nft: nft(), actor })).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(identity.approveRotation({ rotationId: 'rot_x', actor })).rejects.toBeInstanceOf(
        InvalidArgumentError,
      );
    }
    expect(await rowCount(accountId)).toBe(0);
  });
});
