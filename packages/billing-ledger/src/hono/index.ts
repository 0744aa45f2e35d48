/**
 * `@arrakis/billing-ledger/hono`: the `meter()` middleware — hold credit before a handler, charge what the handler
 * reports after it. Two forms: caller-set terms (`estimateMicro`, then `report(costMicro)`), or a meter of the price
 * book (`meterId`, then `reportUsage(usage)`, priced by the ledger). The ledger is the in-process one or
 * `gatewayLedger()` from `@arrakis/billing-ledger/http`.
 */
import type { Context, Env, MiddlewareHandler } from 'hono';
import { InvalidAmountError, InvalidArgumentError, InvalidUsageError, ReservationNotPendingError } from '../errors.js';
import { meterTtlMsMax, unitPricesPerMeterMax } from '../limits.js';
import type { Usage } from '../meters/types.js';
import type { BillingMode, FinalizeInput, Reservation, ReserveInput } from '../types.js';

/** Longest hold `meter()` accepts (`ttlMs`): one day, the ledger's default maximum (defined in `limits.ts`). */
export { meterTtlMsMax } from '../limits.js';

const billingModeSet = { live: true, soft: true, shadow: true } satisfies Record<BillingMode, true>;
const billingModes = Object.keys(billingModeSet);

/**
 * The ledger operations `meter()` uses. Both the in-process `Ledger` and `gatewayLedger()` satisfy it.
 *
 * @example
 * const ledger: MeterLedger = gatewayLedger({ baseUrl, token });
 */
export interface MeterLedger {
  reserve(
    input: ReserveInput,
  ): Promise<{ reservation: Pick<Reservation, 'id' | 'amountMicro' | 'meterId' | 'meterVersion'> }>;
  finalize(input: FinalizeInput): Promise<unknown>;
  release(input: { reservationId: string }): Promise<unknown>;
}

/**
 * What a metered handler reads with `c.get('meter')`.
 *
 * @example
 * c.get('meter').reportUsage({ request: 1, output_tokens: 340 });
 */
export interface Meter {
  /** The hold taken for this request. */
  readonly reservationId: string;
  /** The amount held: the estimate (raw form), or what the meter's terms held (meter form). */
  readonly estimateMicro: bigint;
  /** The meter and version whose terms the hold took (meter form); null for a raw hold. */
  readonly meterId: string | null;
  readonly meterVersion: number | null;
  /**
   * Raw form: reports what the request actually cost (≥ 0). The last report before the handler returns is charged; a
   * cost above the estimate follows the hold's billing mode. Reporting nothing releases the hold.
   *
   * @throws {InvalidAmountError} when `costMicro` is not a bigint ≥ 0.
   * @throws {InvalidArgumentError} after the request was settled, or on a hold placed through a meter.
   */
  report(costMicro: bigint): void;
  /**
   * Meter form: reports the request's usage (units per dimension); the ledger prices it under the hold's meter
   * version at finalize. The last report before the handler returns is charged; reporting nothing releases the hold.
   *
   * @throws {InvalidUsageError} when `usage` is not an object of whole numbers of units ≥ 0.
   * @throws {InvalidArgumentError} after the request was settled, or on a raw hold.
   */
  reportUsage(usage: Usage): void;
  /** The cost reported so far (raw form), or undefined. */
  readonly reportedMicro: bigint | undefined;
  /** The usage reported so far (meter form), or undefined. */
  readonly reportedUsage: Usage | undefined;
}

/**
 * Context variables `meter()` sets. Use `Hono<MeterEnv>` (or merge it into your own `Env`) for a typed `c.get('meter')`.
 *
 * @example
 * const app = new Hono<MeterEnv>();
 */
export interface MeterEnv {
  Variables: { meter: Meter };
}

interface MeterOptionsBase<E extends Env> {
  /** The ledger: the in-process `Ledger`, or `gatewayLedger()` (only `reserve`, `finalize` and `release` are used). */
  ledger: MeterLedger;
  /** The account to charge, from the request (e.g. the authenticated user's account id). */
  accountId: (c: Context<E>) => string | Promise<string>;
}

