/**
 * The machinery every ledger write shares: one READ COMMITTED transaction, a bounded retry on serialization
 * failures and deadlocks, and the idempotency protocol.
 *
 * Idempotency: the first statement of the transaction inserts the `(scope, key)` row with the request hash and a
 * placeholder response. A concurrent duplicate blocks on the primary key until the first transaction ends; if it
 * committed, the duplicate reads the stored row and answers the stored response (or `IdempotencyKeyReusedError`
 * when the request differs); if it rolled back, the duplicate inserts and runs. The operation stores its result
 * in the same transaction (see `AccountWork.flush`), so a key's row exists exactly when its effect does. A
 * failed operation (a typed error) stores nothing: a retry with the same key runs again.
 */
import { sql } from 'drizzle-orm';
import { execRows, type LedgerDb, ledgerDriverOf, statementsOf } from '../db/ledger-db.js';
import { IdempotencyKeyReusedError } from '../errors.js';
import type { Clock } from '../ports/clock.js';
import { assert } from './assert.js';
import { decodeStored, encodeStored, requestHash } from './codec.js';
import { assertIdempotencyKey, assertIdempotencyScope } from './validate.js';

/**
 * Test-only fault injection. `afterLotUpdate` runs inside a write's transaction after its lot rows were written
 * (UPDATE, or the INSERT of a mint) and before its entries are inserted; throwing from it must leave no partial
 * write. Never set it in production.
 */
export interface LedgerFaults {
  afterLotUpdate?: (operation: string) => void | Promise<void>;
}

/** Resolved configuration of one ledger instance. */
export interface LedgerContext {
  db: LedgerDb;
  clock: Clock;
  holdTtlMsDefault: number;
  holdTtlMsMax: number;
  idempotencyTtlMs: number;
  retryCountMax: number;
  /** Revenue governance: time between a rule's approval and its activation (default 48 h when absent). */
  ruleCooldownMs?: number;
  faults: LedgerFaults;
  /**
   * The transaction config that makes a write READ COMMITTED: `undefined` when the database's default already is
   * (no `SET TRANSACTION` round trip), else `{ isolationLevel: 'read committed' }`. Resolved on first use.
   */
  writeIsolation?: Promise<WriteIsolation> | undefined;
}

/** How a write gets READ COMMITTED (see {@link LedgerContext.writeIsolation}). */
export type WriteIsolation = { isolationLevel: 'read committed' } | undefined;

/**
 * READ COMMITTED for writes: the database's default is read once per ledger; when it is already READ COMMITTED
 * (Postgres's and PGlite's default) writes skip the `SET TRANSACTION` statement, otherwise they set it explicitly.
 *
 * @example
 * const config = await writeIsolationOf(ctx);
 */
export function writeIsolationOf(ctx: LedgerContext): Promise<WriteIsolation> {
  ctx.writeIsolation ??= execRows<{ level: string }>(
    ctx.db,
    sql`select current_setting('default_transaction_isolation') as level`,
  ).then(
    ([row]) => (row?.level === 'read committed' ? undefined : { isolationLevel: 'read committed' as const }),
    (error: unknown) => {
      ctx.writeIsolation = undefined;
      throw error;
    },
  );
  return ctx.writeIsolation;
}

/** The transaction handle passed to operation bodies (a drizzle transaction is a `LedgerDb`). */
export type Tx = LedgerDb;

/** SQLSTATEs a write retries: serialization_failure and deadlock_detected. */
export const retryableSqlStates: readonly string[] = ['40001', '40P01'];
/** Longest pause between two attempts of a retried write. */
export const retryBackoffMsMax = 50;
const errorCauseDepthMax = 5;

/**
 * The SQLSTATE of a driver error, looking through drizzle's `DrizzleQueryError` wrapper (`cause`).
 *
 * @example
 * sqlStateOf(error) === '23505';
 */
