/**
 * `@arrakis/billing-ledger/hono`: the `meter()` middleware — hold an estimate before a handler, charge what the
 * handler reports after it.
 */
import type { Context, Env, MiddlewareHandler } from 'hono';
import { billingModes } from '../db/schema.js';
import { InvalidAmountError, InvalidArgumentError, ReservationNotPendingError } from '../errors.js';
import type { Ledger } from '../index.js';
import type { BillingMode, ReleaseResult } from '../types.js';

/** Longest hold `meter()` accepts (`ttlMs`): one day, the ledger's default maximum. */
export const meterTtlMsMax = 86_400_000;

/** What a metered handler reads with `c.get('meter')`. */
export interface Meter {
  /** The hold taken for this request. */
  readonly reservationId: string;
  /** The amount held (the estimate). */
  readonly estimateMicro: bigint;
  /**
   * Reports what the request actually cost (≥ 0). The last report before the handler returns is charged; a cost
   * above the estimate follows the hold's billing mode. Reporting nothing releases the hold.
   *
   * @throws {InvalidAmountError} when `costMicro` is not a bigint ≥ 0.
   * @throws {InvalidArgumentError} after the request was settled.
   */
  report(costMicro: bigint): void;
  /** The cost reported so far, or undefined. */
  readonly reportedMicro: bigint | undefined;
}

/** Context variables `meter()` sets. Use `Hono<MeterEnv>` (or merge it into your own `Env`) for a typed `c.get('meter')`. */
export interface MeterEnv {
  Variables: { meter: Meter };
}

/** Options of {@link meter}. */
export interface MeterOptions<E extends Env = Env> {
  /** The ledger (only `reserve`, `finalize` and `release` are used). */
  ledger: Pick<Ledger, 'reserve' | 'finalize' | 'release'>;
  /** The account to charge, from the request (e.g. the authenticated user's account id). */
  accountId: (c: Context<E>) => string | Promise<string>;
  /** How much to hold before the handler runs, in micro-USD (> 0). */
  estimateMicro: (c: Context<E>) => bigint | Promise<bigint>;
  /** Overrun handling of the hold: `live` (default), `soft` or `shadow`. */
  billingMode?: BillingMode;
  /** Pool to draw from first (then `general`). */
  poolId?: string;
  /** Hold lifetime (default: the ledger's, 5 min). Keep it above the handler's longest run. */
  ttlMs?: number;
}

function assertOptions(options: MeterOptions<Env>): void {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError('meter() needs an options object');
  }
  const ledger = options.ledger as Partial<Record<'reserve' | 'finalize' | 'release', unknown>> | undefined;
  if (
    typeof ledger !== 'object' ||
    ledger === null ||
    typeof ledger.reserve !== 'function' ||
    typeof ledger.finalize !== 'function' ||
    typeof ledger.release !== 'function'
  ) {
    throw new InvalidArgumentError('meter() option `ledger` must be a ledger (reserve, finalize, release)');
  }
  for (const name of ['accountId', 'estimateMicro'] as const) {
    if (typeof options[name] !== 'function') {
      throw new InvalidArgumentError(`meter() option \`${name}\` must be a function of the request context`, {
        details: { field: name },
      });
    }
  }
  if (options.billingMode !== undefined && !(billingModes as readonly unknown[]).includes(options.billingMode)) {
    throw new InvalidArgumentError(
      `meter() option billingMode ${JSON.stringify(options.billingMode)} must be one of ${billingModes.join(', ')}`,
      { details: { field: 'billingMode' } },
    );
  }
  if (options.poolId !== undefined && (typeof options.poolId !== 'string' || options.poolId.length === 0)) {
    throw new InvalidArgumentError(
      `meter() option poolId ${JSON.stringify(options.poolId)} must be a non-empty string`,
      {
        details: { field: 'poolId' },
      },
    );
  }
  if (
    options.ttlMs !== undefined &&
    (!Number.isSafeInteger(options.ttlMs) || options.ttlMs < 1 || options.ttlMs > meterTtlMsMax)
  ) {
    throw new InvalidArgumentError(
      `meter() option ttlMs ${JSON.stringify(options.ttlMs)} must be an integer from 1 to ${meterTtlMsMax}`,
      { details: { field: 'ttlMs' } },
    );
  }
}

