/**
 * The model-based property (fast-check `fc.commands`), shared by `ledger.model.test.ts` (PGlite) and
 * `ledger.model.pg.test.ts` (Postgres, needs DATABASE_URL) so the two databases run as separate files, in parallel.
 *
 * Random sequences of mint / reserve / finalize (under, equal and over the hold, each billing mode) / release /
 * advance clock / sweep holds / sweep lots / refund / bad input, across three accounts, two pools plus `general`,
 * lots with and without expiry, some writes repeated with an idempotency key; and (issue 11, `meter-commands.ts`)
 * meters and their versions, reserves by meter, finalizes by usage after price changes, spend caps and clock jumps
 * across UTC day and month boundaries. Each command runs on the real ledger and on the reference model
 * (`ledger-model.ts`); results, error codes, balances, lot buckets, hold statuses, meters in force and the spend of
 * the day and month must match after every step, and `ledger.verify()` must report no violation.
 *
 * Runs share a database (a fresh one every `runsPerDatabase` runs, as `verify()` reads it whole); each run funds
 * fresh accounts and starts after every earlier hold and lot has expired and been swept, so its sweeps see only
 * its own. Env: LEDGER_MODEL_RUNS (default 40: under a minute on PGlite on 2 cores), LEDGER_MODEL_SEED and
 * LEDGER_MODEL_PATH to replay a reported failure (fast-check prints both with the counterexample). */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { createLedger, type Ledger } from '../index.js';
import { amountMicroMax } from '../limits.js';
import { openTestLedgerDb, type TestLedgerDbHandle } from '../testing/test-db.js';
import { LedgerModel, type ModelBillingMode, type ModelHold, type ModelLot } from './ledger-model.js';
import { meterCommandArbs, meterSetupArb } from './meter-commands.js';
import {
  accountsPerRun,
  attemptModel,
  attemptReal,
  billingModes,
  checkAll,
  checkMeters,
  expectBalance,
  expectRefusalDetails,
  lotBuckets,
  type ModelState,
  nextKey,
  note,
  otherAmount,
  poolIds,
  type RealState,
  type Repeat,
  sameOutcome,
  TestClock,
  tally,
  timeMs,
} from './model-harness.js';

/** Runs per property; each one costs about 0.8 s of CPU on PGlite (less on Postgres). */
const numRuns = Number(process.env.LEDGER_MODEL_RUNS ?? 40);
const seed = process.env.LEDGER_MODEL_SEED === undefined ? undefined : Number(process.env.LEDGER_MODEL_SEED);
const path = process.env.LEDGER_MODEL_PATH;
const commandsMax = 25;
/** Every generated expiry (lot or hold) is shorter than this, so a jump of it ends everything from earlier runs. */
const runGapMs = 10 * 86_400_000;
const sweepRoundsMax = 1_000;
/** Runs sharing one database before the next run opens a fresh one (fewer: a cheaper verify(), more opens). */
const runsPerDatabase = 5;

