/**
 * The price book in the ledger's database: meter versions are rows of `meters` (append-only), created one at a time
 * per meter under a transaction-level advisory lock, each with a `meter.versioned` outbox event. The version in force
 * at a time is the highest version whose `effective_at` has passed (versions take force in version order).
 */
import { and, asc, desc, eq, lte } from 'drizzle-orm';
import { type DriverRow, statementsOf, tableRows } from '../db/ledger-db.js';
import { events, meters } from '../db/schema.js';
import { InvalidArgumentError, MeterNotFoundError } from '../errors.js';
import { assert } from '../ledger/assert.js';
import { type LedgerContext, runWrite, type Tx } from '../ledger/context.js';
import { assertName } from '../ledger/validate.js';
import { metersListMax, meterVersionsListMax } from '../limits.js';
import type { WriteOptions } from '../types.js';
import type { Meter, MeterInput, MeterUnitPrice } from './types.js';
import { normalizeMeterInput } from './validate.js';

type MeterRow = typeof meters.$inferSelect;
/** Rows of `meters` read by raw statements (as drizzle maps them). */
export const meterRows = tableRows<MeterRow>(meters);

/** The stored JSON of one unit price (amounts as base-10 strings). */
interface StoredUnitPrice {
  dimension: string;
  priceMicro: string;
  perUnits: string;
  unitsMax: string;
}

function storedPrices(prices: readonly MeterUnitPrice[]): StoredUnitPrice[] {
  return prices.map((price) => ({
    dimension: price.dimension,
    priceMicro: price.priceMicro.toString(),
    perUnits: price.perUnits.toString(),
    unitsMax: price.unitsMax.toString(),
  }));
}

/**
 * A stored meter row as a {@link Meter}.
 *
 * @example
 * const meter = toMeter(row);
 */
export function toMeter(row: MeterRow): Meter {
  const raw = typeof row.unitPrices === 'string' ? JSON.parse(row.unitPrices) : row.unitPrices;
  assert(Array.isArray(raw) && raw.length > 0, 'a stored meter has unit prices', { meterId: row.id });
  const unitPrices = (raw as StoredUnitPrice[]).map((price) => ({
    dimension: price.dimension,
    priceMicro: BigInt(price.priceMicro),
    perUnits: BigInt(price.perUnits),
    unitsMax: BigInt(price.unitsMax),
  }));
  return {
    id: row.id,
    version: row.version,
    poolId: row.poolId,
    billingMode: row.billingMode,
    holdMicro: row.holdMicro,
    maxCostMicro: row.maxCostMicro,
    ttlSeconds: row.ttlSeconds,
    unitPrices,
    effectiveAt: row.effectiveAt,
    createdBy: row.createdBy,
    createdAt: row.createdAt,
  };
}

/** Raw statement text: the version of meter `$1` in force at `$2` (an ISO time), or no row. */
export const meterInForceText = `select ${meterRows.selectList('m')} from meters m
  where m.id = $1 and m.effective_at <= $2::timestamptz order by m.version desc limit 1`;

/**
 * Decodes the answer of {@link meterInForceText}.
 *
 * @throws {MeterNotFoundError} when no version is in force.
 * @example
 * const meter = meterInForceOf('chat', await statements.rows(meterInForceText, ['chat', now.toISOString()]));
 */
export function meterInForceOf(meterId: string, rows: readonly DriverRow[]): Meter {
  const [row] = rows;
  if (row === undefined) throw new MeterNotFoundError({ meterId });
  return toMeter(meterRows.decode(row));
}

async function latestVersion(tx: Tx, meterId: string): Promise<Meter | null> {
  const [row] = await tx.select().from(meters).where(eq(meters.id, meterId)).orderBy(desc(meters.version)).limit(1);
  return row === undefined ? null : toMeter(row);
}

/**
 * Creates a meter (version 1) or its next version; the previous versions stay and keep pricing the holds placed under
 * them. `effectiveAt` (default now) may not be in the past nor before the previous version's. Emits `meter.versioned`.
 *
 * @throws {InvalidArgumentError} and the errors of `normalizeMeterInput`; when effectiveAt is before now or before
 *   the previous version's.
 * @throws {IdempotencyKeyReusedError}
 * @example
 * const meter = await ledger.createMeter({ id: 'chat', holdMicro: 20_000n, createdBy: 'alice',
 *   unitPrices: [{ dimension: 'output_tokens', priceMicro: 15_000_000n, perUnits: 1_000_000n }] });
 */
