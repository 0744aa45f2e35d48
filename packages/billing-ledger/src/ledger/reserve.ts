import { cappedSpendText, checkSpendCaps, spendParams } from '../caps/spend-caps.js';
import { statementsOf } from '../db/ledger-db.js';
import type { BillingMode } from '../db/schema.js';
import { AccountInDebtError, InsufficientCreditsError, InvalidArgumentError, InvalidUsageError } from '../errors.js';
import { lotsPerHoldMax } from '../limits.js';
import { holdFor, normalizeUsage } from '../meters/pricing.js';
import { meterInForceOf, meterInForceText } from '../meters/store.js';
import type { Meter } from '../meters/types.js';
import type { HoldLot, ReserveInput, ReserveResult, WriteOptions } from '../types.js';
import { assert } from './assert.js';
import { type LedgerContext, runWrite, type Tx } from './context.js';
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
import { AccountWork, lockAccount, lockLiveLots, lockLiveLotsOfMeter } from './work.js';

/** A reserve's input after the checks that need no I/O. */
type NormalizedReserve =
  | { accountId: string; amountMicro: bigint; poolId: string; ttlMs: number; billingMode: BillingMode }
  | { accountId: string; meterId: string; estimate: Record<string, bigint> | null };

function normalizeReserve(ctx: LedgerContext, input: ReserveInput): NormalizedReserve {
  assertObject('input', input);
  assertId('accountId', input.accountId);
  if (input.meterId !== undefined) {
    assertName('meterId', input.meterId);
    for (const field of ['amountMicro', 'poolId', 'ttlMs', 'billingMode'] as const) {
      if ((input as Record<string, unknown>)[field] !== undefined) {
        throw new InvalidArgumentError(
          `a reserve through meter ${JSON.stringify(input.meterId)} takes its terms from the meter: leave ${field} out`,
          {
            details: { field },
          },
        );
      }
    }
    return {
      accountId: input.accountId,
      meterId: input.meterId,
      estimate: input.estimate === undefined ? null : normalizeUsage('estimate', input.estimate),
    };
  }
  if (input.estimate !== undefined) {
    throw new InvalidArgumentError('estimate needs meterId (a raw reserve names its amountMicro)', {
      details: { field: 'estimate' },
    });
  }
  assertAmountMicro('amountMicro', input.amountMicro);
  if (input.poolId !== undefined) assertName('poolId', input.poolId);
  if (input.ttlMs !== undefined) assertDurationMs('ttlMs', input.ttlMs, ctx.holdTtlMsMax);
  if (input.billingMode !== undefined) assertBillingMode(input.billingMode);
  return {
    accountId: input.accountId,
    amountMicro: input.amountMicro,
    poolId: input.poolId ?? generalPoolId,
    ttlMs: input.ttlMs ?? ctx.holdTtlMsDefault,
    billingMode: input.billingMode ?? 'live',
  };
}

/** The terms of the hold: the caller's, or the meter version's in force (read with the locks). */
interface HoldTerms {
  amountMicro: bigint;
  poolId: string;
  ttlMs: number;
  billingMode: BillingMode;
  meter: Meter | null;
}

/**
 * Locks the account and its live lots, and reads (pipelined, after the lock) the meter in force and the account's
 * caps with its spend; answers the unit of work and the hold's terms, or refuses a hold past a cap.
 */
async function openReserve(ctx: LedgerContext, tx: Tx, now: Date, input: NormalizedReserve) {
  const statements = statementsOf(tx);
  const nowText = now.toISOString();
  const metered = 'meterId' in input;
  const [account, lots, meterRows, capRows] = await Promise.all([
    lockAccount(tx, input.accountId),
    metered
      ? lockLiveLotsOfMeter(tx, input.accountId, input.meterId, nowText)
      : lockLiveLots(tx, input.accountId, input.poolId),
    metered ? statements.rows(meterInForceText, [input.meterId, nowText]) : Promise.resolve([]),
    statements.rows(cappedSpendText, spendParams(input.accountId, now)),
  ]);
  let terms: HoldTerms;
  if (metered) {
    const meter = meterInForceOf(input.meterId, meterRows);
    terms = {
      amountMicro: holdFor(meter, input.estimate ?? undefined),
      poolId: meter.poolId,
      ttlMs: meter.ttlSeconds === null ? ctx.holdTtlMsDefault : Math.min(meter.ttlSeconds * 1000, ctx.holdTtlMsMax),
      billingMode: meter.billingMode,
      meter,
    };
  } else {
    terms = { ...input, meter: null };
  }
  if (account.debtMicro > 0n) throw new AccountInDebtError({ accountId: account.id, debtMicro: account.debtMicro });
  checkSpendCaps(capRows, { accountId: input.accountId, amountMicro: terms.amountMicro, now });
  return { work: new AccountWork(ctx, tx, now, account, lots), terms };
}

