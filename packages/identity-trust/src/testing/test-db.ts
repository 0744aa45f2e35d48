/**
 * Test harness: a fresh, migrated identity database per call. Not exported from the package; tests import it by
 * relative path. PGlite in memory by default; with `DATABASE_URL` a new Postgres database `identity_test_<random>`
 * created through a maintenance connection and dropped (WITH (FORCE)) by `close()`.
 */
import { randomBytes } from 'node:crypto';
import { PGlite } from '@electric-sql/pglite';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import type { IdentityDb } from '../db/identity-db.js';
import { migrateIdentity } from '../db/migrate.js';

/** A fresh identity database for one test file. */
export interface TestIdentityDb {
  db: IdentityDb;
  kind: 'postgres' | 'pglite';
  /** On Postgres, the URL of the database made for this handle; null on PGlite. */
  databaseUrl: string | null;
  close(): Promise<void>;
}

async function maintenanceQuery(serverUrl: string, statement: string): Promise<void> {
  const maintenance = postgres(serverUrl, { max: 1, onnotice: () => {} });
  try {
    await maintenance.unsafe(statement);
  } finally {
    await maintenance.end({ timeout: 5 });
  }
}

/**
 * Opens a fresh identity database (migrated unless `migrate: false`).
 *
 * @example
 * const handle = await openTestIdentityDb();
 * afterAll(() => handle.close());
 */
export async function openTestIdentityDb(
  options: { databaseUrl?: string | undefined; migrate?: boolean } = {},
): Promise<TestIdentityDb> {
  const serverUrl = 'databaseUrl' in options ? options.databaseUrl : process.env.DATABASE_URL;
  const migrate = options.migrate ?? true;
  if (serverUrl === undefined || serverUrl === '') {
    const client = await PGlite.create();
    const db: IdentityDb = drizzlePglite({ client });
    if (migrate) await migrateIdentity(db, 'pglite');
    return {
      db,
      kind: 'pglite',
      databaseUrl: null,
      async close() {
        if (!client.closed) await client.close();
      },
    };
  }
  const name = `identity_test_${randomBytes(6).toString('hex')}`;
  await maintenanceQuery(serverUrl, `create database "${name}"`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const client = postgres(url.toString(), { max: 8, onnotice: () => {} });
  const db: IdentityDb = drizzlePostgres({ client });
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await client.end({ timeout: 5 });
    await maintenanceQuery(serverUrl, `drop database if exists "${name}" with (force)`);
  };
  try {
    if (migrate) await migrateIdentity(db, 'postgres');
  } catch (error) {
    await close();
    throw error;
  }
  return { db, kind: 'postgres', databaseUrl: url.toString(), close };
}
