import { statementsOf } from '../db/ledger-db.js';
import { queueDistributions, readChargeTerms, readDistributionsOfReservation } from '../distribution/distribute.js';
import { splitCharge } from '../distribution/shares.js';
import {
  FinalizeConflictError,
  InvalidArgumentError,
  InvalidUsageError,
  ReservationNotMeteredError,
  ReservationNotPendingError,
} from '../errors.js';
import { lotsPerHoldMax } from '../limits.js';
import { normalizeUsage, priceUsage } from '../meters/pricing.js';
import { meterRows, toMeter } from '../meters/store.js';
import type { Pricing } from '../meters/types.js';
import type { FinalizeInput, FinalizeResult, WriteOptions } from '../types.js';
import { assert } from './assert.js';
import type { Tx } from './context.js';
import { type LedgerContext, runWrite } from './context.js';
import { minMicro, usableLots } from './lots.js';
import {
  lockAccountOfReservation,
  readReservation,
  type StoredReservation,
  toReservation,
} from './reservation-view.js';
import { assertAmountMicro, assertId, assertObject } from './validate.js';
import { AccountWork, lockLiveLotsOfReservation } from './work.js';

/** The amounts of a finalized hold, derived from its stored row. */
function outcomeOf(stored: StoredReservation) {
  const actualCostMicro = stored.actualCostMicro;
  assert(
    actualCostMicro !== null &&
      stored.chargedMicro !== null &&
      stored.overrunMicro !== null &&
      stored.uncollectedMicro !== null,
    'a finalized hold records its amounts',
    { reservationId: stored.id },
  );
  const fromHoldMicro = minMicro(actualCostMicro, stored.amountMicro);
  return {
    chargedMicro: stored.chargedMicro,
    releasedMicro: stored.billingMode === 'shadow' ? stored.amountMicro : stored.amountMicro - fromHoldMicro,
    overrunMicro: stored.overrunMicro,
    uncollectedMicro: stored.uncollectedMicro,
  };
}

/**
 * Finalizes a hold with the actual cost: consumes from the hold's lots in their recorded order and releases the
 * rest (last drawn first). An overrun (cost > hold) follows the hold's mode: `live` charges the hold and records
 * the overrun as uncollected; `soft` also charges the excess from the pool's other usable lots in consumption order
 * (never below zero, at most `lotsPerHoldMax` lots) and records what could not be charged as uncollected; `shadow` charges nothing, releases the whole hold and
 * records the cost. The charge is split by the revenue rule in force at that moment, in the same transaction (a
 * `distributions` row and `distribute` entries on the pools' accounts; see `splitCharge`). A repeat with the same cost
 * returns the first outcome and distribution (with the current balance and lots); another cost is a conflict. Emits
 * `reservation.finalized` and `distribution.posted`.
 *
 * Finalize by usage (`{ reservationId, usage }`) prices the usage under the meter version the hold recorded — even if
 * the meter changed since — and answers the itemized `pricing`; the hold's row records the usage, so `verify` can
 * recompute the charge. A repeat must report the same usage.
 *
 * @throws {InvalidAmountError} when actualCostMicro is not a bigint in 0..10^15.
 * @throws {ReservationNotMeteredError} when a usage is given for a hold placed without a meter.
 * @throws {UnknownDimensionError} / {@link InvalidUsageError} for a usage the meter cannot price.
 * @throws {InvalidArgumentError} when reservationId breaks its rule.
 * @throws {ReservationNotFoundError}
 * @throws {ReservationNotPendingError} when the hold was released or expired (status in details).
 * @throws {FinalizeConflictError} when the hold was finalized with another cost.
 * @throws {IdempotencyKeyReusedError}
 * @example
 * const { chargedMicro, releasedMicro } = await ledger.finalize({ reservationId, actualCostMicro: 1_250_000n });
 * const { pricing } = await ledger.finalize({ reservationId, usage: { input_tokens: 1200, output_tokens: 340 } });
 */