class MintCommand implements fc.AsyncCommand<ModelState, RealState> {
  constructor(
    readonly account: number,
    readonly amountMicro: bigint,
    readonly pool: number,
    readonly expiresInMs: number | null,
    readonly source: 'none' | 'fresh' | 'duplicate',
    readonly repeat: Repeat,
    /** Mint to an account in debt when there is one (the mint pays the debt first). */
    readonly toDebtor = false,
  ) {}
  check = () => true;
  async run(m: ModelState, r: RealState): Promise<void> {
    const debtor = m.accounts.find((id) => (m.model.accounts.get(id)?.debtMicro ?? 0n) > 0n);
    const accountId =
      this.toDebtor && debtor !== undefined ? debtor : (m.accounts[this.account % m.accounts.length] as string);
    const poolId = poolIds[this.pool % poolIds.length] as string;
    const expiresAtMs = this.expiresInMs === null ? undefined : m.model.nowMs + this.expiresInMs;
    let sourceId: string | undefined;
    if (this.source === 'duplicate' && m.sourceIds.length > 0) {
      sourceId = m.sourceIds[this.account % m.sourceIds.length];
    } else if (this.source !== 'none') {
      sourceId = `${r.runTag}-src${m.sourceIds.length}`;
    }
    const idempotencyKey = this.repeat === 'none' ? undefined : nextKey(r);
    const input = {
      accountId: r.accountIds.get(accountId) as string,
      amountMicro: this.amountMicro,
      sourceType: 'grant',
      poolId,
      ...(sourceId === undefined ? {} : { sourceId }),
      ...(expiresAtMs === undefined ? {} : { expiresAt: new Date(expiresAtMs) }),
    };
    const real = await attemptReal(() => r.ledger.mint(input, idempotencyKey === undefined ? {} : { idempotencyKey }));
    const model = attemptModel(() =>
      m.model.mint({
        accountId,
        amountMicro: this.amountMicro,
        sourceType: 'grant',
        poolId,
        ...(sourceId === undefined ? {} : { sourceId }),
        ...(expiresAtMs === undefined ? {} : { expiresAtMs }),
      }),
    );
    const pair = sameOutcome(
      `mint${this.repeat === 'none' ? '' : ` (${this.repeat} key)`}`,
      this.toString(),
      real,
      model,
    );
    if (pair) {
      const [realResult, modelResult] = pair;
      r.lotIds.set(modelResult.lot.id, realResult.lot.id);
      r.lotModelIds.set(realResult.lot.id, modelResult.lot.id);
      if (sourceId !== undefined && !m.sourceIds.includes(sourceId)) m.sourceIds.push(sourceId);
      expect(realResult.debtPaidMicro, 'debtPaidMicro').toBe(modelResult.debtPaidMicro);
      if (modelResult.debtPaidMicro > 0n) note('mint → paid debt');
      expect(lotBuckets(realResult.lot), 'minted lot').toEqual(lotBuckets(modelResult.lot));
      expectBalance('mint result', realResult.balance, m.model.balance(accountId));
      if (idempotencyKey !== undefined) {
        if (this.repeat === 'same') {
          expect(await r.ledger.mint(input, { idempotencyKey }), 'repeat with the same key and body').toEqual(
            realResult,
          );
        } else {
          const other = await attemptReal(() =>
            r.ledger.mint({ ...input, amountMicro: otherAmount(this.amountMicro) }, { idempotencyKey }),
          );
          expect(other.ok ? 'success' : other.code, 'same key, other body').toBe('idempotency_key_reused');
        }
      }
    }
    await checkAll(m, r, [], [accountId]);
  }
  toString = () =>
    `mint(${this.toDebtor ? 'a debtor, else ' : ''}A${this.account % accountsPerRun}, ${this.amountMicro}, ${poolIds[this.pool % poolIds.length]}, expiresIn=${this.expiresInMs}, source=${this.source}, repeat=${this.repeat})`;
}

