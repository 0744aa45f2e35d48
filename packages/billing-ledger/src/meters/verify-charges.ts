/**
 * `verify` for the price book: every hold finalized by usage was charged exactly the cost its recorded meter version
 * gives that usage (recomputed here with `priceUsage`), and every metered hold names a version that exists.
 */
import { asc } from 'drizzle-orm';
import { meters, type reservations } from '../db/schema.js';
import type { Tx } from '../ledger/context.js';
import { priceUsage } from './pricing.js';
import { toMeter } from './store.js';
import type { Meter } from './types.js';

type ReservationRow = typeof reservations.$inferSelect;
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
 * Checks the metered holds among `rows` and answers how many charges by usage it recomputed.
 *
 * @example
 * const meteredCharges = await verifyMeteredCharges(tx, reservationRows, report);
 */
export async function verifyMeteredCharges(tx: Tx, rows: readonly ReservationRow[], report: Report): Promise<number> {
  const meterRows = await tx.select().from(meters).orderBy(asc(meters.id), asc(meters.version));
  const byKey = new Map(meterRows.map((row) => [`${row.id}@${row.version}`, toMeter(row)]));
  let checked = 0;
  for (const reservation of rows) {
    if (reservation.meterId === null) continue;
    const meter = byKey.get(`${reservation.meterId}@${reservation.meterVersion}`);
    if (meter === undefined) {
      report(
        'metered_hold_version_missing',
        reservation.id,
        `meter ${reservation.meterId} v${reservation.meterVersion} does not exist`,
      );
      continue;
    }
    if (reservation.usage === null) continue;
    checked += 1;
    checkCharge(reservation, meter, report);
  }
  return checked;
}
