/**
 * Commands of the model-based test for issue 11: meters and their versions (random prices over 1–3 dimensions, some
 * refused), reserves by meter (with or without an estimate; repeated with a key, and with the same key in another
 * caller's scope), finalizes by usage (priced by the model under the version the hold recorded, even after a price
 * change), spend caps set and cleared, and jumps of the clock across a UTC day or month boundary.
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import type { MeterInput } from '../meters/types.js';
import type { ReserveResult } from '../types.js';
import type { ModelBillingMode, ModelHold, ModelMeter, ModelMeterInput } from './ledger-model.js';
import {
  accountsPerRun,
  attemptModel,
  attemptReal,
  billingModes,
  checkAll,
  checkMeters,
  expectBalance,
  expectRefusalDetails,
  expectSpendCaps,
  lotBuckets,
  type ModelState,
  meterView,
  modelActor,
  modelMeterView,
  nextKey,
  note,
  poolIds,
  type RealState,
  type Repeat,
  realMeterId,
  sameOutcome,
} from './model-harness.js';

const dimensionNames = ['request', 'input_tokens', 'output_tokens', 'image'] as const;

/** One generated unit price (its dimension is given by the meter's dimension list). */
interface PriceSpec {
  priceMicro: bigint;
  perUnits: bigint;
  unitsMax: bigint | undefined;
}

/** A generated meter version; `defect` makes the ledger refuse it (the model must say how). */
interface MeterSpec {
  fresh: boolean;
  target: number;
  dimensions: string[];
  prices: PriceSpec[];
  pool: number;
  billingMode: ModelBillingMode | undefined;
  holdMicro: bigint;
  maxCostExtraMicro: bigint | null;
  ttlSeconds: number | undefined;
  effectiveInMs: number | undefined;
  defect: 'none' | 'empty' | 'duplicate' | 'line_overflow' | 'total_overflow' | 'hold_above_max';
  /** Repeat a created version with its key: the same body answers the same version, another is refused. */
  repeat: Repeat;
}

/** The unit prices of a spec, with its defect applied. */
function unitPricesOf(spec: MeterSpec): ModelMeterInput['unitPrices'] {
  const prices = spec.dimensions.map((dimension, i) => {
    const price = spec.prices[i % spec.prices.length] as PriceSpec;
    return {
      dimension,
      priceMicro: price.priceMicro,
      perUnits: price.perUnits,
      ...(price.unitsMax === undefined ? {} : { unitsMax: price.unitsMax }),
    };
  });
  switch (spec.defect) {
    case 'empty':
      return [];
    case 'duplicate':
      return [...prices, { ...(prices[0] as (typeof prices)[number]), priceMicro: 1n }];
    case 'line_overflow':
      return [{ dimension: 'image', priceMicro: 10n ** 15n, perUnits: 1n, unitsMax: 2n }, ...prices.slice(1)];
    case 'total_overflow':
      // Each line 4·10^14 at the default unitsMax (10^9); together 1.2·10^15.
      return dimensionNames.slice(0, 3).map((dimension) => ({ dimension, priceMicro: 400_000n, perUnits: 1n }));
    default:
      return prices;
  }
}

