/**
 * A small in-memory reference model of the ledger (DESIGN.md §3), used by the model-based test to check the
 * real ledger step by step. It keeps only what the rules need: accounts with debt, lots with their buckets,
 * holds with the lots they drew from, and the clock. Every rule is written the plainest way possible, with
 * no concern for speed, so that a difference between model and ledger points at the ledger (or at a rule
 * the two read differently). Issue 11 adds the price book (meter versions; holds sized by the version in force,
 * charges priced by usage under the version the hold recorded, see `model-pricing.ts`) and spend caps (per UTC day
 * and month, from the holds placed in the period). Not exported from the package.
 */
import { type ModelPricing, type ModelUnitPrice, modelPriceUsage, modelUnitPricesRefusal } from './model-pricing.js';

/** Error codes the model can answer with; they match the ledger's `LedgerError.code`. */
export type ModelErrorCode =
  | 'account_not_found'
  | 'lot_not_found'
  | 'reservation_not_found'
  | 'insufficient_credits'
  | 'reservation_not_pending'
  | 'finalize_conflict'
  | 'duplicate_source'
  | 'lot_has_pending_holds'
  | 'already_refunded'
  | 'invalid_argument'
  | 'meter_not_found'
  | 'meter_prices_empty'
  | 'meter_dimension_duplicate'
  | 'meter_price_overflow'
  | 'unknown_dimension'
  | 'invalid_usage'
  | 'reservation_not_metered'
  | 'spend_cap_exceeded'
  | 'account_in_debt';

/** An expected outcome the model refuses, with the code the ledger must answer with. */
export class ModelError extends Error {
  readonly code: ModelErrorCode;
  readonly details: Record<string, unknown>;
  constructor(code: ModelErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(`${code}: ${message}`);
    this.name = 'ModelError';
    this.code = code;
    this.details = details;
  }
}

/** The general pool: every reserve may draw from it after its own pool. */
export const generalPoolId = 'general';

/** Consumption order for `poolId`: the exact pool, then `general`, then others; expiring first; soonest; lowest seq. */
function modelConsumptionOrder(poolId: string): (a: ModelLot, b: ModelLot) => number {
  const rank = (lot: ModelLot) => (lot.poolId === poolId ? 0 : lot.poolId === generalPoolId ? 1 : 2);
  return (a, b) => {
    if (rank(a) !== rank(b)) return rank(a) - rank(b);
    if ((a.expiresAtMs === null) !== (b.expiresAtMs === null)) return a.expiresAtMs === null ? 1 : -1;
    if (a.expiresAtMs !== null && b.expiresAtMs !== null && a.expiresAtMs !== b.expiresAtMs) {
      return a.expiresAtMs - b.expiresAtMs;
    }
    return a.seq - b.seq;
  };
}

export type ModelBillingMode = 'live' | 'soft' | 'shadow';
export type ModelHoldStatus = 'pending' | 'finalized' | 'released' | 'expired';

export interface ModelAccount {
  id: string;
  debtMicro: bigint;
}

export interface ModelLot {
  id: string;
  accountId: string;
  poolId: string;
  sourceType: string;
  sourceId: string | null;
  originalMicro: bigint;
  availableMicro: bigint;
  reservedMicro: bigint;
  consumedMicro: bigint;
  expiredMicro: bigint;
  refundedMicro: bigint;
  expiresAtMs: number | null;
  /** Mint order: the last tie-break of the consumption order. */
  seq: number;
  /** Set by the first refund of the lot; a second one is refused. */
  refunded: boolean;
}

export interface ModelHoldLot {
  lotId: string;
  amountMicro: bigint;
}

export interface ModelFinalizeOutcome {
  actualCostMicro: bigint;
  chargedMicro: bigint;
  releasedMicro: bigint;
  overrunMicro: bigint;
  uncollectedMicro: bigint;
}

