/**
 * Result types of the ledger over HTTP. They are the in-process results minus what the gateway does not answer:
 * the `lots: Lot[]` (full buckets of every lot a write touched) of `reserve`, `finalize` and `release`. Everything
 * else (the hold with its `HoldLot` draws, the balance, the distribution, the pricing) is the same type with the same
 * bigint amounts and `Date` times. Read a lot's buckets with the gateway's `GET /v1/accounts/{id}/lots` when needed.
 */
import type { FinalizeResult, ReleaseResult, ReserveResult } from '../types.js';

/**
 * What `reserve` answers over HTTP: the hold and the balance after it (no `lots`).
 *
 * @example
 * const { reservation, balance }: GatewayReserveResult = await ledger.reserve({ accountId, meterId: 'chat' });
 */
export type GatewayReserveResult = Pick<ReserveResult, 'reservation' | 'balance'>;

/**
 * What `finalize` answers over HTTP: the charge, the release, the distribution, the pricing, the balance (no `lots`).
 *
 * @example
 * const { chargedMicro, pricing }: GatewayFinalizeResult = await ledger.finalize({ reservationId, usage: { request: 1 } });
 */
export type GatewayFinalizeResult = Omit<FinalizeResult, 'lots'>;

/**
 * What `release` answers over HTTP: the hold, what was released, the balance (no `lots`).
 *
 * @example
 * const { releasedMicro }: GatewayReleaseResult = await ledger.release({ reservationId });
 */
export type GatewayReleaseResult = Omit<ReleaseResult, 'lots'>;

/**
 * Options of a write over HTTP. The key is sent as `Idempotency-Key`; the gateway scopes it to the caller (its token's
 * audience and subject), so there is no `idempotencyScope` here.
 *
 * @example
 * await ledger.reserve({ accountId, meterId: 'chat' }, { idempotencyKey: 'job-42' });
 */
export interface GatewayWriteOptions {
  /** 1–255 visible ASCII characters; a repeat with the same request answers the first result. */
  idempotencyKey?: string;
}
