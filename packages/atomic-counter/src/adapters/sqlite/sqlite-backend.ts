import Database from 'better-sqlite3';
import { BackendUnavailableError, CounterError, InvalidCounterInputError } from '../../errors.js';
import type { Clock } from '../../ports/clock.js';
import { systemClock } from '../../ports/clock.js';
import type {
  AdvanceOptions,
  AdvanceResult,
  CounterBackend,
  CounterSnapshot,
  ExpiryOptions,
  IncrementOptions,
} from '../../ports/counter-backend.js';
import {
  assertAdvanceOptions,
  assertAmount,
  assertExpiry,
  assertKey,
  counterValueMax,
  expiryAtMs,
} from '../../validate.js';

/** Default table name of {@link sqliteBackend}. */
export const sqliteTableNameDefault = 'arrakis_counters';
/** How long a write waits for another process's lock before failing with `backend_unavailable`. */
export const sqliteBusyTimeoutMs = 5_000;
/** Most expired rows one opportunistic purge deletes (bounds the time one call can spend purging). */
export const sqlitePurgeRowsMax = 500;
/** Default interval between opportunistic purges, in ms of the backend's clock. */
export const sqlitePurgeIntervalMsDefault = 60_000;
/** Longest table name accepted (leaves room for the index name suffix). */
export const sqliteTableNameLengthMax = 48;

const tableNamePattern = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Options of {@link sqliteBackend}: exactly one of `path` or `database`. */
export interface SqliteBackendOptions {
  /** Database file to open (created if missing) in WAL mode; closed by `close()`. */
  path?: string;
  /**
   * An open better-sqlite3 database to use instead of `path`. The backend neither changes its
   * journal mode or busy timeout nor closes it: configure WAL and a busy timeout yourself when
   * several processes share the file.
   */
  database?: Database.Database;
  /** Time source for expiry; inject a `ManualClock` in tests. Default: the system clock. */
  clock?: Clock;
  /** Table holding the counters (created if missing). Default {@link sqliteTableNameDefault}. */
  tableName?: string;
  /**
   * Every `purgeIntervalMs` (by the clock) a write first deletes up to {@link sqlitePurgeRowsMax}
   * expired rows. Default {@link sqlitePurgeIntervalMsDefault}; `Infinity` turns it off.
   */
  purgeIntervalMs?: number;
}

/** A {@link CounterBackend} on SQLite, plus housekeeping. */
export interface SqliteCounterBackend extends CounterBackend {
  readonly name: 'sqlite';
  /**
   * Deletes up to `rowsMax` expired rows now and returns how many it deleted.
   *
   * @example
   * const deleted = await counters.purgeExpired();
   */
  purgeExpired(rowsMax?: number): Promise<number>;
}

interface Row {
  value: bigint;
  expires_at_ms: bigint;
}

/**
 * A counter backend on one SQLite file (better-sqlite3): atomic across every process on the host
 * that opens the same file, and it survives restarts. Each operation is one statement (an
 * `INSERT … ON CONFLICT DO UPDATE … RETURNING` for writes); `advance` adds a read of the current
 * value inside the same immediate transaction when the bound refuses the update. Expiry compares
 * with the clock's `nowMs()` passed as a parameter; expired rows read as missing and are purged
 * opportunistically, a bounded batch at a time.
 *
 * Durability: WAL with `synchronous = NORMAL` survives a killed process; the last transactions
 * may be lost on an OS crash or power loss.
 *
 * @throws {InvalidCounterInputError} `invalid_option` for a bad table name, both or neither of path/database.
 * @throws {BackendUnavailableError} when the file cannot be opened or the schema cannot be created.
 * @example
 * import { sqliteBackend } from '@arrakis/atomic-counter/sqlite';
 * const counters = sqliteBackend({ path: './.data/counters.db' });
 * await counters.increment('hits:alice', 1n, { ttlMs: 60_000 }); // 1n
 * await counters.close();
 */
