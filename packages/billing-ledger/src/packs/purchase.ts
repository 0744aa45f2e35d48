/**
 * Buying a credit pack with a payment that was already verified (x402 verifies; see `@arrakis/x402`): the payment
 * is recorded, keyed by its unique reference, and the pack's lot is minted in the same transaction, so a replayed
 * or concurrent purchase with the same payment mints once and answers the first result.
 */
import { sql } from 'drizzle-orm';
import { execRows } from '../db/ledger-db.js';
import { events, payments } from '../db/schema.js';
import { PaymentInsufficientError, PaymentReferenceReusedError } from '../errors.js';
import { assert } from '../ledger/assert.js';
import { decodeStored, encodeStored } from '../ledger/codec.js';
import { type LedgerContext, runWrite } from '../ledger/context.js';
import { newId } from '../ledger/ids.js';
import { generalPoolId } from '../ledger/lots.js';
import { mintLot } from '../ledger/mint.js';
import { assertAmountMicro, assertExternalId, assertId, assertName, assertObject } from '../ledger/validate.js';
import { openAccountWork } from '../ledger/work.js';
import type { PaymentRecord, PurchasePackInput, PurchasePackOptions, PurchasePackResult } from '../types.js';
import type { CreditPackCatalog } from './catalog.js';

/** The `sourceType` of lots minted by a pack purchase (their `sourceId` is the payment reference). */
export const purchaseSourceType = 'purchase';
/** Longest payer, network or asset string accepted. */
export const paymentFieldLengthMax = 255;

type PaymentRow = {
  id: string;
  account_id: string;
  pack_id: string;
  response: unknown;
};

function assertOptionalText(field: string, value: unknown): void {
  if (value !== undefined) assertExternalId(field, value);
}

/**
 * Buys a credit pack: records the payment (unique on `payment.reference`) and mints one `purchase` lot of the
 * pack's credits (price + bonus; expiring after the pack's `lotTtlMs` when set) in one transaction. When
 * `options.settle` is given it runs inside that transaction after everything is written and before the commit (the
 * x402 "settle before effects" contract): if it throws, nothing is recorded or minted. A payment that was already
 * recorded for the same account and pack answers the first result with `replayed: true` and settles nothing.
 * Emits `lot.minted` and `payment.settled`.
 *
 * @throws {InvalidArgumentError} when an id, the reference, payer, network or asset breaks its rule.
 * @throws {InvalidAmountError} when payment.amountMicro is not a bigint in 1..10^15.
 * @throws {CreditPackNotFoundError}
 * @throws {PaymentInsufficientError} when the payment is for less than the pack's price (nothing is recorded).
 * @throws {PaymentReferenceReusedError} when the payment already bought another pack or for another account.
 * @throws {AccountNotFoundError}
 * @throws {IdempotencyKeyReusedError}
 * @example
 * const { lot, payment, replayed } = await ledger.purchasePack({
 *   accountId,
 *   packId: 'standard',
 *   payment: { reference: 'eip155:8453:0xUSDC:0xPAYER:0xNONCE', payer: '0xPAYER', amountMicro: 10_000_000n },
 * });
 */