export async function createMeter(ctx: LedgerContext, input: MeterInput, options: WriteOptions = {}): Promise<Meter> {
  const normalized = normalizeMeterInput(input);
  return runWrite(ctx, { scope: 'createMeter', input: normalized, ...keyOf(options) }, async ({ tx, now }) => {
    await statementsOf(tx).rows('select pg_advisory_xact_lock(hashtextextended($1, 7340207112003)) as locked', [
      `meter:${normalized.id}`,
    ]);
    const previous = await latestVersion(tx, normalized.id);
    const effectiveAt = normalized.effectiveAt ?? now;
    const floorMs = Math.max(now.getTime(), previous?.effectiveAt.getTime() ?? 0);
    if (effectiveAt.getTime() < floorMs) {
      throw new InvalidArgumentError(
        `effectiveAt ${effectiveAt.toISOString()} must not be before ${new Date(floorMs).toISOString()} (now, or the previous version's)`,
        { details: { meterId: normalized.id, field: 'effectiveAt', value: effectiveAt.toISOString() } },
      );
    }
    const [row] = await tx
      .insert(meters)
      .values({
        id: normalized.id,
        version: (previous?.version ?? 0) + 1,
        poolId: normalized.poolId,
        billingMode: normalized.billingMode,
        holdMicro: normalized.holdMicro,
        maxCostMicro: normalized.maxCostMicro,
        ttlSeconds: normalized.ttlSeconds,
        unitPrices: storedPrices(normalized.unitPrices),
        effectiveAt,
        createdBy: normalized.createdBy,
        createdAt: now,
      })
      .returning();
    assert(row !== undefined, 'the meter version was inserted', { meterId: normalized.id });
    const meter = toMeter(row);
    await tx.insert(events).values({
      type: 'meter.versioned',
      accountId: null,
      subjectId: meter.id,
      payload: meterPayload(meter, previous?.version ?? null),
      createdAt: now,
    });
    return meter;
  });
}

function meterPayload(meter: Meter, previousVersion: number | null): Record<string, unknown> {
  return {
    meterId: meter.id,
    version: meter.version,
    previousVersion,
    poolId: meter.poolId,
    billingMode: meter.billingMode,
    holdMicro: meter.holdMicro.toString(),
    maxCostMicro: meter.maxCostMicro === null ? null : meter.maxCostMicro.toString(),
    ttlSeconds: meter.ttlSeconds,
    unitPrices: storedPrices(meter.unitPrices),
    effectiveAt: meter.effectiveAt.toISOString(),
    createdBy: meter.createdBy,
  };
}

/** The idempotency fields of a write's options. */
function keyOf(options: WriteOptions): { idempotencyKey: string | undefined; idempotencyScope: string | undefined } {
  return { idempotencyKey: options.idempotencyKey, idempotencyScope: options.idempotencyScope };
}

/**
 * The version of a meter in force now, or the version asked for.
 *
 * @throws {InvalidArgumentError} when the id or version breaks its rule.
 * @throws {MeterNotFoundError}
 * @example
 * const meter = await ledger.getMeter('chat');
 * const first = await ledger.getMeter('chat', { version: 1 });
 */
export async function getMeter(
  ctx: LedgerContext,
  meterId: string,
  options: { version?: number } = {},
): Promise<Meter> {
  assertName('meterId', meterId);
  const { version } = options;
  if (version !== undefined) {
    if (!Number.isSafeInteger(version) || version < 1) {
      throw new InvalidArgumentError(`version ${JSON.stringify(version)} must be an integer ≥ 1`, {
        details: { field: 'version', meterId },
      });
    }
    const [row] = await ctx.db
      .select()
      .from(meters)
      .where(and(eq(meters.id, meterId), eq(meters.version, version)));
    if (row === undefined) throw new MeterNotFoundError({ meterId, version });
    return toMeter(row);
  }
  const now = new Date(ctx.clock.nowMs());
  const [row] = await ctx.db
    .select()
    .from(meters)
    .where(and(eq(meters.id, meterId), lte(meters.effectiveAt, now)))
    .orderBy(desc(meters.version))
    .limit(1);
  if (row !== undefined) return toMeter(row);
  const scheduled = await ctx.db.select({ id: meters.id }).from(meters).where(eq(meters.id, meterId)).limit(1);
  throw new MeterNotFoundError({ meterId, reason: scheduled.length > 0 ? 'not_in_force' : 'unknown' });
}

/**
 * Every meter's version in force now, by id (at most {@link metersListMax}).
 *
 * @example
 * const meters = await ledger.listMeters();
 */
export async function listMeters(ctx: LedgerContext): Promise<Meter[]> {
  const now = new Date(ctx.clock.nowMs());
  const rows = await ctx.db
    .selectDistinctOn([meters.id])
    .from(meters)
    .where(lte(meters.effectiveAt, now))
    .orderBy(asc(meters.id), desc(meters.version))
    .limit(metersListMax);
  return rows.map(toMeter);
}

/**
 * Every version of a meter, newest first, scheduled ones included (at most {@link meterVersionsListMax}).
 *
 * @throws {MeterNotFoundError} when the meter has no version.
 * @example
 * const [latest, ...older] = await ledger.listMeterVersions('chat');
 */
export async function listMeterVersions(ctx: LedgerContext, meterId: string): Promise<Meter[]> {
  assertName('meterId', meterId);
  const rows = await ctx.db
    .select()
    .from(meters)
    .where(eq(meters.id, meterId))
    .orderBy(desc(meters.version))
    .limit(meterVersionsListMax);
  if (rows.length === 0) throw new MeterNotFoundError({ meterId });
  return rows.map(toMeter);
}
