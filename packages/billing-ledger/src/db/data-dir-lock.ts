/**
 * An exclusive lock on an embedded (PGlite) data directory, so two processes never open the same store: PGlite takes
 * no lock of its own, and two writers each keep their own view of the files (acknowledged writes are lost, one credit
 * can be spent twice). The lock is a file in the directory naming its holder (PID, the process's start time, the boot
 * and the host), created with `O_EXCL` (`wx`). It is crash-safe: a lock whose holder is gone (killed, crashed, or its
 * PID reused by another process) is taken over; a live holder's lock never is.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, rmdirSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';

/** Name of the lock file inside the data directory. */
export const dataDirLockFileName = 'arrakis-ledger.lock';
/** Attempts to create the lock file (each after a stale lock was removed or a take-over was in progress). */
export const dataDirLockAttemptsMax = 5;
/** Pause between two attempts, times the attempt number. */
export const dataDirLockRetryPauseMs = 20;
/**
 * Age after which a lock file without a readable holder (written by a process that died between creating and
 * writing it), or a take-over marker left by a process killed while taking over, counts as stale.
 */
export const dataDirLockUnreadableStaleMs = 10_000;
/** Longest lock file read (a holder's record is about 200 bytes). */
const lockFileBytesMax = 4096;

/**
 * Another process (or this one) holds the data directory. Not a `LedgerError`: it is a deployment error raised when
 * a store is opened, never an answer to a request. `holderPid` is null when the holder could not be read.
 *
 * @example
 * try {
 *   await openPgliteLedgerDb({ dataDir: '.data/ledger' });
 * } catch (error) {
 *   if (error instanceof DataDirLockedError) console.error(error.message); // names the holder's PID
 *   throw error;
 * }
 */
export class DataDirLockedError extends Error {
  override readonly name = 'DataDirLockedError';
  readonly code = 'data_dir_locked' as const;
  readonly dataDir: string;
  readonly lockPath: string;
  readonly holderPid: number | null;
  readonly holderHostname: string | null;
  readonly details: Record<string, string>;
  constructor(input: { dataDir: string; lockPath: string; holder: DataDirLockHolder | null }) {
    super(lockedMessage(input));
    this.dataDir = input.dataDir;
    this.lockPath = input.lockPath;
    this.holderPid = input.holder?.pid ?? null;
    this.holderHostname = input.holder?.hostname ?? null;
    this.details = { dataDir: input.dataDir, lockPath: input.lockPath };
    if (this.holderPid !== null) this.details.holderPid = `${this.holderPid}`;
    if (this.holderHostname !== null) this.details.holderHostname = this.holderHostname;
  }
}

function lockedMessage(input: { dataDir: string; lockPath: string; holder: DataDirLockHolder | null }): string {
  const { dataDir, lockPath, holder } = input;
  const head = `data directory ${JSON.stringify(dataDir)} is in use`;
  if (holder === null) return `${head} (its lock ${JSON.stringify(lockPath)} is being written or taken over)`;
  const self = holder.pid === process.pid && holder.hostname === hostname() ? ' (this process)' : '';
  const where = holder.hostname === hostname() ? '' : ` on host ${JSON.stringify(holder.hostname)}`;
  const hint =
    where === ''
      ? 'stop it first: one process at a time may open an embedded ledger'
      : `a lock from another host is never taken over: delete ${JSON.stringify(lockPath)} once no process there uses it`;
  return `${head} by process ${holder.pid}${where}${self}; ${hint}`;
}

/** The record a lock file holds. */
export interface DataDirLockHolder {
  pid: number;
  /** The holder's start time in clock ticks since boot (`/proc/<pid>/stat` field 22), null where unknown. */
  startTicks: string | null;
  /** `/proc/sys/kernel/random/boot_id` when the lock was taken, null where unknown. */
  bootId: string | null;
  hostname: string;
  /** Distinguishes two locks of the same process (a release removes only its own). */
  nonce: string;
}

/** A held lock. */
export interface DataDirLock {
  readonly lockPath: string;
  /** Removes the lock file if it is still this lock's. Idempotent; never throws. */
  release(): void;
}

const errorCode = (error: unknown): unknown => (error as { code?: unknown }).code;

/** A small file's text, or null when it does not exist (or cannot be read). */
function readSmallFile(path: string): string | null {
  try {
    const text = readFileSync(path, 'utf8');
    return text.length > lockFileBytesMax ? text.slice(0, lockFileBytesMax) : text;
  } catch {
    return null;
  }
}

/** Field 22 of `/proc/<pid>/stat` (start time in ticks since boot), null where `/proc` is not there. */
function processStartTicks(pid: number): string | null {
  const stat = readSmallFile(`/proc/${pid}/stat`);
  if (stat === null) return null;
  // Fields after the command name (which may hold spaces and parentheses) start at field 3.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[22 - 3] ?? null;
}

function currentBootId(): string | null {
  return readSmallFile('/proc/sys/kernel/random/boot_id')?.trim() ?? null;
}

function ownRecord(): DataDirLockHolder {
  return {
    pid: process.pid,
    startTicks: processStartTicks(process.pid),
    bootId: currentBootId(),
    hostname: hostname(),
    nonce: randomBytes(8).toString('hex'),
  };
}