export async function finalize(
  ctx: LedgerContext,
  input: FinalizeInput,
  options: WriteOptions = {},
): Promise<FinalizeResult> {
  const normalized = normalizeFinalize(input);
  return runWrite(
    ctx,
    {
      scope: 'finalize',
      input: normalized,
      idempotencyKey: options.idempotencyKey,
      idempotencyScope: options.idempotencyScope,
    },
    async ({ tx, now, idempotency }) => {
      // Pipelined in this order: the account lock, then (after it is held) the hold, the account's live lots, the
      // revenue rule in force with the account's referrer, and (finalize by usage) the hold's meter version.
      const [account, stored, liveLots, terms, meterRowsRead] = await Promise.all([
        lockAccountOfReservation(tx, normalized.reservationId),
        readReservation(tx, normalized.reservationId, { lock: true }),
        lockLiveLotsOfReservation(tx, normalized.reservationId),
        readChargeTerms(tx, normalized.reservationId, now),
        normalized.usage === null ? Promise.resolve([]) : readHoldMeter(tx, normalized.reservationId),
      ]);
      const pricing = priceOf(stored, normalized, meterRowsRead);
      const actualCostMicro = pricing?.totalMicro ?? normalized.actualCostMicro;
      assert(actualCostMicro !== null, 'a finalize has a cost or a usage', { reservationId: stored.id });
      if (stored.status === 'finalized') {
        assert(stored.actualCostMicro !== null, 'a finalized hold records its cost', { reservationId: stored.id });
        if (stored.actualCostMicro !== actualCostMicro || !sameUsage(stored.usage, normalized.usage)) {
          throw new FinalizeConflictError(stored.id, stored.actualCostMicro, actualCostMicro, {
            details: normalized.usage === null ? {} : { reason: 'usage differs from the first finalize' },
          });
        }
        const work = new AccountWork(ctx, tx, now, account, liveLots);
        const [holdLots, { charge }] = await Promise.all([
          work.lockLots(stored.lots.map((part) => part.lotId)),
          readDistributionsOfReservation(tx, stored.id),
        ]);
        const result: FinalizeResult = {
          reservation: toReservation(stored, now),
          ...outcomeOf(stored),
          distribution: charge,
          pricing,
          balance: work.balance(),
          lots: work.snapshot(holdLots.map((lot) => lot.id)),
        };
        await work.flush('finalize', idempotency, result);
        return result;
      }
      const status = toReservation(stored, now).status;
      if (status !== 'pending') throw new ReservationNotPendingError(stored.id, status);

      const work = new AccountWork(ctx, tx, now, account, liveLots);
      const holdLots = await work.lockLots(stored.lots.map((part) => part.lotId));
      const touched = new Set(holdLots.map((lot) => lot.id));
      const overrunMicro = actualCostMicro > stored.amountMicro ? actualCostMicro - stored.amountMicro : 0n;
      let chargedMicro = 0n;
      let uncollectedMicro = 0n;
      if (stored.billingMode === 'shadow') {
        for (const part of [...stored.lots].reverse()) {
          work.move(work.lot(part.lotId), 'release', 'reserved', 'available', part.amountMicro, stored.id);
        }
      } else {
        let toChargeMicro = minMicro(actualCostMicro, stored.amountMicro);
        const consumedByPart = stored.lots.map((part) => {
          const consumeMicro = minMicro(toChargeMicro, part.amountMicro);
          toChargeMicro -= consumeMicro;
          if (consumeMicro > 0n) {
            work.move(work.lot(part.lotId), 'consume', 'reserved', 'consumed', consumeMicro, stored.id);
          }
          chargedMicro += consumeMicro;
          return consumeMicro;
        });
        for (let index = stored.lots.length - 1; index >= 0; index -= 1) {
          const part = stored.lots[index]!;
          const releaseMicro = part.amountMicro - consumedByPart[index]!;
          if (releaseMicro > 0n) {
            work.move(work.lot(part.lotId), 'release', 'reserved', 'available', releaseMicro, stored.id);
          }
        }
        if (stored.billingMode === 'soft' && overrunMicro > 0n) {
          let excessMicro = overrunMicro;
          // At most lotsPerHoldMax lots pay an overrun; what they cannot cover is recorded as uncollected.
          for (const lot of usableLots(work.lots, stored.poolId, work.nowMs).slice(0, lotsPerHoldMax)) {
            if (excessMicro === 0n) break;
            const takeMicro = minMicro(excessMicro, lot.availableMicro);
            work.move(lot, 'consume', 'available', 'consumed', takeMicro, stored.id, 'soft overrun');
            touched.add(lot.id);
            excessMicro -= takeMicro;
            chargedMicro += takeMicro;
          }
          uncollectedMicro = excessMicro;
        } else {
          uncollectedMicro = overrunMicro;
        }
      }
      const usageText = normalized.usage === null ? null : usageStrings(normalized.usage);
      const finalized: StoredReservation = {
        ...stored,
        usage: usageText,
        status: 'finalized',
        resolvedAt: now,
        actualCostMicro,
        chargedMicro,
        overrunMicro,
        uncollectedMicro,
      };
      const outcome = outcomeOf(finalized);
      assert(
        stored.billingMode === 'shadow'
          ? chargedMicro === 0n && uncollectedMicro === 0n
          : chargedMicro + uncollectedMicro === actualCostMicro,
        'a finalize charges the cost or records it as uncollected',
        { reservationId: stored.id },
      );
      work.resolveReservation({
        id: stored.id,
        status: 'finalized',
        resolvedAt: now,
        actualCostMicro,
        chargedMicro,
        overrunMicro,
        uncollectedMicro,
        usage: usageText,
      });
      work.emit('reservation.finalized', stored.id, {
        reservationId: stored.id,
        accountId: stored.accountId,
        poolId: stored.poolId,
        billingMode: stored.billingMode,
        amountMicro: stored.amountMicro.toString(),
        actualCostMicro: actualCostMicro.toString(),
        chargedMicro: chargedMicro.toString(),
        releasedMicro: outcome.releasedMicro.toString(),
        overrunMicro: overrunMicro.toString(),
        uncollectedMicro: uncollectedMicro.toString(),
        meterId: stored.meterId,
        meterVersion: stored.meterVersion,
        usage: usageText,
      });
      // The charge is split by the rule in force now, in this transaction (shadow holds charge nothing).
      const distribution =
        chargedMicro > 0n
          ? (queueDistributions(work, [
              {
                kind: 'charge',
                reservationId: stored.id,
                reversesId: null,
                lotId: null,
                rule: terms.rule,
                shares: splitCharge(chargedMicro, terms.rule, { hasReferrer: terms.referrerAccountId !== null }),
                referrerAccountId: terms.referrerAccountId,
              },
            ])[0] ?? null)
          : null;
      // Credit the hold gave back pays the account's debt first (touched: those lots are in the answer).
      for (const id of work.offsetDebt().lotIds) touched.add(id);
      const result: FinalizeResult = {
        reservation: toReservation(finalized, now),
        ...outcome,
        distribution,
        pricing,
        balance: work.balance(),
        lots: work.snapshot([...touched]),
      };
      await work.flush('finalize', idempotency, result);
      return result;
    },
  );
}