/**
 * Raw form: the caller sets the hold's amount and terms, and reports a cost.
 *
 * @example
 * meter({ ledger, accountId: (c) => c.req.header('x-account-id') ?? '', estimateMicro: () => 50_000n, billingMode: 'soft' });
 */
export interface RawMeterOptions<E extends Env = Env> extends MeterOptionsBase<E> {
  /** How much to hold before the handler runs, in micro-USD (> 0). */
  estimateMicro: (c: Context<E>) => bigint | Promise<bigint>;
  /** Overrun handling of the hold: `live` (default), `soft` or `shadow`. */
  billingMode?: BillingMode;
  /** Pool to draw from first (then `general`). */
  poolId?: string;
  /** Hold lifetime (default: the ledger's, 5 min). Keep it above the handler's longest run. */
  ttlMs?: number;
  meterId?: undefined;
  estimate?: undefined;
}

/**
 * Meter form: the meter version in force sets the hold's amount and terms; the handler reports usage. `meterId` is
 * exclusive with `estimateMicro`, `billingMode`, `poolId` and `ttlMs` (the meter's terms).
 *
 * @example
 * meter({ ledger, accountId: (c) => c.req.header('x-account-id') ?? '', meterId: 'chat', estimate: () => ({ output_tokens: 1000 }) });
 */
export interface MeteredMeterOptions<E extends Env = Env> extends MeterOptionsBase<E> {
  /** The meter of the price book, or a function of the request choosing one. */
  meterId: string | ((c: Context<E>) => string | Promise<string>);
  /** Expected usage; sizes the hold when it costs more than the meter's `holdMicro`. */
  estimate?: (c: Context<E>) => Usage | Promise<Usage>;
  estimateMicro?: undefined;
  billingMode?: undefined;
  poolId?: undefined;
  ttlMs?: undefined;
}

/**
 * Options of {@link meter}: the raw form or the meter form.
 *
 * @example
 * const options: MeterOptions = { ledger, accountId: () => 'acc_1', meterId: 'chat' };
 */
export type MeterOptions<E extends Env = Env> = RawMeterOptions<E> | MeteredMeterOptions<E>;

type AnyOptions = Partial<Record<keyof RawMeterOptions | keyof MeteredMeterOptions, unknown>>;

function invalid(message: string, field: string): InvalidArgumentError {
  return new InvalidArgumentError(message, { details: { field } });
}

function checkCommonOptions(options: AnyOptions): void {
  const ledger = options.ledger as Partial<Record<'reserve' | 'finalize' | 'release', unknown>> | undefined;
  if (
    typeof ledger !== 'object' ||
    ledger === null ||
    typeof ledger.reserve !== 'function' ||
    typeof ledger.finalize !== 'function' ||
    typeof ledger.release !== 'function'
  ) {
    throw invalid('meter() option `ledger` must be a ledger (reserve, finalize, release)', 'ledger');
  }
  if (typeof options.accountId !== 'function') {
    throw invalid('meter() option `accountId` must be a function of the request context', 'accountId');
  }
}

function checkRawOptions(options: AnyOptions): void {
  if (typeof options.estimateMicro !== 'function') {
    throw invalid(
      'meter() option `estimateMicro` must be a function of the request context (or give `meterId`)',
      'estimateMicro',
    );
  }
  if (options.estimate !== undefined) throw invalid('meter() option `estimate` needs `meterId`', 'estimate');
  if (options.billingMode !== undefined && !billingModes.includes(options.billingMode as string)) {
    throw invalid(
      `meter() option billingMode ${JSON.stringify(options.billingMode)} must be one of ${billingModes.join(', ')}`,
      'billingMode',
    );
  }
  if (options.poolId !== undefined && (typeof options.poolId !== 'string' || options.poolId.length === 0)) {
    throw invalid(`meter() option poolId ${JSON.stringify(options.poolId)} must be a non-empty string`, 'poolId');
  }
  const { ttlMs } = options;
  if (
    ttlMs !== undefined &&
    (typeof ttlMs !== 'number' || !Number.isSafeInteger(ttlMs) || ttlMs < 1 || ttlMs > meterTtlMsMax)
  ) {
    throw invalid(
      `meter() option ttlMs ${JSON.stringify(ttlMs)} must be an integer from 1 to ${meterTtlMsMax}`,
      'ttlMs',
    );
  }
}

