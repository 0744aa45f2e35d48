import { and, eq, sql } from 'drizzle-orm';
import { execRows } from '../db/ledger-db.js';
import { events, lots } from '../db/schema.js';
import { queueDistributions, reversalDraftsForLot } from '../distribution/distribute.js';
import { AlreadyRefundedError, InvalidArgumentError, LotHasPendingHoldsError, LotNotFoundError } from '../errors.js';
import type { RefundResult, RefundTarget, WriteOptions } from '../types.js';
import { type LedgerContext, runWrite } from './context.js';
import { generalPoolId } from './lots.js';
import { assertExternalId, assertId, assertName, assertObject } from './validate.js';
import { openAccountWork } from './work.js';

/** The outbox event a refund writes; its presence marks the lot as refunded. */
export const lotRefundedEventType = 'lot.refunded';

/**
 * Refunds a lot, named by id or by its source (`sourceType` + `sourceId`, e.g. a payment): the unspent part is
 * clawed back (available → refunded, a `refund` entry) and the consumed part becomes debt on the account. The
 * account's other available credit pays that debt at once (available → consumed, an `adjust` entry per lot,
 * `debtOffsetMicro`); what remains is debt: the account is refused new holds (`AccountInDebtError`) until a mint
 * pays it down, and credit that a hold gives back later pays it first. A lot is refunded once; a lot with credit held by pending holds is refused (release
 * or finalize them first). The distributions of the charges the lot paid for are reversed in proportion (one
 * `reversal` distribution per charge, at most `distributionsPerWriteMax`). Emits `lot.refunded` (and
 * `distribution.posted` per reversal).
 *
 * @throws {InvalidArgumentError} when the target is neither `{ lotId }` nor `{ sourceType, sourceId }`.
 * @throws {LotNotFoundError}
 * @throws {AlreadyRefundedError}
 * @throws {LotHasPendingHoldsError} when the lot has reserved credit.
 * @throws {IdempotencyKeyReusedError}
 * @example
 * const { refundedMicro, debtAddedMicro } = await ledger.refund({ sourceType: 'purchase', sourceId: 'pi_123' });
 */
export async function refund(
  ctx: LedgerContext,
  target: RefundTarget,
  options: WriteOptions = {},
): Promise<RefundResult> {
  assertObject('target', target);
  let normalized: { lotId: string } | { sourceType: string; sourceId: string };
  if ('lotId' in target && !('sourceType' in target) && !('sourceId' in target)) {
    assertId('lotId', target.lotId);
    normalized = { lotId: target.lotId };
  } else if ('sourceType' in target && 'sourceId' in target && !('lotId' in target)) {
    assertName('sourceType', target.sourceType);
    assertExternalId('sourceId', target.sourceId);
    normalized = { sourceType: target.sourceType, sourceId: target.sourceId };
  } else {
    throw new InvalidArgumentError('a refund target is { lotId } or { sourceType, sourceId }', {
      details: { field: 'target', keys: Object.keys(target).join(',') },
    });
  }
  const where =
    'lotId' in normalized
      ? eq(lots.id, normalized.lotId)
      : and(eq(lots.sourceType, normalized.sourceType), eq(lots.sourceId, normalized.sourceId));
  const missing = 'lotId' in normalized ? normalized.lotId : `${normalized.sourceType}/${normalized.sourceId}`;
  return runWrite(
    ctx,
    {
      scope: 'refund',
      input: normalized,
      idempotencyKey: options.idempotencyKey,
      idempotencyScope: options.idempotencyScope,
    },
    async ({ tx, now, idempotency }) => {
      const [found] = await tx.select({ id: lots.id, accountId: lots.accountId }).from(lots).where(where);
      if (found === undefined) throw new LotNotFoundError(missing);
      const work = await openAccountWork(ctx, tx, now, found.accountId, generalPoolId);
      const [lot] = await work.lockLots([found.id]);
      if (lot === undefined) throw new LotNotFoundError(missing);
      const marked = await execRows(
        tx,
        sql`select 1 as marked from ${events}
            where ${events.type} = ${lotRefundedEventType} and ${events.subjectId} = ${lot.id} limit 1`,
      );
      if (lot.refundedMicro > 0n || marked.length > 0) throw new AlreadyRefundedError(lot.id);
      if (lot.reservedMicro > 0n) throw new LotHasPendingHoldsError(lot.id, lot.reservedMicro);
      const refundedMicro = lot.availableMicro;
      if (refundedMicro > 0n) work.move(lot, 'refund', 'available', 'refunded', refundedMicro, null, 'refund');
      const debtAddedMicro = lot.consumedMicro;
      work.debtMicro += debtAddedMicro;
      // The account's other credit pays the new debt at once (journaled `adjust` entries); what it cannot cover
      // stays as debt, which refuses new holds until a mint pays it down.
      const { offsetMicro: debtOffsetMicro } = work.offsetDebt();
      // The revenue the lot's consumed credit paid for is given back by the pools (one reversal per charge).
      const drafts = await reversalDraftsForLot(tx, lot.id);
      const reversals = drafts.length === 0 ? [] : queueDistributions(work, drafts);
      work.emit(lotRefundedEventType, lot.id, {
        lotId: lot.id,
        accountId: lot.accountId,
        sourceType: lot.sourceType,
        sourceId: lot.sourceId,
        refundedMicro: refundedMicro.toString(),
        debtAddedMicro: debtAddedMicro.toString(),
        debtOffsetMicro: debtOffsetMicro.toString(),
        debtMicro: work.debtMicro.toString(),
      });
      const result: RefundResult = {
        lot: work.snapshot([lot.id])[0]!,
        refundedMicro,
        debtAddedMicro,
        debtOffsetMicro,
        reversals,
        balance: work.balance(),
      };
      await work.flush('refund', idempotency, result);
      return result;
    },
  );
}
