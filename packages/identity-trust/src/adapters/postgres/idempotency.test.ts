// Idempotency keys of the identity writes, on PGlite in memory or on a fresh Postgres database when DATABASE_URL is set.
import { randomBytes } from 'node:crypto';
import { ManualClock } from '@arrakis/atomic-counter';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnchorInput } from '../../anchor/derive-anchor.js';
import { execRows } from '../../db/identity-db.js';
import { IdempotencyKeyReusedError, IdentityError } from '../../errors.js';
import { idempotencyTtlMsDefault } from '../../idempotency/idempotency.js';
import { createIdentityTrust, type IdentityTrust } from '../../service/identity-trust.js';
import { openTestIdentityDb, type TestIdentityDb } from '../../testing/test-db.js';
import { createPostgresAnchorStore } from './anchor-store.js';

const contract = '0x5fbdb2315678afecb367f032d93f642f64180aa3';
const rotationTtlMs = 3_600_000;
let handle: TestIdentityDb;
let identity: IdentityTrust;
const clock = new ManualClock(Date.UTC(2026, 4, 1, 12));
let tokenIds = 5000n;

function nft(): AnchorInput {
  tokenIds += 1n;
  return { chainId: 31337n, contractAddress: contract, tokenId: tokenIds, ownerAddress: `0x${'ab'.repeat(20)}` };
}
const account = () => `acc_${randomBytes(6).toString('hex')}`;
const key = (label: string) => `${label}-${randomBytes(4).toString('hex')}`;
const admin = (sub: string) => ({ idempotencyScope: `arrakis-admin:${sub}` });

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof IdentityError) return error.code;
    throw error;
  }
  return 'ok';
}

async function count(table: 'identity_anchors' | 'identity_anchor_rotations' | 'identity_anchor_audit', id: string) {
  const [row] = await execRows<{ n: number | string }>(
    handle.db,
    sql`select count(*)::int as n from ${sql.identifier(table)} where account_id = ${id}`,
  );
  return Number(row?.n);
}

async function keyRows(idempotencyKey: string): Promise<{ scope: string; response: string | null }[]> {
  return execRows(handle.db, sql`select scope, response from identity_idempotency_keys where key = ${idempotencyKey}`);
}

beforeAll(async () => {
  handle = await openTestIdentityDb();
  identity = createIdentityTrust({ store: createPostgresAnchorStore(handle.db), clock, rotationTtlMs });
});
afterAll(() => handle?.close());

