import { InsufficientCreditsError, InvalidArgumentError } from '../errors.js';
import type { HoldLot, ReserveInput, ReserveResult, WriteOptions } from '../types.js';
import { assert } from './assert.js';
import { type LedgerContext, runWrite } from './context.js';
import { newId } from './ids.js';
import { generalPoolId, minMicro, usableLots } from './lots.js';
import { toReservation } from './reservation-view.js';
import {
  assertAmountMicro,
  assertBillingMode,
  assertDurationMs,
  assertId,
  assertName,
  assertObject,
} from './validate.js';
import { openAccountWork } from './work.js';

/** Most lots one hold may draw from; a reserve that would need more is refused (consolidate credit first). */
export const lotsPerHoldMax = 500;

/**
 * Places a hold: locks the account, then moves available → reserved across the account's lots in consumption
 * order (the pool before `general`; expiring lots before non-expiring; soonest expiry first; lowest seq), or
 * refuses and changes nothing. Expired lots are never used, swept or not. Emits `reservation.created`.
 *
 * @throws {InvalidAmountError} when amountMicro is not a bigint in 1..10^15.
 * @throws {InvalidArgumentError} when accountId, poolId, ttlMs (1..holdTtlMsMax) or billingMode breaks its rule.
 * @throws {AccountNotFoundError}
 * @throws {InsufficientCreditsError} when the usable lots hold less than the amount (details: requested, available, shortfall, pool).
 * @throws {IdempotencyKeyReusedError}
 * @example
 * const { reservation } = await ledger.reserve({ accountId, amountMicro: 2_000_000n, ttlMs: 60_000 });
 */
export async function reserve(
  ctx: LedgerContext,
  input: ReserveInput,
  options: WriteOptions = {},
): Promise<ReserveResult> {
  assertObject('input', input);
  assertId('accountId', input.accountId);
  assertAmountMicro('amountMicro', input.amountMicro);
  if (input.poolId !== undefined) assertName('poolId', input.poolId);
  if (input.ttlMs !== undefined) assertDurationMs('ttlMs', input.ttlMs, ctx.holdTtlMsMax);
  if (input.billingMode !== undefined) assertBillingMode(input.billingMode);
  const normalized = {
    accountId: input.accountId,
    amountMicro: input.amountMicro,
    poolId: input.poolId ?? generalPoolId,
    ttlMs: input.ttlMs ?? ctx.holdTtlMsDefault,
    billingMode: input.billingMode ?? 'live',
  };
  return runWrite(
    ctx,
    { scope: 'reserve', input: normalized, idempotencyKey: options.idempotencyKey },
    async ({ tx, now, idempotency }) => {
      const work = await openAccountWork(ctx, tx, now, normalized.accountId, normalized.poolId);
      const candidates = usableLots(work.lots, normalized.poolId, work.nowMs);
      let usableMicro = 0n;
      for (const lot of candidates) usableMicro += lot.availableMicro;
      if (usableMicro < normalized.amountMicro) {
        throw new InsufficientCreditsError({
          accountId: normalized.accountId,
          poolId: normalized.poolId,
          requestedMicro: normalized.amountMicro,
          availableMicro: usableMicro,
        });
      }
      const reservationId = newId('res');
      const parts: HoldLot[] = [];
      let restMicro = normalized.amountMicro;
      for (const lot of candidates) {
        if (restMicro === 0n) break;
        const takeMicro = minMicro(restMicro, lot.availableMicro);
        parts.push({ lotId: lot.id, amountMicro: takeMicro });
        restMicro -= takeMicro;
      }
      assert(restMicro === 0n, 'usable lots covering the amount must fill the hold', { reservationId });
      if (parts.length > lotsPerHoldMax) {
        throw new InvalidArgumentError(
          `a hold of ${normalized.amountMicro} micro-USD would draw from ${parts.length} lots; at most ${lotsPerHoldMax} are allowed`,
          { details: { field: 'amountMicro', lots: parts.length, lotsPerHoldMax } },
        );
      }
      for (const part of parts) {
        work.move(work.lot(part.lotId), 'reserve', 'available', 'reserved', part.amountMicro, reservationId);
      }
      const expiresAt = new Date(now.getTime() + normalized.ttlMs);
      work.addReservation({
        id: reservationId,
        poolId: normalized.poolId,
        amountMicro: normalized.amountMicro,
        billingMode: normalized.billingMode,
        expiresAt,
        lots: parts,
      });
      work.emit('reservation.created', reservationId, {
        reservationId,
        accountId: normalized.accountId,
        poolId: normalized.poolId,
        amountMicro: normalized.amountMicro.toString(),
        billingMode: normalized.billingMode,
        expiresAt: expiresAt.toISOString(),
        lots: parts.map((part) => ({ lotId: part.lotId, amountMicro: part.amountMicro.toString() })),
      });
      const result: ReserveResult = {
        reservation: toReservation(
          {
            id: reservationId,
            accountId: normalized.accountId,
            poolId: normalized.poolId,
            amountMicro: normalized.amountMicro,
            status: 'pending',
            billingMode: normalized.billingMode,
            expiresAt,
            createdAt: now,
            resolvedAt: null,
            actualCostMicro: null,
            chargedMicro: null,
            overrunMicro: null,
            uncollectedMicro: null,
            lots: parts,
          },
          now,
        ),
        balance: work.balance(),
        lots: work.snapshot(parts.map((part) => part.lotId)),
      };
      await work.flush('reserve', idempotency, result);
      return result;
    },
  );
}
