/**
 * What every command of the model-based test shares (see `ledger-model-property.ts`): the two sides of a run, how an
 * outcome is compared, and the checks after each step — balances, lots, holds (meter fields and usage included),
 * spend caps and spend, meters in force, and `verify()`.
 */
import { expect } from 'vitest';
import { LedgerError } from '../errors.js';
import type { Ledger } from '../index.js';
import { amountMicroMax } from '../limits.js';
import type { Meter } from '../meters/types.js';
import type { Balance, Lot, SpendCaps } from '../types.js';
import {
  type LedgerModel,
  type ModelBalance,
  type ModelBillingMode,
  ModelError,
  type ModelHold,
  type ModelLot,
  type ModelMeter,
  type ModelSpendCaps,
} from './ledger-model.js';

export const accountsPerRun = 3;
export const poolIds = ['general', 'p1', 'p2'] as const;
export const billingModes: ModelBillingMode[] = ['live', 'soft', 'shadow'];
/** Who creates meters and sets caps in the model test. */
export const modelActor = 'model-admin';

/** The ledger's clock in this test: moved by the commands and between runs, never by the wall. */
export class TestClock {
  #nowMs = Date.UTC(2026, 0, 1);
  nowMs(): number {
    return this.#nowMs;
  }
  advance(deltaMs: number): void {
    this.#nowMs += deltaMs;
  }
}

/** Model side of one run: the reference model plus what the commands pick from. */
export interface ModelState {
  model: LedgerModel;
  accounts: string[];
  /** `sourceId`s minted in this run (a duplicate mint re-uses one). */
  sourceIds: string[];
}

/** Real side of one run: the ledger and the model-id ↔ ledger-id maps. */
export interface RealState {
  ledger: Ledger;
  clock: TestClock;
  runTag: string;
  accountIds: Map<string, string>;
  lotIds: Map<string, string>;
  lotModelIds: Map<string, string>;
  holdIds: Map<string, string>;
  keys: number;
}

/** The ledger id of a model meter id (`m0`, `m1`, …): unique per run, as runs share a database. */
export const realMeterId = (r: RealState, modelMeterId: string): string => `${r.runTag}-${modelMeterId}`;

export type Outcome<T> = { ok: true; value: T } | { ok: false; code: string; error: unknown };

export async function attemptReal<T>(op: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await op() };
  } catch (error) {
    if (error instanceof LedgerError) return { ok: false, code: error.code, error };
    throw error;
  }
}

export function attemptModel<T>(op: () => T): Outcome<T> {
  try {
    return { ok: true, value: op() };
  } catch (error) {
    if (error instanceof ModelError) return { ok: false, code: error.code, error };
    throw error;
  }
}

/** How often each kind of command ended how (printed after each property, to show what the runs covered). */
export const tally = new Map<string, number>();
export function note(key: string): void {
  tally.set(key, (tally.get(key) ?? 0) + 1);
}

/** Both succeed, or both fail with the same code. Returns the pair when both succeeded. */
export function sameOutcome<R, M>(kind: string, label: string, real: Outcome<R>, model: Outcome<M>): [R, M] | null {
  note(`${kind} → ${model.ok ? 'ok' : model.code}`);
  if (real.ok && model.ok) return [real.value, model.value];
  const describeOutcome = (o: Outcome<unknown>) =>
    o.ok ? 'success' : `${o.code} (${o.error instanceof Error ? o.error.message : String(o.error)})`;
  if (real.ok || model.ok || real.code !== model.code) {
    throw new Error(`${label}: ledger answered ${describeOutcome(real)}, model ${describeOutcome(model)}`);
  }
  return null;
}

/**
 * For refusals whose details carry amounts (`insufficient_credits`, `spend_cap_exceeded`), the ledger's amounts must
 * be the model's.
 */