class ReserveCommand implements fc.AsyncCommand<ModelState, RealState> {
  constructor(
    readonly account: number,
    readonly amountMicro: bigint,
    readonly pool: number,
    readonly ttlMs: number | undefined,
    readonly billingMode: ModelBillingMode | undefined,
    readonly repeat: Repeat,
  ) {}
  check = () => true;
  async run(m: ModelState, r: RealState): Promise<void> {
    const accountId = m.accounts[this.account % m.accounts.length] as string;
    const poolId = poolIds[this.pool % poolIds.length] as string;
    const idempotencyKey = this.repeat === 'none' ? undefined : nextKey(r);
    const input = {
      accountId: r.accountIds.get(accountId) as string,
      amountMicro: this.amountMicro,
      poolId,
      ...(this.ttlMs === undefined ? {} : { ttlMs: this.ttlMs }),
      ...(this.billingMode === undefined ? {} : { billingMode: this.billingMode }),
    };
    const real = await attemptReal(() =>
      r.ledger.reserve(input, idempotencyKey === undefined ? {} : { idempotencyKey }),
    );
    const model = attemptModel(() =>
      m.model.reserve({
        accountId,
        amountMicro: this.amountMicro,
        poolId,
        ...(this.ttlMs === undefined ? {} : { ttlMs: this.ttlMs }),
        ...(this.billingMode === undefined ? {} : { billingMode: this.billingMode }),
      }),
    );
    const pair = sameOutcome(
      `reserve${this.repeat === 'none' ? '' : ` (${this.repeat} key)`}`,
      this.toString(),
      real,
      model,
    );
    if (pair) {
      const [realResult, hold] = pair;
      r.holdIds.set(hold.id, realResult.reservation.id);
      const reservation = realResult.reservation;
      expect(
        {
          status: reservation.status,
          amountMicro: reservation.amountMicro,
          poolId: reservation.poolId,
          billingMode: reservation.billingMode,
          expiresAtMs: reservation.expiresAt.getTime(),
          lots: reservation.lots.map((p) => ({ lotId: r.lotModelIds.get(p.lotId), amountMicro: p.amountMicro })),
        },
        'reservation',
      ).toEqual({
        status: 'pending',
        amountMicro: hold.amountMicro,
        poolId: hold.poolId,
        billingMode: hold.billingMode,
        expiresAtMs: hold.expiresAtMs,
        lots: hold.lots,
      });
      expectBalance('reserve result', realResult.balance, m.model.balance(accountId));
      for (const lot of realResult.lots) {
        expect(lotBuckets(lot), 'lot touched by reserve').toEqual(
          lotBuckets(m.model.lot(r.lotModelIds.get(lot.id) as string)),
        );
      }
      if (idempotencyKey !== undefined) {
        if (this.repeat === 'same') {
          expect(await r.ledger.reserve(input, { idempotencyKey }), 'repeat with the same key and body').toEqual(
            realResult,
          );
        } else {
          const other = await attemptReal(() =>
            r.ledger.reserve({ ...input, amountMicro: otherAmount(this.amountMicro) }, { idempotencyKey }),
          );
          expect(other.ok ? 'success' : other.code, 'same key, other body').toBe('idempotency_key_reused');
        }
      }
      await checkAll(m, r, [hold], [accountId]);
      return;
    }
    expectRefusalDetails(this.toString(), real, model);
    await checkAll(m, r, [], [accountId]);
  }
  toString = () =>
    `reserve(A${this.account % accountsPerRun}, ${this.amountMicro}, ${poolIds[this.pool % poolIds.length]}, ttlMs=${this.ttlMs}, ${this.billingMode}, repeat=${this.repeat})`;
}

/**
 * `beyond`: more than the hold plus everything its pool could still give now, so a soft hold leaves part of the
 * cost uncollected.
 */
type CostKind = 'zero' | 'under' | 'equal' | 'over' | 'beyond' | 'repeat';

class FinalizeCommand implements fc.AsyncCommand<ModelState, RealState> {
  constructor(
    readonly hold: number,
    readonly cost: CostKind,
    /** Fraction of the hold (under) in 1/1000, or the excess in micro (over). */
    readonly param: number,
  ) {}
  check = (m: Readonly<ModelState>) => m.model.holds.length > 0;
  actualCostMicro(model: LedgerModel, hold: ModelHold): bigint {
    switch (this.cost) {
      case 'zero':
        return 0n;
      case 'under':
        return (hold.amountMicro * BigInt(this.param % 1000)) / 1000n;
      case 'equal':
        return hold.amountMicro;
      case 'over':
        return hold.amountMicro + BigInt(this.param);
      case 'beyond': {
        let usableMicro = 0n;
        for (const lot of model.candidateLots(hold.accountId, hold.poolId)) usableMicro += lot.availableMicro;
        const costMicro = hold.amountMicro + usableMicro + BigInt(1 + (this.param % 50));
        return costMicro > amountMicroMax ? amountMicroMax : costMicro;
      }
      case 'repeat':
        return hold.finalized?.actualCostMicro ?? hold.amountMicro;
    }
  }
  async run(m: ModelState, r: RealState): Promise<void> {
    const hold = m.model.holds[this.hold % m.model.holds.length] as ModelHold;
    const actualCostMicro = this.actualCostMicro(m.model, hold);
    const repeat = hold.finalized !== null;
    const real = await attemptReal(() =>
      r.ledger.finalize({ reservationId: r.holdIds.get(hold.id) as string, actualCostMicro }),
    );
    const model = attemptModel(() => m.model.finalize(hold.id, actualCostMicro));
    const relation =
      actualCostMicro < hold.amountMicro ? 'under' : actualCostMicro === hold.amountMicro ? 'equal' : 'over';
    const pair = sameOutcome(
      `finalize ${hold.billingMode} ${relation}`,
      `${this.toString()} on ${hold.id} cost ${actualCostMicro}`,
      real,
      model,
    );
    if (pair) {
      const [realResult, outcome] = pair;
      if (outcome.uncollectedMicro > 0n) note(`finalize ${hold.billingMode} over → uncollected`);
      expect(
        {
          status: realResult.reservation.status,
          chargedMicro: realResult.chargedMicro,
          releasedMicro: realResult.releasedMicro,
          overrunMicro: realResult.overrunMicro,
          uncollectedMicro: realResult.uncollectedMicro,
          actualCostMicro: realResult.reservation.actualCostMicro,
        },
        `finalize ${hold.billingMode} ${hold.amountMicro} with ${actualCostMicro}`,
      ).toEqual({
        status: 'finalized',
        chargedMicro: outcome.chargedMicro,
        releasedMicro: outcome.releasedMicro,
        overrunMicro: outcome.overrunMicro,
        uncollectedMicro: outcome.uncollectedMicro,
        actualCostMicro: outcome.actualCostMicro,
      });
      // A repeat answers the first result, whose balance was the balance then.
      if (!repeat) expectBalance('finalize result', realResult.balance, m.model.balance(hold.accountId));
    }
    await checkAll(m, r, [hold], [hold.accountId]);
  }
  toString = () => `finalize(#${this.hold}, ${this.cost}, ${this.param})`;
}

