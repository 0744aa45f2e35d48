import { join } from 'node:path';
import type { Ledger, LedgerDbHandle } from '@arrakis/billing-ledger';
import type { Logger } from 'pino';
import type { GatewayConfig } from './config.js';
import { startTicker, type Ticker } from './ticker.js';

/** Folder of the embedded PGlite ledger inside `DATA_DIR`. */
export const ledgerDataDirName = 'ledger';

/** Rows one sweeper call handles at most (expired holds or lots). */
export const sweepBatchSizeMax = 500;

/** Batches one sweeper runs per tick at most; the rest waits for the next tick. */
export const sweepBatchesPerTickMax = 10;

/** Which database the ledger runs on. */
export type LedgerDbKind = 'postgres' | 'pglite';

/**
 * `DATABASE_URL` → Postgres; else PGlite stored under `DATA_DIR/ledger`.
 *
 * @example
 * ```ts
 * ledgerDbKind(parseConfig({})); // 'pglite'
 * ```
 */
export function ledgerDbKind(config: Pick<GatewayConfig, 'databaseUrl'>): LedgerDbKind {
  return config.databaseUrl === undefined ? 'pglite' : 'postgres';
}

/**
 * Opens the ledger database the configuration selects (see {@link ledgerDbKind}); only the chosen driver is loaded.
 * The caller runs `migrateLedger(handle.db)` and closes the handle. The PGlite folder is held exclusively until the
 * handle is closed: a second gateway (or `arrakis-ledger verify`) on the same `DATA_DIR` is refused, and a lock left
 * by a killed gateway is taken over.
 *
 * @throws {DataDirLockedError} (code `data_dir_locked`, naming the holder's PID) when another live process holds
 *   `DATA_DIR/ledger`: the gateway then exits 1 without serving.
 * @throws when the PGlite folder cannot be created or opened (Postgres connects lazily, on the first query).
 * @example
 * ```ts
 * const ledgerDb = await openLedgerDb(config);
 * await migrateLedger(ledgerDb.db);
 * ```
 */
export async function openLedgerDb(
  config: Pick<GatewayConfig, 'databaseUrl' | 'dataDir' | 'ledger'>,
): Promise<LedgerDbHandle> {
  if (config.databaseUrl !== undefined) {
    const { openPostgresLedgerDb } = await import('@arrakis/billing-ledger/postgres');
    return openPostgresLedgerDb({ url: config.databaseUrl, max: config.ledger.dbPoolMax });
  }
  const { openPgliteLedgerDb } = await import('@arrakis/billing-ledger/pglite');
  return openPgliteLedgerDb({ dataDir: join(config.dataDir, ledgerDataDirName) });
}

/** The ledger sweepers running on an interval. */
export interface LedgerSweepers {
  /** Runs every sweeper once now (waits for a tick already running first). Never throws: failures are logged. */
  runOnce(): Promise<void>;
  /** Stops the interval and waits for a running tick to finish. Idempotent. */
  stop(): Promise<void>;
}

/** Options of {@link startLedgerSweepers}. */
export interface LedgerSweepersOptions {
  ledger: Pick<Ledger, 'sweepExpiredHolds' | 'sweepExpiredLots' | 'sweepIdempotencyKeys'> &
    Partial<Pick<Ledger, 'activateDueRules'>>;
  /** When given, the identity store's expired idempotency answers are swept on the same ticks. */
  identity?: { sweepIdempotencyKeys(options: { batchSizeMax: number }): Promise<{ count: number }> };
  /** Milliseconds between ticks; 0 starts nothing (`runOnce` still works). */
  intervalMs: number;
  logger: Logger;
}

/**
 * Runs the ledger sweepers every `intervalMs`: expired holds (reserved → available, `expire_hold` entries),
 * expired lots (available → expired, `expire_lot` entries), idempotency keys past their retention (the ledger's,
 * and the identity store's when `identity` is given), and revenue
 * rules whose cooldown has ended (`activateDueRules`, when the ledger has it). Safe with any number of gateway
 * instances: the ledger locks the rows it sweeps with `FOR UPDATE SKIP LOCKED`, and rule activations take the
 * ledger's governance lock in turn. A tick never overlaps the previous one; a failing sweeper is logged (warn) and
 * the others still run.
 *
 * @example
 * ```ts
 * const sweepers = startLedgerSweepers({ ledger, intervalMs: 30_000, logger });
 * // on shutdown:
 * await sweepers.stop();
 * ```
 */
export function startLedgerSweepers(options: LedgerSweepersOptions): LedgerSweepers {
  const { ledger, intervalMs, logger } = options;
  let ticker: Ticker<void> | undefined;
  const isStopped = () => ticker?.stopped === true;

  /** Runs `sweep` until a batch comes back short (at most {@link sweepBatchesPerTickMax} batches). */
  async function sweepBatches(name: string, sweep: () => Promise<{ count: number }>): Promise<void> {
    try {
      let total = 0;
      for (let batch = 0; batch < sweepBatchesPerTickMax && !isStopped(); batch += 1) {
        const { count } = await sweep();
        total += count;
        if (count < sweepBatchSizeMax) break;
      }
      if (total > 0) logger.info({ sweeper: name, count: total }, 'ledger sweeper swept');
    } catch (error) {
      logger.warn({ err: error, sweeper: name }, 'ledger sweeper failed; it runs again next tick');
    }
  }

  /** Writes the revenue rules whose cooldown has ended (reads already treat them as active). */
  async function activateDueRules(activate: Ledger['activateDueRules']): Promise<void> {
    try {
      const { activated, superseded, activeRuleId } = await activate();
      if (activated.length > 0) {
        logger.info({ sweeper: 'revenue_rules', activated, superseded, activeRuleId }, 'revenue rules activated');
      }
    } catch (error) {
      logger.warn({ err: error, sweeper: 'revenue_rules' }, 'ledger sweeper failed; it runs again next tick');
    }
  }

  async function tick(): Promise<void> {
    const batch = { batchSizeMax: sweepBatchSizeMax };
    await sweepBatches('expired_holds', () => ledger.sweepExpiredHolds(batch));
    await sweepBatches('expired_lots', () => ledger.sweepExpiredLots(batch));
    await sweepBatches('idempotency_keys', () => ledger.sweepIdempotencyKeys(batch));
    const { identity } = options;
    if (identity !== undefined) {
      await sweepBatches('identity_idempotency_keys', () => identity.sweepIdempotencyKeys(batch));
    }
    if (ledger.activateDueRules !== undefined) await activateDueRules(ledger.activateDueRules);
  }

  ticker = startTicker(intervalMs, tick);
  return { runOnce: ticker.runOnce, stop: ticker.stop };
}