export function expectRefusalDetails(label: string, real: Outcome<unknown>, model: Outcome<unknown>): void {
  if (real.ok || model.ok || real.code !== model.code) return;
  const details = (model.error as ModelError).details;
  if (real.code === 'insufficient_credits') {
    expect(real.error, `${label}: insufficient_credits amounts`).toMatchObject({
      requestedMicro: details.requestedMicro,
      availableMicro: details.availableMicro,
      shortfallMicro: details.shortfallMicro,
      poolId: details.poolId,
    });
  } else if (real.code === 'spend_cap_exceeded') {
    note(`spend_cap_exceeded → ${details.period} cap`);
    expect((real.error as LedgerError).details, `${label}: spend_cap_exceeded details`).toMatchObject({
      period: details.period,
      periodStart: new Date(details.periodStartMs as number).toISOString(),
      spentMicro: String(details.spentMicro),
      capMicro: String(details.capMicro),
      requestedMicro: String(details.requestedMicro),
    });
  }
}

const normalizeBalance = (b: Balance | ModelBalance) => ({
  availableMicro: b.availableMicro,
  reservedMicro: b.reservedMicro,
  debtMicro: b.debtMicro,
  pools: b.pools
    .filter((p) => p.availableMicro !== 0n || p.reservedMicro !== 0n)
    .map((p) => ({ poolId: p.poolId, availableMicro: p.availableMicro, reservedMicro: p.reservedMicro }))
    .sort((a, c) => (a.poolId < c.poolId ? -1 : a.poolId > c.poolId ? 1 : 0)),
});

export const lotBuckets = (l: Lot | ModelLot) => ({
  poolId: l.poolId,
  originalMicro: l.originalMicro,
  availableMicro: l.availableMicro,
  reservedMicro: l.reservedMicro,
  consumedMicro: l.consumedMicro,
  expiredMicro: l.expiredMicro,
  refundedMicro: l.refundedMicro,
});

export function expectBalance(label: string, real: Balance, model: ModelBalance): void {
  expect(normalizeBalance(real), `${label}: balance`).toEqual(normalizeBalance(model));
}

/** A `SpendCaps` answer in the model's shape (times as ms). */
const spendCapsView = (caps: SpendCaps) => ({
  dailyCapMicro: caps.dailyCapMicro,
  monthlyCapMicro: caps.monthlyCapMicro,
  updatedBy: caps.updatedBy,
  updatedAtMs: caps.updatedAt?.getTime() ?? null,
  daily: {
    periodStartMs: caps.daily.periodStart.getTime(),
    spentMicro: caps.daily.spentMicro,
    capMicro: caps.daily.capMicro,
  },
  monthly: {
    periodStartMs: caps.monthly.periodStart.getTime(),
    spentMicro: caps.monthly.spentMicro,
    capMicro: caps.monthly.capMicro,
  },
});

export function expectSpendCaps(label: string, real: SpendCaps, model: ModelSpendCaps): void {
  expect(spendCapsView(real), `${label}: spend caps`).toEqual(model);
}

/**
 * Compares one account's balance, every lot (buckets and expiry), and its caps with the spend of the current UTC day
 * and month (a refused reserve that left a hold behind would show in the spend).
 */
async function checkAccount(m: ModelState, r: RealState, accountId: string): Promise<void> {
  const realId = r.accountIds.get(accountId) as string;
  const [balance, realLots, caps] = await Promise.all([
    r.ledger.getBalance(realId),
    r.ledger.listLots(realId, { includeEmpty: true }),
    r.ledger.getSpendCaps(realId),
  ]);
  expectBalance(`account ${accountId}`, balance, m.model.balance(accountId));
  // Debt never sits beside spendable credit: refunds and returned holds pay it first.
  if (balance.debtMicro > 0n) {
    note('account in debt');
    expect(balance.availableMicro, `account ${accountId}: available while in debt`).toBe(0n);
  }
  expectSpendCaps(`account ${accountId}`, caps, m.model.spendCaps(accountId));
  const modelLots = m.model.accountLots(accountId);
  expect(realLots.map((l) => r.lotModelIds.get(l.id)).sort(), `account ${accountId}: lots listed`).toEqual(
    modelLots.map((l) => l.id).sort(),
  );
  for (const realLot of realLots) {
    const modelLot = m.model.lot(r.lotModelIds.get(realLot.id) as string);
    expect(lotBuckets(realLot), `lot ${modelLot.id}`).toEqual(lotBuckets(modelLot));
    expect(realLot.expiresAt?.getTime() ?? null, `lot ${modelLot.id}: expiresAt`).toBe(modelLot.expiresAtMs);
  }
}

