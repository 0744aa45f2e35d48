import { type Column, fillPlaceholders, getTableColumns, Param, type SQL, sql } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT, PgTable } from 'drizzle-orm/pg-core';
import { renderSql } from './drizzle-internals.js';
import type * as schema from './schema.js';
import { escapeName } from './sql-text.js';

/** The drizzle schema module of the ledger (tables and their enums), as a type. */
export type LedgerSchema = typeof schema;

/**
 * The database the ledger accepts: a drizzle `PgDatabase` over postgres.js (`openPostgresLedgerDb`) or PGlite
 * (`openPgliteLedgerDb`), typed with the ledger schema. Both drivers' databases are assignable to it.
 *
 * @example
 * const { db }: { db: LedgerDb } = await openPgliteLedgerDb();
 */
export type LedgerDb = PgDatabase<PgQueryResultHKT, LedgerSchema>;

/** Which driver a {@link LedgerDb} runs on. */
export type LedgerDbKind = 'postgres' | 'pglite';

/** An open ledger database and the means to close it. */
export interface LedgerDbHandle {
  db: LedgerDb;
  kind: LedgerDbKind;
  /** Ends the connections (or the embedded database) this handle opened. */
  close(): Promise<void>;
}

/**
 * Runs raw SQL and returns its rows the same way on both drivers (postgres.js answers an array, PGlite
 * `{ rows }`). `int8` values come back as `bigint`, `numeric` as strings, timestamps as strings.
 *
 * @example
 * const [row] = await execRows<{ n: bigint }>(db, sql`select count(*) as n from entries`);
 */
export async function execRows<TRow extends Record<string, unknown> = Record<string, unknown>>(
  db: LedgerDb,
  query: SQL,
): Promise<TRow[]> {
  const result: unknown = await db.execute(query);
  if (Array.isArray(result)) return Array.from(result as TRow[]);
  return (result as { rows: TRow[] }).rows;
}

// ---------------------------------------------------------------------------------------------------------------
// Statements sent through the driver directly. The ledger's hot paths (the locks of a write and its one write
// statement) have constant SQL text with positional parameters ($1, $2, …): postgres.js prepares such a statement
// once per connection and then only binds and executes it (drizzle's `execute` sends an unnamed statement, which
// postgres.js describes first: two round trips and a parse and plan on the server every time).
// ---------------------------------------------------------------------------------------------------------------

/** A row as a driver returns it (column name → value; `int8` as `bigint`). */
export type DriverRow = Record<string, unknown>;

/** What {@link LedgerStatements.queueWrite} does with the written statement's answer. */
export interface QueuedWriteHandlers {
  /** Checks the rows the statement answered; throwing fails the transaction (it does not commit). */
  check(rows: DriverRow[]): void;
  /** Maps the statement's error (e.g. a check the statement itself failed) to the error the write throws. */
  mapError?(error: unknown): unknown;
}

/**
 * Raw statements on a ledger database or inside one of its write transactions. Statements run in the order they
 * are called (a drizzle statement started earlier in the same tick may be sent after them: drizzle adds microtask
 * hops before it reaches the driver, so start raw statements first or await the drizzle one).
 */
export interface LedgerStatements {
  /**
   * Sends one statement (prepared once per connection where the driver can: give it constant text, values only as
   * parameters) and answers its rows. Inside a transaction it also surfaces the failure of an earlier queued write.
   */
  rows<TRow extends DriverRow = DriverRow>(text: string, params: readonly unknown[]): Promise<TRow[]>;
  /**
   * Sends a write without waiting for it; the transaction waits for it (and runs `check`) before it ends, or when a
   * later statement of the transaction answers. On postgres.js the COMMIT is pipelined right behind it, so only a
   * failure of the statement itself is sure to prevent the commit: a write must refuse a bad result in SQL (as
   * `AccountWork.flush`'s row-count check does); `check` is a second line that reports. Outside a transaction the
   * statement runs and is checked at once.
   */
  queueWrite(text: string, params: readonly unknown[], handlers: QueuedWriteHandlers): Promise<void>;
}