class CreateMeterCommand implements fc.AsyncCommand<ModelState, RealState> {
  constructor(readonly spec: MeterSpec) {}
  check = () => true;
  /** The model's input for this spec now (a new meter, or the next version of one of the run's). */
  input(m: ModelState): ModelMeterInput {
    const spec = this.spec;
    const ids = [...m.model.meters.keys()];
    const id = spec.fresh || ids.length === 0 ? `m${ids.length}` : (ids[spec.target % ids.length] as string);
    const holdMicro = spec.defect === 'hold_above_max' ? spec.holdMicro + 1n : spec.holdMicro;
    const maxCostMicro =
      spec.defect === 'hold_above_max'
        ? spec.holdMicro
        : spec.maxCostExtraMicro === null
          ? undefined
          : spec.holdMicro + spec.maxCostExtraMicro;
    return {
      id,
      poolId: poolIds[spec.pool % poolIds.length] as string,
      ...(spec.billingMode === undefined ? {} : { billingMode: spec.billingMode }),
      holdMicro,
      ...(maxCostMicro === undefined ? {} : { maxCostMicro }),
      ...(spec.ttlSeconds === undefined ? {} : { ttlSeconds: spec.ttlSeconds }),
      unitPrices: unitPricesOf(spec),
      ...(spec.effectiveInMs === undefined ? {} : { effectiveAtMs: m.model.nowMs + spec.effectiveInMs }),
      createdBy: modelActor,
    };
  }
  async run(m: ModelState, r: RealState): Promise<void> {
    const input = this.input(m);
    const { effectiveAtMs, ...rest } = input;
    const realInput: MeterInput = {
      ...rest,
      id: realMeterId(r, input.id),
      ...(effectiveAtMs === undefined ? {} : { effectiveAt: new Date(effectiveAtMs) }),
    };
    const isNew = !m.model.meters.has(input.id);
    const key = this.spec.repeat === 'none' ? undefined : nextKey(r);
    const options = key === undefined ? {} : { idempotencyKey: key };
    const real = await attemptReal(() => r.ledger.createMeter(realInput, options));
    const model = attemptModel(() => m.model.createMeter(input));
    const repeatText = this.spec.repeat === 'none' ? '' : ` (${this.spec.repeat} key)`;
    const pair = sameOutcome(`createMeter ${isNew ? 'v1' : 'next version'}${repeatText}`, this.toString(), real, model);
    if (pair) {
      expect(meterView(pair[0]), 'created meter').toEqual(modelMeterView(r, pair[1]));
      await expectRepeat(this.spec.repeat, pair[0], (other) =>
        r.ledger.createMeter(other ? { ...realInput, createdBy: `${modelActor}-2` } : realInput, options),
      );
    }
    // Refused or not, the versions are the model's (newest first).
    const versions = m.model.meters.get(input.id) ?? [];
    const listed = await attemptReal(() => r.ledger.listMeterVersions(realMeterId(r, input.id)));
    if (versions.length === 0) expect(listed.ok ? 'listed' : listed.code).toBe('meter_not_found');
    else if (listed.ok) {
      expect(listed.value.map(meterView), 'meter versions').toEqual(
        [...versions].reverse().map((v) => modelMeterView(r, v)),
      );
    } else throw new Error(`listMeterVersions ${input.id}: ${listed.code}`);
    await checkMeters(m, r);
    await checkAll(m, r, [], []);
  }
  toString = () => {
    const { prices, ...rest } = this.spec;
    const priceText = prices.map(
      (p) => `${p.priceMicro}/${p.perUnits}${p.unitsMax === undefined ? '' : `≤${p.unitsMax}`}`,
    );
    return `createMeter(${JSON.stringify(rest, (_, v) => (typeof v === 'bigint' ? `${v}` : v))}, prices=[${priceText}])`;
  };
}

/** Units per dimension slot (null: leave the dimension out), and how the usage is spoiled. */
interface UsageSpec {
  kind: 'units' | 'unknown' | 'at_max' | 'over_max' | 'empty' | 'repeat' | 'repeat_other';
  units: (number | null)[];
  /** Send units as JS numbers rather than bigints (the ledger takes both). */
  asNumber: boolean;
}

/** The usage (or estimate) a spec names on a meter version, in the model's form. */
function usageOf(spec: UsageSpec, meter: ModelMeter | undefined): Record<string, bigint> {
  const usage: Record<string, bigint> = {};
  if (spec.kind === 'empty') return usage;
  (meter?.unitPrices ?? []).forEach((price, i) => {
    const units = spec.units[i % spec.units.length];
    if (units !== null && units !== undefined) usage[price.dimension] = BigInt(units);
  });
  const first = meter?.unitPrices[0];
  if (spec.kind === 'at_max' && first !== undefined) usage[first.dimension] = first.unitsMax;
  if (spec.kind === 'over_max' && first !== undefined) usage[first.dimension] = first.unitsMax + 1n;
  if (spec.kind === 'unknown') usage.zz_unknown = 1n;
  return usage;
}

