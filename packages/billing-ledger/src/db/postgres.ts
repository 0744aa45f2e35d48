/**
 * `@arrakis/billing-ledger/postgres`: open the ledger database on PostgreSQL through postgres.js.
 */
import { drizzle, PostgresJsSession, PostgresJsTransaction } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { InvalidArgumentError } from '../errors.js';
import { drizzleTransactions } from './drizzle-internals.js';
import {
  attachLedgerDriver,
  attachTransactionStatements,
  DirectStatements,
  type DriverRow,
  type LedgerDb,
  type LedgerDbHandle,
  type LedgerDriver,
  TransactionAbortedError,
  TransactionStatements,
} from './ledger-db.js';
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
  const db: LedgerDb = drizzle({ client: preparingStatements(client), schema });
  attachLedgerDriver(db, postgresDriver(client, db));
  return {
    db,
    kind: 'postgres',
    sql: client,
    async close() {
      if (given === undefined) await client.end({ timeout: 5 });
    },
  };
}

/**
 * The postgres.js client drizzle runs on: every statement with parameters is prepared (named, parsed once per
 * connection), also the ones drizzle sends unnamed. An unnamed statement with parameters costs postgres.js two round
 * trips (Parse + Describe, then Bind + Execute) and the server a parse each time; a prepared one, after its first
 * use on a connection, one round trip. The query texts drizzle builds come from code (values travel as parameters),
 * so a connection prepares a bounded set. Statements without parameters still go as simple queries. Transactions
 * (`begin`) and their savepoints hand drizzle a client that prepares the same way.
 */
function preparingStatements<T extends postgres.Sql | postgres.TransactionSql>(client: T): T {
  type Body = (sql: postgres.Sql) => unknown;
  return new Proxy(client, {
    get(target, key, receiver) {
      if (key === 'unsafe') {
        return (text: string, params?: postgres.ParameterOrJSON<never>[], options?: postgres.UnsafeQueryOptions) =>
          target.unsafe(text, params, { ...options, prepare: true });
      }
      if (key === 'begin' || key === 'savepoint') {
        return (...args: unknown[]) => {
          const body = args.pop() as Body;
          const wrapped: Body = (sql) => body(preparingStatements(sql));
          const method = Reflect.get(target, key, target) as (...all: unknown[]) => unknown;
          return method.call(target, ...args, wrapped);
        };
      }
      return Reflect.get(target, key, receiver);
    },
  });
}

/**
 * The ledger's postgres.js driver. Raw statements are prepared (named) once per connection. A write transaction
 * reserves a connection and sends its BEGIN pipelined with the first statements and its COMMIT pipelined behind
 * the queued writes, so a reserve or a finalize is two round trips; the drizzle transaction handed to the body
 * runs on the same connection.
 */
function postgresDriver(client: postgres.Sql, db: LedgerDb): LedgerDriver {
  const transactions = drizzleTransactions<postgres.Sql>(db, {
    Session: PostgresJsSession as never,
    Transaction: PostgresJsTransaction as never,
  });
  const execOn =
    (target: postgres.Sql) =>
    (text: string, params: readonly unknown[]): PromiseLike<DriverRow[]> =>
      target.unsafe(text, params as postgres.ParameterOrJSON<never>[], { prepare: true });
  return {
    statements: new DirectStatements(execOn(client)),
    async transaction(options, body) {
      const conn = await client.reserve();
      const statements = new TransactionStatements(
        execOn(conn),
        conn.unsafe(options.readCommitted ? 'begin isolation level read committed' : 'begin'),
      );
      let ended = false;
      try {
        const tx = transactions.over(preparingStatements(withSavepoints(conn)));
        attachTransactionStatements(tx, statements);
        const result = await body(tx);
        ended = true;
        const [settled, committed] = await Promise.allSettled([statements.settle(), conn.unsafe('commit')]);
        if (settled.status === 'rejected') throw settled.reason;
        if (committed.status === 'rejected') throw committed.reason;
        // COMMIT of an aborted transaction answers ROLLBACK (a statement failed and its error was swallowed).
        if (committed.value.command === 'ROLLBACK') throw statements.failure?.error ?? new TransactionAbortedError();
        return result;
      } catch (error) {
        if (!ended) {
          ended = true;
          await statements.settleQuietly();
          await Promise.resolve(conn.unsafe('rollback')).catch(() => {});
        }
        throw statements.errorToThrow(error);
      } finally {
        conn.release();
      }
    },
  };
}

/** A reserved connection that also takes drizzle's nested transactions (savepoints), like postgres.js's `begin`. */
function withSavepoints(conn: postgres.ReservedSql): postgres.Sql {
  let savepointCount = 0;
  const savepoint = async <T>(body: (sql: postgres.Sql) => Promise<T>): Promise<T> => {
    savepointCount += 1;
    const name = `s${savepointCount}`;
    await conn.unsafe(`savepoint ${name}`);
    try {
      const result = await body(conn);
      await conn.unsafe(`release savepoint ${name}`);
      return result;
    } catch (error) {
      await conn.unsafe(`rollback to savepoint ${name}`);
      throw error;
    }
  };
  return Object.assign(conn, { savepoint });
}
