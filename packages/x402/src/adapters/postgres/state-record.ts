import { getAddress } from 'viem';
import type { PaymentStateRecord } from '../../ports/payment-state-store.js';
import type { x402Payments } from './schema.js';

/** A row of `x402_payments` as drizzle reads it. */
export type PaymentRow = typeof x402Payments.$inferSelect;

/** Latest instant a `timestamptz` is given here: 9999-12-31T23:59:59Z (a `validBefore` may be up to 2²⁵⁶ − 1). */
export const timestampSecondsMax = 253_402_300_799n;

/**
 * The row as a {@link PaymentStateRecord}: addresses checksummed, amounts and `validBefore` as bigints, times in
 * ms since the epoch.
 *
 * @example
 * const record = toStateRecord<{ lotId: string }>(row);
 */
export function toStateRecord<TResult>(row: PaymentRow): PaymentStateRecord<TResult> {
  return {
    reference: row.reference,
    status: row.status,
    network: row.network,
    asset: getAddress(row.asset),
    payer: getAddress(row.payer),
    payTo: getAddress(row.payTo),
    nonce: row.nonce,
    amountAtomic: row.amountAtomic,
    validBefore: row.validBefore,
    request: row.request ?? null,
    transaction: row.transaction ?? null,
    settlement: row.settlement ?? null,
    result: (row.result ?? null) as TResult | null,
    failure: row.failureCode === null ? null : { code: row.failureCode, message: row.failureMessage ?? '' },
    attempts: row.attempts,
    createdAtMs: row.createdAt.getTime(),
    updatedAtMs: row.updatedAt.getTime(),
  };
}

/**
 * The instant `seconds` after the epoch, capped at {@link timestampSecondsMax}.
 *
 * @example
 * dateOfSeconds(1_767_225_600n); // 2026-01-01T00:00:00.000Z
 */
export function dateOfSeconds(seconds: bigint): Date {
  const capped = seconds > timestampSecondsMax ? timestampSecondsMax : seconds < 0n ? 0n : seconds;
  return new Date(Number(capped) * 1000);
}