export interface ModelHold {
  id: string;
  accountId: string;
  poolId: string;
  amountMicro: bigint;
  billingMode: ModelBillingMode;
  expiresAtMs: number;
  /** Stored status; a pending hold past its expiry reads as `expired` (see {@link LedgerModel.holdStatus}). */
  status: ModelHoldStatus;
  lots: ModelHoldLot[];
  finalized: ModelFinalizeOutcome | null;
  createdAtMs: number;
  /** The meter version that set the terms (null for caller-set terms). */
  meterId: string | null;
  meterVersion: number | null;
  /** The usage a finalize by usage reported (null otherwise). */
  usage: Record<string, bigint> | null;
}

/** One version of a meter (immutable once created). */
export interface ModelMeter {
  id: string;
  version: number;
  poolId: string;
  billingMode: ModelBillingMode;
  holdMicro: bigint;
  maxCostMicro: bigint | null;
  ttlSeconds: number | null;
  unitPrices: ModelUnitPrice[];
  effectiveAtMs: number;
  createdBy: string;
  createdAtMs: number;
}

export interface ModelMeterInput {
  id: string;
  poolId?: string;
  billingMode?: ModelBillingMode;
  holdMicro: bigint;
  maxCostMicro?: bigint;
  ttlSeconds?: number;
  unitPrices: readonly { dimension: string; priceMicro: bigint; perUnits: bigint; unitsMax?: bigint }[];
  effectiveAtMs?: number;
  createdBy: string;
}

export interface ModelMeteredReserveInput {
  accountId: string;
  meterId: string;
  estimate?: Record<string, bigint>;
}

/** An account's caps as set (an account without a row has neither). */
export interface ModelCaps {
  dailyCapMicro: bigint | null;
  monthlyCapMicro: bigint | null;
  updatedBy: string;
  updatedAtMs: number;
}

/** What `getSpendCaps` answers, in the model. */
export interface ModelSpendCaps {
  dailyCapMicro: bigint | null;
  monthlyCapMicro: bigint | null;
  updatedBy: string | null;
  updatedAtMs: number | null;
  daily: { periodStartMs: number; spentMicro: bigint; capMicro: bigint | null };
  monthly: { periodStartMs: number; spentMicro: bigint; capMicro: bigint | null };
}

export interface ModelPoolBalance {
  poolId: string;
  availableMicro: bigint;
  reservedMicro: bigint;
}

export interface ModelBalance {
  accountId: string;
  availableMicro: bigint;
  reservedMicro: bigint;
  debtMicro: bigint;
  /** Pools with a non-zero available or reserved amount, sorted by pool id. */
  pools: ModelPoolBalance[];
}

export interface ModelMintInput {
  accountId: string;
  amountMicro: bigint;
  sourceType: string;
  sourceId?: string;
  poolId?: string;
  expiresAtMs?: number;
}

export interface ModelReserveInput {
  accountId: string;
  amountMicro: bigint;
  poolId?: string;
  ttlMs?: number;
  billingMode?: ModelBillingMode;
}

export interface ModelSweepResult {
  count: number;
  amountMicro: bigint;
}

export interface ModelRefundResult {
  lotId: string;
  refundedMicro: bigint;
  debtAddedMicro: bigint;
  debtOffsetMicro: bigint;
}

/** Hold lifetime when a reserve names none (the ledger's `holdTtlMsDefault`). */
export const modelHoldTtlMsDefault = 300_000;
/** Longest hold lifetime (the ledger's `holdTtlMsMax` default); a meter's longer ttl is cut to it. */
export const modelHoldTtlMsMax = 86_400_000;
/** Meters take `unitsMax` 10^9 when a price names none. */
export const modelUsageUnitsMaxDefault = 1_000_000_000n;

/** Start of the UTC day and of the UTC month `ms` falls in. */
export function utcPeriodStarts(ms: number): { dayStartMs: number; monthStartMs: number } {
  const d = new Date(ms);
  return {
    dayStartMs: Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()),
    monthStartMs: Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1),
  };
}

const min = (a: bigint, b: bigint): bigint => (a < b ? a : b);
/** The same dimensions with the same units (a repeat of a finalize by usage must report the first usage). */
const sameUsage = (first: Readonly<Record<string, bigint>> | null, usage: Readonly<Record<string, bigint>>): boolean =>
  first !== null &&
  Object.keys(first).length === Object.keys(usage).length &&
  Object.entries(usage).every(([dimension, units]) => first[dimension] === units);
