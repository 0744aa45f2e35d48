/**
 * Test harness: a fresh database with the x402 migrations applied, per call. Not exported from the package;
 * tests import it by relative path. PGlite in memory by default; with `DATABASE_URL` a new Postgres database
 * `x402_test_<random>` that `close()` drops.
 */
import { randomBytes } from 'node:crypto';
import { PGlite, types } from '@electric-sql/pglite';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { type AnyPgDatabase, migrateX402 } from '../adapters/postgres/migrate.js';

export interface TestDb {
  db: AnyPgDatabase;
  kind: 'postgres' | 'pglite';
  /** Runs raw SQL and returns its rows (both drivers). */
  query<T>(text: string, params?: unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

async function maintenance(serverUrl: string, statement: string): Promise<void> {
  const client = postgres(serverUrl, { max: 1, onnotice: () => {} });
  try {
    await client.unsafe(statement);
  } finally {
    await client.end({ timeout: 5 });
  }
}

export async function openTestDb(options: { migrate?: boolean; max?: number } = {}): Promise<TestDb> {
  const serverUrl = process.env.DATABASE_URL;
  const migrate = options.migrate ?? true;
  if (serverUrl === undefined || serverUrl === '') {
    const client = await PGlite.create({ parsers: { [types.INT8]: (value: string) => BigInt(value) } });
    const db = drizzlePglite({ client }) as unknown as AnyPgDatabase;
    if (migrate) await migrateX402(db, 'pglite');
    return {
      db,
      kind: 'pglite',
      async query<T>(text: string, params: unknown[] = []) {
        return (await client.query<T>(text, params)).rows;
      },
      async close() {
        if (!client.closed) await client.close();
      },
    };
  }
  const name = `x402_test_${randomBytes(6).toString('hex')}`;
  await maintenance(serverUrl, `create database "${name}"`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const client = postgres(url.toString(), {
    max: options.max ?? 10,
    onnotice: () => {},
    types: { bigint: postgres.BigInt },
  });
  const db = drizzlePostgres({ client }) as unknown as AnyPgDatabase;
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await client.end({ timeout: 5 });
    await maintenance(serverUrl, `drop database if exists "${name}" with (force)`);
  };
  try {
    if (migrate) await migrateX402(db, 'postgres');
  } catch (error) {
    await close();
    throw error;
  }
  return {
    db,
    kind: 'postgres',
    async query<T>(text: string, params: unknown[] = []) {
      return (await client.unsafe(text, params as postgres.ParameterOrJSON<never>[])) as unknown as T[];
    },
    close,
  };
}
