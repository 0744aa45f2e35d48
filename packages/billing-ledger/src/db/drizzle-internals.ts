/**
 * The one place the ledger reaches into drizzle-orm beyond its documented API (ADR 006, pinned drizzle-orm 0.45.4):
 *
 * - a drizzle transaction over a connection the ledger's driver opened itself (postgres.js: a reserved connection
 *   whose BEGIN is pipelined with the first statements; PGlite: its own `transaction()`), built from drizzle's
 *   session and transaction classes and the database's relational schema (`db._`);
 * - rendering a drizzle `SQL` to text and parameters with a `CasingCache` (what drizzle's dialect does inside).
 *
 * `drizzle-internals.test.ts` fails when an upgrade changes any of it; the rollback is in ADR 006.
 */
import type { RelationalSchemaConfig, SQL, TablesRelationalConfig } from 'drizzle-orm';
import { CasingCache } from 'drizzle-orm/casing';
import { PgDialect } from 'drizzle-orm/pg-core';
import type { LedgerDb } from './ledger-db.js';
import { escapeName, escapeString } from './sql-text.js';

/** The drizzle version these internals were written against (package.json pins it exactly). */
export const drizzleInternalsVersion = '0.45.4';

type Relational = RelationalSchemaConfig<TablesRelationalConfig>;

/**
 * A driver's drizzle session and transaction classes (`PostgresJsSession` + `PostgresJsTransaction` from
 * `drizzle-orm/postgres-js`, `PgliteSession` + `PgliteTransaction` from `drizzle-orm/pglite`), passed in by the
 * driver module so this file loads no driver.
 */
export interface DrizzleSessionClasses<Client> {
  Session: new (client: Client, dialect: PgDialect, schema: Relational, options: object) => object;
  Transaction: new (dialect: PgDialect, session: never, schema: Relational) => object;
}

/** The relational schema drizzle keeps on a database (`db._`), which its transactions need too. */
function relationalOf(db: LedgerDb): Relational {
  const internals = (db as unknown as { _: Relational })._;
  return { fullSchema: internals.fullSchema, schema: internals.schema, tableNamesMap: internals.tableNamesMap };
}

/**
 * Drizzle transactions over connections the ledger's driver opened itself, for the database `db` (its schema):
 * `over(client)` is the drizzle transaction whose statements run on `client` (a reserved postgres.js connection that
 * also takes savepoints, or a PGlite transaction) — what drizzle builds inside its own `transaction()`.
 *
 * @example
 * ```ts
 * const transactions = drizzleTransactions(db, { Session: PostgresJsSession, Transaction: PostgresJsTransaction });
 * const tx = transactions.over(reservedConnection);
 * ```
 */
export function drizzleTransactions<Client>(
  db: LedgerDb,
  classes: DrizzleSessionClasses<Client>,
): { over(client: Client): LedgerDb } {
  const dialect = new PgDialect();
  const relational = relationalOf(db);
  return {
    over: (client) =>
      new classes.Transaction(
        dialect,
        new classes.Session(client, dialect, relational, {}) as never,
        relational,
      ) as unknown as LedgerDb,
  };
}

const casing = new CasingCache();

/**
 * Renders a drizzle query to SQL text and parameters, numbering its parameters from `paramStartIndex + 1`
 * (to embed it in a statement that already has that many).
 *
 * @example
 * const { text, params } = renderSql(sql`select ${1}`, 3); // text 'select $4'
 */
export function renderSql(query: SQL, paramStartIndex = 0): { text: string; params: unknown[] } {
  const rendered = query.toQuery({
    casing,
    escapeName,
    escapeParam: (index: number) => `$${index + 1}`,
    escapeString,
    paramStartIndex: { value: paramStartIndex },
  });
  return { text: rendered.sql, params: rendered.params };
}