const wireUsage = (usage: Record<string, bigint>, asNumber: boolean) =>
  asNumber ? Object.fromEntries(Object.entries(usage).map(([d, u]) => [d, Number(u)])) : usage;

type MeteredRepeat = 'none' | 'same' | 'different' | 'other_scope';

class MeteredReserveCommand implements fc.AsyncCommand<ModelState, RealState> {
  constructor(
    readonly account: number,
    readonly meter: number,
    /** null: no estimate. */
    readonly estimate: UsageSpec | null,
    readonly repeat: MeteredRepeat,
  ) {}
  check = () => true;
  async run(m: ModelState, r: RealState): Promise<void> {
    const accountId = m.accounts[this.account % m.accounts.length] as string;
    const ids = [...m.model.meters.keys()];
    const meterId = ids.length === 0 ? 'm_none' : (ids[this.meter % ids.length] as string);
    const versions = m.model.meters.get(meterId) ?? [];
    const estimate = this.estimate === null ? undefined : usageOf(this.estimate, versions.at(-1));
    const input = {
      accountId: r.accountIds.get(accountId) as string,
      meterId: realMeterId(r, meterId),
      ...(estimate === undefined ? {} : { estimate: wireUsage(estimate, this.estimate?.asNumber ?? false) }),
    };
    const key = this.repeat === 'none' ? undefined : nextKey(r);
    const scope = this.repeat === 'other_scope' ? `${r.runTag}:alice` : undefined;
    const options = {
      ...(key === undefined ? {} : { idempotencyKey: key }),
      ...(scope ? { idempotencyScope: scope } : {}),
    };
    const modelInput = { accountId, meterId, ...(estimate === undefined ? {} : { estimate }) };
    const label = `${this.toString()} on ${meterId}`;
    const first = await this.compare(m, r, label, input, modelInput, options);
    if (first === null || key === undefined) return;
    if (this.repeat === 'same') {
      expect(await r.ledger.reserve(input, { idempotencyKey: key }), 'repeat, same key and body').toEqual(first);
    } else if (this.repeat === 'different') {
      const other = { ...input, estimate: estimate === undefined ? {} : undefined };
      const answer = await attemptReal(() => r.ledger.reserve(other, { idempotencyKey: key }));
      expect(answer.ok ? 'success' : answer.code, 'same key, other body').toBe('idempotency_key_reused');
    } else {
      // The same key in another caller's scope is another request: a second hold, checked like the first.
      await this.compare(m, r, `${label} (bob)`, input, modelInput, {
        idempotencyKey: key,
        idempotencyScope: `${r.runTag}:bob`,
      });
      expect(await r.ledger.reserve(input, options), 'alice repeats her key').toEqual(first);
    }
  }
  /** One reserve on both sides, compared; answers the ledger's result when both placed the hold. */
  async compare(
    m: ModelState,
    r: RealState,
    label: string,
    input: Parameters<RealState['ledger']['reserve']>[0],
    modelInput: Parameters<ModelState['model']['reserveMetered']>[0],
    options: { idempotencyKey?: string; idempotencyScope?: string },
  ): Promise<ReserveResult | null> {
    const real = await attemptReal(() => r.ledger.reserve(input, options));
    const model = attemptModel(() => m.model.reserveMetered(modelInput));
    const kind = `reserve by meter${this.estimate === null ? '' : ` (estimate ${this.estimate.kind})`}${this.repeat === 'none' ? '' : ` (${this.repeat} key)`}`;
    const pair = sameOutcome(kind, label, real, model);
    expectRefusalDetails(label, real, model);
    if (pair === null) {
      await checkAll(m, r, [], [modelInput.accountId]);
      return null;
    }
    const [result, hold] = pair;
    r.holdIds.set(hold.id, result.reservation.id);
    const meter = m.model.meterVersion(hold.meterId as string, hold.meterVersion as number);
    if (hold.amountMicro > meter.holdMicro) note('reserve by meter → hold sized by the estimate');
    if (meter.maxCostMicro !== null && hold.amountMicro === meter.maxCostMicro)
      note('reserve by meter → hold at maxCost');
    expectReservation(r, result, hold);
    expectBalance('reserve by meter result', result.balance, m.model.balance(hold.accountId));
    for (const lot of result.lots) {
      expect(lotBuckets(lot), 'lot touched').toEqual(lotBuckets(m.model.lot(r.lotModelIds.get(lot.id) as string)));
    }
    await checkAll(m, r, [hold], [hold.accountId]);
    return result;
  }
  toString = () =>
    `reserveByMeter(A${this.account % accountsPerRun}, #${this.meter}, estimate=${this.estimate === null ? 'none' : JSON.stringify(this.estimate)}, repeat=${this.repeat})`;
}

