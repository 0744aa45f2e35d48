/**
 * What bounds the embedded store's resident memory (issue 12, item 17; figures from `pnpm bench:memory`).
 *
 * PGlite runs Postgres in WebAssembly inside this process. Two things made a gateway on it hold 850 MB right after
 * start and 450–640 MB steady (a gateway on a Postgres server: ~150 MB):
 * - **`initdb`** — the first open of a new folder runs it in this process; it leaves ~500 MB resident even after
 *   its memory is freed (the allocator does not give it back). A new folder is now initialized by a short-lived
 *   child process ({@link initPgliteDataDir}), which exits and takes that memory with it.
 * - **`shared_buffers`** — Postgres' default 128 MB lives in the WASM linear memory, which never shrinks. The store
 *   has one connection and its files sit in the OS page cache anyway, so {@link pgliteSharedBuffersMb} is enough.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';

/** Postgres `shared_buffers` of the embedded store, in MiB (Postgres' default: 128). */
export const pgliteSharedBuffersMb = 32;

/** Longest wait for the child process that initializes a new data folder. */
export const pgliteInitTimeoutMs = 120_000;

/** PGlite's own start parameters, with the buffer size above. */
export const pgliteStartParams: readonly string[] = [
  ...PGlite.defaultStartParams,
  '-c',
  `shared_buffers=${pgliteSharedBuffersMb}MB`,
];

/** True when `dataDir` already holds a Postgres cluster (initialized earlier). */
export function isPgliteDataDirInitialized(dataDir: string): boolean {
  return existsSync(join(dataDir, 'PG_VERSION'));
}

// CommonJS on purpose: `node -e` runs it as is, and `require` resolves PGlite from the path this module found.
const initScript = `(async () => {
  const { PGlite } = require(process.argv[1]);
  const db = await PGlite.create({ dataDir: process.argv[2] });
  await db.close();
})().catch((error) => { console.error(error); process.exit(1); });`;

/**
 * Runs `initdb` for a new data folder in a child Node process (same binary), so the memory it needs is returned
 * to the system when the child exits. The caller holds the folder's lock.
 *
 * @throws {PgliteInitError} when the child fails (its exit and the end of its stderr are in the message).
 * @example
 * if (!isPgliteDataDirInitialized(dir)) await initPgliteDataDir(dir);
 */
export async function initPgliteDataDir(dataDir: string): Promise<void> {
  const pgliteMain = createRequire(import.meta.url).resolve('@electric-sql/pglite');
  await new Promise<void>((resolve, reject) => {
    execFile(
      process.execPath,
      ['-e', initScript, pgliteMain, dataDir],
      { timeout: pgliteInitTimeoutMs, maxBuffer: 1024 * 1024 },
      (error, _stdout, stderr) => {
        if (error === null) resolve();
        else reject(new PgliteInitError(dataDir, `${error.message}\n${stderr}`.trim().slice(-2000), error));
      },
    );
  });
}

/**
 * The child process that initializes a new data folder failed (a broken install or a full disk, not bad input);
 * nothing was opened.
 */
export class PgliteInitError extends Error {
  override readonly name = 'PgliteInitError';
  readonly code = 'pglite_init_failed';
  readonly dataDir: string;
  constructor(dataDir: string, output: string, cause: unknown) {
    super(`could not initialize the ledger store in ${JSON.stringify(dataDir)}: ${output}`, { cause });
    this.dataDir = dataDir;
  }
}