const sum = (values: Iterable<bigint>): bigint => {
  let total = 0n;
  for (const v of values) total += v;
  return total;
};

/**
 * The reference model. Time is `nowMs`, moved only by {@link LedgerModel.advance}. Ids are the model's own
 * (`A…` accounts are given by the caller, lots are `L0, L1, …`, holds `H0, H1, …`); the test maps them to
 * the ledger's ids.
 *
 * @example
 * const model = new LedgerModel(Date.UTC(2026, 0, 1));
 * model.createAccount('A0');
 * model.mint({ accountId: 'A0', amountMicro: 100n, sourceType: 'grant' });
 * const hold = model.reserve({ accountId: 'A0', amountMicro: 40n });
 * model.finalize(hold.id, 30n); // charges 30, releases 10
 */
export class LedgerModel {
  nowMs: number;
  readonly accounts = new Map<string, ModelAccount>();
  readonly lots: ModelLot[] = [];
  readonly holds: ModelHold[] = [];
  /** Versions of each meter, oldest first. */
  readonly meters = new Map<string, ModelMeter[]>();
  readonly caps = new Map<string, ModelCaps>();
  readonly #sources = new Set<string>();

  constructor(startMs: number) {
    this.nowMs = startMs;
  }

  /** Moves the model's clock forward. */
  advance(deltaMs: number): void {
    if (!Number.isInteger(deltaMs) || deltaMs < 0)
      throw new RangeError(`deltaMs must be an integer ≥ 0, got ${deltaMs}`);
    this.nowMs += deltaMs;
  }

  createAccount(id: string): ModelAccount {
    const existing = this.accounts.get(id);
    if (existing) return existing;
    const account: ModelAccount = { id, debtMicro: 0n };
    this.accounts.set(id, account);
    return account;
  }

  /** True when the lot is past its expiry now (expired at `expiresAt` itself), swept or not. */
  lotExpired(lot: ModelLot): boolean {
    return lot.expiresAtMs !== null && lot.expiresAtMs <= this.nowMs;
  }

  /** The status a read reports: a pending hold at or past its expiry reads as `expired`. */
  holdStatus(hold: ModelHold): ModelHoldStatus {
    return hold.status === 'pending' && hold.expiresAtMs <= this.nowMs ? 'expired' : hold.status;
  }

  lot(id: string): ModelLot {
    const lot = this.lots.find((l) => l.id === id);
    if (!lot) throw new ModelError('lot_not_found', `no lot ${id}`);
    return lot;
  }

  hold(id: string): ModelHold {
    const hold = this.holds.find((h) => h.id === id);
    if (!hold) throw new ModelError('reservation_not_found', `no reservation ${id}`);
    return hold;
  }

