import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import { execRows, type IdentityDb } from './identity-db.js';

/** Schema of the table where applied identity migrations are recorded (shared with the ledger's table). */
export const identityMigrationsSchema = 'drizzle';
/** Table where applied identity migrations are recorded; the ledger's are in `__drizzle_migrations`, apart. */
export const identityMigrationsTable = '__identity_migrations';
/** Key of the transaction-level advisory lock that makes concurrent `migrateIdentity` calls run one after another. */
export const identityMigrationLockKey = 7_340_207_112_005n;

/**
 * The folder of the committed SQL migrations (`packages/identity-trust/drizzle`), found from this module's location
 * so it works from `src/db/` (tests) and from `dist/` (the built package).
 *
 * @throws {Error} when the folder is missing (a broken install).
 * @example
 * readMigrationFiles({ migrationsFolder: identityMigrationsFolder() });
 */
export function identityMigrationsFolder(): string {
  for (const relative of ['../drizzle/', '../../drizzle/']) {
    const folder = fileURLToPath(new URL(relative, import.meta.url));
    if (existsSync(`${folder}meta/_journal.json`)) return folder;
  }
  throw new Error(
    `the identity migrations folder (drizzle/meta/_journal.json) was not found next to ${fileURLToPath(import.meta.url)}`,
  );
}

/**
 * Applies the identity tables' committed SQL migrations that the database has not run yet, in one transaction; a
 * no-op when it is up to date. Records them in `drizzle.__identity_migrations` (the ledger's migrations use
 * `drizzle.__drizzle_migrations`, so both coexist in one database). On Postgres a transaction-level advisory lock
 * makes many processes starting at once apply each migration exactly once.
 *
 * @param kind the driver; `'pglite'` skips the advisory lock (one connection, nothing to race). Default: take it.
 * @example
 * const db = drizzle({ client: new PGlite() });
 * await migrateIdentity(db, 'pglite');
 */
export async function migrateIdentity(db: IdentityDb, kind?: 'postgres' | 'pglite'): Promise<void> {
  const migrations = readMigrationFiles({ migrationsFolder: identityMigrationsFolder() });
  const table = sql`${sql.identifier(identityMigrationsSchema)}.${sql.identifier(identityMigrationsTable)}`;
  await db.transaction(async (tx) => {
    if (kind !== 'pglite') {
      await tx.execute(sql`select pg_advisory_xact_lock(${sql.raw(identityMigrationLockKey.toString())})`);
    }
    await tx.execute(sql`create schema if not exists ${sql.identifier(identityMigrationsSchema)}`);
    await tx.execute(
      sql`create table if not exists ${table} (id serial primary key, hash text not null, created_at bigint)`,
    );
    const [last] = await execRows<{ created_at: bigint | string | number | null }>(
      tx,
      sql`select created_at from ${table} order by created_at desc limit 1`,
    );
    const lastAppliedMs = last?.created_at == null ? null : Number(last.created_at);
    for (const migration of migrations) {
      if (lastAppliedMs !== null && lastAppliedMs >= migration.folderMillis) continue;
      for (const statement of migration.sql) {
        if (statement.trim().length > 0) await tx.execute(sql.raw(statement));
      }
      await tx.execute(
        sql`insert into ${table} (hash, created_at) values (${migration.hash}, ${migration.folderMillis})`,
      );
    }
  });
}
