import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { acquireDataDirLock, DataDirLockedError, dataDirLockFileName } from './data-dir-lock.js';
import { openPgliteLedgerDb } from './pglite.js';

const lockSourcePath = fileURLToPath(new URL('./data-dir-lock.ts', import.meta.url));
let scratch: string;
let lockModulePath: string;
const children: ChildProcess[] = [];

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'ledger-lock-'));
  // The child processes run this very module (compiled from the source here), not a build of it.
  const { outputText } = ts.transpileModule(readFileSync(lockSourcePath, 'utf8'), {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  });
  lockModulePath = join(scratch, 'data-dir-lock.mjs');
  writeFileSync(lockModulePath, outputText);
});
afterEach(() => {
  for (const child of children.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

let dirCount = 0;
function freshDir(): string {
  dirCount += 1;
  return mkdtempSync(join(scratch, `store-${dirCount}-`));
}

/** Starts a process that takes the lock of `dir`; resolves once it reports `held` (or how it failed). */
function childLocking(dir: string): Promise<{ child: ChildProcess; line: string }> {
  const script = `import { acquireDataDirLock } from ${JSON.stringify(lockModulePath)};
    try { await acquireDataDirLock(${JSON.stringify(dir)}); console.log('held'); setInterval(() => {}, 60_000); }
    catch (error) { console.log(error.code + ' ' + error.message); process.exit(1); }`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      if (out.includes('\n')) resolve({ child, line: out.trim() });
    });
    child.once('exit', (code) => (out.includes('\n') ? undefined : reject(new Error(`child exited ${code}: ${out}`))));
  });
}

async function lockedError(promise: Promise<unknown>): Promise<DataDirLockedError> {
  const error = await promise.then(
    () => new Error('expected DataDirLockedError, the open succeeded'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DataDirLockedError);
  return error as DataDirLockedError;
}

function writeLockRecord(dir: string, record: Record<string, unknown>): void {
  writeFileSync(join(dir, dataDirLockFileName), JSON.stringify(record));
}

describe('the data directory lock', { timeout: 60_000 }, () => {
  it('refuses a second open of a folder in the same process, naming this PID; reopens after close', async () => {
    const dataDir = freshDir();
    const first = await openPgliteLedgerDb({ dataDir });
    const error = await lockedError(openPgliteLedgerDb({ dataDir }));
    expect(error).toMatchObject({ code: 'data_dir_locked', holderPid: process.pid, holderHostname: hostname() });
    expect(error.message).toContain(`in use by process ${process.pid}`);
    expect(error.message).toContain('(this process)');
    await first.close();
    expect(existsSync(join(dataDir, dataDirLockFileName))).toBe(false);
    const again = await openPgliteLedgerDb({ dataDir });
    expect((await again.client.query<{ one: number }>('select 1 as one')).rows).toEqual([{ one: 1 }]);
    await again.close();
    await again.close(); // idempotent
  });

  it('refuses while another live process holds the folder, and that process is refused while this one holds it', async () => {
    const dataDir = freshDir();
    const holder = await childLocking(dataDir);
    expect(holder.line).toBe('held');
    const error = await lockedError(openPgliteLedgerDb({ dataDir }));
    expect(error.holderPid).toBe(holder.child.pid);
    expect(error.message).not.toContain('this process');

    // SIGKILL leaves the lock file behind; its holder is gone, so the next open takes it over.
    const exited = new Promise((done) => holder.child.once('exit', done));
    holder.child.kill('SIGKILL');
    await exited;
    expect(existsSync(join(dataDir, dataDirLockFileName))).toBe(true);
    const handle = await openPgliteLedgerDb({ dataDir });
    try {
      const refused = await childLocking(dataDir);
      expect(refused.line).toMatch(new RegExp(`^data_dir_locked data directory .* in use by process ${process.pid};`));
    } finally {
      await handle.close();
    }
  });

  it('takes over a lock whose PID now names a process that started later, or that was taken before a reboot', async () => {
    const dataDir = freshDir();
    const base = { pid: process.pid, hostname: hostname(), nonce: 'old', bootId: null, startTicks: null };
    writeLockRecord(dataDir, { ...base, startTicks: '1' }); // our PID, another start time: a reused PID
    (await acquireDataDirLock(dataDir)).release();
    writeLockRecord(dataDir, { ...base, bootId: 'another-boot' });
    const lock = await acquireDataDirLock(dataDir);
    expect(JSON.parse(readFileSync(lock.lockPath, 'utf8'))).toMatchObject({ pid: process.pid });
    expect(JSON.parse(readFileSync(lock.lockPath, 'utf8')).nonce).not.toBe('old');
    lock.release();
  });

  it('never takes over a lock from another host, nor an unreadable one until it is old', async () => {
    const dataDir = freshDir();
    writeLockRecord(dataDir, { pid: 4242, hostname: 'elsewhere', nonce: 'n', bootId: null, startTicks: null });
    const remote = await lockedError(acquireDataDirLock(dataDir));
    expect(remote).toMatchObject({ holderPid: 4242, holderHostname: 'elsewhere' });
    expect(remote.message).toContain('on host "elsewhere"');

    const lockPath = join(dataDir, dataDirLockFileName);
    writeFileSync(lockPath, ''); // a creator that has not written its record yet
    expect(await lockedError(acquireDataDirLock(dataDir))).toMatchObject({ holderPid: null });
    const oldS = Date.now() / 1000 - 60;
    utimesSync(lockPath, oldS, oldS); // … or one that died before writing it
    (await acquireDataDirLock(dataDir)).release();
  });

  it('lets exactly one of two racing openers take over a stale lock; a release removes only its own lock', async () => {
    const dataDir = freshDir();
    writeLockRecord(dataDir, { pid: process.pid, hostname: hostname(), nonce: 's', bootId: null, startTicks: '1' });
    const results = await Promise.allSettled([acquireDataDirLock(dataDir), acquireDataDirLock(dataDir)]);
    const won = results.filter((r) => r.status === 'fulfilled');
    expect(won).toHaveLength(1);
    expect(results.find((r) => r.status === 'rejected')?.reason).toBeInstanceOf(DataDirLockedError);
    const lock = (won[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof acquireDataDirLock>>>).value;
    writeLockRecord(dataDir, { pid: 1, hostname: 'elsewhere', nonce: 'other', bootId: null, startTicks: null });
    lock.release();
    expect(existsSync(lock.lockPath)).toBe(true);
  });
});
