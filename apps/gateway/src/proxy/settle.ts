// How a proxied call ends in the ledger: charged by its usage (priced under the meter version of its hold), charged
// the whole hold, or released — exactly once. Each write carries an idempotency key derived from the reservation id,
// and the ledger lets a hold be finalized or released once; a hold whose settlement fails stays pending, expires and
// is swept (released), so a call is never charged twice and no credit stays held.
import { type Ledger, LedgerError, type Reservation, type Usage, type WriteOptions } from '@arrakis/billing-ledger';
import type { Logger } from 'pino';
import type { UpstreamMetrics } from '../metrics.js';
import type { UpstreamConfig } from '../upstreams-config.js';

/** Idempotency scope of the proxy's own finalizes and releases. */
export const proxyIdempotencyScope = 'gateway:proxy';

/** How a call asks to be settled: given back, or charged by its usage (null: none reported → `onMissingUsage`). */
export type Settlement = { kind: 'release'; reason: string } | { kind: 'usage'; usage: Usage | null; reason: string };

/** What the settlement did, for the call's log line. */
export type SettlementOutcome = 'charged' | 'charged-hold' | 'released' | 'settled-elsewhere' | 'unsettled';

/** One call that holds credit. */
export interface HeldCall {
  upstream: UpstreamConfig;
  /** The hold as reserved. */
  reservation: Reservation;
  /** The request's logger (carries the request id). */
  logger: Logger;
  /** `performance.now()` when the call was received. */
  startedMs: number;
  /** Milliseconds from the call's start to the upstream's response head; null without one. */
  firstByteMs: number | null;
}

/** Ledger errors meaning the usage cannot be priced by the hold's meter: it counts as no usage. */
const unpriceableUsageCodes: ReadonlySet<string> = new Set(['unknown_dimension', 'invalid_usage']);
/** Ledger errors meaning another writer (the upstream, the sweeper) settled the hold first. */
const settledElsewhereCodes: ReadonlySet<string> = new Set(['reservation_not_pending', 'finalize_conflict']);

function writeOptions(kind: 'usage' | 'hold' | 'release', reservationId: string): WriteOptions {
  return { idempotencyKey: `proxy-${kind}:${reservationId}`, idempotencyScope: proxyIdempotencyScope };
}

interface Applied {
  outcome: SettlementOutcome;
  chargedMicro: bigint;
}

async function release(ledger: Ledger, id: string): Promise<Applied> {
  await ledger.release({ reservationId: id }, writeOptions('release', id));
  return { outcome: 'released', chargedMicro: 0n };
}

/** `onMissingUsage`: release, or charge the whole hold; logged and counted. */
async function settleMissingUsage(ledger: Ledger, call: HeldCall, metrics: UpstreamMetrics, why: string) {
  const { upstream, reservation } = call;
  metrics.missingUsage.inc({ upstream: upstream.id, action: upstream.onMissingUsage });
  call.logger.warn(
    { upstream: upstream.id, reservationId: reservation.id, action: upstream.onMissingUsage, why },
    'upstream reported no usage',
  );
  if (upstream.onMissingUsage === 'release') return release(ledger, reservation.id);
  const result = await ledger.finalize(
    { reservationId: reservation.id, actualCostMicro: reservation.amountMicro },
    writeOptions('hold', reservation.id),
  );
  return { outcome: 'charged-hold' as const, chargedMicro: result.chargedMicro };
}

async function applySettlement(
  ledger: Ledger,
  call: HeldCall,
  metrics: UpstreamMetrics,
  settlement: Settlement,
): Promise<Applied> {
  const id = call.reservation.id;
  if (settlement.kind === 'release') return release(ledger, id);
  if (settlement.usage === null) return settleMissingUsage(ledger, call, metrics, 'none found');
  try {
    const result = await ledger.finalize({ reservationId: id, usage: settlement.usage }, writeOptions('usage', id));
    return { outcome: 'charged', chargedMicro: result.chargedMicro };
  } catch (error) {
    if (!(error instanceof LedgerError && unpriceableUsageCodes.has(error.code))) throw error;
    return settleMissingUsage(ledger, call, metrics, `the meter cannot price it: ${error.message}`);
  }
}

/** The hold as it is now, or null (logged) when it cannot be read. */
async function currentHold(ledger: Ledger, call: HeldCall): Promise<Reservation | null> {
  try {
    return await ledger.getReservation(call.reservation.id);
  } catch (error) {
    call.logger.error(
      { err: error, upstream: call.upstream.id, reservationId: call.reservation.id },
      'proxy settlement could not read the hold; it expires and is swept',
    );
    return null;
  }
}

/** Settles a still-pending hold; a hold another writer settled meanwhile is reported as such. */
async function settlePending(
  ledger: Ledger,
  call: HeldCall,
  metrics: UpstreamMetrics,
  settlement: Settlement,
): Promise<Applied> {
  try {
    return await applySettlement(ledger, call, metrics, settlement);
  } catch (error) {
    if (error instanceof LedgerError && settledElsewhereCodes.has(error.code)) {
      const hold = await currentHold(ledger, call);
      return { outcome: 'settled-elsewhere', chargedMicro: hold?.chargedMicro ?? 0n };
    }
    call.logger.error(
      { err: error, upstream: call.upstream.id, reservationId: call.reservation.id, settlement: settlement.kind },
      'proxy settlement failed; the hold expires and is swept (no charge)',
    );
    return { outcome: 'unsettled', chargedMicro: 0n };
  }
}

/**
 * Settles a call once it ended: when its hold is still pending, releases it (`release`), or finalizes it with the
 * usage (priced under the hold's meter version), or — no usage, or a usage the meter cannot price — applies the
 * upstream's `onMissingUsage`. A hold the upstream finalized itself (or that expired) is left as it is. Never throws:
 * failures are logged and the hold is left to expire. Then counts the call and writes its one log line.
 *
 * @example
 * ```ts
 * await settleCall({ ledger, metrics: metrics.upstreams }, call, { kind: 'usage', usage, reason: 'complete' }, 200);
 * ```
 */
export async function settleCall(
  deps: { ledger: Ledger; metrics: UpstreamMetrics },
  call: HeldCall,
  settlement: Settlement,
  status: number,
): Promise<void> {
  const { ledger, metrics } = deps;
  const hold = await currentHold(ledger, call);
  let applied: Applied;
  if (hold === null) applied = { outcome: 'unsettled', chargedMicro: 0n };
  else if (hold.status !== 'pending') applied = { outcome: 'settled-elsewhere', chargedMicro: hold.chargedMicro ?? 0n };
  else applied = await settlePending(ledger, call, metrics, settlement);
  const durationMs = performance.now() - call.startedMs;
  const upstream = call.upstream.id;
  metrics.requests.inc({ upstream, status: String(status) });
  metrics.duration.observe({ upstream }, durationMs / 1000);
  // prom-client counts in doubles: exact up to 2^53 micro-USD (9 billion USD) per upstream and process.
  if (applied.chargedMicro > 0n) metrics.chargedMicro.inc({ upstream }, Number(applied.chargedMicro));
  call.logger.info(
    {
      upstream,
      reservationId: call.reservation.id,
      accountId: call.reservation.accountId,
      status,
      outcome: applied.outcome,
      reason: settlement.reason,
      chargedMicro: applied.chargedMicro.toString(),
      durationMs: Math.round(durationMs * 100) / 100,
      firstByteMs: call.firstByteMs === null ? null : Math.round(call.firstByteMs * 100) / 100,
    },
    'upstream call',
  );
}
