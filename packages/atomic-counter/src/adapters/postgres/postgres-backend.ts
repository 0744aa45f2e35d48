import postgres from 'postgres';
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

/** Default table name of {@link postgresBackend}. */
export const postgresTableNameDefault = 'arrakis_counters';
/** Longest table name accepted (leaves room for the `_advance` function and index names within 63 bytes). */
export const postgresTableNameLengthMax = 48;
/** Longest schema name accepted (Postgres' identifier limit). */
export const postgresSchemaNameLengthMax = 63;
/** Pool size of a client the backend opens itself from `url`. */
export const postgresConnectionsMaxDefault = 10;
/** Most expired rows one purge deletes. */
export const postgresPurgeRowsMax = 1_000;
/** Default interval between background purges, in ms of the backend's clock. */
export const postgresPurgeIntervalMsDefault = 60_000;

const identifierPattern = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** One advisory lock for every counter migration, so concurrent first starts never race on DDL. */
const migrationLockName = 'arrakis_counters_migrate';

/** Any postgres.js client, whatever custom types it was configured with. */
type PostgresSql = postgres.Sql<Record<string, unknown>>;

/** Options of {@link postgresBackend}: exactly one of `sql` or `url`. */
// biome-ignore lint/complexity/noBannedTypes: `{}` is postgres.js's own default for a client without custom types.
export interface PostgresBackendOptions<TTypes extends Record<string, unknown> = {}> {
  /** A postgres.js client to use; not closed by `close()`. Its type options do not matter. */
  sql?: postgres.Sql<TTypes>;
  /** Connection URL: the backend opens its own pool and `close()` ends it. */
  url?: string;
  /** Table holding the counters. Default {@link postgresTableNameDefault}. */
  tableName?: string;
  /** Schema of the table and function (created if missing). Default: the connection's search_path. */
  schema?: string;
  /** Time source for expiry; inject a `ManualClock` in tests. Default: the system clock. */
  clock?: Clock;
  /**
   * Every `purgeIntervalMs` (by the clock) a write starts a background delete of up to
   * {@link postgresPurgeRowsMax} expired rows. Default {@link postgresPurgeIntervalMsDefault}; `Infinity` turns it off.
   */
  purgeIntervalMs?: number;
}

/** A {@link CounterBackend} on Postgres, plus its migration and housekeeping. */
export interface PostgresCounterBackend extends CounterBackend {
  readonly name: 'postgres';
  /**
   * Creates the schema, table, index and the `<table>_advance` function if missing (idempotent,
   * serialised across processes by an advisory lock). Runs once per backend, before the first
   * operation if not called; call it at start-up to fail early.
   *
   * @throws {BackendUnavailableError} when the database refuses.
   * @example
   * await counters.migrate();
   */
  migrate(): Promise<void>;
  /**
   * Deletes up to `rowsMax` expired rows now and returns how many it deleted.
   *
   * @example
   * const deleted = await counters.purgeExpired();
   */
  purgeExpired(rowsMax?: number): Promise<number>;
}

interface Row {
  value: string;
  expires_at_ms: string;
}

/**
 * A counter backend on Postgres (postgres.js), for deployments with a database but no Redis: any
 * number of processes may share it. Each operation is one statement, so one round trip:
 * `INSERT … ON CONFLICT (key) DO UPDATE … WHERE … RETURNING` for writes. `advance` calls a
 * PL/pgSQL function that runs the conditional upsert and, when the bound refuses it, reads the row
 * the refused upsert has locked, so a refusal always reports the exact value that caused it.
 * Expiry compares with the clock's `nowMs()` passed as a parameter. Values are `bigint` whatever
 * the client's type options (the SQL returns text, parsed with `BigInt`).
 *
 * @throws {InvalidCounterInputError} `invalid_option` for both or neither of sql/url, or a bad table/schema name.
 * @example
 * import { postgresBackend } from '@arrakis/atomic-counter/postgres';
 * const counters = postgresBackend({ url: process.env.DATABASE_URL });
 * await counters.migrate();
 * await counters.increment('hits:alice', 1n, { ttlMs: 60_000 }); // 1n
 * await counters.close();
 */