  #account(id: string): ModelAccount {
    const account = this.accounts.get(id);
    if (!account) throw new ModelError('account_not_found', `no account ${id}`);
    return account;
  }

  /**
   * Mints a lot. A source (sourceType + sourceId) mints once. Debt is paid first: that part of the new lot
   * goes available → consumed at once (an `adjust` entry in the ledger).
   */
  mint(input: ModelMintInput): { lot: ModelLot; debtPaidMicro: bigint } {
    const account = this.#account(input.accountId);
    if (input.sourceId !== undefined) {
      const source = `${input.sourceType}\u0000${input.sourceId}`;
      if (this.#sources.has(source)) {
        throw new ModelError('duplicate_source', `${input.sourceType}/${input.sourceId} already minted`);
      }
      this.#sources.add(source);
    }
    const debtPaidMicro = min(account.debtMicro, input.amountMicro);
    account.debtMicro -= debtPaidMicro;
    const lot: ModelLot = {
      id: `L${this.lots.length}`,
      accountId: account.id,
      poolId: input.poolId ?? generalPoolId,
      sourceType: input.sourceType,
      sourceId: input.sourceId ?? null,
      originalMicro: input.amountMicro,
      availableMicro: input.amountMicro - debtPaidMicro,
      reservedMicro: 0n,
      consumedMicro: debtPaidMicro,
      expiredMicro: 0n,
      refundedMicro: 0n,
      expiresAtMs: input.expiresAtMs ?? null,
      seq: this.lots.length,
      refunded: false,
    };
    this.lots.push(lot);
    return { lot, debtPaidMicro };
  }

  /**
   * The lots a reserve (or a soft overrun) in `poolId` may draw from now, in consumption order: the exact
   * pool before `general`; lots that expire before lots that do not; soonest expiry first; lowest seq.
   * Expired lots and empty lots are left out.
   */
  candidateLots(accountId: string, poolId: string): ModelLot[] {
    return this.lots
      .filter(
        (lot) =>
          lot.accountId === accountId &&
          (lot.poolId === poolId || lot.poolId === generalPoolId) &&
          lot.availableMicro > 0n &&
          !this.lotExpired(lot),
      )
      .sort(modelConsumptionOrder(poolId));
  }

  /**
   * Pays the account's debt from its available unexpired lots of any pool (`general` first, then expiring first,
   * soonest expiry, lowest seq): available → consumed. Answers the amount paid.
   */
  #offsetDebt(accountId: string): bigint {
    const account = this.#account(accountId);
    const payers = this.lots
      .filter((lot) => lot.accountId === accountId && lot.availableMicro > 0n && !this.lotExpired(lot))
      .sort(modelConsumptionOrder(generalPoolId));
    let offsetMicro = 0n;
    for (const lot of payers) {
      if (account.debtMicro === 0n) break;
      const takeMicro = min(lot.availableMicro, account.debtMicro);
      lot.availableMicro -= takeMicro;
      lot.consumedMicro += takeMicro;
      account.debtMicro -= takeMicro;
      offsetMicro += takeMicro;
    }
    return offsetMicro;
  }

  /** Places a hold with caller-set terms: available → reserved across lots in consumption order, or refuses. */
  reserve(input: ModelReserveInput): ModelHold {
    const account = this.#account(input.accountId);
    return this.#placeHold(account.id, {
      amountMicro: input.amountMicro,
      poolId: input.poolId ?? generalPoolId,
      ttlMs: input.ttlMs ?? modelHoldTtlMsDefault,
      billingMode: input.billingMode ?? 'live',
      meter: null,
    });
  }

  /**
   * Places a hold on the terms of the meter version in force: its pool, mode and ttl (cut to the longest hold
   * lifetime), the amount `max(holdMicro, cost(estimate))` capped at `maxCostMicro`.
   */
  reserveMetered(input: ModelMeteredReserveInput): ModelHold {
    const account = this.#account(input.accountId);
    const meter = this.meterInForce(input.meterId);
    let amountMicro = meter.holdMicro;
    if (input.estimate !== undefined) {
      const costMicro = this.#price(meter, input.estimate).totalMicro;
      if (costMicro > amountMicro) amountMicro = costMicro;
    }
    if (meter.maxCostMicro !== null && amountMicro > meter.maxCostMicro) amountMicro = meter.maxCostMicro;
    return this.#placeHold(account.id, {
      amountMicro,
      poolId: meter.poolId,
      ttlMs: meter.ttlSeconds === null ? modelHoldTtlMsDefault : Math.min(meter.ttlSeconds * 1000, modelHoldTtlMsMax),
      billingMode: meter.billingMode,
      meter,
    });
  }

  /** The debt check, the caps check, then the draw; a refusal changes nothing. */
  #placeHold(
    accountId: string,
    terms: {
      amountMicro: bigint;
      poolId: string;
      ttlMs: number;
      billingMode: ModelBillingMode;
      meter: ModelMeter | null;
    },
  ): ModelHold {
    const { debtMicro } = this.#account(accountId);
    if (debtMicro > 0n) throw new ModelError('account_in_debt', `${accountId} owes ${debtMicro}`, { debtMicro });
    this.#checkCaps(accountId, terms.amountMicro);
    const candidates = this.candidateLots(accountId, terms.poolId);
    const availableMicro = sum(candidates.map((l) => l.availableMicro));
    if (availableMicro < terms.amountMicro) {
      throw new ModelError('insufficient_credits', `${terms.amountMicro} requested, ${availableMicro} available`, {
        requestedMicro: terms.amountMicro,
        availableMicro,
        shortfallMicro: terms.amountMicro - availableMicro,
        poolId: terms.poolId,
      });
    }
    const lots: ModelHoldLot[] = [];
    let restMicro = terms.amountMicro;
    for (const lot of candidates) {
      if (restMicro === 0n) break;
      const takeMicro = min(restMicro, lot.availableMicro);
      lot.availableMicro -= takeMicro;
      lot.reservedMicro += takeMicro;
      lots.push({ lotId: lot.id, amountMicro: takeMicro });
      restMicro -= takeMicro;
    }
    const hold: ModelHold = {
      id: `H${this.holds.length}`,
      accountId,
      poolId: terms.poolId,
      amountMicro: terms.amountMicro,
      billingMode: terms.billingMode,
      expiresAtMs: this.nowMs + terms.ttlMs,
      status: 'pending',
      lots,
      finalized: null,
      createdAtMs: this.nowMs,
      meterId: terms.meter?.id ?? null,
      meterVersion: terms.meter?.version ?? null,
      usage: null,
    };
    this.holds.push(hold);
    return hold;
  }

  /** reserved → available over the hold's lots, last drawn first. Returns the amount moved. */
  #releaseAll(hold: ModelHold): bigint {
    for (const part of [...hold.lots].reverse()) {
      const lot = this.lot(part.lotId);
      lot.reservedMicro -= part.amountMicro;
      lot.availableMicro += part.amountMicro;
    }
    return hold.amountMicro;
  }

  /**
   * Finalizes a hold with the actual cost. Consumes from the hold's lots in their recorded order, releases the
   * rest; an overrun follows the hold's mode (live: charged the hold, overrun recorded and uncollected; soft:
   * the excess also charged from the pool's other available lots as far as they go; shadow: nothing charged,
   * the whole hold released, what would have been charged recorded). A repeat with the same cost answers the
   * first outcome; another cost is a conflict.
   */
  finalize(holdId: string, actualCostMicro: bigint): ModelFinalizeOutcome {
    const hold = this.hold(holdId);
    if (hold.finalized) {
      if (hold.finalized.actualCostMicro === actualCostMicro) return hold.finalized;
      throw new ModelError('finalize_conflict', `${holdId} was finalized with ${hold.finalized.actualCostMicro}`);
    }
    const status = this.holdStatus(hold);
    if (status !== 'pending') throw new ModelError('reservation_not_pending', `${holdId} is ${status}`, { status });
    const overrunMicro = actualCostMicro > hold.amountMicro ? actualCostMicro - hold.amountMicro : 0n;
    let chargedMicro = 0n;
    let uncollectedMicro = 0n;
    if (hold.billingMode === 'shadow') {
      this.#releaseAll(hold);
    } else {
      // Consume in recorded order, then release what is left of each part, last drawn first.
      let toChargeMicro = min(actualCostMicro, hold.amountMicro);
      const consumedByPart = hold.lots.map((part) => {
        const consumeMicro = min(toChargeMicro, part.amountMicro);
        toChargeMicro -= consumeMicro;
        const lot = this.lot(part.lotId);
        lot.reservedMicro -= consumeMicro;
        lot.consumedMicro += consumeMicro;
        chargedMicro += consumeMicro;
        return consumeMicro;
      });
      for (let i = hold.lots.length - 1; i >= 0; i -= 1) {
        const part = hold.lots[i] as ModelHoldLot;
        const releaseMicro = part.amountMicro - (consumedByPart[i] as bigint);
        const lot = this.lot(part.lotId);
        lot.reservedMicro -= releaseMicro;
        lot.availableMicro += releaseMicro;
      }
      if (hold.billingMode === 'soft' && overrunMicro > 0n) {
        let excessMicro = overrunMicro;
        for (const lot of this.candidateLots(hold.accountId, hold.poolId)) {
          if (excessMicro === 0n) break;
          const takeMicro = min(excessMicro, lot.availableMicro);
          lot.availableMicro -= takeMicro;
          lot.consumedMicro += takeMicro;
          excessMicro -= takeMicro;
          chargedMicro += takeMicro;
        }
        uncollectedMicro = excessMicro;
      } else {
        uncollectedMicro = overrunMicro;
      }
    }
    const outcome: ModelFinalizeOutcome = {
      actualCostMicro,
      chargedMicro,
      releasedMicro:
        hold.billingMode === 'shadow' ? hold.amountMicro : hold.amountMicro - min(actualCostMicro, hold.amountMicro),
      overrunMicro,
      uncollectedMicro,
    };
    hold.status = 'finalized';
    hold.finalized = outcome;
    this.#offsetDebt(hold.accountId);
    return outcome;
  }

  /**
   * Releases a pending hold (reserved → available, reverse order). Releasing a released hold again answers
   * the same (idempotent, nothing moves); a finalized or expired hold is not pending.
   */
  release(holdId: string): { releasedMicro: bigint; status: ModelHoldStatus } {
    const hold = this.hold(holdId);
    if (hold.status === 'released') return { releasedMicro: hold.amountMicro, status: 'released' };
    const status = this.holdStatus(hold);
    if (status !== 'pending') throw new ModelError('reservation_not_pending', `${holdId} is ${status}`, { status });
    this.#releaseAll(hold);
    hold.status = 'released';
    this.#offsetDebt(hold.accountId);
    return { releasedMicro: hold.amountMicro, status: 'released' };
  }

  /** Expires every pending hold past its expiry: reserved → available (`expire_hold`), then pays debt from it. */
  sweepExpiredHolds(): ModelSweepResult {
    const swept = new Set<string>();
    let count = 0;
    let amountMicro = 0n;
    for (const hold of this.holds) {
      if (hold.status !== 'pending' || hold.expiresAtMs > this.nowMs) continue;
      amountMicro += this.#releaseAll(hold);
      hold.status = 'expired';
      swept.add(hold.accountId);
      count += 1;
    }
    for (const accountId of swept) this.#offsetDebt(accountId);
    return { count, amountMicro };
  }

  /** Moves the available part of every lot past its expiry to expired (`expire_lot`, breakage). */
  sweepExpiredLots(): ModelSweepResult {
    let count = 0;
    let amountMicro = 0n;
    for (const lot of this.lots) {
      if (!this.lotExpired(lot) || lot.availableMicro === 0n) continue;
      amountMicro += lot.availableMicro;
      lot.expiredMicro += lot.availableMicro;
      lot.availableMicro = 0n;
      count += 1;
    }
    return { count, amountMicro };
  }

  /**
   * Refunds a lot: the available part is clawed back (available → refunded), the consumed part becomes debt
   * on the account, paid at once by the account's other available credit as far as it goes. Refused while the lot has reserved credit, and a second time.
   */
  refund(lotId: string): ModelRefundResult {
    const lot = this.lot(lotId);
    if (lot.refunded) throw new ModelError('already_refunded', `${lotId} was already refunded`);
    if (lot.reservedMicro > 0n) {
      throw new ModelError('lot_has_pending_holds', `${lotId} has ${lot.reservedMicro} reserved`);
    }
    const refundedMicro = lot.availableMicro;
    lot.refundedMicro += refundedMicro;
    lot.availableMicro = 0n;
    lot.refunded = true;
    const debtAddedMicro = lot.consumedMicro;
    this.#account(lot.accountId).debtMicro += debtAddedMicro;
    const debtOffsetMicro = this.#offsetDebt(lot.accountId);
    return { lotId, refundedMicro, debtAddedMicro, debtOffsetMicro };
  }

  /** Balance as of now: available counts unexpired lots only; reserved counts every lot's reserved bucket. */
  balance(accountId: string): ModelBalance {
    const account = this.#account(accountId);
    const pools = new Map<string, ModelPoolBalance>();
    let availableMicro = 0n;
    let reservedMicro = 0n;
    for (const lot of this.lots) {
      if (lot.accountId !== accountId) continue;
      const pool = pools.get(lot.poolId) ?? { poolId: lot.poolId, availableMicro: 0n, reservedMicro: 0n };
      pools.set(lot.poolId, pool);
      if (!this.lotExpired(lot)) {
        pool.availableMicro += lot.availableMicro;
        availableMicro += lot.availableMicro;
      }
      pool.reservedMicro += lot.reservedMicro;
      reservedMicro += lot.reservedMicro;
    }
    return {
      accountId,
      availableMicro,
      reservedMicro,
      debtMicro: account.debtMicro,
      pools: [...pools.values()]
        .filter((p) => p.availableMicro > 0n || p.reservedMicro > 0n)
        .sort((a, b) => (a.poolId < b.poolId ? -1 : a.poolId > b.poolId ? 1 : 0)),
    };
  }

  /**
   * Finalizes a metered hold by usage: the usage is priced under the version the hold recorded (even when a newer
   * one is in force), then charged as {@link LedgerModel.finalize} charges a cost. Refused for a hold placed without
   * a meter and for a usage the version cannot price, before anything else; a repeat must report the same usage.
   */
  finalizeByUsage(
    holdId: string,
    usage: Record<string, bigint>,
  ): { outcome: ModelFinalizeOutcome; pricing: ModelPricing } {
    const hold = this.hold(holdId);
    if (hold.meterId === null || hold.meterVersion === null) {
      throw new ModelError('reservation_not_metered', `${holdId} was placed without a meter`);
    }
    const pricing = this.#price(this.meterVersion(hold.meterId, hold.meterVersion), usage);
    if (hold.finalized !== null && !sameUsage(hold.usage, usage)) {
      throw new ModelError('finalize_conflict', `${holdId} was finalized with another usage`);
    }
    const first = hold.finalized === null;
    const outcome = this.finalize(holdId, pricing.totalMicro);
    if (first) hold.usage = { ...usage };
    return { outcome, pricing };
  }

  #price(meter: ModelMeter, usage: Readonly<Record<string, bigint>>): ModelPricing {
    const priced = modelPriceUsage(meter, usage);
    if ('code' in priced) {
      throw new ModelError(priced.code, `${meter.id} v${meter.version} cannot price ${priced.dimension}`, {
        dimension: priced.dimension,
      });
    }
    return priced;
  }

  /**
   * Creates a meter (version 1) or its next version. Refused: holdMicro above maxCostMicro, prices the ledger
   * refuses (see `modelUnitPricesRefusal`), an effective time before now or before the previous version's.
   */
  createMeter(input: ModelMeterInput): ModelMeter {
    if (input.maxCostMicro !== undefined && input.holdMicro > input.maxCostMicro) {
      throw new ModelError('invalid_argument', `holdMicro ${input.holdMicro} > maxCostMicro ${input.maxCostMicro}`);
    }
    const unitPrices = input.unitPrices.map((p) => ({
      dimension: p.dimension,
      priceMicro: p.priceMicro,
      perUnits: p.perUnits,
      unitsMax: p.unitsMax ?? modelUsageUnitsMaxDefault,
    }));
    const refusal = modelUnitPricesRefusal(unitPrices);
    if (refusal !== null) throw new ModelError(refusal, `unit prices of ${input.id}`);
    const versions = this.meters.get(input.id) ?? [];
    const previous = versions.at(-1);
    const effectiveAtMs = input.effectiveAtMs ?? this.nowMs;
    const floorMs = Math.max(this.nowMs, previous?.effectiveAtMs ?? 0);
    if (effectiveAtMs < floorMs) {
      throw new ModelError('invalid_argument', `effectiveAt ${effectiveAtMs} is before ${floorMs}`);
    }
    const meter: ModelMeter = {
      id: input.id,
      version: (previous?.version ?? 0) + 1,
      poolId: input.poolId ?? generalPoolId,
      billingMode: input.billingMode ?? 'live',
      holdMicro: input.holdMicro,
      maxCostMicro: input.maxCostMicro ?? null,
      ttlSeconds: input.ttlSeconds ?? null,
      unitPrices,
      effectiveAtMs,
      createdBy: input.createdBy,
      createdAtMs: this.nowMs,
    };
    versions.push(meter);
    this.meters.set(input.id, versions);
    return meter;
  }

  /** The version in force now: the highest whose effective time has come. */
  meterInForce(meterId: string): ModelMeter {
    const inForce = (this.meters.get(meterId) ?? []).filter((m) => m.effectiveAtMs <= this.nowMs).at(-1);
    if (inForce === undefined) throw new ModelError('meter_not_found', `no version of ${meterId} is in force`);
    return inForce;
  }

  meterVersion(meterId: string, version: number): ModelMeter {
    const meter = this.meters.get(meterId)?.find((m) => m.version === version);
    if (meter === undefined) throw new ModelError('meter_not_found', `no ${meterId} v${version}`);
    return meter;
  }

  /**
   * What the holds of an account placed in the current UTC day and month count now: a pending unexpired hold its
   * amount, a finalized one its charge, a released or expired one nothing.
   */
  spend(accountId: string): {
    dayStartMs: number;
    monthStartMs: number;
    daySpentMicro: bigint;
    monthSpentMicro: bigint;
  } {
    const { dayStartMs, monthStartMs } = utcPeriodStarts(this.nowMs);
    let daySpentMicro = 0n;
    let monthSpentMicro = 0n;
    for (const hold of this.holds) {
      if (hold.accountId !== accountId || hold.createdAtMs < monthStartMs) continue;
      const status = this.holdStatus(hold);
      const countsMicro =
        status === 'pending' ? hold.amountMicro : status === 'finalized' ? (hold.finalized?.chargedMicro ?? 0n) : 0n;
      monthSpentMicro += countsMicro;
      if (hold.createdAtMs >= dayStartMs) daySpentMicro += countsMicro;
    }
    return { dayStartMs, monthStartMs, daySpentMicro, monthSpentMicro };
  }

  /** Refuses a hold that would take the day's (checked first) or the month's spend past its cap. */
  #checkCaps(accountId: string, requestedMicro: bigint): void {
    const caps = this.caps.get(accountId);
    if (caps === undefined) return;
    const spend = this.spend(accountId);
    const periods = [
      {
        period: 'daily',
        periodStartMs: spend.dayStartMs,
        capMicro: caps.dailyCapMicro,
        spentMicro: spend.daySpentMicro,
      },
      {
        period: 'monthly',
        periodStartMs: spend.monthStartMs,
        capMicro: caps.monthlyCapMicro,
        spentMicro: spend.monthSpentMicro,
      },
    ];
    for (const { period, periodStartMs, capMicro, spentMicro } of periods) {
      if (capMicro !== null && spentMicro + requestedMicro > capMicro) {
        throw new ModelError('spend_cap_exceeded', `${period}: ${spentMicro} + ${requestedMicro} > ${capMicro}`, {
          period,
          periodStartMs,
          spentMicro,
          capMicro,
          requestedMicro,
        });
      }
    }
  }

  /** Sets (or, both null, clears) an account's caps; holds already placed stay. */
  setSpendCaps(accountId: string, dailyCapMicro: bigint | null, monthlyCapMicro: bigint | null, actor: string) {
    this.#account(accountId);
    if (dailyCapMicro === null && monthlyCapMicro === null) this.caps.delete(accountId);
    else this.caps.set(accountId, { dailyCapMicro, monthlyCapMicro, updatedBy: actor, updatedAtMs: this.nowMs });
    return this.spendCaps(accountId);
  }

  /** An account's caps and its spend in the current UTC day and month. */
  spendCaps(accountId: string): ModelSpendCaps {
    this.#account(accountId);
    const caps = this.caps.get(accountId);
    const spend = this.spend(accountId);
    const dailyCapMicro = caps?.dailyCapMicro ?? null;
    const monthlyCapMicro = caps?.monthlyCapMicro ?? null;
    return {
      dailyCapMicro,
      monthlyCapMicro,
      updatedBy: caps?.updatedBy ?? null,
      updatedAtMs: caps?.updatedAtMs ?? null,
      daily: { periodStartMs: spend.dayStartMs, spentMicro: spend.daySpentMicro, capMicro: dailyCapMicro },
      monthly: { periodStartMs: spend.monthStartMs, spentMicro: spend.monthSpentMicro, capMicro: monthlyCapMicro },
    };
  }

  /** The account's lots in mint order. */
  accountLots(accountId: string): ModelLot[] {
    return this.lots.filter((l) => l.accountId === accountId);
  }
}
