// The drizzle internals the ledger depends on (ADR 006): this file fails when a drizzle-orm upgrade changes them.
// It runs on PGlite, and on Postgres too when DATABASE_URL is set (the driver of the handle under test).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestLedgerDb, type TestLedgerDbHandle } from '../testing/test-db.js';
import { drizzleInternalsVersion, renderSql } from './drizzle-internals.js';
import { execRows, ledgerDriverOf, statementsOf } from './ledger-db.js';
import { accounts } from './schema.js';

/** The version of the drizzle-orm this package resolves (its package.json is not in drizzle's exports map). */
const installedDrizzleVersion = (() => {
  const entry = createRequire(import.meta.url).resolve('drizzle-orm');
  return (JSON.parse(readFileSync(join(dirname(entry), 'package.json'), 'utf8')) as { version: string }).version;
})();

describe('drizzle internals (ADR 006)', () => {
  let handle: TestLedgerDbHandle;
  beforeAll(async () => {
    handle = await openTestLedgerDb();
  });
  afterAll(() => handle.close());

  it('is the drizzle-orm version the internals were written for (an upgrade re-reads ADR 006 first)', () => {
    expect(installedDrizzleVersion).toBe(drizzleInternalsVersion);
  });

  it("runs drizzle's builders, relational queries, raw execute and savepoints in the driver's own transaction", async () => {
    const id = `acc_internals_${handle.kind}`;
    const seen = await ledgerDriverOf(handle.db).transaction({ readCommitted: false }, async (tx) => {
      await tx
        .insert(accounts)
        .values({ id, entityType: 'user', entityId: `internals-${handle.kind}`, createdAt: new Date() });
      const built = await tx.select({ id: accounts.id }).from(accounts).where(eq(accounts.id, id));
      // The relational API needs the schema the transaction was given (`db._`).
      const relational = await tx.query.accounts.findFirst({ where: eq(accounts.id, id) });
      const raw = await execRows<{ n: number }>(tx, sql`select count(*)::int4 as n from accounts where id = ${id}`);
      const viaStatements = await statementsOf(tx).rows<{ id: string }>('select id from accounts where id = $1', [id]);
      let nestedRolledBack = false;
      try {
        await tx.transaction(async (nested) => {
          await nested.update(accounts).set({ entityId: 'changed-in-savepoint' }).where(eq(accounts.id, id));
          throw new Error('roll the savepoint back');
        });
      } catch {
        nestedRolledBack = true;
      }
      const after = await tx.select({ entityId: accounts.entityId }).from(accounts).where(eq(accounts.id, id));
      return { built, relational, raw, viaStatements, nestedRolledBack, after };
    });
    expect(seen.built).toEqual([{ id }]);
    expect(seen.relational).toMatchObject({ id, entityType: 'user' });
    expect(seen.raw).toEqual([{ n: 1 }]);
    expect(seen.viaStatements).toEqual([{ id }]);
    expect(seen.nestedRolledBack).toBe(true);
    expect(seen.after).toEqual([{ entityId: `internals-${handle.kind}` }]);
    // Committed: visible outside the transaction.
    expect(await handle.db.select({ id: accounts.id }).from(accounts).where(eq(accounts.id, id))).toEqual([{ id }]);
  });

  it("rolls the driver's transaction back when its body throws", async () => {
    const id = `acc_internals_rollback_${handle.kind}`;
    await expect(
      ledgerDriverOf(handle.db).transaction({ readCommitted: false }, async (tx) => {
        await tx
          .insert(accounts)
          .values({ id, entityType: 'user', entityId: `rollback-${handle.kind}`, createdAt: new Date() });
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    expect(await handle.db.select().from(accounts).where(eq(accounts.id, id))).toEqual([]);
  });

  it('renders drizzle SQL with its own casing: quoted columns, parameters numbered from an offset', () => {
    const rendered = renderSql(sql`select ${accounts.entityId} from ${accounts} where ${accounts.id} = ${'a'}`, 3);
    expect(rendered).toEqual({
      text: 'select "accounts"."entity_id" from "accounts" where "accounts"."id" = $4',
      params: ['a'],
    });
  });
});
