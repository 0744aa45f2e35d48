/**
 * Decoders of the gateway's answer bodies into the ledger's own types (bigint amounts, `Date` times). Each checks
 * every field it reads and the invariants the ledger guarantees (shares sum to the charge, pricing lines to the
 * subtotal), and throws `WireShapeError` on the first mismatch.
 */
import { dimensionPattern, wireTtlSecondsMax } from '../limits.js';
import type { Meter, MeterUnitPrice, Pricing, PricingLine } from '../meters/types.js';
import type {
  Balance,
  BillingMode,
  Distribution,
  DistributionKind,
  HoldLot,
  PoolBalance,
  PoolShares,
  Reservation,
  ReservationStatus,
  RevenuePool,
  RevenueRuleSchemaVersion,
} from '../types.js';
import type { GatewayFinalizeResult, GatewayReleaseResult, GatewayReserveResult } from './types.js';
import {
  readBoolean,
  readDigits,
  readInteger,
  readIntegerOrNull,
  readList,
  readMember,
  readMicro,
  readMicroOrNull,
  readObject,
  readText,
  readTextOrNull,
  readTime,
  readTimeOrNull,
  type WireObject,
  WireShapeError,
} from './wire.js';

// Every member of each union, listed once (the `satisfies` fails to compile when the ledger adds or drops one).
const reservationStatusSet = { pending: true, finalized: true, released: true, expired: true } satisfies Record<
  ReservationStatus,
  true
>;
const billingModeSet = { live: true, soft: true, shadow: true } satisfies Record<BillingMode, true>;
const distributionKindSet = { charge: true, reversal: true } satisfies Record<DistributionKind, true>;
const revenuePoolSet = {
  commons: true,
  community: true,
  foundation: true,
  referrer: true,
  treasury: true,
} satisfies Record<RevenuePool, true>;
const ruleSchemaVersions: readonly RevenueRuleSchemaVersion[] = [1, 2];
const revenuePoolList = Object.keys(revenuePoolSet) as RevenuePool[];

/** Largest meter or rule version decoded. */
export const wireVersionMax = 2_147_483_647;

/** Most dimensions one usage map may carry (a meter prices at most 32). */
export const wireUsageDimensionsMax = 64;

/**
 * A balance body (`GET /v1/accounts/{id}/balance`, and `balance` of every write answer).
 *
 * @throws {WireShapeError} when a field breaks the wire shape.
 * @example
 * const balance = decodeBalance(await response.json(), 'balance');
 */
export function decodeBalance(value: unknown, path: string): Balance {
  const o = readObject(value, path);
  return {
    accountId: readText(o, 'accountId', path),
    availableMicro: readMicro(o, 'availableMicro', path),
    reservedMicro: readMicro(o, 'reservedMicro', path),
    debtMicro: readMicro(o, 'debtMicro', path),
    pools: readList(o, 'pools', path, decodePoolBalance),
    asOf: readTime(o, 'asOf', path),
  };
}

function decodePoolBalance(value: unknown, path: string): PoolBalance {
  const o = readObject(value, path);
  return {
    poolId: readText(o, 'poolId', path),
    availableMicro: readMicro(o, 'availableMicro', path),
    reservedMicro: readMicro(o, 'reservedMicro', path),
  };
}

function decodeHoldLot(value: unknown, path: string): HoldLot {
  const o = readObject(value, path);
  return { lotId: readText(o, 'lotId', path), amountMicro: readMicro(o, 'amountMicro', path) };
}

function decodeUsageOrNull(o: WireObject, key: string, path: string): Record<string, bigint> | null {
  if (o[key] === null) return null;
  const usage = readObject(o[key], `${path}.${key}`);
  const entries = Object.entries(usage);
  if (entries.length > wireUsageDimensionsMax) {
    throw new WireShapeError(`${path}.${key}`, `at most ${wireUsageDimensionsMax} dimensions`, entries.length);
  }
  const units: Record<string, bigint> = {};
  for (const [dimension, value] of entries) {
    if (!dimensionPattern.test(dimension)) {
      throw new WireShapeError(`${path}.${key}`, 'dimension names of a-z 0-9 _', dimension);
    }
    units[dimension] = readDigits(value, `${path}.${key}.${dimension}`);
  }
  return units;
}

/**
 * A hold body (`GET /v1/reservations/{id}`; the fields of the reserve and release answers; `reservation` of the
 * finalize answer).
 *
 * @throws {WireShapeError} when a field breaks the wire shape.
 * @example
 * const reservation = decodeReservation(await response.json(), 'reservation');
 */
