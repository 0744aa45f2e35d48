import type { SQL } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';

/**
 * The database the identity store accepts: any drizzle `PgDatabase`, over postgres.js or PGlite, typed with any
 * schema (e.g. the ledger's `LedgerDb`), so the identity tables can share the ledger's database and connections.
 *
 * @example
 * const db: IdentityDb = drizzle({ client: new PGlite() });
 */
// biome-ignore lint/suspicious/noExplicitAny: any drizzle schema is accepted; the store uses the query builder only.
export type IdentityDb = PgDatabase<PgQueryResultHKT, any>;

/**
 * Runs raw SQL and returns its rows the same way on both drivers (postgres.js answers an array, PGlite `{ rows }`).
 *
 * @example
 * const [row] = await execRows<{ n: string }>(db, sql`select count(*)::text as n from identity_anchors`);
 */
export async function execRows<TRow extends Record<string, unknown> = Record<string, unknown>>(
  db: IdentityDb,
  query: SQL,
): Promise<TRow[]> {
  const result: unknown = await db.execute(query);
  if (Array.isArray(result)) return Array.from(result as TRow[]);
  return (result as { rows: TRow[] }).rows;
}

const errorCauseDepthMax = 5;

/**
 * The SQLSTATE of a driver error, looking through drizzle's `DrizzleQueryError` wrapper (`cause`).
 *
 * @example
 * sqlStateOf(error) === '23505'; // unique_violation
 */
export function sqlStateOf(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < errorCauseDepthMax && current !== null && typeof current === 'object'; depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}
