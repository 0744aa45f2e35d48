/**
 * `verify` for the price book: every hold finalized by usage was charged exactly the cost its recorded meter version
 * gives that usage (recomputed here with `priceUsage`), and every metered hold names a version that exists.
 */
import { and, asc, eq, gt, isNotNull } from 'drizzle-orm';
import { meters, reservations } from '../db/schema.js';
import { LedgerInvariantError } from '../ledger/assert.js';
import type { Tx } from '../ledger/context.js';
import { priceUsage } from './pricing.js';
import { toMeter } from './store.js';
import type { Meter } from './types.js';

type ReservationRow = typeof reservations.$inferSelect;
/** Pages of metered holds one verify reads at most (a bound on the loop, far past any ledger). */
const meteredHoldPagesMax = 10_000_000;

type Report = (rule: string, subjectId: string, message: string, details?: Record<string, string>) => void;

function usageOf(value: unknown): Record<string, bigint> | null {
  const raw = typeof value === 'string' ? JSON.parse(value) : value;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return null;
  const usage: Record<string, bigint> = {};
  for (const [dimension, units] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof units !== 'string' || !/^(0|[1-9][0-9]*)$/.test(units)) return null;
    usage[dimension] = BigInt(units);
  }
  return usage;
}

function checkCharge(reservation: ReservationRow, meter: Meter, report: Report): void {
  const usage = usageOf(reservation.usage);
  if (usage === null) {
    report('metered_usage_malformed', reservation.id, 'the recorded usage is not dimension → base-10 units');
    return;
  }
  let costMicro: bigint;
  try {
    costMicro = priceUsage(meter, usage).totalMicro;
  } catch (error) {
    report(
      'metered_usage_unpriceable',
      reservation.id,
      `the recorded usage does not price: ${(error as Error).message}`,
    );
    return;
  }
  if (reservation.status !== 'finalized' || reservation.actualCostMicro !== costMicro) {
    report(
      'metered_charge_mismatch',
      reservation.id,
      `finalized with a cost of ${reservation.actualCostMicro}, its usage costs ${costMicro} under ${meter.id} v${meter.version}`,
      {
        actualCostMicro: `${reservation.actualCostMicro}`,
        pricedMicro: `${costMicro}`,
        meterVersion: `${meter.version}`,
      },
    );
  }
}

/**
 * Checks every metered hold, reading the holds by id in keyset pages of `pageSizeMax` with the meter version each
 * names (bounded memory on any ledger), and answers how many charges by usage it recomputed.
 *
 * @example
 * const meteredCharges = await verifyMeteredCharges(tx, log.report, verifyPageSizeMax);
 */
export async function verifyMeteredCharges(tx: Tx, report: Report, pageSizeMax: number): Promise<number> {
  let checked = 0;
  let afterId: string | null = null;
  for (let page = 0; page < meteredHoldPagesMax; page += 1) {
    const rows: { reservation: ReservationRow; meter: typeof meters.$inferSelect | null }[] = await tx
      .select({ reservation: reservations, meter: meters })
      .from(reservations)
      .leftJoin(meters, and(eq(meters.id, reservations.meterId), eq(meters.version, reservations.meterVersion)))
      .where(and(isNotNull(reservations.meterId), afterId === null ? undefined : gt(reservations.id, afterId)))
      .orderBy(asc(reservations.id))
      .limit(pageSizeMax);
    for (const { reservation, meter } of rows) {
      if (meter === null) {
        report(
          'metered_hold_version_missing',
          reservation.id,
          `meter ${reservation.meterId} v${reservation.meterVersion} does not exist`,
        );
        continue;
      }
      if (reservation.usage === null) continue;
      checked += 1;
      checkCharge(reservation, toMeter(meter), report);
    }
    const last = rows[rows.length - 1];
    if (last === undefined || rows.length < pageSizeMax) return checked;
    afterId = last.reservation.id;
  }
  throw new LedgerInvariantError(`verify read more than ${meteredHoldPagesMax} pages of metered holds`);
}