export function decodeReservation(value: unknown, path: string): Reservation {
  const o = readObject(value, path);
  const meterId = readTextOrNull(o, 'meterId', path);
  const meterVersion = readIntegerOrNull(o, 'meterVersion', path, 1, wireVersionMax);
  if ((meterId === null) !== (meterVersion === null)) {
    throw new WireShapeError(`${path}.meterVersion`, 'null exactly when meterId is null', meterVersion);
  }
  return {
    id: readText(o, 'id', path),
    accountId: readText(o, 'accountId', path),
    poolId: readText(o, 'poolId', path),
    amountMicro: readMicro(o, 'amountMicro', path),
    status: readMember(o, 'status', path, reservationStatusSet),
    billingMode: readMember(o, 'billingMode', path, billingModeSet),
    expiresAt: readTime(o, 'expiresAt', path),
    createdAt: readTime(o, 'createdAt', path),
    resolvedAt: readTimeOrNull(o, 'resolvedAt', path),
    actualCostMicro: readMicroOrNull(o, 'actualCostMicro', path),
    chargedMicro: readMicroOrNull(o, 'chargedMicro', path),
    overrunMicro: readMicroOrNull(o, 'overrunMicro', path),
    uncollectedMicro: readMicroOrNull(o, 'uncollectedMicro', path),
    meterId,
    meterVersion,
    usage: decodeUsageOrNull(o, 'usage', path),
    lots: readList(o, 'lots', path, decodeHoldLot),
  };
}

function decodeShares(value: unknown, path: string): PoolShares {
  const o = readObject(value, path);
  const shares = {} as PoolShares;
  for (const pool of revenuePoolList) shares[pool] = readMicro(o, pool, path);
  return shares;
}

/**
 * A distribution body (`distribution` of the finalize answer): its shares must sum to `amountMicro`.
 *
 * @throws {WireShapeError} when a field breaks the wire shape or the shares do not sum to the amount.
 * @example
 * const distribution = body.distribution === null ? null : decodeDistribution(body.distribution, 'distribution');
 */
export function decodeDistribution(value: unknown, path: string): Distribution {
  const o = readObject(value, path);
  const amountMicro = readMicro(o, 'amountMicro', path);
  const shares = decodeShares(o.shares, `${path}.shares`);
  const sum = revenuePoolList.reduce((total, pool) => total + shares[pool], 0n);
  if (sum !== amountMicro) throw new WireShapeError(`${path}.shares`, `shares summing to ${amountMicro}`, String(sum));
  const ruleSchemaVersion = readInteger(o, 'ruleSchemaVersion', path, 1, wireVersionMax);
  if (!(ruleSchemaVersions as readonly number[]).includes(ruleSchemaVersion)) {
    throw new WireShapeError(`${path}.ruleSchemaVersion`, `one of ${ruleSchemaVersions.join(', ')}`, ruleSchemaVersion);
  }
  return {
    id: readText(o, 'id', path),
    kind: readMember(o, 'kind', path, distributionKindSet),
    reservationId: readText(o, 'reservationId', path),
    accountId: readText(o, 'accountId', path),
    reversesId: readTextOrNull(o, 'reversesId', path),
    lotId: readTextOrNull(o, 'lotId', path),
    amountMicro,
    ruleId: readText(o, 'ruleId', path),
    ruleVersion: readInteger(o, 'ruleVersion', path, 1, wireVersionMax),
    ruleSchemaVersion: ruleSchemaVersion as RevenueRuleSchemaVersion,
    shares,
    referrerAccountId: readTextOrNull(o, 'referrerAccountId', path),
    createdAt: readTime(o, 'createdAt', path),
  };
}

function decodePricingLine(value: unknown, path: string): PricingLine {
  const o = readObject(value, path);
  return {
    dimension: readText(o, 'dimension', path),
    units: readMicro(o, 'units', path),
    priceMicro: readMicro(o, 'priceMicro', path),
    perUnits: readMicro(o, 'perUnits', path),
    amountMicro: readMicro(o, 'amountMicro', path),
  };
}

/**
 * A pricing body (`pricing` of the finalize answer): lines sum to `subtotalMicro`, `totalMicro` ≤ subtotal, and
 * `capped` is true exactly when the total is below the subtotal.
 *
 * @throws {WireShapeError} when a field breaks the wire shape or the sums do not hold.
 * @example
 * const pricing = body.pricing === null ? null : decodePricing(body.pricing, 'pricing');
 */