/** How a transaction starts. */
export interface LedgerTransactionOptions {
  /** Set READ COMMITTED explicitly (the database's default isolation is another one). */
  readCommitted: boolean;
}

/**
 * The driver under a {@link LedgerDb}, attached by `openPostgresLedgerDb` and `openPgliteLedgerDb`
 * ({@link attachLedgerDriver}); a database opened another way gets a slower one built on drizzle.
 */
export interface LedgerDriver {
  /** Statements outside any transaction. */
  readonly statements: LedgerStatements;
  /**
   * Runs `body` in one transaction and commits after its queued writes passed their checks; rolls back when
   * `body` or a statement fails. The `tx` given to `body` is a drizzle transaction; `statementsOf(tx)` sends raw
   * statements inside it.
   */
  transaction<T>(options: LedgerTransactionOptions, body: (tx: LedgerDb) => Promise<T>): Promise<T>;
}

const driverKey = Symbol.for('@arrakis/billing-ledger/driver');
const statementsKey = Symbol.for('@arrakis/billing-ledger/statements');
type Attached = { [driverKey]?: LedgerDriver; [statementsKey]?: LedgerStatements };

/**
 * Attaches the driver a ledger database runs on (done by the `open…LedgerDb` functions).
 *
 * @example
 * attachLedgerDriver(db, driver);
 */
export function attachLedgerDriver(db: LedgerDb, driver: LedgerDriver): void {
  Object.defineProperty(db, driverKey, { value: driver, enumerable: false, configurable: true });
}

/**
 * Marks `tx` as a transaction whose raw statements go through `statements` (done by the drivers).
 *
 * @example
 * attachTransactionStatements(tx, statements);
 */
export function attachTransactionStatements(tx: LedgerDb, statements: LedgerStatements): void {
  Object.defineProperty(tx, statementsKey, { value: statements, enumerable: false, configurable: true });
}

const drizzleDrivers = new WeakMap<LedgerDb, LedgerDriver>();

/**
 * The driver of a ledger database: the attached one, else one built on drizzle (`db.transaction`, `db.execute`).
 *
 * @example
 * await ledgerDriverOf(db).transaction({ readCommitted: false }, async (tx) => { ... });
 */
export function ledgerDriverOf(db: LedgerDb): LedgerDriver {
  const attached = (db as Attached)[driverKey];
  if (attached !== undefined) return attached;
  let driver = drizzleDrivers.get(db);
  if (driver === undefined) {
    driver = drizzleDriver(db);
    drizzleDrivers.set(db, driver);
  }
  return driver;
}

/**
 * Raw statements on a ledger database or transaction: those of the transaction the driver opened, else the
 * database's driver's, else drizzle's `execute` (e.g. in a transaction opened with `db.transaction`).
 *
 * @example
 * const rows = await statementsOf(tx).rows('select id from accounts where id = $1 for update', [accountId]);
 */
export function statementsOf(db: LedgerDb): LedgerStatements {
  const attached = db as Attached;
  return attached[statementsKey] ?? attached[driverKey]?.statements ?? new DirectStatements(drizzleExec(db));
}

/**
 * A drizzle query with named placeholders (`sql.placeholder('name')`) rendered to SQL text once, on first use; each
 * run sends that same text (prepared once per connection, see {@link LedgerStatements.rows}) with the placeholders
 * filled from `values`; rows as {@link execRows} answers them. Only for queries whose SQL text is the same on every
 * call (values as placeholders, no lists of varying length): every distinct text stays prepared on every connection.
 *
 * @example
 * const lotById = preparedQuery(sql`select * from lots where id = ${sql.placeholder('id')}`);
 * const rows = await lotById(tx, { id: lotId });
 */