/**
 * Hono middleware that meters a handler with a hold: before the handler it reserves `estimateMicro(c)` on
 * `accountId(c)` (an `InsufficientCreditsError` propagates, e.g. to a 402 in `app.onError`, and the handler does
 * not run); the handler reads `c.get('meter')` and reports its cost with `report(costMicro)`; after the handler
 * the hold is finalized with the reported cost, or released when nothing was reported or the handler failed
 * (an error it threw is still handled by `onError`, or rethrown when it reached the middleware).
 *
 * A finalize that fails (e.g. the hold expired while the handler ran: `ReservationNotPendingError`) propagates
 * like any error. After a handler error, a hold that is no longer pending is left to the sweeper; any other
 * release failure propagates.
 *
 * @throws {InvalidArgumentError} when the options are invalid (when the middleware is built).
 * @example
 * ```ts
 * import { Hono } from 'hono';
 * import { meter, type MeterEnv } from '@arrakis/billing-ledger/hono';
 *
 * const app = new Hono<MeterEnv>();
 * app.post(
 *   '/v1/complete',
 *   meter({ ledger, accountId: (c) => c.req.header('x-account-id') ?? '', estimateMicro: () => 50_000n }),
 *   async (c) => {
 *     const tokens = await runModel();
 *     c.get('meter').report(BigInt(tokens) * 20n);
 *     return c.json({ tokens });
 *   },
 * );
 * ```
 */
export function meter<E extends Env = Env>(options: MeterOptions<E>): MiddlewareHandler<E & MeterEnv> {
  assertOptions(options as unknown as MeterOptions<Env>);
  const { ledger, billingMode, poolId, ttlMs } = options;

  const middleware: MiddlewareHandler<E & MeterEnv> = async function meter(c, next) {
    const context = c as unknown as Context<E>;
    const accountId = await options.accountId(context);
    const estimateMicro = await options.estimateMicro(context);
    const { reservation } = await ledger.reserve({
      accountId,
      amountMicro: estimateMicro,
      ...(poolId === undefined ? {} : { poolId }),
      ...(ttlMs === undefined ? {} : { ttlMs }),
      ...(billingMode === undefined ? {} : { billingMode }),
    });
    let reportedMicro: bigint | undefined;
    let settled = false;
    const handle: Meter = {
      reservationId: reservation.id,
      estimateMicro: reservation.amountMicro,
      report(costMicro: bigint) {
        if (settled) {
          throw new InvalidArgumentError(
            `meter: reservation ${JSON.stringify(reservation.id)} was already settled; report the cost before the handler returns`,
          );
        }
        if (typeof costMicro !== 'bigint' || costMicro < 0n) {
          throw new InvalidAmountError(
            `meter: report(costMicro) needs a bigint >= 0 micro-USD, got ${typeof costMicro === 'bigint' ? `${costMicro}n` : JSON.stringify(costMicro)}`,
            { details: { field: 'costMicro' } },
          );
        }
        reportedMicro = costMicro;
      },
      get reportedMicro() {
        return reportedMicro;
      },
    };
    c.set('meter', handle);

    const release = (): Promise<ReleaseResult> => ledger.release({ reservationId: reservation.id });
    const releaseAfterFailure = async (): Promise<void> => {
      try {
        await release();
      } catch (error) {
        // Expired (or otherwise settled) meanwhile: nothing is held any more; the sweeper writes the entries.
        if (!(error instanceof ReservationNotPendingError)) throw error;
      }
    };

    try {
      await next();
    } catch (error) {
      settled = true;
      await releaseAfterFailure();
      throw error;
    }
    settled = true;
    if (c.error !== undefined) {
      // The handler threw and hono's onError already answered: charge nothing.
      await releaseAfterFailure();
      return;
    }
    if (reportedMicro === undefined) {
      await release();
      return;
    }
    await ledger.finalize({ reservationId: reservation.id, actualCostMicro: reportedMicro });
  };
  // Bundlers rename a function expression that shadows its factory; keep the name stack traces and tests see.
  Object.defineProperty(middleware, 'name', { value: 'meter' });
  return middleware;
}