export function sqliteBackend(options: SqliteBackendOptions): SqliteCounterBackend {
  const clock = options.clock ?? systemClock;
  const tableName = options.tableName ?? sqliteTableNameDefault;
  const purgeIntervalMs = options.purgeIntervalMs ?? sqlitePurgeIntervalMsDefault;
  if (
    typeof tableName !== 'string' ||
    !tableNamePattern.test(tableName) ||
    tableName.length > sqliteTableNameLengthMax
  ) {
    throw new InvalidCounterInputError(
      'invalid_option',
      `tableName must match ${tableNamePattern} and be at most ${sqliteTableNameLengthMax} characters, got ${JSON.stringify(tableName)}`,
    );
  }
  if ((options.path === undefined) === (options.database === undefined)) {
    throw new InvalidCounterInputError('invalid_option', 'exactly one of path or database is required');
  }
  if (options.path !== undefined && (typeof options.path !== 'string' || options.path.length === 0)) {
    throw new InvalidCounterInputError(
      'invalid_option',
      `path must be a non-empty string, got ${JSON.stringify(options.path)}`,
    );
  }
  if (typeof purgeIntervalMs !== 'number' || Number.isNaN(purgeIntervalMs) || purgeIntervalMs < 0) {
    throw new InvalidCounterInputError('invalid_option', `purgeIntervalMs must be ≥ 0, got ${String(purgeIntervalMs)}`);
  }

  const ownsDatabase = options.database === undefined;
  let db: Database.Database;
  try {
    db = options.database ?? openDatabase(options.path as string);
  } catch (error) {
    throw new BackendUnavailableError('sqlite', error);
  }

  const t = `"${tableName}"`;
  let statements: ReturnType<typeof prepare>;
  try {
    db.exec(
      `CREATE TABLE IF NOT EXISTS ${t} (
        key TEXT PRIMARY KEY NOT NULL,
        value INTEGER NOT NULL CHECK (value >= 0 AND value <= ${counterValueMax}),
        expires_at_ms INTEGER NOT NULL
      ) WITHOUT ROWID, STRICT;
      CREATE INDEX IF NOT EXISTS "${tableName}_expires_at_ms" ON ${t} (expires_at_ms);`,
    );
    statements = prepare(db, t);
  } catch (error) {
    if (ownsDatabase) db.close();
    throw new BackendUnavailableError('sqlite', error);
  }
  const s = statements;

  const advanceTx = db.transaction((key: string, o: AdvanceOptions, nowMs: number): AdvanceResult => {
    const floor = o.floor ?? 0n;
    const row = s.advance.get({
      key,
      by: o.by,
      floor,
      max: o.max,
      expiresAtMs: expiryAtMs(o, nowMs),
      nowMs,
      keep: o.expiry === 'keep' ? 1 : 0,
    });
    if (row !== undefined) return { applied: true, value: row.value, expiresAtMs: Number(row.expires_at_ms) };
    // Refused: the write lock is still ours, so this read sees exactly the state that refused it.
    const current = s.get.get({ key, nowMs });
    return current === undefined
      ? { applied: false, value: 0n, expiresAtMs: null }
      : { applied: false, value: current.value, expiresAtMs: Number(current.expires_at_ms) };
  });

  let lastPurgeAtMs = Number.NEGATIVE_INFINITY;
  function maybePurge(nowMs: number): void {
    if (nowMs - lastPurgeAtMs < purgeIntervalMs) return;
    lastPurgeAtMs = nowMs;
    s.purge.run({ nowMs, rowsMax: sqlitePurgeRowsMax });
  }

  function run<T>(fn: () => T): Promise<T> {
    try {
      return Promise.resolve(fn());
    } catch (error) {
      return Promise.reject(error instanceof CounterError ? error : new BackendUnavailableError('sqlite', error));
    }
  }

  return {
    name: 'sqlite',
    async increment(key: string, by: bigint, opts: IncrementOptions): Promise<bigint> {
      assertKey(key);
      assertAmount('by', by);
      assertExpiry(opts);
      return run(() => {
        const nowMs = clock.nowMs();
        maybePurge(nowMs);
        const row = s.increment.get({
          key,
          by,
          expiresAtMs: expiryAtMs(opts, nowMs),
          nowMs,
          valueMax: counterValueMax,
        });
        if (row === undefined) {
          throw new InvalidCounterInputError(
            'invalid_amount',
            `increment would take "${key}" past ${counterValueMax}`,
            {
              details: { key, by: by.toString() },
            },
          );
        }
        return row.value;
      });
    },
    async advance(key: string, opts: AdvanceOptions): Promise<AdvanceResult> {
      assertKey(key);
      assertAdvanceOptions(opts);
      return run(() => {
        const nowMs = clock.nowMs();
        maybePurge(nowMs);
        return advanceTx.immediate(key, opts, nowMs);
      });
    },
    async get(key: string): Promise<CounterSnapshot | null> {
      assertKey(key);
      return run(() => {
        const row = s.get.get({ key, nowMs: clock.nowMs() });
        return row === undefined ? null : { value: row.value, expiresAtMs: Number(row.expires_at_ms) };
      });
    },
    async reset(key: string): Promise<void> {
      assertKey(key);
      return run(() => {
        s.reset.run({ key });
      });
    },
    async setIfAbsent(key: string, value: bigint, opts: ExpiryOptions): Promise<boolean> {
      assertKey(key);
      assertAmount('value', value);
      assertExpiry(opts);
      return run(() => {
        const nowMs = clock.nowMs();
        maybePurge(nowMs);
        return s.setIfAbsent.get({ key, value, expiresAtMs: expiryAtMs(opts, nowMs), nowMs }) !== undefined;
      });
    },
    async purgeExpired(rowsMax: number = sqlitePurgeRowsMax): Promise<number> {
      if (!Number.isSafeInteger(rowsMax) || rowsMax < 1) {
        throw new InvalidCounterInputError(
          'invalid_option',
          `rowsMax must be a positive integer, got ${String(rowsMax)}`,
        );
      }
      return run(() => s.purge.run({ nowMs: clock.nowMs(), rowsMax }).changes);
    },
    async close(): Promise<void> {
      if (ownsDatabase && db.open) db.close();
    },
  };
}

