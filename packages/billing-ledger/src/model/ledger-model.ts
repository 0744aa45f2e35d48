/**
 * A small in-memory reference model of the ledger (DESIGN.md §3), used by the model-based test to check the
 * real ledger step by step. It keeps only what the rules need: accounts with debt, lots with their buckets,
 * holds with the lots they drew from, and the clock. Every rule is written the plainest way possible, with
 * no concern for speed, so that a difference between model and ledger points at the ledger (or at a rule
 * the two read differently). Not exported from the package.
 */

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
  | 'already_refunded';

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
}

/** Hold lifetime when a reserve names none (the ledger's `holdTtlMsDefault`). */
export const modelHoldTtlMsDefault = 300_000;

const min = (a: bigint, b: bigint): bigint => (a < b ? a : b);
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
    const rank = (lot: ModelLot) => (lot.poolId === poolId ? 0 : 1);
    return this.lots
      .filter(
        (lot) =>
          lot.accountId === accountId &&
          (lot.poolId === poolId || lot.poolId === generalPoolId) &&
          lot.availableMicro > 0n &&
          !this.lotExpired(lot),
      )
      .sort((a, b) => {
        if (rank(a) !== rank(b)) return rank(a) - rank(b);
        if ((a.expiresAtMs === null) !== (b.expiresAtMs === null)) return a.expiresAtMs === null ? 1 : -1;
        if (a.expiresAtMs !== null && b.expiresAtMs !== null && a.expiresAtMs !== b.expiresAtMs) {
          return a.expiresAtMs - b.expiresAtMs;
        }
        return a.seq - b.seq;
      });
  }

  /** Places a hold: available → reserved across lots in consumption order, or refuses and changes nothing. */
  reserve(input: ModelReserveInput): ModelHold {
    const account = this.#account(input.accountId);
    const poolId = input.poolId ?? generalPoolId;
    const candidates = this.candidateLots(account.id, poolId);
    const availableMicro = sum(candidates.map((l) => l.availableMicro));
    if (availableMicro < input.amountMicro) {
      throw new ModelError('insufficient_credits', `${input.amountMicro} requested, ${availableMicro} available`, {
        requestedMicro: input.amountMicro,
        availableMicro,
        shortfallMicro: input.amountMicro - availableMicro,
        poolId,
      });
    }
    const lots: ModelHoldLot[] = [];
    let restMicro = input.amountMicro;
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
      accountId: account.id,
      poolId,
      amountMicro: input.amountMicro,
      billingMode: input.billingMode ?? 'live',
      expiresAtMs: this.nowMs + (input.ttlMs ?? modelHoldTtlMsDefault),
      status: 'pending',
      lots,
      finalized: null,
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
    return { releasedMicro: hold.amountMicro, status: 'released' };
  }

  /** Expires every pending hold past its expiry: reserved → available (`expire_hold`). */
  sweepExpiredHolds(): ModelSweepResult {
    let count = 0;
    let amountMicro = 0n;
    for (const hold of this.holds) {
      if (hold.status !== 'pending' || hold.expiresAtMs > this.nowMs) continue;
      amountMicro += this.#releaseAll(hold);
      hold.status = 'expired';
      count += 1;
    }
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
   * on the account. Refused while the lot has reserved credit, and a second time.
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
    return { lotId, refundedMicro, debtAddedMicro };
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

  /** The account's lots in mint order. */
  accountLots(accountId: string): ModelLot[] {
    return this.lots.filter((l) => l.accountId === accountId);
  }
}
