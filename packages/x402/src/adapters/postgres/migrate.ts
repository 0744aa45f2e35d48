import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';

/** Schema and table where applied x402 migrations are recorded (apart from any other package's migrations). */
export const x402MigrationsSchema = 'drizzle';
export const x402MigrationsTable = '__x402_migrations';
/** Key of the transaction-level advisory lock that serialises concurrent `migrateX402` calls. */
export const x402MigrationLockKey = 7_340_207_402_001n;

/**
 * A drizzle Postgres database over any driver (postgres.js, PGlite, node-postgres) and any schema.
 */
// biome-ignore lint/suspicious/noExplicitAny: the caller's schema is theirs; this package only uses its own table.
export type AnyPgDatabase = PgDatabase<PgQueryResultHKT, any>;

/** The transaction a drizzle database's own `transaction()` hands its callback (what an effect receives). */
export type PgTransactionOf<TDb extends AnyPgDatabase> = Parameters<Parameters<TDb['transaction']>[0]>[0];

/**
 * The folder of the committed SQL migrations (`packages/x402/drizzle`), found from this module's location so it
 * works from `src/` (tests) and from `dist/` (the built package).
 *
 * @throws {Error} when the folder is missing (a broken install).
 * @example
 * readMigrationFiles({ migrationsFolder: x402MigrationsFolder() });
 */
export function x402MigrationsFolder(): string {
  for (const relative of ['../drizzle/', '../../drizzle/', '../../../drizzle/']) {
    const folder = fileURLToPath(new URL(relative, import.meta.url));
    if (existsSync(`${folder}meta/_journal.json`)) return folder;
  }
  throw new Error(
    `the x402 migrations folder (drizzle/meta/_journal.json) was not found near ${fileURLToPath(import.meta.url)}`,
  );
}

async function rows<T>(db: AnyPgDatabase, query: ReturnType<typeof sql>): Promise<T[]> {
  const result: unknown = await db.execute(query);
  if (Array.isArray(result)) return Array.from(result as T[]);
  return (result as { rows: T[] }).rows;
}

/**
 * Creates or updates the `x402_payments` table: applies the committed SQL migrations the database has not run
 * yet, in one transaction, recorded in `drizzle.__x402_migrations` (so it coexists with other packages'
 * drizzle migrations in the same database). Many processes may call it at once: an advisory lock serialises
 * them (skipped on PGlite, which has one connection).
 *
 * @example
 * await migrateX402(db);
 * const store = postgresPaymentClaimStore({ db });
 */
export async function migrateX402(db: AnyPgDatabase, kind: 'postgres' | 'pglite' = 'postgres'): Promise<void> {
  const migrations = readMigrationFiles({ migrationsFolder: x402MigrationsFolder() });
  await db.transaction(async (tx) => {
    const txDb = tx as unknown as AnyPgDatabase;
    if (kind !== 'pglite')
      await tx.execute(sql`select pg_advisory_xact_lock(${sql.raw(x402MigrationLockKey.toString())})`);
    await tx.execute(sql`create schema if not exists ${sql.identifier(x402MigrationsSchema)}`);
    await tx.execute(
      sql`create table if not exists ${sql.identifier(x402MigrationsSchema)}.${sql.identifier(x402MigrationsTable)} (
        id serial primary key, hash text not null, created_at bigint)`,
    );
    const [last] = await rows<{ created_at: bigint | string | number | null }>(
      txDb,
      sql`select created_at from ${sql.identifier(x402MigrationsSchema)}.${sql.identifier(x402MigrationsTable)}
          order by created_at desc limit 1`,
    );
    const lastAppliedMs = last?.created_at == null ? null : Number(last.created_at);
    for (const migration of migrations) {
      if (lastAppliedMs !== null && lastAppliedMs >= migration.folderMillis) continue;
      for (const statement of migration.sql) {
        if (statement.trim().length > 0) await tx.execute(sql.raw(statement));
      }
      await tx.execute(
        sql`insert into ${sql.identifier(x402MigrationsSchema)}.${sql.identifier(x402MigrationsTable)} (hash, created_at)
            values (${migration.hash}, ${migration.folderMillis})`,
      );
    }
  });
}