function checkMeteredOptions(options: AnyOptions): void {
  const { meterId } = options;
  if (typeof meterId !== 'function' && (typeof meterId !== 'string' || meterId.length === 0)) {
    throw invalid(
      'meter() option `meterId` must be a non-empty string or a function of the request context',
      'meterId',
    );
  }
  if (options.estimate !== undefined && typeof options.estimate !== 'function') {
    throw invalid('meter() option `estimate` must be a function of the request context answering a usage', 'estimate');
  }
  for (const field of ['estimateMicro', 'billingMode', 'poolId', 'ttlMs'] as const) {
    if (options[field] !== undefined) {
      throw invalid(`meter() with meterId takes its terms from the meter: leave \`${field}\` out`, field);
    }
  }
}

function checkOptions(options: unknown): void {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError('meter() needs an options object');
  }
  const o = options as AnyOptions;
  checkCommonOptions(o);
  if (o.meterId === undefined) checkRawOptions(o);
  else checkMeteredOptions(o);
}

/** A frozen copy of a usage, checked: at most 32 dimensions, each a whole number of units ≥ 0. */
function checkedUsage(usage: unknown): Usage {
  if (typeof usage !== 'object' || usage === null || Array.isArray(usage)) {
    throw new InvalidUsageError(
      `meter: reportUsage(usage) needs an object of dimension → units, got ${JSON.stringify(usage) ?? typeof usage}`,
    );
  }
  const entries = Object.entries(usage);
  if (entries.length > unitPricesPerMeterMax) {
    throw new InvalidUsageError(
      `meter: a usage names at most ${unitPricesPerMeterMax} dimensions, got ${entries.length}`,
    );
  }
  for (const [dimension, units] of entries) {
    const whole = typeof units === 'bigint' || (typeof units === 'number' && Number.isSafeInteger(units));
    if (!whole || units < 0) {
      const shown = typeof units === 'bigint' ? `${units}n` : JSON.stringify(units);
      throw new InvalidUsageError(`meter: usage ${dimension} ${shown} must be a whole number of units >= 0`, {
        details: { dimension },
      });
    }
  }
  return Object.freeze(Object.fromEntries(entries) as Record<string, bigint | number>);
}

/** What the handler reported, and whether the request was settled. */
interface MeterState {
  settled: boolean;
  costMicro: bigint | undefined;
  usage: Usage | undefined;
}

function createHandle(
  reservation: Pick<Reservation, 'id' | 'amountMicro' | 'meterId' | 'meterVersion'>,
  metered: boolean,
  state: MeterState,
): Meter {
  const id = JSON.stringify(reservation.id);
  const assertOpen = (form: string) => {
    if (state.settled) {
      throw new InvalidArgumentError(
        `meter: reservation ${id} was already settled; ${form} before the handler returns`,
      );
    }
  };
  return {
    reservationId: reservation.id,
    estimateMicro: reservation.amountMicro,
    meterId: reservation.meterId,
    meterVersion: reservation.meterVersion,
    report(costMicro: bigint) {
      assertOpen('report the cost');
      if (metered) {
        throw invalid(
          `meter: reservation ${id} was placed through a meter: report its usage with reportUsage(usage)`,
          'costMicro',
        );
      }
      if (typeof costMicro !== 'bigint' || costMicro < 0n) {
        throw new InvalidAmountError(
          `meter: report(costMicro) needs a bigint >= 0 micro-USD, got ${typeof costMicro === 'bigint' ? `${costMicro}n` : JSON.stringify(costMicro)}`,
          { details: { field: 'costMicro' } },
        );
      }
      state.costMicro = costMicro;
    },
    reportUsage(usage: Usage) {
      assertOpen('report the usage');
      if (!metered) {
        throw invalid(`meter: reservation ${id} has caller-set terms: report its cost with report(costMicro)`, 'usage');
      }
      state.usage = checkedUsage(usage);
    },
    get reportedMicro() {
      return state.costMicro;
    },
    get reportedUsage() {
      return state.usage;
    },
  };
}