export function preparedQuery<TRow extends DriverRow = DriverRow>(
  query: SQL,
): (db: LedgerDb, values: Record<string, unknown>) => Promise<TRow[]> {
  let rendered: { text: string; params: unknown[] } | undefined;
  return (db, values) => {
    rendered ??= renderSql(query);
    return statementsOf(db).rows<TRow>(rendered.text, fillPlaceholders(rendered.params, values));
  };
}

/**
 * A drizzle query from SQL text with positional parameters (`$n`, each used once or more), for drivers reached
 * through drizzle only.
 *
 * @example
 * sqlOfText('select $1::int as n', [1]);
 */
export function sqlOfText(text: string, params: readonly unknown[]): SQL {
  const chunks: SQL[] = [];
  let from = 0;
  for (const match of text.matchAll(/\$(\d+)/g)) {
    chunks.push(sql.raw(text.slice(from, match.index)));
    chunks.push(sql`${new Param(params[Number(match[1]) - 1])}`);
    from = match.index + match[0].length;
  }
  chunks.push(sql.raw(text.slice(from)));
  return sql.join(chunks);
}

type Exec = (text: string, params: readonly unknown[]) => PromiseLike<DriverRow[]>;

function drizzleExec(db: LedgerDb): Exec {
  return (text, params) => execRows(db, sqlOfText(text, params));
}

/** Statements outside a transaction: each runs (and a queued write is checked) at once. */
export class DirectStatements implements LedgerStatements {
  readonly #exec: Exec;

  constructor(exec: Exec) {
    this.#exec = exec;
  }

  async rows<TRow extends DriverRow = DriverRow>(text: string, params: readonly unknown[]): Promise<TRow[]> {
    return (await this.#exec(text, params)) as TRow[];
  }

  async queueWrite(text: string, params: readonly unknown[], handlers: QueuedWriteHandlers): Promise<void> {
    let rows: DriverRow[];
    try {
      rows = await this.#exec(text, params);
    } catch (error) {
      throw handlers.mapError ? handlers.mapError(error) : error;
    }
    handlers.check(rows);
  }
}

const ignore = () => {};

/**
 * The statements of one transaction. Statements are sent as they are called (pipelined on postgres.js); queued
 * writes are checked when a later statement answers, or by {@link settle} before the commit. The first failure
 * of any statement sent through it fails the transaction, even when the caller caught it.
 */
export class TransactionStatements implements LedgerStatements {
  readonly #exec: Exec;
  readonly #pending: Promise<unknown>[] = [];
  #settled = 0;
  #failed = false;
  #failure: unknown;

  /** `opening`: the transaction's BEGIN when it is pipelined with the first statements. */
  constructor(exec: Exec, opening?: PromiseLike<unknown>) {
    this.#exec = exec;
    if (opening !== undefined) this.#pending.push(this.#watch(Promise.resolve(opening)));
  }

  /** The first failure of a statement of this transaction, if any. */
  get failure(): { error: unknown } | null {
    return this.#failed ? { error: this.#failure } : null;
  }

  #watch<T>(promise: Promise<T>): Promise<T> {
    promise.catch((error: unknown) => {
      if (!this.#failed) {
        this.#failed = true;
        this.#failure = error;
      }
    });
    return promise;
  }

  async rows<TRow extends DriverRow = DriverRow>(text: string, params: readonly unknown[]): Promise<TRow[]> {
    const query = this.#watch(Promise.resolve(this.#exec(text, params)));
    await this.settle();
    return (await query) as TRow[];
  }

  queueWrite(text: string, params: readonly unknown[], handlers: QueuedWriteHandlers): Promise<void> {
    const written = Promise.resolve(this.#exec(text, params)).then(
      (rows) => handlers.check(rows),
      (error: unknown) => {
        throw handlers.mapError ? handlers.mapError(error) : error;
      },
    );
    this.#pending.push(this.#watch(written));
    return Promise.resolve();
  }