class ReleaseCommand implements fc.AsyncCommand<ModelState, RealState> {
  constructor(readonly hold: number) {}
  check = (m: Readonly<ModelState>) => m.model.holds.length > 0;
  async run(m: ModelState, r: RealState): Promise<void> {
    const hold = m.model.holds[this.hold % m.model.holds.length] as ModelHold;
    const repeat = hold.status === 'released';
    const real = await attemptReal(() => r.ledger.release({ reservationId: r.holdIds.get(hold.id) as string }));
    const model = attemptModel(() => m.model.release(hold.id));
    const pair = sameOutcome('release', `${this.toString()} on ${hold.id}`, real, model);
    if (pair) {
      const [realResult, outcome] = pair;
      expect(realResult.reservation.status).toBe('released');
      expect(realResult.releasedMicro, 'releasedMicro').toBe(outcome.releasedMicro);
      if (!repeat) expectBalance('release result', realResult.balance, m.model.balance(hold.accountId));
    }
    await checkAll(m, r, [hold], [hold.accountId]);
  }
  toString = () => `release(#${this.hold})`;
}

class AdvanceClockCommand implements fc.AsyncCommand<ModelState, RealState> {
  constructor(readonly deltaMs: number) {}
  check = () => true;
  async run(m: ModelState, r: RealState): Promise<void> {
    m.model.advance(this.deltaMs);
    r.clock.advance(this.deltaMs);
    await checkMeters(m, r);
    await checkAll(m, r, m.model.holds);
  }
  toString = () => `advance(${this.deltaMs}ms)`;
}

class SweepHoldsCommand implements fc.AsyncCommand<ModelState, RealState> {
  /** `batchSizeMax` undefined = the ledger's default, one call; else calls until a sweep finds nothing. */
  constructor(readonly batchSizeMax: number | undefined) {}
  check = () => true;
  async run(m: ModelState, r: RealState): Promise<void> {
    const expected = m.model.sweepExpiredHolds();
    note(`sweep holds → ${expected.count > 0 ? 'swept' : 'nothing due'}`);
    let count = 0;
    let amountMicro = 0n;
    for (let round = 0; round < sweepRoundsMax; round += 1) {
      const result = await r.ledger.sweepExpiredHolds(
        this.batchSizeMax === undefined ? {} : { batchSizeMax: this.batchSizeMax },
      );
      count += result.count;
      amountMicro += result.amountMicro;
      if (this.batchSizeMax === undefined || result.count === 0) break;
    }
    expect({ count, amountMicro }, 'sweepExpiredHolds').toEqual(expected);
    await checkAll(m, r, m.model.holds);
  }
  toString = () => `sweepHolds(batch=${this.batchSizeMax})`;
}