function expectReservation(r: RealState, result: ReserveResult, hold: ModelHold): void {
  const reservation = result.reservation;
  expect(
    {
      status: reservation.status,
      amountMicro: reservation.amountMicro,
      poolId: reservation.poolId,
      billingMode: reservation.billingMode,
      expiresAtMs: reservation.expiresAt.getTime(),
      meterId: reservation.meterId,
      meterVersion: reservation.meterVersion,
      usage: reservation.usage,
      lots: reservation.lots.map((p) => ({ lotId: r.lotModelIds.get(p.lotId), amountMicro: p.amountMicro })),
    },
    'reservation by meter',
  ).toEqual({
    status: 'pending',
    amountMicro: hold.amountMicro,
    poolId: hold.poolId,
    billingMode: hold.billingMode,
    expiresAtMs: hold.expiresAtMs,
    meterId: realMeterId(r, hold.meterId as string),
    meterVersion: hold.meterVersion,
    usage: null,
    lots: hold.lots,
  });
}

class UsageFinalizeCommand implements fc.AsyncCommand<ModelState, RealState> {
  constructor(
    readonly hold: number,
    readonly pick: 'metered_pending' | 'metered' | 'any',
    readonly usage: UsageSpec,
  ) {}
  check = (m: Readonly<ModelState>) => m.model.holds.length > 0;
  /** The hold to finalize: among the metered (pending) holds when asked and there are any. */
  pickHold(m: ModelState): ModelHold {
    const metered = m.model.holds.filter((h) => h.meterId !== null);
    const pending = metered.filter((h) => m.model.holdStatus(h) === 'pending');
    const from =
      this.pick === 'metered_pending' && pending.length > 0
        ? pending
        : this.pick !== 'any' && metered.length > 0
          ? metered
          : m.model.holds;
    return from[this.hold % from.length] as ModelHold;
  }
  /** The usage to report: a fresh one on the hold's version, or the first finalize's (changed or not). */
  usageFor(m: ModelState, hold: ModelHold): Record<string, bigint> {
    const meter =
      hold.meterId === null
        ? [...m.model.meters.values()][0]?.at(-1)
        : m.model.meterVersion(hold.meterId, hold.meterVersion as number);
    if (this.usage.kind === 'repeat' && hold.usage !== null) return { ...hold.usage };
    if (this.usage.kind === 'repeat_other' && hold.usage !== null) {
      const [dimension, units] = Object.entries(hold.usage)[0] ?? ['request', 0n];
      return { ...hold.usage, [dimension]: units + 1n };
    }
    const usage = usageOf(this.usage, meter);
    return hold.meterId === null && Object.keys(usage).length === 0 ? { request: 1n } : usage;
  }
  async run(m: ModelState, r: RealState): Promise<void> {
    const hold = this.pickHold(m);
    const usage = this.usageFor(m, hold);
    const repeat = hold.finalized !== null;
    const olderVersion =
      hold.meterId !== null && (m.model.meters.get(hold.meterId)?.at(-1)?.version ?? 0) > (hold.meterVersion ?? 0);
    const reservationId = r.holdIds.get(hold.id) as string;
    const real = await attemptReal(() =>
      r.ledger.finalize({ reservationId, usage: wireUsage(usage, this.usage.asNumber) }),
    );
    const model = attemptModel(() => m.model.finalizeByUsage(hold.id, usage));
    const kind = `finalize by usage ${hold.meterId === null ? 'raw' : hold.billingMode} (${this.usage.kind})`;
    const pair = sameOutcome(
      kind,
      `${this.toString()} on ${hold.id} usage ${JSON.stringify(wireUsage(usage, true))}`,
      real,
      model,
    );
    if (pair) {
      const [result, { outcome, pricing }] = pair;
      if (olderVersion && !repeat) note('finalize by usage → priced under an older version');
      if (pricing.capped) note('finalize by usage → capped at maxCost');
      if (outcome.uncollectedMicro > 0n) note(`finalize by usage ${hold.billingMode} → uncollected`);
      expect(result.pricing, 'pricing').toEqual({ ...pricing, meterId: realMeterId(r, pricing.meterId) });
      expect(
        {
          status: result.reservation.status,
          chargedMicro: result.chargedMicro,
          releasedMicro: result.releasedMicro,
          overrunMicro: result.overrunMicro,
          uncollectedMicro: result.uncollectedMicro,
          actualCostMicro: result.reservation.actualCostMicro,
          usage: result.reservation.usage,
        },
        'finalize by usage',
      ).toEqual({ status: 'finalized', ...outcome, usage: hold.usage });
      if (!repeat) expectBalance('finalize by usage result', result.balance, m.model.balance(hold.accountId));
    }
    await checkAll(m, r, [hold], [hold.accountId]);
  }
  toString = () => `finalizeByUsage(#${this.hold}, ${this.pick}, ${JSON.stringify(this.usage)})`;
}