/**
 * Places a hold: locks the account, then moves available → reserved across the account's lots in consumption
 * order (the pool before `general`; expiring lots before non-expiring; soonest expiry first; lowest seq), or
 * refuses and changes nothing. Expired lots are never used, swept or not. An account that owes debt is refused
 * every hold. Emits `reservation.created`.
 *
 * Two forms: caller-set terms (`amountMicro`, `poolId`, `ttlMs`, `billingMode`), or a meter (`meterId`, optional
 * `estimate`): the version in force sets pool, mode and ttl (at most `holdTtlMsMax`), the hold is
 * `max(holdMicro, cost(estimate))` capped at `maxCostMicro`, and the hold records the meter id and version. Either
 * way an account with spend caps is refused a hold that would pass one (`SpendCapExceededError`).
 *
 * @throws {InvalidAmountError} when amountMicro is not a bigint in 1..10^15.
 * @throws {InvalidArgumentError} when accountId, poolId, ttlMs (1..holdTtlMsMax) or billingMode breaks its rule.
 * @throws {AccountNotFoundError}
 * @throws {InsufficientCreditsError} when the usable lots hold less than the amount (details: requested, available, shortfall, pool).
 * @throws {MeterNotFoundError} when the meter has no version in force.
 * @throws {UnknownDimensionError} / {@link InvalidUsageError} for a bad estimate.
 * @throws {AccountInDebtError} while the account owes debt (a refund of spent credit that its other credit could
 *   not offset): a mint or purchase pays it down first.
 * @throws {SpendCapExceededError} when the hold would pass the account's daily or monthly cap.
 * @throws {IdempotencyKeyReusedError}
 * @example
 * const { reservation } = await ledger.reserve({ accountId, amountMicro: 2_000_000n, ttlMs: 60_000 });
 * const metered = await ledger.reserve({ accountId, meterId: 'chat', estimate: { output_tokens: 4000 } });
 */
export async function reserve(
  ctx: LedgerContext,
  input: ReserveInput,
  options: WriteOptions = {},
): Promise<ReserveResult> {
  const normalized = normalizeReserve(ctx, input);
  return runWrite(
    ctx,
    {
      scope: 'reserve',
      input: normalized,
      idempotencyKey: options.idempotencyKey,
      idempotencyScope: options.idempotencyScope,
    },
    async ({ tx, now, idempotency }) => {
      const { work, terms } = await openReserve(ctx, tx, now, normalized);
      const parts = drawHold(work, normalized.accountId, terms);
      const reservationId = newId('res');
      for (const part of parts) {
        work.move(work.lot(part.lotId), 'reserve', 'available', 'reserved', part.amountMicro, reservationId);
      }
      const expiresAt = new Date(now.getTime() + terms.ttlMs);
      const meterId = terms.meter?.id ?? null;
      const meterVersion = terms.meter?.version ?? null;
      work.addReservation({ id: reservationId, ...terms, meterId, meterVersion, expiresAt, lots: parts });
      work.emit('reservation.created', reservationId, {
        reservationId,
        accountId: normalized.accountId,
        poolId: terms.poolId,
        amountMicro: terms.amountMicro.toString(),
        billingMode: terms.billingMode,
        meterId,
        meterVersion,
        expiresAt: expiresAt.toISOString(),
        lots: parts.map((part) => ({ lotId: part.lotId, amountMicro: part.amountMicro.toString() })),
      });
      const stored = {
        id: reservationId,
        accountId: normalized.accountId,
        poolId: terms.poolId,
        amountMicro: terms.amountMicro,
        status: 'pending' as const,
        billingMode: terms.billingMode,
        expiresAt,
        createdAt: now,
        resolvedAt: null,
        actualCostMicro: null,
        chargedMicro: null,
        overrunMicro: null,
        uncollectedMicro: null,
        meterId,
        meterVersion,
        usage: null,
        lots: parts,
      };
      const result: ReserveResult = {
        reservation: toReservation(stored, now),
        balance: work.balance(),
        lots: work.snapshot(parts.map((part) => part.lotId)),
      };
      await work.flush('reserve', idempotency, result);
      return result;
    },
  );
}

/** The lots a hold draws from, in consumption order, or a refusal (too little credit, too many lots). */
function drawHold(work: AccountWork, accountId: string, terms: HoldTerms): HoldLot[] {
  const candidates = usableLots(work.lots, terms.poolId, work.nowMs);
  let usableMicro = 0n;
  for (const lot of candidates) usableMicro += lot.availableMicro;
  if (usableMicro < terms.amountMicro) {
    throw new InsufficientCreditsError({
      accountId,
      poolId: terms.poolId,
      requestedMicro: terms.amountMicro,
      availableMicro: usableMicro,
    });
  }
  const parts: HoldLot[] = [];
  let restMicro = terms.amountMicro;
  for (const lot of candidates) {
    if (restMicro === 0n) break;
    const takeMicro = minMicro(restMicro, lot.availableMicro);
    parts.push({ lotId: lot.id, amountMicro: takeMicro });
    restMicro -= takeMicro;
  }
  assert(restMicro === 0n, 'usable lots covering the amount must fill the hold', { accountId });
  if (parts.length > lotsPerHoldMax) {
    throw new InvalidArgumentError(
      `a hold of ${terms.amountMicro} micro-USD would draw from ${parts.length} lots; at most ${lotsPerHoldMax} are allowed`,
      { details: { field: 'amountMicro', lots: parts.length, lotsPerHoldMax } },
    );
  }
  return parts;
}
