import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import { execRows, type LedgerDb, type LedgerDbKind } from './ledger-db.js';

/** Schema and table where applied migrations are recorded (drizzle's defaults, so `drizzle-kit migrate` agrees). */
export const migrationsSchema = 'drizzle';
export const migrationsTable = '__drizzle_migrations';
/** Key of the transaction-level advisory lock that makes concurrent `migrateLedger` calls run one after another. */
export const migrationLockKey = 7_340_207_112_001n;

/**
 * The folder of the committed SQL migrations (`packages/billing-ledger/drizzle`), found from this module's
 * location so it works from `src/db/` (tests) and from `dist/` (the built package).
 *
 * @throws {Error} when the folder is missing (a broken install).
 * @example
 * readMigrationFiles({ migrationsFolder: ledgerMigrationsFolder() });
 */
export function ledgerMigrationsFolder(): string {
  for (const relative of ['../drizzle/', '../../drizzle/']) {
    const folder = fileURLToPath(new URL(relative, import.meta.url));
    if (existsSync(`${folder}meta/_journal.json`)) return folder;
  }
  throw new Error(
    `the ledger's migrations folder (drizzle/meta/_journal.json) was not found next to ${fileURLToPath(import.meta.url)}`,
  );
}

/**
 * Applies the ledger's committed SQL migrations that the database has not run yet, in one transaction; a no-op
 * when it is up to date. Records them where drizzle's migrator does (`drizzle.__drizzle_migrations`). On Postgres a
 * transaction-level advisory lock makes many processes starting at once apply each migration exactly once.
 *
 * @param kind the driver; `'pglite'` skips the advisory lock (one connection, nothing to race). Default: take the lock.
 * @example
 * const { db, kind } = await openPgliteLedgerDb();
 * await migrateLedger(db, kind);
 */
export async function migrateLedger(db: LedgerDb, kind?: LedgerDbKind): Promise<void> {
  const migrations = readMigrationFiles({ migrationsFolder: ledgerMigrationsFolder() });
  await db.transaction(async (tx) => {
    if (kind !== 'pglite') {
      await tx.execute(sql`select pg_advisory_xact_lock(${sql.raw(migrationLockKey.toString())})`);
    }
    await tx.execute(sql`create schema if not exists ${sql.identifier(migrationsSchema)}`);
    await tx.execute(
      sql`create table if not exists ${sql.identifier(migrationsSchema)}.${sql.identifier(migrationsTable)} (
        id serial primary key, hash text not null, created_at bigint)`,
    );
    const [last] = await execRows<{ created_at: bigint | string | number | null }>(
      tx,
      sql`select created_at from ${sql.identifier(migrationsSchema)}.${sql.identifier(migrationsTable)}
          order by created_at desc limit 1`,
    );
    const lastAppliedMs = last?.created_at == null ? null : Number(last.created_at);
    for (const migration of migrations) {
      if (lastAppliedMs !== null && lastAppliedMs >= migration.folderMillis) continue;
      for (const statement of migration.sql) {
        if (statement.trim().length > 0) await tx.execute(sql.raw(statement));
      }
      await tx.execute(
        sql`insert into ${sql.identifier(migrationsSchema)}.${sql.identifier(migrationsTable)} (hash, created_at)
            values (${migration.hash}, ${migration.folderMillis})`,
      );
    }
  });
}