function openDatabase(path: string): Database.Database {
  const db = new Database(path, { timeout: sqliteBusyTimeoutMs });
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma(`busy_timeout = ${sqliteBusyTimeoutMs}`);
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}

type Params = Record<string, string | number | bigint>;

/** Prepares every statement once; integers come back as bigint (`safeIntegers`). */
function prepare(db: Database.Database, t: string) {
  const statement = <R>(sql: string) => db.prepare<[Params], R>(sql).safeIntegers(true);
  const live = 'c.expires_at_ms > @nowMs';
  return {
    // A live key keeps its expiry; a missing or expired one restarts at `by`. The WHERE refuses an
    // overflow (no row returned); the inserted row itself never overflows since by ≤ valueMax.
    increment: statement<Row>(
      `INSERT INTO ${t} AS c (key, value, expires_at_ms) VALUES (@key, @by, @expiresAtMs)
       ON CONFLICT (key) DO UPDATE SET
         value = CASE WHEN ${live} THEN c.value + @by ELSE @by END,
         expires_at_ms = CASE WHEN ${live} THEN c.expires_at_ms ELSE @expiresAtMs END
       WHERE (CASE WHEN ${live} THEN c.value + @by ELSE @by END) <= @valueMax
       RETURNING value, expires_at_ms`,
    ),
    // Applied only when max(current, floor) + by <= max (a missing or expired key counts as 0).
    // The insert row is filtered when floor + by > max: then no key can pass the bound either.
    advance: statement<Row>(
      `INSERT INTO ${t} AS c (key, value, expires_at_ms)
       SELECT @key, @floor + @by, @expiresAtMs WHERE @floor + @by <= @max
       ON CONFLICT (key) DO UPDATE SET
         value = max(CASE WHEN ${live} THEN c.value ELSE 0 END, @floor) + @by,
         expires_at_ms = CASE WHEN @keep = 1 AND ${live} THEN c.expires_at_ms ELSE @expiresAtMs END
       WHERE max(CASE WHEN ${live} THEN c.value ELSE 0 END, @floor) + @by <= @max
       RETURNING value, expires_at_ms`,
    ),
    get: statement<Row>(`SELECT value, expires_at_ms FROM ${t} AS c WHERE c.key = @key AND ${live}`),
    reset: statement<never>(`DELETE FROM ${t} WHERE key = @key`),
    setIfAbsent: statement<{ one: bigint }>(
      `INSERT INTO ${t} AS c (key, value, expires_at_ms) VALUES (@key, @value, @expiresAtMs)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at_ms = excluded.expires_at_ms
       WHERE c.expires_at_ms <= @nowMs
       RETURNING 1 AS one`,
    ),
    purge: statement<never>(
      `DELETE FROM ${t} WHERE expires_at_ms <= @nowMs
         AND key IN (SELECT key FROM ${t} WHERE expires_at_ms <= @nowMs ORDER BY expires_at_ms LIMIT @rowsMax)`,
    ),
  };
}
