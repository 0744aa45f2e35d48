import type { SQL } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import type * as schema from './schema.js';

/** The drizzle schema module of the ledger (tables and their enums), as a type. */
export type LedgerSchema = typeof schema;

/**
 * The database the ledger accepts: a drizzle `PgDatabase` over postgres.js (`openPostgresLedgerDb`) or PGlite
 * (`openPgliteLedgerDb`), typed with the ledger schema. Both drivers' databases are assignable to it.
 *
 * @example
 * const { db }: { db: LedgerDb } = await openPgliteLedgerDb();
 */
export type LedgerDb = PgDatabase<PgQueryResultHKT, LedgerSchema>;

/** Which driver a {@link LedgerDb} runs on. */
export type LedgerDbKind = 'postgres' | 'pglite';

/** An open ledger database and the means to close it. */
export interface LedgerDbHandle {
  db: LedgerDb;
  kind: LedgerDbKind;
  /** Ends the connections (or the embedded database) this handle opened. */
  close(): Promise<void>;
}

/**
 * Runs raw SQL and returns its rows the same way on both drivers (postgres.js answers an array, PGlite
 * `{ rows }`). `int8` values come back as `bigint`, `numeric` as strings, timestamps as strings.
 *
 * @example
 * const [row] = await execRows<{ n: bigint }>(db, sql`select count(*) as n from entries`);
 */
export async function execRows<TRow extends Record<string, unknown> = Record<string, unknown>>(
  db: LedgerDb,
  query: SQL,
): Promise<TRow[]> {
  const result: unknown = await db.execute(query);
  if (Array.isArray(result)) return Array.from(result as TRow[]);
  return (result as { rows: TRow[] }).rows;
}