/**
 * Reserve by meter, then (maybe) a new version of that meter with other prices and (maybe) a clock move, then finalize
 * the new hold by usage: the charge must follow the version the hold recorded.
 */
class MeteredCycleCommand implements fc.AsyncCommand<ModelState, RealState> {
  constructor(
    readonly reserve: MeteredReserveCommand,
    readonly reprice: MeterSpec | null,
    readonly advanceMs: number,
    readonly usage: UsageSpec,
  ) {}
  check = () => true;
  async run(m: ModelState, r: RealState): Promise<void> {
    const holdsBefore = m.model.holds.length;
    await this.reserve.run(m, r);
    const hold = m.model.holds.at(-1);
    if (m.model.holds.length === holdsBefore || hold?.meterId == null) return;
    if (this.reprice !== null) {
      const target = [...m.model.meters.keys()].indexOf(hold.meterId);
      await new CreateMeterCommand({ ...this.reprice, fresh: false, target, defect: 'none' }).run(m, r);
    }
    if (this.advanceMs > 0) {
      m.model.advance(this.advanceMs);
      r.clock.advance(this.advanceMs);
    }
    await new UsageFinalizeCommand(m.model.holds.indexOf(hold), 'any', this.usage).run(m, r);
  }
  toString = () =>
    `cycle(${this.reserve}, reprice=${this.reprice === null ? 'no' : new CreateMeterCommand(this.reprice)}, advance=${this.advanceMs}ms, usage=${JSON.stringify(this.usage)})`;
}

/** A cap: none, a fixed amount, or the period's spend now plus a little (so the next holds meet it). */
type CapSpec = { kind: 'none' } | { kind: 'fixed'; capMicro: bigint } | { kind: 'above_spend'; extraMicro: bigint };