async function reserveInputOf<E extends Env>(options: MeterOptions<E>, c: Context<E>): Promise<ReserveInput> {
  const accountId = await options.accountId(c);
  if (options.meterId !== undefined) {
    const meterId = typeof options.meterId === 'function' ? await options.meterId(c) : options.meterId;
    const estimate = options.estimate === undefined ? undefined : await options.estimate(c);
    return { accountId, meterId, ...(estimate === undefined ? {} : { estimate }) };
  }
  const { poolId, ttlMs, billingMode } = options;
  return {
    accountId,
    amountMicro: await options.estimateMicro(c),
    ...(poolId === undefined ? {} : { poolId }),
    ...(ttlMs === undefined ? {} : { ttlMs }),
    ...(billingMode === undefined ? {} : { billingMode }),
  };
}

/**
 * Hono middleware that meters a handler with a hold. Before the handler it reserves on `accountId(c)`: the raw form
 * holds `estimateMicro(c)` on the given terms; the meter form holds on the terms of meter `meterId` (sized by
 * `estimate(c)` when given). An `InsufficientCreditsError` or `SpendCapExceededError` propagates (e.g. to a 402 in
 * `app.onError`) and the handler does not run. The handler reads `c.get('meter')` and reports its cost with
 * `report(costMicro)` (raw form) or its usage with `reportUsage(usage)` (meter form); after the handler the hold is
 * finalized with what was reported, or released when nothing was reported or the handler failed (an error it threw
 * is still handled by `onError`, or rethrown when it reached the middleware).
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
 *   '/v1/chat',
 *   meter({ ledger, accountId: (c) => c.req.header('x-account-id') ?? '', meterId: 'chat' }),
 *   async (c) => {
 *     const { outputTokens } = await runModel();
 *     c.get('meter').reportUsage({ request: 1, output_tokens: outputTokens });
 *     return c.json({ outputTokens });
 *   },
 * );
 * ```
 */
export function meter<E extends Env = Env>(options: MeterOptions<E>): MiddlewareHandler<E & MeterEnv> {
  checkOptions(options);
  const { ledger } = options;
  const metered = options.meterId !== undefined;

  const middleware: MiddlewareHandler<E & MeterEnv> = async function meter(c, next) {
    const { reservation } = await ledger.reserve(await reserveInputOf(options, c as unknown as Context<E>));
    const state: MeterState = { settled: false, costMicro: undefined, usage: undefined };
    c.set('meter', createHandle(reservation, metered, state));

    const reservationId = reservation.id;
    const releaseAfterFailure = async (): Promise<void> => {
      try {
        await ledger.release({ reservationId });
      } catch (error) {
        // Expired (or otherwise settled) meanwhile: nothing is held any more; the sweeper writes the entries.
        if (!(error instanceof ReservationNotPendingError)) throw error;
      }
    };

    try {
      await next();
    } catch (error) {
      state.settled = true;
      await releaseAfterFailure();
      throw error;
    }
    state.settled = true;
    if (c.error !== undefined) {
      // The handler threw and hono's onError already answered: charge nothing.
      await releaseAfterFailure();
      return;
    }
    if (state.usage !== undefined) await ledger.finalize({ reservationId, usage: state.usage });
    else if (state.costMicro !== undefined) await ledger.finalize({ reservationId, actualCostMicro: state.costMicro });
    else await ledger.release({ reservationId });
  };
  // Bundlers rename a function expression that shadows its factory; keep the name stack traces and tests see.
  Object.defineProperty(middleware, 'name', { value: 'meter' });
  return middleware;
}