export function decodePricing(value: unknown, path: string): Pricing {
  const o = readObject(value, path);
  const lines = readList(o, 'lines', path, decodePricingLine);
  const subtotalMicro = readMicro(o, 'subtotalMicro', path);
  const totalMicro = readMicro(o, 'totalMicro', path);
  const capped = readBoolean(o, 'capped', path);
  const sum = lines.reduce((total, line) => total + line.amountMicro, 0n);
  if (sum !== subtotalMicro)
    throw new WireShapeError(`${path}.lines`, `lines summing to ${subtotalMicro}`, String(sum));
  if (totalMicro > subtotalMicro || capped !== totalMicro < subtotalMicro) {
    throw new WireShapeError(`${path}.totalMicro`, 'the subtotal, or below it when capped', String(totalMicro));
  }
  return {
    meterId: readText(o, 'meterId', path),
    meterVersion: readInteger(o, 'meterVersion', path, 1, wireVersionMax),
    lines,
    subtotalMicro,
    totalMicro,
    capped,
  };
}

function decodeUnitPrice(value: unknown, path: string): MeterUnitPrice {
  const o = readObject(value, path);
  return {
    dimension: readText(o, 'dimension', path),
    priceMicro: readMicro(o, 'priceMicro', path),
    perUnits: readMicro(o, 'perUnits', path),
    unitsMax: readMicro(o, 'unitsMax', path),
  };
}

/**
 * A meter version body (`GET /v1/meters/{id}`, `POST /v1/meters`).
 *
 * @throws {WireShapeError} when a field breaks the wire shape.
 * @example
 * const meter = decodeMeter(await response.json(), 'meter');
 */
export function decodeMeter(value: unknown, path: string): Meter {
  const o = readObject(value, path);
  return {
    id: readText(o, 'id', path),
    version: readInteger(o, 'version', path, 1, wireVersionMax),
    poolId: readText(o, 'poolId', path),
    billingMode: readMember(o, 'billingMode', path, billingModeSet),
    holdMicro: readMicro(o, 'holdMicro', path),
    maxCostMicro: readMicroOrNull(o, 'maxCostMicro', path),
    ttlSeconds: readIntegerOrNull(o, 'ttlSeconds', path, 1, wireTtlSecondsMax),
    unitPrices: readList(o, 'unitPrices', path, decodeUnitPrice),
    effectiveAt: readTime(o, 'effectiveAt', path),
    createdBy: readText(o, 'createdBy', path),
    createdAt: readTime(o, 'createdAt', path),
  };
}

/**
 * The `POST /v1/reservations` answer (201): the hold's fields and `balance`.
 *
 * @throws {WireShapeError} when a field breaks the wire shape.
 * @example
 * const { reservation, balance } = decodeReserveAnswer(await response.json());
 */
export function decodeReserveAnswer(value: unknown): GatewayReserveResult {
  const o = readObject(value, 'body');
  return { reservation: decodeReservation(o, 'body'), balance: decodeBalance(o.balance, 'body.balance') };
}

/**
 * The `POST /v1/reservations/{id}/release` answer: the hold's fields, `releasedMicro` and `balance`.
 *
 * @throws {WireShapeError} when a field breaks the wire shape.
 * @example
 * const { reservation, releasedMicro } = decodeReleaseAnswer(await response.json());
 */
export function decodeReleaseAnswer(value: unknown): GatewayReleaseResult {
  const o = readObject(value, 'body');
  return {
    reservation: decodeReservation(o, 'body'),
    releasedMicro: readMicro(o, 'releasedMicro', 'body'),
    balance: decodeBalance(o.balance, 'body.balance'),
  };
}

/**
 * The `POST /v1/reservations/{id}/finalize` answer: the amounts, `distribution`, `pricing`, `reservation` (whose id
 * must be the answer's `id`) and `balance`.
 *
 * @throws {WireShapeError} when a field breaks the wire shape.
 * @example
 * const { chargedMicro, pricing } = decodeFinalizeAnswer(await response.json());
 */
export function decodeFinalizeAnswer(value: unknown): GatewayFinalizeResult {
  const o = readObject(value, 'body');
  const reservation = decodeReservation(o.reservation, 'body.reservation');
  if (readText(o, 'id', 'body') !== reservation.id) {
    throw new WireShapeError('body.id', `the reservation's id ${JSON.stringify(reservation.id)}`, o.id);
  }
  return {
    reservation,
    chargedMicro: readMicro(o, 'chargedMicro', 'body'),
    releasedMicro: readMicro(o, 'releasedMicro', 'body'),
    overrunMicro: readMicro(o, 'overrunMicro', 'body'),
    uncollectedMicro: readMicro(o, 'uncollectedMicro', 'body'),
    distribution: o.distribution === null ? null : decodeDistribution(o.distribution, 'body.distribution'),
    pricing: o.pricing === null ? null : decodePricing(o.pricing, 'body.pricing'),
    balance: decodeBalance(o.balance, 'body.balance'),
  };
}