// biome-ignore lint/complexity/noBannedTypes: see PostgresBackendOptions.
export function postgresBackend<TTypes extends Record<string, unknown> = {}>(
  options: PostgresBackendOptions<TTypes>,
): PostgresCounterBackend {
  const clock = options.clock ?? systemClock;
  const tableName = options.tableName ?? postgresTableNameDefault;
  const purgeIntervalMs = options.purgeIntervalMs ?? postgresPurgeIntervalMsDefault;
  assertIdentifier('tableName', tableName, postgresTableNameLengthMax);
  if (options.schema !== undefined) assertIdentifier('schema', options.schema, postgresSchemaNameLengthMax);
  if ((options.sql === undefined) === (options.url === undefined)) {
    throw new InvalidCounterInputError('invalid_option', 'exactly one of sql or url is required');
  }
  if (options.url !== undefined && (typeof options.url !== 'string' || !/^postgres(ql)?:\/\//.test(options.url))) {
    throw new InvalidCounterInputError(
      'invalid_option',
      `url must start with postgres:// or postgresql://, got ${JSON.stringify(options.url)}`,
    );
  }
  if (typeof purgeIntervalMs !== 'number' || Number.isNaN(purgeIntervalMs) || purgeIntervalMs < 0) {
    throw new InvalidCounterInputError('invalid_option', `purgeIntervalMs must be ≥ 0, got ${String(purgeIntervalMs)}`);
  }

  const ownsSql = options.sql === undefined;
  const sql: PostgresSql =
    (options.sql as unknown as PostgresSql | undefined) ??
    (postgres(options.url as string, {
      max: postgresConnectionsMaxDefault,
      onnotice: () => {},
    }) as unknown as PostgresSql);
  const q = queries(options.schema, tableName);

  let ready: Promise<void> | undefined;
  function migrated(): Promise<void> {
    ready ??= sql
      .begin(async (tx) => {
        for (const statement of q.migration) await tx.unsafe(statement);
      })
      .then(
        () => undefined,
        (error: unknown) => {
          ready = undefined; // the next call tries again
          throw new BackendUnavailableError('postgres', error);
        },
      );
    return ready;
  }

  async function query<T>(text: string, params: (string | boolean)[]): Promise<T[]> {
    await migrated();
    try {
      return (await sql.unsafe(text, params, { prepare: true })) as unknown as T[];
    } catch (error) {
      throw error instanceof CounterError ? error : new BackendUnavailableError('postgres', error);
    }
  }

  let lastPurgeAtMs = Number.NEGATIVE_INFINITY;
  let purging: Promise<unknown> | undefined;
  async function purgeExpired(rowsMax: number): Promise<number> {
    const rows = await query<{ deleted: number }>(q.purge, [String(clock.nowMs()), String(rowsMax)]);
    return rows[0]?.deleted ?? 0;
  }
  /** Housekeeping only: a failed background purge is retried at the next interval, the operation is unaffected. */
  function maybePurge(nowMs: number): void {
    if (purging !== undefined || nowMs - lastPurgeAtMs < purgeIntervalMs) return;
    lastPurgeAtMs = nowMs;
    purging = purgeExpired(postgresPurgeRowsMax)
      .catch(() => 0)
      .finally(() => {
        purging = undefined;
      });
  }

  return {
    name: 'postgres',
    migrate: migrated,
    async increment(key: string, by: bigint, opts: IncrementOptions): Promise<bigint> {
      assertKey(key);
      assertAmount('by', by);
      assertExpiry(opts);
      const nowMs = clock.nowMs();
      const rows = await query<Pick<Row, 'value'>>(q.increment, [
        key,
        by.toString(),
        String(expiryAtMs(opts, nowMs)),
        String(nowMs),
        counterValueMax.toString(),
      ]);
      maybePurge(nowMs);
      const row = rows[0];
      if (row === undefined) {
        throw new InvalidCounterInputError('invalid_amount', `increment would take "${key}" past ${counterValueMax}`, {
          details: { key, by: by.toString() },
        });
      }
      return BigInt(row.value);
    },
    async advance(key: string, opts: AdvanceOptions): Promise<AdvanceResult> {
      assertKey(key);
      assertAdvanceOptions(opts);
      const nowMs = clock.nowMs();
      const rows = await query<Row & { applied: boolean }>(q.advance, [
        key,
        opts.by.toString(),
        (opts.floor ?? 0n).toString(),
        opts.max.toString(),
        String(expiryAtMs(opts, nowMs)),
        String(nowMs),
        opts.expiry === 'keep',
      ]);
      maybePurge(nowMs);
      const row = rows[0];
      if (row === undefined)
        throw new BackendUnavailableError('postgres', new Error('advance function returned no row'));
      return {
        applied: row.applied,
        value: BigInt(row.value),
        expiresAtMs: row.expires_at_ms === null ? null : Number(row.expires_at_ms),
      };
    },
    async get(key: string): Promise<CounterSnapshot | null> {
      assertKey(key);
      const rows = await query<Row>(q.get, [key, String(clock.nowMs())]);
      const row = rows[0];
      return row === undefined ? null : { value: BigInt(row.value), expiresAtMs: Number(row.expires_at_ms) };
    },
    async reset(key: string): Promise<void> {
      assertKey(key);
      await query(q.reset, [key]);
    },
    async setIfAbsent(key: string, value: bigint, opts: ExpiryOptions): Promise<boolean> {
      assertKey(key);
      assertAmount('value', value);
      assertExpiry(opts);
      const nowMs = clock.nowMs();
      const rows = await query(q.setIfAbsent, [key, value.toString(), String(expiryAtMs(opts, nowMs)), String(nowMs)]);
      maybePurge(nowMs);
      return rows.length === 1;
    },
    async purgeExpired(rowsMax: number = postgresPurgeRowsMax): Promise<number> {
      if (!Number.isSafeInteger(rowsMax) || rowsMax < 1 || rowsMax > 2 ** 31 - 1) {
        throw new InvalidCounterInputError('invalid_option', `rowsMax must be a positive int4, got ${String(rowsMax)}`);
      }
      return purgeExpired(rowsMax);
    },
    async close(): Promise<void> {
      await purging;
      if (ownsSql) await sql.end({ timeout: 5 });
    },
  };
}

function assertIdentifier(name: string, value: unknown, lengthMax: number): asserts value is string {
  if (typeof value !== 'string' || !identifierPattern.test(value) || value.length > lengthMax) {
    throw new InvalidCounterInputError(
      'invalid_option',
      `${name} must match ${identifierPattern} and be at most ${lengthMax} characters, got ${JSON.stringify(value)}`,
    );
  }
}

/** SQL texts for one table, built once (identifiers are validated and quoted). */
function queries(schema: string | undefined, tableName: string) {
  const qualify = (name: string) => (schema === undefined ? `"${name}"` : `"${schema}"."${name}"`);
  const t = qualify(tableName);
  const fn = qualify(`${tableName}_advance`);
  const live = (now: string) => `c.expires_at_ms > ${now}`;
  return {
    migration: [
      'SET LOCAL client_min_messages = warning',
      `SELECT pg_advisory_xact_lock(hashtext('${migrationLockName}'))`,
      ...(schema === undefined ? [] : [`CREATE SCHEMA IF NOT EXISTS "${schema}"`]),
      `CREATE TABLE IF NOT EXISTS ${t} (
        key text PRIMARY KEY,
        value bigint NOT NULL CHECK (value >= 0 AND value <= ${counterValueMax}),
        expires_at_ms bigint NOT NULL
      )`,
      `CREATE INDEX IF NOT EXISTS "${tableName}_expires_at_ms_idx" ON ${t} (expires_at_ms)`,
      // Applied only when max(current, floor) + by <= max (missing or expired counts as 0). The insert
      // row is filtered when floor + by > max: then no existing row could pass the bound either.
      // A refused ON CONFLICT DO UPDATE still locks the conflicting row until commit, and each
      // statement of a VOLATILE function takes a fresh snapshot under READ COMMITTED, so the read
      // after a refusal sees exactly the committed row that refused it (even one inserted after the
      // upsert's own snapshot was taken).
      `CREATE OR REPLACE FUNCTION ${fn}(
        p_key text, p_by bigint, p_floor bigint, p_max bigint, p_expires_at_ms bigint, p_now_ms bigint, p_keep boolean
      ) RETURNS TABLE (o_applied boolean, o_value bigint, o_expires_at_ms bigint)
      LANGUAGE plpgsql VOLATILE AS $fn$
      BEGIN
        INSERT INTO ${t} AS c (key, value, expires_at_ms)
        SELECT p_key, p_floor + p_by, p_expires_at_ms WHERE p_floor + p_by <= p_max
        ON CONFLICT (key) DO UPDATE SET
          value = GREATEST(CASE WHEN ${live('p_now_ms')} THEN c.value ELSE 0 END, p_floor) + p_by,
          expires_at_ms = CASE WHEN p_keep AND ${live('p_now_ms')} THEN c.expires_at_ms ELSE p_expires_at_ms END
        WHERE GREATEST(CASE WHEN ${live('p_now_ms')} THEN c.value ELSE 0 END, p_floor) + p_by <= p_max
        RETURNING c.value, c.expires_at_ms INTO o_value, o_expires_at_ms;
        IF FOUND THEN
          o_applied := true;
          RETURN NEXT;
          RETURN;
        END IF;
        o_applied := false;
        SELECT c.value, c.expires_at_ms INTO o_value, o_expires_at_ms
          FROM ${t} AS c WHERE c.key = p_key AND ${live('p_now_ms')};
        IF NOT FOUND THEN
          o_value := 0;
          o_expires_at_ms := NULL;
        END IF;
        RETURN NEXT;
      END
      $fn$`,
    ],
    // A live key keeps its expiry; a missing or expired one restarts at `by`. The WHERE refuses an
    // overflow (no row returned); the inserted row never overflows since by ≤ valueMax.
    increment: `INSERT INTO ${t} AS c (key, value, expires_at_ms) VALUES ($1::text, $2::bigint, $3::bigint)
      ON CONFLICT (key) DO UPDATE SET
        value = CASE WHEN ${live('$4::bigint')} THEN c.value + $2::bigint ELSE $2::bigint END,
        expires_at_ms = CASE WHEN ${live('$4::bigint')} THEN c.expires_at_ms ELSE $3::bigint END
      WHERE (CASE WHEN ${live('$4::bigint')} THEN c.value + $2::bigint ELSE $2::bigint END) <= $5::bigint
      RETURNING c.value::text AS value`,
    advance: `SELECT o_applied AS applied, o_value::text AS value, o_expires_at_ms::text AS expires_at_ms
      FROM ${fn}($1::text, $2::bigint, $3::bigint, $4::bigint, $5::bigint, $6::bigint, $7::boolean)`,
    get: `SELECT c.value::text AS value, c.expires_at_ms::text AS expires_at_ms
      FROM ${t} AS c WHERE c.key = $1::text AND ${live('$2::bigint')}`,
    reset: `DELETE FROM ${t} WHERE key = $1::text`,
    setIfAbsent: `INSERT INTO ${t} AS c (key, value, expires_at_ms) VALUES ($1::text, $2::bigint, $3::bigint)
      ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at_ms = excluded.expires_at_ms
      WHERE c.expires_at_ms <= $4::bigint
      RETURNING 1 AS one`,
    // The outer condition is rechecked on the latest row version, so a row revived by a concurrent
    // upsert after the inner scan is left alone.
    purge: `WITH deleted AS (
        DELETE FROM ${t} WHERE expires_at_ms <= $1::bigint AND key IN (
          SELECT key FROM ${t} WHERE expires_at_ms <= $1::bigint ORDER BY expires_at_ms LIMIT $2::int FOR UPDATE SKIP LOCKED
        ) RETURNING 1
      ) SELECT count(*)::int AS deleted FROM deleted`,
  };
}