  /** Waits for the pipelined BEGIN and the queued writes; throws the first failure of the transaction. */
  async settle(): Promise<void> {
    // `#pending` only grows (a few entries: the BEGIN and the queued writes); `#settled` counts the leading entries
    // known settled, so concurrent callers each wait for all of them.
    while (this.#settled < this.#pending.length) {
      const end = this.#pending.length;
      await Promise.allSettled(this.#pending.slice(this.#settled, end));
      if (this.#settled < end) this.#settled = end;
    }
    if (this.#failed) throw this.#failure;
  }

  /** Waits like {@link settle} without throwing (before a rollback, so the first failure is known). */
  async settleQuietly(): Promise<void> {
    await this.settle().catch(ignore);
  }

  /**
   * The error a failed transaction throws: the first failed statement's when `error` only reports that the
   * transaction was already aborted (SQLSTATE 25P02), else `error`.
   */
  errorToThrow(error: unknown): unknown {
    const code = (error as { code?: unknown; cause?: { code?: unknown } } | null)?.code;
    const causeCode = (error as { cause?: { code?: unknown } } | null)?.cause?.code;
    if (this.#failed && (code === '25P02' || causeCode === '25P02')) return this.#failure;
    return error;
  }
}

/** The error thrown when a COMMIT answers ROLLBACK (a statement failed and the failure was swallowed). */
export class TransactionAbortedError extends Error {
  override readonly name = 'TransactionAbortedError';
  readonly code = '25P02';
  constructor() {
    super('the transaction was aborted by a failed statement and rolled back at commit');
  }
}

function drizzleDriver(db: LedgerDb): LedgerDriver {
  return {
    statements: new DirectStatements(drizzleExec(db)),
    transaction: (options, body) =>
      db.transaction(
        async (tx) => {
          const statements = new TransactionStatements(drizzleExec(tx));
          attachTransactionStatements(tx, statements);
          try {
            const result = await body(tx);
            await statements.settle();
            return result;
          } catch (error) {
            await statements.settleQuietly();
            throw statements.errorToThrow(error);
          }
        },
        options.readCommitted ? { isolationLevel: 'read committed' } : undefined,
      ),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Rows of the ledger's tables read by raw statements, mapped as drizzle maps them.
// ---------------------------------------------------------------------------------------------------------------

/**
 * Reads rows of one table with a raw statement and maps them like drizzle's `select()`: the select list names each
 * column by its property (`"available_micro" as "availableMicro"`), timestamps travel as epoch milliseconds (the
 * same on both drivers) and become `Date`s, every other value goes through the column's own mapping.
 */
export interface TableRows<TRow> {
  /** The select list for the table under `alias`. */
  selectList(alias: string): string;
  /** Maps one driver row (selected with {@link selectList}) to the table's row type. */
  decode(row: DriverRow): TRow;
}

/**
 * The {@link TableRows} of a table.
 *
 * @example
 * const lotRows = tableRows<Lot>(lots);
 * const text = `select ${lotRows.selectList('l')} from lots l where l.id = $1`;
 */
export function tableRows<TRow>(table: PgTable): TableRows<TRow> {
  const columns = Object.entries(getTableColumns(table) as Record<string, Column>).map(([key, column]) => ({
    key,
    column,
    timestamp: column.columnType === 'PgTimestamp',
  }));
  return {
    selectList(alias) {
      return columns
        .map(({ key, column, timestamp }) => {
          const name = `${escapeName(alias)}.${escapeName(column.name)}`;
          const value = timestamp ? `floor(extract(epoch from ${name}) * 1000)::int8` : name;
          return `${value} as ${escapeName(key)}`;
        })
        .join(', ');
    },
    decode(row) {
      const out: Record<string, unknown> = {};
      for (const { key, column, timestamp } of columns) {
        const value = row[key];
        out[key] =
          value === null || value === undefined
            ? null
            : timestamp
              ? new Date(Number(value))
              : column.mapFromDriverValue(value);
      }
      return out as TRow;
    },
  };
}
