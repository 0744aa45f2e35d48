/**
 * The events feed on real Postgres with a write transaction held open on another connection: the poll answers at
 * once (it takes no table lock), holds back what committed behind the open transaction, and after it commits the
 * next polls return every event exactly once, in feed order — none skipped.
 */
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLedger, type Ledger } from '../index.js';
import { openTestLedgerDb, type TestLedgerDbHandle } from '../testing/test-db.js';
import type { LedgerEvent } from '../types.js';

const databaseUrl = process.env.DATABASE_URL;
let handle: TestLedgerDbHandle;
let ledger: Ledger;

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = () => {};
  const promise = new Promise<void>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}

async function drain(after: string | null): Promise<{ events: LedgerEvent[]; after: string | null }> {
  const events: LedgerEvent[] = [];
  let cursor = after;
  for (let page = 0; page < 100; page += 1) {
    const result = await ledger.listEvents({ after: cursor, limit: 50 });
    if (result.items.length === 0) break;
    events.push(...result.items);
    cursor = result.nextCursor;
  }
  return { events, after: cursor };
}

describe.skipIf(!databaseUrl)('events feed with a long-open write on Postgres (needs DATABASE_URL)', () => {
  beforeAll(async () => {
    handle = await openTestLedgerDb();
    ledger = createLedger({ db: handle.db });
  });
  afterAll(() => handle?.close());

  it('never waits for a writer, never skips an event that commits later with a smaller id', async () => {
    const start = await drain(null);
    const { account } = await ledger.createAccount({ entityType: 'feed', entityId: 'long-open' });
    const side = postgres(handle.databaseUrl as string, { max: 1, onnotice: () => {} });
    try {
      const txOpen = deferred();
      const txRelease = deferred();
      const longWrite = side.begin(async (tx) => {
        await tx`insert into events (type, account_id, subject_id, payload, created_at)
          values ('test.long_open', ${account.id}, 'long', '{}'::jsonb, now())`;
        txOpen.resolve();
        await txRelease.promise;
      });
      await txOpen.promise;
      // A write that commits while the long one is open: its event has a larger id than the long write's.
      await ledger.mint({ accountId: account.id, amountMicro: 100n, sourceType: 'grant' });
      const timeout = new Promise<'blocked'>((resolve) => setTimeout(() => resolve('blocked'), 10_000));
      const poll = await Promise.race([drain(start.after), timeout]);
      expect(poll, 'the poll answered while a write transaction was open').not.toBe('blocked');
      const held = poll as Awaited<ReturnType<typeof drain>>;
      expect(held.events.map((e) => e.type)).not.toContain('lot.minted');
      txRelease.resolve();
      await longWrite;
      const after = await drain(held.after);
      const types = [...held.events, ...after.events].map((e) => e.type);
      expect(types.filter((t) => t === 'test.long_open')).toHaveLength(1);
      expect(types.filter((t) => t === 'lot.minted')).toHaveLength(1);
      const ids = [...held.events, ...after.events].map((e) => e.id);
      expect(new Set(ids).size).toBe(ids.length);
    } finally {
      await side.end();
    }
  }, 60_000);
});