/** Compares a hold's status, lots, meter version and usage with the model. */
async function checkHold(m: ModelState, r: RealState, hold: ModelHold): Promise<void> {
  const real = await r.ledger.getReservation(r.holdIds.get(hold.id) as string);
  expect(
    {
      status: real.status,
      amountMicro: real.amountMicro,
      createdAtMs: real.createdAt.getTime(),
      meterId: real.meterId,
      meterVersion: real.meterVersion,
      usage: real.usage,
    },
    `hold ${hold.id}`,
  ).toEqual({
    status: m.model.holdStatus(hold),
    amountMicro: hold.amountMicro,
    createdAtMs: hold.createdAtMs,
    meterId: hold.meterId === null ? null : realMeterId(r, hold.meterId),
    meterVersion: hold.meterVersion,
    usage: hold.usage,
  });
  expect(
    real.lots.map((p) => ({ lotId: r.lotModelIds.get(p.lotId), amountMicro: p.amountMicro })),
    `hold ${hold.id}: lots`,
  ).toEqual(hold.lots);
}

/** A ledger meter in the model's shape. */
export const meterView = (meter: Meter) => ({
  id: meter.id,
  version: meter.version,
  poolId: meter.poolId,
  billingMode: meter.billingMode,
  holdMicro: meter.holdMicro,
  maxCostMicro: meter.maxCostMicro,
  ttlSeconds: meter.ttlSeconds,
  unitPrices: meter.unitPrices,
  effectiveAtMs: meter.effectiveAt.getTime(),
  createdBy: meter.createdBy,
  createdAtMs: meter.createdAt.getTime(),
});
export const modelMeterView = (r: RealState, meter: ModelMeter) => ({ ...meter, id: realMeterId(r, meter.id) });

/** Every meter of the run: the version in force now (or none) as the model has it, read one by one and listed. */
export async function checkMeters(m: ModelState, r: RealState): Promise<void> {
  const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  const listed = (await r.ledger.listMeters()).filter((meter) => meter.id.startsWith(`${r.runTag}-`));
  const inForce = [...m.model.meters.keys()].flatMap((id) => {
    const meter = attemptModel(() => m.model.meterInForce(id));
    return meter.ok ? [modelMeterView(r, meter.value)] : [];
  });
  expect(listed.map(meterView).sort(byId), 'listMeters').toEqual(inForce.sort(byId));
  for (const meterId of m.model.meters.keys()) {
    const real = await attemptReal(() => r.ledger.getMeter(realMeterId(r, meterId)));
    const model = attemptModel(() => m.model.meterInForce(meterId));
    if (real.ok && model.ok) {
      expect(meterView(real.value), `meter ${meterId} in force`).toEqual(modelMeterView(r, model.value));
    } else {
      expect(real.ok ? 'in force' : real.code, `meter ${meterId} in force`).toBe(model.ok ? 'in force' : model.code);
    }
  }
}

/** Where the wall time of a property went (printed with the tally). */
export const timeMs = { checks: 0, verify: 0 };

/**
 * After every step: the accounts the step touched (every account after a clock move or a sweep, which touch them
 * all), the given holds, and the whole journal.
 */
export async function checkAll(
  m: ModelState,
  r: RealState,
  holds: ModelHold[],
  accounts: readonly string[] = m.accounts,
): Promise<void> {
  note('steps checked');
  const t0 = performance.now();
  for (const accountId of accounts) await checkAccount(m, r, accountId);
  for (const hold of holds) await checkHold(m, r, hold);
  const t1 = performance.now();
  const report = await r.ledger.verify();
  timeMs.checks += t1 - t0;
  timeMs.verify += performance.now() - t1;
  expect(report.violations, 'verify() violations').toEqual([]);
  expect(report.ok).toBe(true);
}

export function nextKey(r: RealState): string {
  r.keys += 1;
  return `${r.runTag}-k${r.keys}`;
}
export type Repeat = 'none' | 'same' | 'different';
/** Another valid amount, for the same key with a different body. */
export const otherAmount = (amountMicro: bigint) =>
  amountMicro === amountMicroMax ? amountMicro - 1n : amountMicro + 1n;