/** A finalize's input after the checks that need no I/O: a cost, or a usage (dimension → units). */
interface NormalizedFinalize {
  reservationId: string;
  actualCostMicro: bigint | null;
  usage: Record<string, bigint> | null;
}

function normalizeFinalize(input: FinalizeInput): NormalizedFinalize {
  assertObject('input', input);
  assertId('reservationId', input.reservationId);
  if ((input.usage === undefined) === (input.actualCostMicro === undefined)) {
    throw new InvalidArgumentError('finalize takes either actualCostMicro or usage', {
      details: { field: input.usage === undefined ? 'actualCostMicro' : 'usage' },
    });
  }
  if (input.usage === undefined) {
    assertAmountMicro('actualCostMicro', input.actualCostMicro, { minMicro: 0n });
    return { reservationId: input.reservationId, actualCostMicro: input.actualCostMicro, usage: null };
  }
  const usage = normalizeUsage('usage', input.usage);
  return { reservationId: input.reservationId, actualCostMicro: null, usage };
}

/** The version of the meter a hold recorded (no row for a raw hold). */
const holdMeterText = `select ${meterRows.selectList('m')} from meters m
  where (m.id, m.version) = (select r.meter_id, r.meter_version from reservations r where r.id = $1)`;

function readHoldMeter(tx: Tx, reservationId: string) {
  return statementsOf(tx).rows(holdMeterText, [reservationId]);
}

/** Prices a finalize by usage under the hold's recorded meter version; null for a finalize by cost. */
function priceOf(
  stored: StoredReservation,
  input: NormalizedFinalize,
  rows: readonly Record<string, unknown>[],
): Pricing | null {
  if (input.usage === null) return null;
  const [row] = rows;
  if (stored.meterId === null || row === undefined) throw new ReservationNotMeteredError({ reservationId: stored.id });
  const meter = toMeter(meterRows.decode(row));
  assert(
    meter.id === stored.meterId && meter.version === stored.meterVersion,
    'the hold meter is the recorded version',
    {
      reservationId: stored.id,
    },
  );
  return priceUsage(meter, input.usage);
}

function usageStrings(usage: Record<string, bigint>): Record<string, string> {
  return Object.fromEntries(Object.entries(usage).map(([dimension, units]) => [dimension, units.toString()]));
}

/** A repeat by usage must report the usage of the first finalize (a repeat by cost only its cost). */
function sameUsage(stored: unknown, usage: Record<string, bigint> | null): boolean {
  if (usage === null) return true;
  const raw = typeof stored === 'string' ? JSON.parse(stored) : stored;
  if (raw === null || typeof raw !== 'object') return false;
  const first = raw as Record<string, unknown>;
  const keys = Object.keys(usage);
  if (Object.keys(first).length !== keys.length) return false;
  return keys.every((dimension) => first[dimension] === usage[dimension]?.toString());
}