describe(`identity writes with an idempotency key (${process.env.DATABASE_URL ? 'Postgres' : 'PGlite'})`, () => {
  it('bind: the same key and request replays the first answer (created: true) and writes nothing more', async () => {
    const id = account();
    const input = { accountId: id, nft: nft(), actor: 'root' };
    const options = { idempotencyKey: key('bind'), ...admin('root') };
    expect(await identity.findBindReplay(input, options)).toBeNull();
    const first = await identity.bindAnchor(input, options);
    expect(first.created).toBe(true);
    clock.advance(1000);
    expect(await identity.bindAnchor(input, options)).toEqual(first);
    expect(await identity.findBindReplay(input, options)).toEqual(first);
    // Without the key, the repeat is the bind's own idempotence: created false.
    expect((await identity.bindAnchor(input)).created).toBe(false);
    expect(await count('identity_anchor_audit', id)).toBe(1);
    expect(await keyRows(options.idempotencyKey)).toEqual([
      { scope: 'bind@arrakis-admin:root', response: expect.any(String) },
    ]);
  });

  it('the same key with another request is idempotency_key_reused and writes nothing', async () => {
    const id = account();
    const options = { idempotencyKey: key('reuse'), ...admin('root') };
    await identity.bindAnchor({ accountId: id, nft: nft(), actor: 'root' }, options);
    const other = account();
    const reused = identity.bindAnchor({ accountId: other, nft: nft(), actor: 'root' }, options);
    await expect(reused).rejects.toBeInstanceOf(IdempotencyKeyReusedError);
    await expect(identity.findBindReplay({ accountId: other, nft: nft(), actor: 'root' }, options)).rejects.toThrow(
      /already used for bind@arrakis-admin:root with a different request/,
    );
    expect(await count('identity_anchors', other)).toBe(0);
  });

  it('keys are scoped per operation and caller: another scope (or operation) with the same key runs anew', async () => {
    const idempotencyKey = key('scoped');
    const a = await identity.bindAnchor(
      { accountId: account(), nft: nft(), actor: 'alice' },
      {
        idempotencyKey,
        ...admin('alice'),
      },
    );
    const b = await identity.bindAnchor(
      { accountId: account(), nft: nft(), actor: 'bob' },
      {
        idempotencyKey,
        ...admin('bob'),
      },
    );
    expect(a.created && b.created).toBe(true);
    expect(a.record.accountId).not.toBe(b.record.accountId);
    expect((await keyRows(idempotencyKey)).map((row) => row.scope).sort()).toEqual([
      'bind@arrakis-admin:alice',
      'bind@arrakis-admin:bob',
    ]);
  });

  it('request and approve a rotation: each replays its first answer, bigints and dates included', async () => {
    const id = account();
    await identity.bindAnchor({ accountId: id, nft: nft(), actor: 'creator' });
    const request = { accountId: id, nft: nft(), actor: 'alice', reason: 'lost wallet' };
    const requestOptions = { idempotencyKey: key('request'), ...admin('alice') };
    const requested = await identity.requestRotation(request, requestOptions);
    expect(await identity.requestRotation(request, requestOptions)).toEqual(requested);
    await expect(
      identity.requestRotation({ ...request, reason: 'another reason' }, requestOptions),
    ).rejects.toBeInstanceOf(IdempotencyKeyReusedError);
    const approveOptions = { idempotencyKey: key('approve'), ...admin('bob') };
    const approved = await identity.approveRotation({ rotationId: requested.id, actor: 'bob' }, approveOptions);
    clock.advance(60_000);
    const replay = await identity.approveRotation({ rotationId: requested.id, actor: 'bob' }, approveOptions);
    expect(replay).toEqual(approved);
    expect(replay.anchor.tokenId).toBe(request.nft.tokenId);
    expect(replay.rotation.approvedAt).toBeInstanceOf(Date);
    expect(await count('identity_anchor_audit', id)).toBe(3);
  });

  it('a refused write stores nothing under its key: a retry runs again', async () => {
    const taken = nft();
    await identity.bindAnchor({ accountId: account(), nft: taken, actor: 'root' });
    const id = account();
    const options = { idempotencyKey: key('refused'), ...admin('root') };
    expect(await codeOf(identity.bindAnchor({ accountId: id, nft: taken, actor: 'root' }, options))).toBe(
      'anchor_in_use',
    );
    expect(await keyRows(options.idempotencyKey)).toEqual([]);
    expect(await codeOf(identity.bindAnchor({ accountId: id, nft: taken, actor: 'root' }, options))).toBe(
      'anchor_in_use',
    );
  });

  it('a crash inside the write leaves neither the write nor its key: the retry binds (no replay of a lost write)', async () => {
    await handle.db.execute(
      sql.raw(`create function identity_test_crash() returns trigger language plpgsql as $$
      begin if new.actor = 'crash-test' then raise exception 'simulated crash'; end if; return new; end; $$`),
    );
    await handle.db.execute(
      sql.raw(`create trigger identity_test_crash before insert on identity_anchor_audit
      for each row execute function identity_test_crash()`),
    );
    const id = account();
    const input = { accountId: id, nft: nft(), actor: 'crash-test' };
    const options = { idempotencyKey: key('crash'), ...admin('crash-test') };
    try {
      await expect(identity.bindAnchor(input, options)).rejects.toThrow();
      expect(await count('identity_anchors', id)).toBe(0);
      expect(await keyRows(options.idempotencyKey)).toEqual([]);
    } finally {
      await handle.db.execute(sql.raw('drop trigger identity_test_crash on identity_anchor_audit'));
      await handle.db.execute(sql.raw('drop function identity_test_crash()'));
    }
    const retried = await identity.bindAnchor(input, options);
    expect(retried.created).toBe(true);
    expect(await count('identity_anchors', id)).toBe(1);
  });

  it('concurrent duplicates under one key: one write, one answer for all', async () => {
    const id = account();
    const input = { accountId: id, nft: nft(), actor: 'root' };
    const options = { idempotencyKey: key('race'), ...admin('root') };
    const answers = await Promise.all(Array.from({ length: 6 }, () => identity.bindAnchor(input, options)));
    for (const answer of answers) expect(answer).toEqual(answers[0]);
    expect(answers[0]?.created).toBe(true);
    expect(await count('identity_anchor_audit', id)).toBe(1);
  });

  it('an approval that finds its request expired commits the expiry and releases its key', async () => {
    const id = account();
    await identity.bindAnchor({ accountId: id, nft: nft(), actor: 'creator' });
    const requested = await identity.requestRotation({ accountId: id, nft: nft(), actor: 'alice' });
    clock.advance(rotationTtlMs + 1);
    const options = { idempotencyKey: key('expired'), ...admin('bob') };
    const approve = () => identity.approveRotation({ rotationId: requested.id, actor: 'bob' }, options);
    expect(await codeOf(approve())).toBe('rotation_expired');
    expect(await keyRows(options.idempotencyKey)).toEqual([]);
    expect((await identity.getRotation(requested.id))?.status).toBe('expired');
    expect(await codeOf(approve())).toBe('rotation_not_pending');
  });

  it('a key is kept for idempotencyTtlMs, then may name another request', async () => {
    const options = { idempotencyKey: key('ttl'), ...admin('root') };
    await identity.bindAnchor({ accountId: account(), nft: nft(), actor: 'root' }, options);
    clock.advance(idempotencyTtlMsDefault);
    const later = await identity.bindAnchor({ accountId: account(), nft: nft(), actor: 'root' }, options);
    expect(later.created).toBe(true);
    expect(await keyRows(options.idempotencyKey)).toHaveLength(1);
  });

  it('sweepIdempotencyKeys deletes expired answers in bounded batches and keeps the live ones', async () => {
    await identity.sweepIdempotencyKeys({ batchSizeMax: 10_000 });
    const old = [key('sweep-a'), key('sweep-b'), key('sweep-c')];
    for (const idempotencyKey of old) {
      await identity.bindAnchor({ accountId: account(), nft: nft(), actor: 'root' }, { idempotencyKey });
    }
    clock.advance(idempotencyTtlMsDefault);
    const live = { idempotencyKey: key('sweep-live') };
    const liveInput = { accountId: account(), nft: nft(), actor: 'root' };
    const kept = await identity.bindAnchor(liveInput, live);
    // Earlier cases' keys expire with these: sweep in batches of 2 until a batch comes back short.
    const counts: number[] = [];
    for (let batch = 0; batch < 50 && counts.at(-1) !== 0 && (counts.at(-1) ?? 2) === 2; batch += 1) {
      counts.push((await identity.sweepIdempotencyKeys({ batchSizeMax: 2 })).count);
    }
    expect(counts.slice(0, -1).every((count) => count === 2)).toBe(true);
    expect(counts.reduce((sum, count) => sum + count, 0)).toBeGreaterThanOrEqual(old.length);
    expect(await identity.sweepIdempotencyKeys()).toEqual({ count: 0 });
    for (const idempotencyKey of old) expect(await keyRows(idempotencyKey)).toEqual([]);
    expect(await identity.bindAnchor(liveInput, live)).toEqual(kept);
    expect(await codeOf(identity.sweepIdempotencyKeys({ batchSizeMax: 0 }))).toBe('invalid_argument');
  });

  it('refuses keys and scopes that are not 1-255 printable ASCII characters, before any I/O', async () => {
    const input = { accountId: account(), nft: nft(), actor: 'root' };
    for (const options of [
      { idempotencyKey: '' },
      { idempotencyKey: 'ключ' },
      { idempotencyKey: 'k'.repeat(256) },
      { idempotencyKey: 'k', idempotencyScope: 'a\u0000b' },
    ]) {
      expect(await codeOf(identity.bindAnchor(input, options))).toBe('invalid_argument');
    }
    expect(await count('identity_anchors', input.accountId)).toBe(0);
  });
});
