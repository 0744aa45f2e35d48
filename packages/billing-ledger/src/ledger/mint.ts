import { and, eq } from 'drizzle-orm';
import { lots } from '../db/schema.js';
import { DuplicateSourceError } from '../errors.js';
import type { Lot, MintInput, MintResult, WriteOptions } from '../types.js';
import { assert } from './assert.js';
import type { Tx } from './context.js';
import { type LedgerContext, runWrite } from './context.js';
import { newId } from './ids.js';
import { generalPoolId, minMicro } from './lots.js';
import {
  assertAmountMicro,
  assertExternalId,
  assertFutureDate,
  assertId,
  assertMemo,
  assertName,
  assertObject,
} from './validate.js';
import { type AccountWork, openAccountWork } from './work.js';

/**
 * Mints a lot on an account (a purchase, grant, deposit, x402 payment…). The account's debt is paid first: that
 * part of the new lot moves available → consumed at once (an `adjust` entry). A source (`sourceType` + `sourceId`)
 * mints once, even under concurrency. Emits `lot.minted`.
 *
 * @throws {InvalidAmountError} when amountMicro is not a bigint in 1..10^15.
 * @throws {InvalidArgumentError} when an id, the pool, the source, the memo or the expiry (must be in the future) breaks its rule.
 * @throws {AccountNotFoundError}
 * @throws {DuplicateSourceError} when the source was already minted (details.lotId names the lot).
 * @throws {IdempotencyKeyReusedError}
 * @example
 * const { lot, balance } = await ledger.mint(
 *   { accountId, amountMicro: 10_000_000n, sourceType: 'purchase', sourceId: 'pi_123' },
 *   { idempotencyKey: 'purchase-pi_123' },
 * );
 */
export async function mint(ctx: LedgerContext, input: MintInput, options: WriteOptions = {}): Promise<MintResult> {
  assertObject('input', input);
  assertId('accountId', input.accountId);
  assertAmountMicro('amountMicro', input.amountMicro);
  assertName('sourceType', input.sourceType);
  if (input.sourceId !== undefined) assertExternalId('sourceId', input.sourceId);
  if (input.poolId !== undefined) assertName('poolId', input.poolId);
  if (input.memo !== undefined) assertMemo(input.memo);
  if (input.expiresAt !== undefined) assertFutureDate('expiresAt', input.expiresAt, ctx.clock.nowMs());
  const normalized = {
    accountId: input.accountId,
    amountMicro: input.amountMicro,
    sourceType: input.sourceType,
    sourceId: input.sourceId ?? null,
    poolId: input.poolId ?? generalPoolId,
    expiresAt: input.expiresAt === undefined ? null : new Date(input.expiresAt.getTime()),
    memo: input.memo ?? null,
  };
  return runWrite(
    ctx,
    {
      scope: 'mint',
      input: normalized,
      idempotencyKey: options.idempotencyKey,
      idempotencyScope: options.idempotencyScope,
    },
    async ({ tx, now, idempotency }) => {
      if (normalized.expiresAt !== null) assertFutureDate('expiresAt', normalized.expiresAt, now.getTime());
      const { sourceType, sourceId } = normalized;
      // Pipelined after the account lock: has this source been minted already?
      const [work, [existing]] = await Promise.all([
        openAccountWork(ctx, tx, now, normalized.accountId, normalized.poolId),
        sourceId === null
          ? []
          : tx
              .select({ id: lots.id })
              .from(lots)
              .where(and(eq(lots.sourceType, sourceType), eq(lots.sourceId, sourceId))),
      ]);
      if (existing !== undefined && sourceId !== null)
        throw new DuplicateSourceError(sourceType, sourceId, existing.id);
      const { lot, debtPaidMicro } = await mintLot(tx, work, normalized);
      const result: MintResult = { lot: work.snapshot([lot.id])[0]!, debtPaidMicro, balance: work.balance() };
      await work.flush('mint', idempotency, result);
      return result;
    },
  );
}

/** What {@link mintLot} mints. */
export interface LotSpec {
  amountMicro: bigint;
  sourceType: string;
  sourceId: string | null;
  poolId: string;
  expiresAt: Date | null;
  memo: string | null;
}

/**
 * Inserts a lot into the locked account of `work` and records its entries: the mint, then the part that pays the
 * account's debt (available → consumed, an `adjust` entry). Emits `lot.minted`. Shared by mint and purchasePack.
 *
 * @throws {DuplicateSourceError} when a concurrent write minted the same source first.
 * @example
 * const { lot, debtPaidMicro } = await mintLot(tx, work, spec);
 */
export async function mintLot(tx: Tx, work: AccountWork, spec: LotSpec): Promise<{ lot: Lot; debtPaidMicro: bigint }> {
  const normalized = spec;
  const now = work.now;
  const accountId = work.account.id;
  const { sourceType, sourceId } = spec;
  const debtPaidMicro = minMicro(work.debtMicro, normalized.amountMicro);
  const [row] = await tx
    .insert(lots)
    .values({
      id: newId('lot'),
      accountId,
      poolId: normalized.poolId,
      sourceType,
      sourceId,
      originalMicro: normalized.amountMicro,
      availableMicro: normalized.amountMicro - debtPaidMicro,
      reservedMicro: 0n,
      consumedMicro: debtPaidMicro,
      expiredMicro: 0n,
      refundedMicro: 0n,
      expiresAt: normalized.expiresAt,
      createdAt: now,
    })
    .onConflictDoNothing()
    .returning();
  if (row === undefined) {
    // A concurrent mint of the same source committed between our check and our insert.
    assert(sourceId !== null, 'only a sourced lot can conflict on insert');
    const [existing] = await tx
      .select({ id: lots.id })
      .from(lots)
      .where(and(eq(lots.sourceType, sourceType), eq(lots.sourceId, sourceId)));
    assert(existing !== undefined, 'a conflicting lot must be readable', { sourceType, sourceId });
    throw new DuplicateSourceError(sourceType, sourceId, existing.id);
  }
  const lot = work.addInsertedLot(row);
  work.move(lot, 'mint', 'external', 'available', normalized.amountMicro, null, normalized.memo);
  if (debtPaidMicro > 0n) {
    work.move(lot, 'adjust', 'available', 'consumed', debtPaidMicro, null, 'debt paydown');
    work.debtMicro -= debtPaidMicro;
  }
  work.emit('lot.minted', lot.id, {
    lotId: lot.id,
    accountId: lot.accountId,
    poolId: lot.poolId,
    sourceType,
    sourceId,
    amountMicro: normalized.amountMicro.toString(),
    debtPaidMicro: debtPaidMicro.toString(),
    expiresAt: normalized.expiresAt?.toISOString() ?? null,
  });
  return { lot, debtPaidMicro };
}