const nullableString = (value: unknown): value is string | null => value === null || typeof value === 'string';

function parseHolder(text: string): DataDirLockHolder | null {
  try {
    const value = JSON.parse(text) as Partial<DataDirLockHolder>;
    const { pid, startTicks, bootId, hostname: host, nonce } = value;
    if (typeof pid !== 'number' || !Number.isSafeInteger(pid) || pid <= 0) return null;
    if (!nullableString(startTicks) || !nullableString(bootId) || typeof host !== 'string') return null;
    if (typeof nonce !== 'string') return null;
    return { pid, startTicks, bootId, hostname: host, nonce };
  } catch {
    return null;
  }
}

/**
 * Whether the holder may still be running. A holder on another host is taken as alive (nothing here can tell).
 * Dead: another boot, no such process (ESRCH), or a process with the same PID that started at another time.
 */
function holderAlive(holder: DataDirLockHolder): boolean {
  if (holder.hostname !== hostname()) return true;
  const bootId = currentBootId();
  if (holder.bootId !== null && bootId !== null && holder.bootId !== bootId) return false;
  try {
    process.kill(holder.pid, 0);
  } catch (error) {
    if (errorCode(error) === 'ESRCH') return false;
    // EPERM: a process of another user has this PID; compare start times below.
  }
  const startTicks = processStartTicks(holder.pid);
  return holder.startTicks === null || startTicks === null || startTicks === holder.startTicks;
}

function ageMs(path: string): number {
  try {
    return Date.now() - statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

/** Creates the lock file with `text` if no lock file exists (`O_CREAT | O_EXCL`); false when one does. */
function tryCreate(lockPath: string, text: string): boolean {
  let fd: number;
  try {
    fd = openSync(lockPath, 'wx', 0o600);
  } catch (error) {
    if (errorCode(error) === 'EEXIST') return false;
    throw error;
  }
  try {
    writeSync(fd, text);
  } catch (error) {
    closeSync(fd);
    unlinkSync(lockPath);
    throw error;
  }
  closeSync(fd);
  return true;
}

/**
 * Removes the stale lock file whose text was `staleText`, under a take-over marker (an atomic `mkdir`) so that two
 * processes taking over at once never remove each other's new lock. Does nothing while another process takes over.
 */
function takeOver(lockPath: string, staleText: string): void {
  const marker = `${lockPath}.takeover`;
  try {
    mkdirSync(marker);
  } catch (error) {
    if (errorCode(error) !== 'EEXIST') throw error;
    // A marker left by a process killed while taking over is removed once it is old; the next attempt proceeds.
    if (ageMs(marker) > dataDirLockUnreadableStaleMs) removeQuietly(marker);
    return;
  }
  try {
    if (readSmallFile(lockPath) === staleText) unlinkSync(lockPath);
  } catch (error) {
    if (errorCode(error) !== 'ENOENT') throw error;
  } finally {
    removeQuietly(marker);
  }
}

function removeQuietly(markerPath: string): void {
  try {
    rmdirSync(markerPath);
  } catch {
    // Removed by another process meanwhile.
  }
}

function heldLock(lockPath: string, text: string): DataDirLock {
  let released = false;
  return {
    lockPath,
    release() {
      if (released) return;
      released = true;
      try {
        if (readSmallFile(lockPath) === text) unlinkSync(lockPath);
      } catch {
        // Already gone: nothing to release.
      }
    },
  };
}

/**
 * Takes the exclusive lock of the data directory `dataDir` (which must exist): creates its lock file, or takes over
 * a stale one (its holder is dead, or its PID now names a process that started later). Release it with
 * `lock.release()` when the store is closed.
 *
 * @throws {DataDirLockedError} when a live process (this one included) holds the directory, or its lock is being
 *   written or taken over by another process for longer than the attempts last.
 * @example
 * const lock = await acquireDataDirLock('.data/ledger');
 * try {
 *   // ... open and use the store
 * } finally {
 *   lock.release();
 * }
 */
export async function acquireDataDirLock(dataDir: string): Promise<DataDirLock> {
  const dir = resolve(dataDir);
  const lockPath = join(dir, dataDirLockFileName);
  const text = `${JSON.stringify(ownRecord())}\n`;
  for (let attempt = 1; attempt <= dataDirLockAttemptsMax; attempt += 1) {
    if (tryCreate(lockPath, text)) return heldLock(lockPath, text);
    const seen = readSmallFile(lockPath);
    if (seen === null) continue; // released between the create and the read
    const holder = parseHolder(seen);
    if (holder !== null && holderAlive(holder)) throw new DataDirLockedError({ dataDir: dir, lockPath, holder });
    // An unreadable lock younger than the limit is being written by its creator: wait for it.
    if (holder !== null || ageMs(lockPath) >= dataDirLockUnreadableStaleMs) takeOver(lockPath, seen);
    await new Promise((done) => setTimeout(done, dataDirLockRetryPauseMs * attempt));
  }
  const holder = parseHolder(readSmallFile(lockPath) ?? '');
  throw new DataDirLockedError({
    dataDir: dir,
    lockPath,
    holder: holder !== null && holderAlive(holder) ? holder : null,
  });
}
