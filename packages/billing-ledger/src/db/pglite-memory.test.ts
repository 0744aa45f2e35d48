import { existsSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLedger } from '../ledger/ledger.js';
import { migrateLedger } from './migrate.js';
import { openPgliteLedgerDb } from './pglite.js';
import { PgliteInitError, pgliteSharedBuffersMb } from './pglite-memory.js';

const folders: string[] = [];
async function folder(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'arrakis-pglite-memory-'));
  folders.push(dir);
  return dir;
}
afterAll(async () => {
  for (const dir of folders) await rm(dir, { recursive: true, force: true });
});

describe('the embedded store’s memory bounds', () => {
  it('initializes a new folder out of process, then opens it with the small buffer pool; reopens keep the data', async () => {
    const dataDir = await folder();
    const first = await openPgliteLedgerDb({ dataDir });
    expect(existsSync(join(dataDir, 'PG_VERSION'))).toBe(true);
    const [setting] = (await first.client.query<{ value: string }>("select current_setting('shared_buffers') as value"))
      .rows;
    expect(setting?.value).toBe(`${pgliteSharedBuffersMb}MB`);
    await migrateLedger(first.db);
    const ledger = createLedger({ db: first.db });
    const { account } = await ledger.createAccount({ entityType: 'user', entityId: 'memory-1' });
    await ledger.mint({ accountId: account.id, amountMicro: 5n, sourceType: 'grant' });
    await first.close();

    const again = await openPgliteLedgerDb({ dataDir });
    const reopened = createLedger({ db: again.db });
    expect((await reopened.getBalance(account.id)).availableMicro).toBe(5n);
    await again.close();
  }, 60_000);

  it('in memory too: the small buffer pool', async () => {
    const handle = await openPgliteLedgerDb();
    const { rows } = await handle.client.query<{ value: string }>("select current_setting('shared_buffers') as value");
    expect(rows[0]?.value).toBe(`${pgliteSharedBuffersMb}MB`);
    await handle.close();
  });

  it('reports a folder the child cannot initialize with a clear error, and leaves the folder unlocked', async () => {
    const dataDir = await folder();
    writeFileSync(join(dataDir, 'base'), 'not a directory'); // initdb needs base/ to be a folder
    const error = await openPgliteLedgerDb({ dataDir }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(PgliteInitError);
    expect(error).toMatchObject({ code: 'pglite_init_failed', dataDir });
    expect((error as Error).message).toContain('could not initialize the ledger store');
    // The lock was released: once the folder is fixed, it opens.
    await rm(join(dataDir, 'base'));
    const handle = await openPgliteLedgerDb({ dataDir });
    await handle.close();
  }, 60_000);
});
