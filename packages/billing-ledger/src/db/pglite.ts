/**
 * `@arrakis/billing-ledger/pglite`: the ledger database embedded in the process (PGlite, Postgres in WASM).
 */
import { mkdirSync } from 'node:fs';
import { PGlite, type QueryOptions, type Transaction, types } from '@electric-sql/pglite';
import { drizzle, PgliteSession, PgliteTransaction } from 'drizzle-orm/pglite';
import { InvalidArgumentError } from '../errors.js';
import { acquireDataDirLock, type DataDirLock } from './data-dir-lock.js';
import { drizzleTransactions } from './drizzle-internals.js';
import {
  attachLedgerDriver,
  attachTransactionStatements,
  DirectStatements,
  type DriverRow,
  type LedgerDb,
  type LedgerDbHandle,
  type LedgerDriver,
  TransactionStatements,
} from './ledger-db.js';
import { initPgliteDataDir, isPgliteDataDirInitialized, pgliteStartParams } from './pglite-memory.js';
import * as schema from './schema.js';

export { DataDirLockedError, dataDirLockFileName } from './data-dir-lock.js';
export { PgliteInitError, pgliteInitTimeoutMs, pgliteSharedBuffersMb, pgliteStartParams } from './pglite-memory.js';

/** Options of {@link openPgliteLedgerDb}. */
export interface OpenPgliteLedgerDbOptions {
  /**
   * Folder of the file store (created when missing). Undefined = in memory, gone at `close()`.
   * The file store does not fsync: a crash of the machine can lose the last writes. One process at a time opens a
   * folder: the handle holds an exclusive lock on it (`arrakis-ledger.lock` in the folder) until `close()`; a lock
   * left by a process that died is taken over.
   */
  dataDir?: string;
  /** Start from a dump made by PGlite's `dumpDataDir()` (e.g. an already migrated template) instead of an empty cluster. */
  loadDataDir?: Blob;
}

/** An open PGlite ledger database. */
export interface PgliteLedgerDbHandle extends LedgerDbHandle {
  kind: 'pglite';
  /** The PGlite instance underneath. */
  client: PGlite;
}

/**
 * Opens the ledger database embedded in this process (one connection; transactions run one at a time).
 * Run `migrateLedger(db)` once before first use. A `dataDir` is locked for this handle until `close()` (see
 * {@link OpenPgliteLedgerDbOptions.dataDir}).
 *
 * @throws {InvalidArgumentError} when `dataDir` is given but is not a non-empty string.
 * @throws {DataDirLockedError} when another live process, or another open handle of this one, holds `dataDir`.
 * @example
 * const { db, close } = await openPgliteLedgerDb(); // in memory
 * await migrateLedger(db);
 * const ledger = createLedger({ db });
 * // ...
 * await close();
 */
export async function openPgliteLedgerDb(options: OpenPgliteLedgerDbOptions = {}): Promise<PgliteLedgerDbHandle> {
  const { dataDir, loadDataDir } = options;
  if (dataDir !== undefined && (typeof dataDir !== 'string' || dataDir.length === 0)) {
    throw new InvalidArgumentError(`dataDir ${JSON.stringify(dataDir)} must be a non-empty folder path`);
  }
  let lock: DataDirLock | undefined;
  if (dataDir !== undefined) {
    mkdirSync(dataDir, { recursive: true });
    lock = await acquireDataDirLock(dataDir);
  }
  let client: PGlite;
  try {
    // A new folder is initialized by a child process, whose memory goes with it (see pglite-memory.ts).
    if (dataDir !== undefined && loadDataDir === undefined && !isPgliteDataDirInitialized(dataDir)) {
      await initPgliteDataDir(dataDir);
    }
    client = await PGlite.create({
      startParams: [...pgliteStartParams],
      parsers: { [types.INT8]: (value: string) => BigInt(value) },
      ...(dataDir === undefined ? {} : { dataDir }),
      ...(loadDataDir === undefined ? {} : { loadDataDir }),
    });
  } catch (error) {
    lock?.release();
    throw error;
  }
  const db: LedgerDb = drizzle({ client, schema });
  attachLedgerDriver(db, pgliteDriver(client, db));
  return {
    db,
    kind: 'pglite',
    client,
    async close() {
      try {
        if (!client.closed) await client.close();
      } finally {
        lock?.release();
      }
    },
  };
}

const keepText = (value: string) => value;
/** Rows as drizzle's `execute` answers them on PGlite: date and time values stay text (see `execRows`). */
const rawQueryOptions: QueryOptions = {
  rowMode: 'object',
  parsers: {
    [types.TIMESTAMP]: keepText,
    [types.TIMESTAMPTZ]: keepText,
    [types.INTERVAL]: keepText,
    [types.DATE]: keepText,
    1231: keepText, // numeric[]
    1115: keepText, // timestamp[]
    1185: keepText, // timestamptz[]
    1187: keepText, // interval[]
    1182: keepText, // date[]
  },
};

/**
 * The ledger's PGlite driver: raw statements go to PGlite directly (no drizzle query building); a write
 * transaction is PGlite's `transaction()`, with a drizzle transaction over it for the body.
 */
function pgliteDriver(client: PGlite, db: LedgerDb): LedgerDriver {
  const transactions = drizzleTransactions<PGlite | Transaction>(db, {
    Session: PgliteSession as never,
    Transaction: PgliteTransaction as never,
  });
  const execOn =
    (target: PGlite | Transaction) =>
    async (text: string, params: readonly unknown[]): Promise<DriverRow[]> =>
      (await target.query<DriverRow>(text, params as unknown[], rawQueryOptions)).rows;
  return {
    statements: new DirectStatements(execOn(client)),
    transaction: (options, body) =>
      client.transaction(async (ptx) => {
        const statements = new TransactionStatements(execOn(ptx));
        try {
          if (options.readCommitted) await statements.rows('set transaction isolation level read committed', []);
          const tx = transactions.over(ptx);
          attachTransactionStatements(tx, statements);
          const result = await body(tx);
          await statements.settle();
          return result;
        } catch (error) {
          await statements.settleQuietly();
          throw statements.errorToThrow(error);
        }
      }),
  };
}
