/**
 * Distribution queries: which rule governed a charge, and what each revenue pool received over a time range.
 */
import { eq, sql } from 'drizzle-orm';
import { execRows } from '../db/ledger-db.js';
import { distributions, reservations, revenuePools } from '../db/schema.js';
import { InvalidArgumentError, ReservationNotFoundError } from '../errors.js';
import type { LedgerContext } from '../ledger/context.js';
import { assertId } from '../ledger/validate.js';
import { expiresAtMsMax } from '../limits.js';
import type { Distribution, PoolTotal } from '../types.js';
import { readDistributionsOfReservation } from './distribute.js';

/**
 * The distributions of a hold: its charge (null when nothing was charged: not finalized, shadow, or a zero cost)
 * with the rule id, version and schema_version that governed it, and the reversals of it.
 *
 * @throws {InvalidArgumentError} when reservationId breaks its rule.
 * @throws {ReservationNotFoundError}
 * @example
 * const { charge } = await ledger.getDistribution('res_1');
 * console.log(charge?.ruleId, charge?.ruleVersion, charge?.ruleSchemaVersion);
 */
export async function getDistribution(
  ctx: LedgerContext,
  reservationId: string,
): Promise<{ charge: Distribution | null; reversals: Distribution[] }> {
  assertId('reservationId', reservationId);
  return ctx.db.transaction(
    async (tx) => {
      const [hold] = await tx
        .select({ id: reservations.id })
        .from(reservations)
        .where(eq(reservations.id, reservationId));
      if (hold === undefined) throw new ReservationNotFoundError(reservationId);
      return readDistributionsOfReservation(tx, reservationId);
    },
    { isolationLevel: 'repeatable read', accessMode: 'read only' },
  );
}

/**
 * Totals per revenue pool of the distributions written in `[from, to)`: what charges distributed, what reversals
 * gave back, and the net. Every pool is listed (zeros included), in a fixed order.
 *
 * @throws {InvalidArgumentError} when from or to is not a valid Date or from is after to.
 * @example
 * const totals = await ledger.distributionTotals({ from: new Date('2026-11-01Z'), to: new Date('2026-12-01Z') });
 */
export async function distributionTotals(ctx: LedgerContext, range: { from: Date; to: Date }): Promise<PoolTotal[]> {
  const valid = (value: unknown) =>
    value instanceof Date &&
    !Number.isNaN(value.getTime()) &&
    value.getTime() >= 0 &&
    value.getTime() <= expiresAtMsMax;
  if (range === null || typeof range !== 'object' || !valid(range.from) || !valid(range.to) || range.from > range.to) {
    throw new InvalidArgumentError('a range is { from: Date, to: Date } in 1970..9999 with from <= to', {
      details: { field: 'range' },
    });
  }
  const sums = revenuePools.map(
    (pool) =>
      sql`coalesce(sum(${sql.identifier(`${pool}_micro`)}) filter (where kind = 'charge'), 0)::text as ${sql.identifier(`${pool}_charge`)},
        coalesce(sum(${sql.identifier(`${pool}_micro`)}) filter (where kind = 'reversal'), 0)::text as ${sql.identifier(`${pool}_reversal`)}`,
  );
  const [row] = await execRows<Record<string, string>>(
    ctx.db,
    sql`select ${sql.join(sums, sql`, `)} from ${distributions}
      where created_at >= ${range.from.toISOString()}::timestamptz and created_at < ${range.to.toISOString()}::timestamptz`,
  );
  return revenuePools.map((pool) => {
    const distributedMicro = BigInt(row?.[`${pool}_charge`] ?? '0');
    const reversedMicro = BigInt(row?.[`${pool}_reversal`] ?? '0');
    return { pool, distributedMicro, reversedMicro, netMicro: distributedMicro - reversedMicro };
  });
}
