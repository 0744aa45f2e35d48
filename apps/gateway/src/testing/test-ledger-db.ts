// Test support (not part of the build): a fresh, migrated ledger database per call — PGlite in memory, or a new
// Postgres database (`gateway_ledger_<random>`, dropped by `close()`) when DATABASE_URL is set. drizzle-kit's SQL
// qualifies foreign keys with "public", so tests isolate by database, not by schema.
import { randomBytes } from 'node:crypto';
import { type LedgerDbHandle, migrateLedger } from '@arrakis/billing-ledger';
import { openPgliteLedgerDb } from '@arrakis/billing-ledger/pglite';
import { openPostgresLedgerDb } from '@arrakis/billing-ledger/postgres';
import postgres from 'postgres';

/** A fresh ledger database; on Postgres, `databaseUrl` names it (for a child process). */
export interface TestLedgerDb extends LedgerDbHandle {
  databaseUrl: string | null;
}

async function maintenance<T>(serverUrl: string, run: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = postgres(serverUrl, { max: 1, onnotice: () => {} });
  try {
    return await run(sql);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** Creates an empty Postgres database on the server of `serverUrl`; returns its URL and a function dropping it. */
export async function createTestDatabase(
  serverUrl: string,
  prefix = 'gateway_ledger',
): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  await maintenance(serverUrl, (sql) => sql.unsafe(`create database "${name}"`));
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () =>
      maintenance(serverUrl, (sql) => sql.unsafe(`drop database if exists "${name}" with (force)`)).then(() => {}),
  };
}

/** Opens a fresh migrated ledger database: PGlite in memory, or a new Postgres database when DATABASE_URL is set. */
export async function openTestLedgerDb(serverUrl = process.env.DATABASE_URL): Promise<TestLedgerDb> {
  if (serverUrl === undefined || serverUrl === '') {
    const handle = await openPgliteLedgerDb();
    await migrateLedger(handle.db, handle.kind);
    return { ...handle, databaseUrl: null };
  }
  const database = await createTestDatabase(serverUrl);
  const handle = openPostgresLedgerDb({ url: database.url, max: 4 });
  await migrateLedger(handle.db, handle.kind);
  let closed = false;
  return {
    db: handle.db,
    kind: handle.kind,
    databaseUrl: database.url,
    async close() {
      if (closed) return;
      closed = true;
      await handle.close();
      await database.drop();
    },
  };
}