class SweepLotsCommand implements fc.AsyncCommand<ModelState, RealState> {
  constructor(readonly batchSizeMax: number | undefined) {}
  check = () => true;
  async run(m: ModelState, r: RealState): Promise<void> {
    const expected = m.model.sweepExpiredLots();
    note(`sweep lots → ${expected.count > 0 ? 'swept' : 'nothing due'}`);
    let count = 0;
    let amountMicro = 0n;
    for (let round = 0; round < sweepRoundsMax; round += 1) {
      const result = await r.ledger.sweepExpiredLots(
        this.batchSizeMax === undefined ? {} : { batchSizeMax: this.batchSizeMax },
      );
      count += result.count;
      amountMicro += result.amountMicro;
      if (this.batchSizeMax === undefined || result.count === 0) break;
    }
    expect({ count, amountMicro }, 'sweepExpiredLots').toEqual(expected);
    await checkAll(m, r, []);
  }
  toString = () => `sweepLots(batch=${this.batchSizeMax})`;
}

class RefundCommand implements fc.AsyncCommand<ModelState, RealState> {
  constructor(
    readonly lot: number,
    readonly bySource: boolean,
    /** Pick among refundable lots with consumed credit when there are any (their refund creates debt). */
    readonly spent: boolean,
    /** Then mint this much to an account in debt, if any (the mint pays the debt first). */
    readonly thenMintMicro: bigint | null,
  ) {}
  check = (m: Readonly<ModelState>) => m.model.lots.length > 0;
  async run(m: ModelState, r: RealState): Promise<void> {
    const spentLots = m.model.lots.filter((l) => l.consumedMicro > 0n && l.reservedMicro === 0n && !l.refunded);
    const from = this.spent && spentLots.length > 0 ? spentLots : m.model.lots;
    const lot = from[this.lot % from.length] as ModelLot;
    const target =
      this.bySource && lot.sourceId !== null
        ? { sourceType: lot.sourceType, sourceId: lot.sourceId }
        : { lotId: r.lotIds.get(lot.id) as string };
    const real = await attemptReal(() => r.ledger.refund(target));
    const model = attemptModel(() => m.model.refund(lot.id));
    const pair = sameOutcome('refund', `${this.toString()} on ${lot.id}`, real, model);
    if (pair) {
      const [realResult, outcome] = pair;
      if (outcome.debtAddedMicro > 0n) note('refund → added debt');
      if (outcome.debtOffsetMicro > 0n) note('refund → debt offset by other lots');
      if (outcome.debtOffsetMicro < outcome.debtAddedMicro) note('refund → debt outstanding');
      const { refundedMicro, debtAddedMicro, debtOffsetMicro } = realResult;
      expect({ refundedMicro, debtAddedMicro, debtOffsetMicro }, 'refund result').toEqual({
        refundedMicro: outcome.refundedMicro,
        debtAddedMicro: outcome.debtAddedMicro,
        debtOffsetMicro: outcome.debtOffsetMicro,
      });
      expect(lotBuckets(realResult.lot), 'refunded lot').toEqual(lotBuckets(lot));
      expectBalance('refund result', realResult.balance, m.model.balance(lot.accountId));
    }
    await checkAll(m, r, [], [lot.accountId]);
    if (this.thenMintMicro !== null) {
      await new MintCommand(0, this.thenMintMicro, 0, null, 'none', 'none', true).run(m, r);
    }
  }
  toString = () =>
    `refund(#${this.lot}${this.bySource ? ', by source' : ''}${this.spent ? ', a spent lot' : ''}${this.thenMintMicro === null ? '' : `, then mint ${this.thenMintMicro} to a debtor`})`;
}

/** Unknown ids and bad amounts: the ledger refuses with the rule's code and changes nothing. */
class BadInputCommand implements fc.AsyncCommand<ModelState, RealState> {
  constructor(
    readonly kind: 'unknown_account' | 'unknown_reservation' | 'unknown_lot' | 'zero_amount' | 'ttl_too_long',
  ) {}
  check = () => true;
  async run(m: ModelState, r: RealState): Promise<void> {
    const accountId = r.accountIds.get(m.accounts[0] as string) as string;
    const missing = `missing_${r.runTag}`;
    const cases = {
      unknown_account: [() => r.ledger.reserve({ accountId: missing, amountMicro: 1n }), 'account_not_found'],
      unknown_reservation: [
        () => r.ledger.finalize({ reservationId: missing, actualCostMicro: 1n }),
        'reservation_not_found',
      ],
      unknown_lot: [() => r.ledger.refund({ lotId: missing }), 'lot_not_found'],
      zero_amount: [() => r.ledger.reserve({ accountId, amountMicro: 0n }), 'invalid_amount'],
      ttl_too_long: [() => r.ledger.reserve({ accountId, amountMicro: 1n, ttlMs: 86_400_001 }), 'invalid_argument'],
    } as const;
    const [op, code] = cases[this.kind];
    const real = await attemptReal<unknown>(op);
    expect(real.ok ? 'success' : real.code, this.kind).toBe(code);
    await checkAll(m, r, [], [m.accounts[0] as string]);
  }
  toString = () => `bad(${this.kind})`;
}

