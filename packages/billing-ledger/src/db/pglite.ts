/**
 * `@arrakis/billing-ledger/pglite`: the ledger database embedded in the process (PGlite, Postgres in WASM).
 */
import { mkdirSync } from 'node:fs';
import { PGlite, types } from '@electric-sql/pglite';
import { drizzle } from 'drizzle-orm/pglite';
import { InvalidArgumentError } from '../errors.js';
import type { LedgerDb, LedgerDbHandle } from './ledger-db.js';
import * as schema from './schema.js';

/** Options of {@link openPgliteLedgerDb}. */
export interface OpenPgliteLedgerDbOptions {
  /**
   * Folder of the file store (created when missing). Undefined = in memory, gone at `close()`.
   * The file store does not fsync: a crash of the machine can lose the last writes.
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
 * Run `migrateLedger(db)` once before first use.
 *
 * @throws {InvalidArgumentError} when `dataDir` is given but is not a non-empty string.
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
  if (dataDir !== undefined) mkdirSync(dataDir, { recursive: true });
  const parsers = { [types.INT8]: (value: string) => BigInt(value) };
  const client = await PGlite.create({
    parsers,
    ...(dataDir === undefined ? {} : { dataDir }),
    ...(loadDataDir === undefined ? {} : { loadDataDir }),
  });
  const db: LedgerDb = drizzle({ client, schema });
  return {
    db,
    kind: 'pglite',
    client,
    async close() {
      if (!client.closed) await client.close();
    },
  };
}