class SpendCapsCommand implements fc.AsyncCommand<ModelState, RealState> {
  constructor(
    readonly account: number,
    readonly daily: CapSpec,
    readonly monthly: CapSpec,
    readonly repeat: Repeat = 'none',
  ) {}
  check = () => true;
  async run(m: ModelState, r: RealState): Promise<void> {
    const accountId = m.accounts[this.account % m.accounts.length] as string;
    const spend = m.model.spend(accountId);
    const capOf = (spec: CapSpec, spentMicro: bigint): bigint | null =>
      spec.kind === 'none' ? null : spec.kind === 'fixed' ? spec.capMicro : spentMicro + spec.extraMicro;
    const dailyCapMicro = capOf(this.daily, spend.daySpentMicro);
    const monthlyCapMicro = capOf(this.monthly, spend.monthSpentMicro);
    const input = {
      accountId: r.accountIds.get(accountId) as string,
      dailyCapMicro,
      monthlyCapMicro,
      actor: modelActor,
    };
    const options = this.repeat === 'none' ? {} : { idempotencyKey: nextKey(r) };
    const real = await attemptReal(() => r.ledger.setSpendCaps(input, options));
    const model = attemptModel(() => m.model.setSpendCaps(accountId, dailyCapMicro, monthlyCapMicro, modelActor));
    const kind = `${dailyCapMicro === null && monthlyCapMicro === null ? 'clearSpendCaps' : 'setSpendCaps'}${this.repeat === 'none' ? '' : ` (${this.repeat} key)`}`;
    const pair = sameOutcome(kind, this.toString(), real, model);
    if (pair) {
      expectSpendCaps('setSpendCaps result', pair[0], pair[1]);
      await expectRepeat(this.repeat, pair[0], (other) =>
        r.ledger.setSpendCaps(other ? { ...input, actor: `${modelActor}-2` } : input, options),
      );
    }
    await checkAll(m, r, [], [accountId]);
  }
  toString = () =>
    `spendCaps(A${this.account % accountsPerRun}, daily=${JSON.stringify(this.daily, big)}, monthly=${JSON.stringify(this.monthly, big)})`;
}
const big = (_: string, v: unknown) => (typeof v === 'bigint' ? `${v}` : v);

/** A write repeated with its key: the same body answers the first result; another body is refused. */
async function expectRepeat<T>(repeat: Repeat, first: T, again: (otherBody: boolean) => Promise<T>): Promise<void> {
  if (repeat === 'same') expect(await again(false), 'repeat with the same key and body').toEqual(first);
  if (repeat === 'different') {
    const other = await attemptReal(() => again(true));
    expect(other.ok ? 'success' : other.code, 'same key, other body').toBe('idempotency_key_reused');
  }
}

/** Moves the clock to just before, at or just after the next UTC midnight or first of the month. */
class AdvanceToBoundaryCommand implements fc.AsyncCommand<ModelState, RealState> {
  constructor(
    readonly boundary: 'day' | 'month',
    readonly offsetMs: number,
  ) {}
  check = () => true;
  async run(m: ModelState, r: RealState): Promise<void> {
    const now = new Date(m.model.nowMs);
    const nextMs =
      this.boundary === 'day'
        ? Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1)
        : Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1);
    const deltaMs = Math.max(0, nextMs + this.offsetMs - m.model.nowMs);
    note(`advance to the next ${this.boundary} ${this.offsetMs < 0 ? '(just before)' : '(at or after)'}`);
    m.model.advance(deltaMs);
    r.clock.advance(deltaMs);
    await checkMeters(m, r);
    await checkAll(m, r, m.model.holds);
  }
  toString = () => `advanceTo(${this.boundary} ${this.offsetMs >= 0 ? '+' : ''}${this.offsetMs}ms)`;
}

/** Input the ledger refuses before any I/O for the new forms; nothing changes. */
class BadMeteredInputCommand implements fc.AsyncCommand<ModelState, RealState> {
  constructor(readonly kind: 'zero_cap' | 'negative_usage' | 'meter_and_amount' | 'estimate_without_meter') {}
  check = () => true;
  async run(m: ModelState, r: RealState): Promise<void> {
    const accountId = r.accountIds.get(m.accounts[0] as string) as string;
    const meterId = realMeterId(r, 'm0');
    const cases = {
      zero_cap: [
        () => r.ledger.setSpendCaps({ accountId, dailyCapMicro: 0n, monthlyCapMicro: null, actor: modelActor }),
        'invalid_amount',
      ],
      negative_usage: [
        () => r.ledger.finalize({ reservationId: `res_missing_${r.runTag}`, usage: { request: -1 } }),
        'invalid_usage',
      ],
      meter_and_amount: [() => r.ledger.reserve({ accountId, meterId, amountMicro: 1n } as never), 'invalid_argument'],
      estimate_without_meter: [
        () => r.ledger.reserve({ accountId, amountMicro: 1n, estimate: { request: 1 } } as never),
        'invalid_argument',
      ],
    } as const;
    const [op, code] = cases[this.kind];
    const real = await attemptReal<unknown>(op);
    note(`bad ${this.kind} → ${real.ok ? 'success' : real.code}`);
    expect(real.ok ? 'success' : real.code, this.kind).toBe(code);
    await checkAll(m, r, [], [m.accounts[0] as string]);
  }
  toString = () => `bad(${this.kind})`;
}