const accountArb = fc.nat({ max: accountsPerRun - 1 });
const poolArb = fc.nat({ max: poolIds.length - 1 });
const repeatArb = fc.constantFrom<Repeat>('none', 'none', 'none', 'none', 'same', 'different');
const lotExpiryArb = fc.oneof(
  { weight: 3, arbitrary: fc.constant(null) },
  { weight: 2, arbitrary: fc.constantFrom(1_000, 60_000, 300_000, 3_600_000, 86_400_000) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 400_000 }) },
);
/** The mints that fund a run before its commands (compared with the model like any command). */
const fundingArb = fc.array(
  fc
    .tuple(accountArb, fc.bigInt({ min: 500n, max: 5_000n }), fc.constantFrom(0, 0, 1, 2), lotExpiryArb)
    .map(
      ([account, amountMicro, pool, expiresInMs]) =>
        new MintCommand(account, amountMicro, pool, expiresInMs, 'none', 'none'),
    ),
  { minLength: 3, maxLength: 8 },
);
const mintArb = fc
  .tuple(
    accountArb,
    fc.oneof(
      { weight: 8, arbitrary: fc.bigInt({ min: 1n, max: 2_000n }) },
      { weight: 1, arbitrary: fc.constant(amountMicroMax) },
    ),
    poolArb,
    lotExpiryArb,
    fc.constantFrom<'none' | 'fresh' | 'duplicate'>('none', 'none', 'fresh', 'fresh', 'duplicate'),
    repeatArb,
    fc.boolean(),
  )
  .map((a) => new MintCommand(...a));
const reserveArb = fc
  .tuple(
    accountArb,
    fc.oneof(
      { weight: 4, arbitrary: fc.bigInt({ min: 1n, max: 600n }) },
      { weight: 2, arbitrary: fc.bigInt({ min: 1n, max: 20n }) },
      { weight: 1, arbitrary: fc.bigInt({ min: 1n, max: 4_000n }) },
    ),
    poolArb,
    fc.constantFrom(undefined, 1, 1_000, 60_000, 300_000, 3_600_000),
    fc.constantFrom<ModelBillingMode | undefined>(undefined, ...billingModes),
    repeatArb,
  )
  .map((a) => new ReserveCommand(...a));
const finalizeArb = fc
  .tuple(
    fc.nat({ max: 1_000 }),
    fc.constantFrom<CostKind>('zero', 'under', 'under', 'equal', 'equal', 'over', 'over', 'beyond', 'repeat'),
    fc.oneof(fc.integer({ min: 1, max: 50 }), fc.integer({ min: 1, max: 3_000 })),
  )
  .map((a) => new FinalizeCommand(...a));
const releaseArb = fc.nat({ max: 1_000 }).map((h) => new ReleaseCommand(h));
const advanceArb = fc
  .oneof(
    fc.constantFrom(1, 999, 1_000, 59_999, 60_000, 300_000, 3_600_000, 86_400_000),
    fc.integer({ min: 0, max: 400_000 }),
  )
  .map((d) => new AdvanceClockCommand(d));
const refundArb = fc
  .tuple(
    fc.nat({ max: 1_000 }),
    fc.boolean(),
    fc.boolean(),
    fc.option(fc.bigInt({ min: 1n, max: 3_000n }), { nil: null }),
  )
  .map((a) => new RefundCommand(...a));
