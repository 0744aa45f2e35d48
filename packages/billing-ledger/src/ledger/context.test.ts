import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execRows, type LedgerDb } from '../db/ledger-db.js';
import { openPostgresLedgerDb } from '../db/postgres.js';
import { type LedgerContext, sqlStateOf, writeIsolationOf } from './context.js';
import { type LedgerKit, openLedgerKit } from './test-kit.js';

let kit: LedgerKit;
beforeAll(async () => {
  kit = await openLedgerKit();
});
afterAll(() => kit.close());

const contextOver = (db: LedgerDb): LedgerContext => ({
  db,
  clock: kit.clock,
  holdTtlMsDefault: 300_000,
  holdTtlMsMax: 86_400_000,
  idempotencyTtlMs: 86_400_000,
  retryCountMax: 5,
  faults: {},
});

describe('write isolation', () => {
  it('skips SET TRANSACTION when the default is READ COMMITTED, and sets it explicitly otherwise', async () => {
    expect(await writeIsolationOf(contextOver(kit.handle.db))).toBeUndefined();
    if (kit.handle.kind === 'pglite') {
      await kit.handle.db.execute(sql`set default_transaction_isolation = 'repeatable read'`);
      try {
        const ctx = contextOver(kit.handle.db);
        expect(await writeIsolationOf(ctx)).toEqual({ isolationLevel: 'read committed' });
        const level = await ctx.db.transaction(
          async (tx) =>
            (await execRows<{ level: string }>(tx, sql`select current_setting('transaction_isolation') as level`))[0]
              ?.level,
          await writeIsolationOf(ctx),
        );
        expect(level).toBe('read committed');
      } finally {
        await kit.handle.db.execute(sql`set default_transaction_isolation = 'read committed'`);
      }
    } else {
      const name = kit.handle.databaseName as string;
      await kit.handle.db.execute(
        sql.raw(`alter database "${name}" set default_transaction_isolation = 'serializable'`),
      );
      const other = openPostgresLedgerDb({ url: kit.handle.databaseUrl as string, max: 1 });
      try {
        const ctx = contextOver(other.db);
        expect(await writeIsolationOf(ctx)).toEqual({ isolationLevel: 'read committed' });
      } finally {
        await other.close();
        await kit.handle.db.execute(sql.raw(`alter database "${name}" reset default_transaction_isolation`));
      }
    }
  });

  it('finds the SQLSTATE through wrapper causes', () => {
    expect(sqlStateOf({ code: '40001' })).toBe('40001');
    expect(sqlStateOf(new Error('x', { cause: { code: '40P01' } }))).toBe('40P01');
    expect(sqlStateOf(new Error('x', { cause: new Error('y', { cause: { code: '23505' } }) }))).toBe('23505');
    expect(sqlStateOf({ code: 'ECONNRESET' })).toBeUndefined();
    expect(sqlStateOf('40001')).toBeUndefined();
  });
});