const unitsArb = fc.oneof(
  { weight: 3, arbitrary: fc.nat({ max: 20 }) },
  { weight: 3, arbitrary: fc.nat({ max: 3_000 }) },
  { weight: 1, arbitrary: fc.nat({ max: 2_000_000 }) },
);
const usageSpecArb = (kinds: UsageSpec['kind'][]) =>
  fc.record({
    kind: fc.constantFrom(...kinds),
    units: fc.array(fc.option(unitsArb, { nil: null, freq: 4 }), { minLength: 3, maxLength: 3 }),
    asNumber: fc.boolean(),
  });
/** Prices of about 0–2 micro per unit mostly (holds and charges the size of the funding), now and then dearer. */
const priceArb: fc.Arbitrary<PriceSpec> = fc
  .tuple(
    fc.oneof(
      { weight: 3, arbitrary: fc.tuple(fc.constant(1n), fc.bigInt({ min: 0n, max: 2n })) },
      { weight: 2, arbitrary: fc.tuple(fc.constantFrom(3n, 7n), fc.bigInt({ min: 0n, max: 10n })) },
      { weight: 2, arbitrary: fc.tuple(fc.constant(1_000n), fc.bigInt({ min: 0n, max: 2_000n })) },
      { weight: 2, arbitrary: fc.tuple(fc.constant(1_000_000n), fc.bigInt({ min: 0n, max: 2_000_000n })) },
      { weight: 1, arbitrary: fc.tuple(fc.constant(1n), fc.bigInt({ min: 3n, max: 2_000n })) },
    ),
    fc.constantFrom(undefined, undefined, undefined, undefined, 10n, 1_000n, 100_000n),
  )
  .map(([[perUnits, priceMicro], unitsMax]) => ({ priceMicro, perUnits, unitsMax }));
const meterSpecArb = (defects: MeterSpec['defect'][], fresh: fc.Arbitrary<boolean>): fc.Arbitrary<MeterSpec> =>
  fc.record({
    fresh,
    target: fc.nat({ max: 10 }),
    dimensions: fc.shuffledSubarray([...dimensionNames], { minLength: 1, maxLength: 3 }),
    prices: fc.array(priceArb, { minLength: 3, maxLength: 3 }),
    pool: fc.nat({ max: poolIds.length - 1 }),
    billingMode: fc.constantFrom<ModelBillingMode | undefined>(undefined, ...billingModes),
    holdMicro: fc.oneof(fc.bigInt({ min: 1n, max: 300n }), fc.bigInt({ min: 1n, max: 3_000n })),
    maxCostExtraMicro: fc.option(fc.bigInt({ min: 0n, max: 1_500n }), { nil: null }),
    ttlSeconds: fc.constantFrom(undefined, undefined, 1, 60, 300, 3_600, 172_800),
    effectiveInMs: fc.constantFrom(undefined, undefined, undefined, 0, -1, 1, 60_000, 3_600_000),
    defect: fc.constantFrom(...defects),
    repeat: fc.constantFrom<Repeat>('none', 'none', 'none', 'none', 'same', 'different'),
  });

/** Caps of 200–3000 micro on one account, or none. */
const setupCapArb: fc.Arbitrary<CapSpec> = fc.oneof(
  { weight: 1, arbitrary: fc.constant({ kind: 'none' as const }) },
  {
    weight: 2,
    arbitrary: fc.bigInt({ min: 200n, max: 3_000n }).map((capMicro) => ({ kind: 'fixed' as const, capMicro })),
  },
);

/**
 * What a run starts with after its funding: one or two meters, so that most runs reserve by meter from the start,
 * and in about half the runs caps on one account.
 */
