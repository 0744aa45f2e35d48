import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateLedger } from './db/migrate.js';
import { openPgliteLedgerDb } from './db/pglite.js';
import { createLedger } from './ledger/ledger.js';
import { ManualClock } from './ports/clock.js';
import { openTestLedgerDb } from './testing/test-db.js';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const repoDir = fileURLToPath(new URL('../../..', import.meta.url));
const cliPath = join(packageDir, 'dist', 'cli.js');

/** Newest modification time of the package's non-test sources (and its migrations). */
function newestSourceMs(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSourceMs(path));
    else if (!entry.name.endsWith('.test.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

function runCli(args: string[]) {
  const result = spawnSync(process.execPath, [cliPath, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

let dataDir: string;
beforeAll(async () => {
  // The CLI test runs the built binary, as a user would; build it when dist/ is missing or older than the sources.
  const sourcesMs = Math.max(newestSourceMs(join(packageDir, 'src')), newestSourceMs(join(packageDir, 'drizzle')));
  const builtMs = existsSync(cliPath) ? statSync(cliPath).mtimeMs : 0;
  const build =
    builtMs >= sourcesMs
      ? { status: 0, stdout: '', stderr: '' }
      : spawnSync(join(repoDir, 'node_modules/.bin/pnpm'), ['--filter', '@arrakis/billing-ledger', 'build'], {
          cwd: repoDir,
          encoding: 'utf8',
          timeout: 120_000,
        });
  // The JS bundle is written before the declaration files: a failing d.ts build of another entry does not stop
  // this test as long as dist/cli.js is fresh.
  if (!existsSync(cliPath) || statSync(cliPath).mtimeMs < sourcesMs) {
    throw new Error(`build failed:\n${build.stdout}\n${build.stderr}`);
  }
  dataDir = mkdtempSync(join(tmpdir(), 'ledger-cli-'));
  const handle = await openPgliteLedgerDb({ dataDir });
  await migrateLedger(handle.db, handle.kind);
  const ledger = createLedger({ db: handle.db, clock: new ManualClock() });
  const { account } = await ledger.createAccount({ entityType: 'user', entityId: 'cli' });
  await ledger.mint({ accountId: account.id, amountMicro: 100n, sourceType: 'grant' });
  const { reservation } = await ledger.reserve({ accountId: account.id, amountMicro: 40n });
  await ledger.finalize({ reservationId: reservation.id, actualCostMicro: 25n });
  await handle.close();
}, 180_000);
afterAll(() => {
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('arrakis-ledger verify', { timeout: 120_000 }, () => {
  it('exits 0 on a clean PGlite store and prints a summary or JSON', () => {
    const readable = runCli(['verify', '--data-dir', dataDir]);
    expect(readable.stderr).toBe('');
    expect(readable.status).toBe(0);
    expect(readable.stdout).toMatch(/: OK\n/);
    expect(readable.stdout).toMatch(/1 lots, 1 reservations, 7 entries/);
    const json = runCli(['verify', '--data-dir', dataDir, '--json']);
    expect(json.status).toBe(0);
    const report = JSON.parse(json.stdout);
    expect(report).toMatchObject({
      ok: true,
      violations: [],
      counts: { lots: 1, reservations: 1, entries: 7, distributions: 1 },
    });
  });

  it('exits 1 and lists the violations when the store was tampered with', async () => {
    const copy = mkdtempSync(join(tmpdir(), 'ledger-cli-tampered-'));
    try {
      const handle = await openPgliteLedgerDb({ dataDir: copy });
      await migrateLedger(handle.db, handle.kind);
      await handle.db.execute(
        sql`insert into accounts (id, entity_type, entity_id, created_at) values ('acc_t', 'user', 't', now())`,
      );
      await handle.db.execute(sql`insert into lots (id, account_id, source_type, original_micro, available_micro, created_at)
        values ('lot_forged', 'acc_t', 'grant', 500, 500, now())`);
      await handle.close();
      const readable = runCli(['verify', '--data-dir', copy]);
      expect(readable.status).toBe(1);
      expect(readable.stdout).toMatch(/violation/);
      expect(readable.stdout).toMatch(/lot_replay_mismatch {2}lot_forged/);
      const json = runCli(['verify', '--json', '--data-dir', copy]);
      expect(json.status).toBe(1);
      expect(JSON.parse(json.stdout).ok).toBe(false);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });

  it('exits 3 naming the holder while another process holds the data dir, and verifies once it is released', async () => {
    const held = await openPgliteLedgerDb({ dataDir });
    try {
      const refused = runCli(['verify', '--data-dir', dataDir]);
      expect(refused.status).toBe(3);
      expect(refused.stdout).toBe('');
      expect(refused.stderr).toMatch(
        new RegExp(`^arrakis-ledger: could not verify: data directory .* is in use by process ${process.pid}; stop it`),
      );
    } finally {
      await held.close();
    }
    expect(runCli(['verify', '--data-dir', dataDir]).status).toBe(0);
  });

  it('exits 2 on usage errors and 3 when the database cannot be read', () => {
    for (const args of [
      [],
      ['verify'],
      ['check', '--data-dir', dataDir],
      ['verify', '--data-dir', dataDir, '--database-url', 'postgres://x@127.0.0.1/db'],
      ['verify', '--data-dir', join(dataDir, 'missing')],
      ['verify', '--database-url', 'mysql://x'],
      ['verify', '--data-dir', dataDir, '--bogus'],
    ]) {
      const result = runCli(args);
      expect({ args, status: result.status }).toEqual({ args, status: 2 });
      expect(result.stderr).toMatch(/usage: arrakis-ledger verify/);
    }
    expect(runCli(['--help']).status).toBe(0);
    const empty = mkdtempSync(join(tmpdir(), 'ledger-cli-empty-'));
    try {
      const unmigrated = runCli(['verify', '--data-dir', empty]);
      expect(unmigrated.status).toBe(3);
      expect(unmigrated.stderr).toMatch(/could not verify/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!process.env.DATABASE_URL)(
  'arrakis-ledger verify on Postgres (needs DATABASE_URL)',
  { timeout: 120_000 },
  () => {
    it('verifies a Postgres database', async () => {
      const handle = await openTestLedgerDb();
      try {
        const ledger = createLedger({ db: handle.db });
        const { account } = await ledger.createAccount({ entityType: 'user', entityId: 'cli-pg' });
        await ledger.mint({ accountId: account.id, amountMicro: 10n, sourceType: 'grant' });
        const clean = runCli(['verify', '--database-url', handle.databaseUrl as string, '--json']);
        expect(clean.status).toBe(0);
        expect(JSON.parse(clean.stdout).counts.entries).toBe(1);
        await handle.db.execute(sql`update lots set available_micro = 9, consumed_micro = 1`);
        expect(runCli(['verify', '--database-url', handle.databaseUrl as string]).status).toBe(1);
      } finally {
        await handle.close();
      }
    });
  },
);
