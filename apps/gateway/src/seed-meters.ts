// Seeds the price book from the configuration (`METERS` / `METERS_FILE`) at start, after the migrations: a meter whose
// newest version differs from the config in any term or price gets a new version created by `config`. Idempotent
// across restarts (the same config creates nothing) and across instances starting together (the write carries an
// idempotency key derived from the version it follows and the terms, so two instances create one version).
import { createHash } from 'node:crypto';
import {
  generalPoolId,
  type Ledger,
  LedgerError,
  type Meter,
  MeterNotFoundError,
  usageUnitsMaxDefault,
} from '@arrakis/billing-ledger';
import type { Logger } from 'pino';
import type { MeterConfig } from './meters-config.js';

/** `createdBy` of the meter versions the config creates. */
export const configMeterActor = 'config';
/** Idempotency scope of the seeding writes (no HTTP caller uses it: those are `<audience>:<sub>`). */
export const configIdempotencyScope = 'config:meters';

/** What {@link seedMeters} did. */
export interface SeedMetersResult {
  /** Versions created, in config order. */
  created: Meter[];
  /** Ids whose newest version already has the configured terms. */
  unchanged: string[];
}

/** The terms and prices of a meter version, defaults resolved, as canonical JSON (compared and hashed). */
function termsOf(meter: MeterConfig | Meter): string {
  return JSON.stringify({
    poolId: meter.poolId ?? generalPoolId,
    billingMode: meter.billingMode ?? 'live',
    holdMicro: meter.holdMicro.toString(),
    maxCostMicro: meter.maxCostMicro?.toString() ?? null,
    ttlSeconds: meter.ttlSeconds ?? null,
    unitPrices: meter.unitPrices.map((price) => [
      price.dimension,
      price.priceMicro.toString(),
      price.perUnits.toString(),
      (price.unitsMax ?? usageUnitsMaxDefault).toString(),
    ]),
  });
}

async function newestVersion(ledger: Ledger, meterId: string): Promise<Meter | null> {
  try {
    return (await ledger.listMeterVersions(meterId))[0] ?? null;
  } catch (error) {
    if (error instanceof MeterNotFoundError) return null;
    throw error;
  }
}

/**
 * When the new version takes force: the configured time when it is still ahead, else now — but never before the
 * newest version (a scheduled one), which the ledger would refuse.
 */
function effectiveAtOf(config: MeterConfig, newest: Meter | null, nowMs: number): Date | undefined {
  const floorMs = Math.max(nowMs, newest?.effectiveAt.getTime() ?? 0);
  if (config.effectiveAt !== undefined && config.effectiveAt.getTime() >= floorMs) return config.effectiveAt;
  return floorMs > nowMs ? new Date(floorMs) : undefined;
}

/**
 * Creates, for each configured meter, a new version when its newest version (in force or scheduled) differs from the
 * config in any term or price, or when it has none. Comparing with the newest rather than the one in force keeps a
 * scheduled version from being created again at every restart.
 *
 * @throws {Error} naming the meter when the ledger refuses it (e.g. `meter_price_overflow`), with the ledger's error
 *   as `cause`: the gateway does not start with a price book it cannot seed.
 * @example
 * ```ts
 * await seedMeters({ ledger, meters: config.economy.meters, logger, nowMs: clock.nowMs() });
 * ```
 */
export async function seedMeters(options: {
  ledger: Ledger;
  meters: readonly MeterConfig[];
  logger: Logger;
  nowMs: number;
}): Promise<SeedMetersResult> {
  const { ledger, logger } = options;
  const result: SeedMetersResult = { created: [], unchanged: [] };
  for (const config of options.meters) {
    const newest = await newestVersion(ledger, config.id);
    const terms = termsOf(config);
    if (newest !== null && termsOf(newest) === terms) {
      result.unchanged.push(config.id);
      continue;
    }
    const effectiveAt = effectiveAtOf(config, newest, options.nowMs);
    const { effectiveAt: _configured, ...input } = config;
    const digest = createHash('sha256').update(terms).digest('hex');
    try {
      const meter = await ledger.createMeter(
        { ...input, createdBy: configMeterActor, ...(effectiveAt === undefined ? {} : { effectiveAt }) },
        {
          idempotencyKey: `meter:${config.id}:after:${newest?.version ?? 0}:${digest}`,
          idempotencyScope: configIdempotencyScope,
        },
      );
      logger.info({ meterId: meter.id, version: meter.version }, 'meter version created from the METERS config');
      result.created.push(meter);
    } catch (error) {
      const reason = error instanceof LedgerError ? `${error.code}: ${error.message}` : String(error);
      throw new Error(`METERS: meter "${config.id}" could not be seeded (${reason})`, { cause: error });
    }
  }
  return result;
}