export const meterSetupArb = fc
  .tuple(
    fc.array(meterSpecArb(['none'], fc.constant(true)), { minLength: 1, maxLength: 2 }),
    fc.option(fc.tuple(fc.nat({ max: accountsPerRun - 1 }), setupCapArb, setupCapArb), { nil: null }),
  )
  .map(([specs, caps]) => [
    ...specs.map((spec) => new CreateMeterCommand({ ...spec, effectiveInMs: undefined, repeat: 'none' })),
    ...(caps === null ? [] : [new SpendCapsCommand(...caps)]),
  ]);

/** The issue-11 commands, weighted by repetition like the core ones (fc.commands picks uniformly). */
export const meterCommandArbs = (() => {
  const createMeterArb = meterSpecArb(
    [
      'none',
      'none',
      'none',
      'none',
      'none',
      'none',
      'empty',
      'duplicate',
      'line_overflow',
      'total_overflow',
      'hold_above_max',
    ],
    fc.boolean(),
  ).map((spec) => new CreateMeterCommand(spec));
  const reserveArb = fc
    .tuple(
      fc.nat({ max: accountsPerRun - 1 }),
      fc.nat({ max: 10 }),
      fc.option(usageSpecArb(['units', 'units', 'units', 'unknown', 'over_max', 'empty']), { nil: null }),
      fc.constantFrom<MeteredRepeat>('none', 'none', 'none', 'none', 'none', 'same', 'different', 'other_scope'),
    )
    .map((a) => new MeteredReserveCommand(...a));
  const finalizeArb = fc
    .tuple(
      fc.nat({ max: 1_000 }),
      fc.constantFrom('metered_pending', 'metered_pending', 'metered_pending', 'metered', 'any'),
      usageSpecArb([
        'units',
        'units',
        'units',
        'units',
        'unknown',
        'at_max',
        'over_max',
        'empty',
        'repeat',
        'repeat_other',
      ]),
    )
    .map((a) => new UsageFinalizeCommand(...a));
  const capArb: fc.Arbitrary<CapSpec> = fc.oneof(
    { weight: 2, arbitrary: fc.constant({ kind: 'none' as const }) },
    {
      weight: 1,
      arbitrary: fc.bigInt({ min: 1n, max: 5_000n }).map((capMicro) => ({ kind: 'fixed' as const, capMicro })),
    },
    {
      weight: 3,
      arbitrary: fc.bigInt({ min: 1n, max: 300n }).map((extraMicro) => ({ kind: 'above_spend' as const, extraMicro })),
    },
  );
  const capsArb = fc
    .tuple(
      fc.nat({ max: accountsPerRun - 1 }),
      capArb,
      capArb,
      fc.constantFrom<Repeat>('none', 'none', 'none', 'none', 'same', 'different'),
    )
    .map((a) => new SpendCapsCommand(...a));
  const boundaryArb = fc
    .tuple(fc.constantFrom<'day' | 'month'>('day', 'day', 'day', 'month'), fc.constantFrom(-1, 0, 1, 60_000))
    .map((a) => new AdvanceToBoundaryCommand(...a));
  const badArb = fc
    .constantFrom('zero_cap', 'negative_usage', 'meter_and_amount', 'estimate_without_meter' as const)
    .map((k) => new BadMeteredInputCommand(k));
  const cycleArb = fc
    .tuple(
      reserveArb,
      fc.option(meterSpecArb(['none'], fc.constant(false)), { nil: null, freq: 3 }),
      fc.constantFrom(0, 0, 1_000, 299_999, 300_000),
      usageSpecArb(['units', 'units', 'units', 'units', 'units', 'unknown', 'at_max', 'over_max', 'empty']),
    )
    .map((a) => new MeteredCycleCommand(...a));
  return [
    cycleArb,
    cycleArb,
    cycleArb,
    cycleArb,
    createMeterArb,
    createMeterArb,
    reserveArb,
    reserveArb,
    reserveArb,
    finalizeArb,
    finalizeArb,
    capsArb,
    capsArb,
    boundaryArb,
    badArb,
  ];
})();
