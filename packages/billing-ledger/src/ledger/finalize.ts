import { queueDistributions, readChargeTerms, readDistributionsOfReservation } from '../distribution/distribute.js';
import { splitCharge } from '../distribution/shares.js';
import { FinalizeConflictError, ReservationNotPendingError } from '../errors.js';
import type { FinalizeInput, FinalizeResult, WriteOptions } from '../types.js';
import { assert } from './assert.js';
import { type LedgerContext, runWrite } from './context.js';
import { minMicro, usableLots } from './lots.js';
import {
  lockAccountOfReservation,
  readReservation,
  type StoredReservation,
  toReservation,
} from './reservation-view.js';
import { lotsPerHoldMax } from './reserve.js';
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
 * @throws {InvalidAmountError} when actualCostMicro is not a bigint in 0..10^15.
 * @throws {InvalidArgumentError} when reservationId breaks its rule.
 * @throws {ReservationNotFoundError}
 * @throws {ReservationNotPendingError} when the hold was released or expired (status in details).
 * @throws {FinalizeConflictError} when the hold was finalized with another cost.
 * @throws {IdempotencyKeyReusedError}
 * @example
 * const { chargedMicro, releasedMicro } = await ledger.finalize({ reservationId, actualCostMicro: 1_250_000n });
 */
export async function finalize(
  ctx: LedgerContext,
  input: FinalizeInput,
  options: WriteOptions = {},
): Promise<FinalizeResult> {
  assertObject('input', input);
  assertId('reservationId', input.reservationId);
  assertAmountMicro('actualCostMicro', input.actualCostMicro, { minMicro: 0n });
  const normalized = { reservationId: input.reservationId, actualCostMicro: input.actualCostMicro };
  return runWrite(
    ctx,
    { scope: 'finalize', input: normalized, idempotencyKey: options.idempotencyKey },
    async ({ tx, now, idempotency }) => {
      // Pipelined in this order: the account lock, then (after it is held) the hold, the account's live lots, and
      // the revenue rule in force with the account's referrer.
      const [account, stored, liveLots, terms] = await Promise.all([
        lockAccountOfReservation(tx, normalized.reservationId),
        readReservation(tx, normalized.reservationId, { lock: true }),
        lockLiveLotsOfReservation(tx, normalized.reservationId),
        readChargeTerms(tx, normalized.reservationId, now),
      ]);
      const actualCostMicro = normalized.actualCostMicro;
      if (stored.status === 'finalized') {
        assert(stored.actualCostMicro !== null, 'a finalized hold records its cost', { reservationId: stored.id });
        if (stored.actualCostMicro !== actualCostMicro) {
          throw new FinalizeConflictError(stored.id, stored.actualCostMicro, actualCostMicro);
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
      const finalized: StoredReservation = {
        ...stored,
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
      const result: FinalizeResult = {
        reservation: toReservation(finalized, now),
        ...outcome,
        distribution,
        balance: work.balance(),
        lots: work.snapshot([...touched]),
      };
      await work.flush('finalize', idempotency, result);
      return result;
    },
  );
}