/** fc.commands picks uniformly among these; repeats weight the frequent operations. */
const commandArbs = [
  mintArb,
  mintArb,
  reserveArb,
  reserveArb,
  reserveArb,
  finalizeArb,
  finalizeArb,
  finalizeArb,
  releaseArb,
  releaseArb,
  advanceArb,
  advanceArb,
  fc.constantFrom(undefined, 1, 2).map((b) => new SweepHoldsCommand(b)),
  fc.constantFrom(undefined, 1, 2).map((b) => new SweepLotsCommand(b)),
  refundArb,
  refundArb,
  fc
    .constantFrom('unknown_account', 'unknown_reservation', 'unknown_lot', 'zero_amount', 'ttl_too_long' as const)
    .map((k) => new BadInputCommand(k)),
];

/**
 * Declares the property on one kind of database: one ledger and one clock, fresh accounts per run, and a fresh
 * database every `runsPerDatabase` runs (verify() reads the whole database, so its cost grows with what earlier
 * runs left). `databaseUrl` undefined = PGlite in memory; else fresh databases on that Postgres server.
 *
 * @example
 * describeLedgerModel('PGlite', undefined);
 */
export function describeLedgerModel(name: string, databaseUrl: string | undefined): void {
  describe(`ledger vs reference model on ${name}`, () => {
    let handle: TestLedgerDbHandle | undefined;
    let ledger: Ledger;
    let runsOnDatabase = 0;
    const clock = new TestClock();
    afterAll(async () => {
      await handle?.close();
    });

    /** The ledger for the next run: a fresh database every `runsPerDatabase` runs, and nothing pending from earlier runs. */
    async function ledgerForRun(): Promise<Ledger> {
      if (handle === undefined || runsOnDatabase >= runsPerDatabase) {
        await handle?.close();
        handle = await openTestLedgerDb({ databaseUrl });
        ledger = createLedger({ db: handle.db, clock });
        runsOnDatabase = 0;
      }
      runsOnDatabase += 1;
      // Every hold and lot of earlier runs has expired by now; sweep them so this run's sweeps see only its own.
      clock.advance(runGapMs);
      for (const sweep of [() => ledger.sweepExpiredHolds(), () => ledger.sweepExpiredLots()]) {
        for (let round = 0; round < sweepRoundsMax; round += 1) {
          if ((await sweep()).count === 0) break;
        }
      }
      return ledger;
    }

    it(`${numRuns} runs of up to ${commandsMax} commands match the model step by step`, async () => {
      const startedAtMs = Date.now();
      await fc.assert(
        fc.asyncProperty(
          fundingArb,
          meterSetupArb,
          fc.commands([...commandArbs, ...meterCommandArbs], { maxCommands: commandsMax, size: 'max' }),
          async (funding, meterSetup, commands) => {
            const runLedger = await ledgerForRun();
            const runTag = randomBytes(5).toString('hex');
            const model = new LedgerModel(clock.nowMs());
            const accounts = Array.from({ length: accountsPerRun }, (_, i) => `A${i}`);
            const real: RealState = {
              ledger: runLedger,
              clock,
              runTag,
              accountIds: new Map(),
              lotIds: new Map(),
              lotModelIds: new Map(),
              holdIds: new Map(),
              keys: 0,
            };
            for (const accountId of accounts) {
              model.createAccount(accountId);
              const { account } = await runLedger.createAccount({
                entityType: 'model',
                entityId: `${runTag}-${accountId}`,
              });
              real.accountIds.set(accountId, account.id);
            }
            const state: ModelState = { model, accounts, sourceIds: [] };
            for (const setup of [...funding, ...meterSetup]) await setup.run(state, real);
            await fc.asyncModelRun(() => ({ model: state, real }), commands);
          },
        ),
        { numRuns, ...(seed === undefined ? {} : { seed }), ...(path === undefined ? {} : { path }) },
      );
      const seconds = (ms: number) => (ms / 1000).toFixed(1);
      console.info(
        `model test on ${name}: ${numRuns} runs in ${seconds(Date.now() - startedAtMs)} s ` +
          `(reads compared ${seconds(timeMs.checks)} s, verify() ${seconds(timeMs.verify)} s); outcomes:\n` +
          [...tally.entries()]
            .sort(([x], [y]) => (x < y ? -1 : 1))
            .map(([key, n]) => `  ${key}: ${n}`)
            .join('\n'),
      );
      tally.clear();
      timeMs.checks = 0;
      timeMs.verify = 0;
    }, 3_600_000);
  });
}