export async function purchasePack(
  ctx: LedgerContext,
  catalog: CreditPackCatalog,
  input: PurchasePackInput,
  options: PurchasePackOptions = {},
): Promise<PurchasePackResult> {
  assertObject('input', input);
  assertId('accountId', input.accountId);
  assertName('packId', input.packId);
  assertObject('payment', input.payment);
  const { payment } = input;
  assertExternalId('payment.reference', payment.reference);
  assertExternalId('payment.payer', payment.payer);
  assertAmountMicro('payment.amountMicro', payment.amountMicro);
  assertOptionalText('payment.network', payment.network);
  assertOptionalText('payment.asset', payment.asset);
  if (options.settle !== undefined && typeof options.settle !== 'function') {
    assertObject('options.settle (a function)', null);
  }
  const pack = catalog.get(input.packId);
  if (payment.amountMicro < pack.priceMicro) {
    throw new PaymentInsufficientError(pack.id, pack.priceMicro, payment.amountMicro);
  }
  const normalized = {
    accountId: input.accountId,
    packId: pack.id,
    payment: {
      reference: payment.reference,
      payer: payment.payer,
      amountMicro: payment.amountMicro,
      network: payment.network ?? null,
      asset: payment.asset ?? null,
    },
  };
  return runWrite(
    ctx,
    {
      scope: 'purchasePack',
      input: normalized,
      idempotencyKey: options.idempotencyKey,
      idempotencyScope: options.idempotencyScope,
    },
    async ({ tx, now }) => {
      const work = await openAccountWork(ctx, tx, now, normalized.accountId, generalPoolId);
      const paymentId = newId('pay');
      const p = normalized.payment;
      // The claim: a concurrent purchase with the same payment waits here until this transaction ends.
      const claimed = await execRows<{ id: string }>(
        tx,
        sql`insert into ${payments} (id, reference, account_id, pack_id, payer, amount_micro, network, asset, created_at)
          values (${paymentId}, ${p.reference}, ${normalized.accountId}, ${pack.id}, ${p.payer},
            ${p.amountMicro.toString()}::bigint, ${p.network}::text, ${p.asset}::text, ${now.toISOString()}::timestamptz)
          on conflict (reference) do nothing returning id`,
      );
      if (claimed.length === 0) {
        const [first] = await execRows<PaymentRow>(
          tx,
          sql`select id, account_id, pack_id, response from ${payments} where reference = ${p.reference}`,
        );
        assert(first !== undefined, 'a conflicting payment must be readable', { reference: p.reference });
        if (first.account_id !== normalized.accountId || first.pack_id !== pack.id) {
          throw new PaymentReferenceReusedError(p.reference, first.account_id, first.pack_id);
        }
        const stored = typeof first.response === 'string' ? JSON.parse(first.response) : first.response;
        assert(stored !== null && stored !== undefined, 'a committed payment holds its result', {
          paymentId: first.id,
        });
        return { ...(decodeStored(stored) as PurchasePackResult), replayed: true };
      }
      const { lot } = await mintLot(tx, work, {
        amountMicro: pack.creditsMicro,
        sourceType: purchaseSourceType,
        sourceId: p.reference,
        poolId: generalPoolId,
        expiresAt: pack.lotTtlMs === null ? null : new Date(now.getTime() + pack.lotTtlMs),
        memo: `credit pack ${pack.id}`,
      });
      await work.flush('purchasePack', null, null);
      // Settlement before commit: a failure here rolls back the payment row and the lot.
      const settlement = options.settle === undefined ? null : await options.settle();
      const record: PaymentRecord = {
        id: paymentId,
        reference: p.reference,
        accountId: normalized.accountId,
        packId: pack.id,
        payer: p.payer,
        amountMicro: p.amountMicro,
        network: p.network,
        asset: p.asset,
        lotId: lot.id,
        settlement,
        createdAt: now,
      };
      const result: PurchasePackResult = {
        lot: work.snapshot([lot.id])[0]!,
        balance: work.balance(),
        pack: { ...pack },
        payment: record,
        replayed: false,
      };
      const [written] = await execRows<{ payments: number; events: number }>(
        tx,
        sql`with updated as (
            update ${payments} set lot_id = ${lot.id}, settlement = ${settlement === null ? null : JSON.stringify(settlement)}::jsonb,
              response = ${JSON.stringify(encodeStored(result))}::jsonb
            where id = ${paymentId} returning 1
          ), event as (
            insert into ${events} (type, account_id, subject_id, payload, created_at)
            values ('payment.settled', ${normalized.accountId}, ${paymentId}, ${JSON.stringify({
              paymentId,
              reference: p.reference,
              accountId: normalized.accountId,
              packId: pack.id,
              payer: p.payer,
              amountMicro: p.amountMicro.toString(),
              network: p.network,
              asset: p.asset,
              lotId: lot.id,
              creditsMicro: pack.creditsMicro.toString(),
              settlement,
            })}::jsonb, ${now.toISOString()}::timestamptz)
            returning 1
          ) select (select count(*) from updated)::integer as payments, (select count(*) from event)::integer as events`,
      );
      assert(
        Number(written?.payments) === 1 && Number(written?.events) === 1,
        'the payment row and its event are written',
        {
          paymentId,
        },
      );
      return result;
    },
  );
}
