/**
 * `@arrakis/billing-ledger/postgres`: open the ledger database on PostgreSQL through postgres.js.
 */
import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { InvalidArgumentError } from '../errors.js';
import type { LedgerDb, LedgerDbHandle } from './ledger-db.js';
import * as schema from './schema.js';

/** Connections in the pool when `max` is not given. */
export const postgresPoolSizeDefault = 10;
/** Largest pool `openPostgresLedgerDb` accepts. */
export const postgresPoolSizeMax = 1000;

/** Options of {@link openPostgresLedgerDb}: a connection URL, or a postgres.js client you own. */
export interface OpenPostgresLedgerDbOptions {
  /** `postgres://user@host:5432/db`; the handle owns the pool and `close()` ends it. */
  url?: string;
  /**
   * An existing postgres.js client; `close()` leaves it open. Its `int8` parser is set to `BigInt` so raw
   * rows carry bigints (drizzle already sets its timestamp parsers the same way).
   */
  sql?: postgres.Sql;
  /** Pool size when `url` is given (default 10). */
  max?: number;
}

/** An open Postgres ledger database. */
export interface PostgresLedgerDbHandle extends LedgerDbHandle {
  kind: 'postgres';
  /** The postgres.js client underneath. */
  sql: postgres.Sql;
}

/**
 * Opens the ledger database on PostgreSQL. Run `migrateLedger(db)` once before first use.
 *
 * @throws {InvalidArgumentError} when neither `url` nor `sql` is given, both are, or `max` is not an integer in 1..1000.
 * @example
 * const { db, close } = openPostgresLedgerDb({ url: 'postgres://postgres@127.0.0.1:5432/ledger' });
 * await migrateLedger(db);
 * const ledger = createLedger({ db });
 * // ...
 * await close();
 */
export function openPostgresLedgerDb(options: OpenPostgresLedgerDbOptions): PostgresLedgerDbHandle {
  const { url, sql: given, max } = options;
  if ((url === undefined) === (given === undefined)) {
    throw new InvalidArgumentError('openPostgresLedgerDb needs exactly one of `url` or `sql`', {
      details: { url: url === undefined ? null : 'set', sql: given === undefined ? null : 'set' },
    });
  }
  if (max !== undefined && (!Number.isInteger(max) || max < 1 || max > postgresPoolSizeMax)) {
    throw new InvalidArgumentError(`max ${JSON.stringify(max)} must be an integer from 1 to ${postgresPoolSizeMax}`, {
      details: { max },
    });
  }
  if (url !== undefined && (typeof url !== 'string' || !/^postgres(ql)?:\/\//.test(url))) {
    throw new InvalidArgumentError(`url ${JSON.stringify(url)} must start with postgres:// or postgresql://`);
  }
  let client: postgres.Sql;
  if (given !== undefined) {
    client = given;
    client.options.parsers[20] = (value: string) => BigInt(value);
    client.options.serializers[20] = (value: unknown) => String(value);
  } else {
    client = postgres(url as string, {
      max: max ?? postgresPoolSizeDefault,
      types: { bigint: postgres.BigInt },
      onnotice: () => {},
      connection: { application_name: 'arrakis-ledger' },
    });
  }
  const db: LedgerDb = drizzle({ client, schema });
  return {
    db,
    kind: 'postgres',
    sql: client,
    async close() {
      if (given === undefined) await client.end({ timeout: 5 });
    },
  };
}