export function sqlStateOf(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < errorCauseDepthMax && current !== null && typeof current === 'object'; depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** The idempotency row a write holds while it runs; the write stores its result into it before committing. */
export interface IdempotencySlot {
  scope: string;
  key: string;
  expiresAt: Date;
  /** Set when the result was written (by `AccountWork.flush` or by {@link runWrite}). */
  stored: boolean;
}

/** What an operation body receives. */
export interface WriteScope {
  tx: Tx;
  now: Date;
  idempotency: IdempotencySlot | null;
}

/** Stores a result into its idempotency row (when the write did not store it in its write statement). */
const storeResultText =
  'update idempotency_keys set response = $1::text::jsonb where scope = $2 and key = $3 returning 1 as stored';

/**
 * Runs one write: validates the idempotency key, opens a READ COMMITTED transaction (see {@link writeIsolationOf}), claims the key (or answers
 * the stored result), runs `body`, stores its result, commits. Serialization failures and deadlocks are retried
 * up to `retryCountMax` times with a short random pause; every other error propagates (and rolls back).
 * The transaction runs on the database's driver (`ledgerDriverOf`): on postgres.js its BEGIN is pipelined with the
 * first statements and its COMMIT with the write statement queued by `AccountWork.flush`.
 *
 * @throws {IdempotencyKeyReusedError} when the key was used for this operation with another request.
 * @example
 * return runWrite(ctx, { scope: 'mint', input, idempotencyKey }, async ({ tx, now, idempotency }) => { ... });
 */
export async function runWrite<T>(
  ctx: LedgerContext,
  op: { scope: string; input: unknown; idempotencyKey: string | undefined; idempotencyScope?: string | undefined },
  body: (scope: WriteScope) => Promise<T>,
): Promise<T> {
  if (op.idempotencyKey !== undefined) assertIdempotencyKey(op.idempotencyKey);
  if (op.idempotencyScope !== undefined) assertIdempotencyScope(op.idempotencyScope);
  // A key is unique per operation and caller scope: `reserve` alone, or `reserve@arrakis-api:alice`.
  const keyScope = op.idempotencyScope === undefined ? op.scope : `${op.scope}@${op.idempotencyScope}`;
  const hash = op.idempotencyKey === undefined ? null : requestHash(op.input);
  const isolation = await writeIsolationOf(ctx);
  const driver = ledgerDriverOf(ctx.db);
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await driver.transaction({ readCommitted: isolation !== undefined }, async (tx) => {
        const now = new Date(ctx.clock.nowMs());
        let slot: IdempotencySlot | null = null;
        if (op.idempotencyKey !== undefined && hash !== null) {
          const claim = await claimKey(tx, ctx, keyScope, op.idempotencyKey, hash, now);
          if (claim.kind === 'replay') return claim.result as T;
          slot = claim.slot;
        }
        const result = await body({ tx, now, idempotency: slot });
        if (slot !== null && !slot.stored) {
          const stored = await statementsOf(tx).rows(storeResultText, [
            JSON.stringify(encodeStored(result)),
            slot.scope,
            slot.key,
          ]);
          assert(stored.length === 1, 'the idempotency row must exist while its write runs', { key: slot.key });
          slot.stored = true;
        }
        return result;
      });
    } catch (error) {
      const state = sqlStateOf(error);
      if (state === undefined || !retryableSqlStates.includes(state) || attempt >= ctx.retryCountMax) throw error;
      await new Promise((resolve) => setTimeout(resolve, 1 + Math.floor(Math.random() * retryBackoffMsMax)));
    }
  }
}

type Claim = { kind: 'fresh'; slot: IdempotencySlot } | { kind: 'replay'; result: unknown };

/** Inserts the key's row, or takes over an expired one; answers a row when this write now owns the key. */
const claimKeyText = `insert into idempotency_keys (scope, key, request_hash, response, created_at, expires_at)
  values ($1, $2, $3, 'null'::jsonb, $4::timestamptz, $5::timestamptz)
  on conflict (scope, key) do update set
    request_hash = excluded.request_hash, response = excluded.response,
    created_at = excluded.created_at, expires_at = excluded.expires_at
  where idempotency_keys.expires_at <= $4::timestamptz
  returning 1 as claimed`;
/** The stored row of a key another write owns. */
const readKeyText = 'select request_hash, response from idempotency_keys where scope = $1 and key = $2';

async function claimKey(
  tx: Tx,
  ctx: LedgerContext,
  scope: string,
  key: string,
  hash: string,
  now: Date,
): Promise<Claim> {
  const expiresAt = new Date(now.getTime() + ctx.idempotencyTtlMs);
  const statements = statementsOf(tx);
  const claimed = await statements.rows(claimKeyText, [scope, key, hash, now.toISOString(), expiresAt.toISOString()]);
  if (claimed.length === 1) return { kind: 'fresh', slot: { scope, key, expiresAt, stored: false } };
  const [row] = await statements.rows<{ request_hash: string; response: unknown }>(readKeyText, [scope, key]);
  assert(row !== undefined, 'a conflicting idempotency row must be readable', { scope, key });
  if (row.request_hash !== hash) throw new IdempotencyKeyReusedError(scope, key);
  const response = typeof row.response === 'string' ? JSON.parse(row.response) : row.response;
  assert(response !== null, 'a committed idempotency row must hold its response', { scope, key });
  return { kind: 'replay', result: decodeStored(response) };
}
