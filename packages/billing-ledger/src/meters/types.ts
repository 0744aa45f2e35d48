/**
 * The price book's shapes (meters). A meter is operator-owned charge terms: the pool and billing mode of its holds,
 * the minimum hold, an optional cap, and unit prices per usage dimension. A change is a new version; old versions
 * stay readable and keep pricing the holds placed under them.
 */
import type { BillingMode } from '../db/schema.js';

/** The price of one usage dimension: `priceMicro` micro-USD per `perUnits` units. */
export interface UnitPrice {
  /** `request`, `input_tokens`, `output_tokens`, `image`, … (1–64 of a–z 0–9 _, starting with a letter). */
  dimension: string;
  /** Micro-USD per `perUnits` units (0..10^15). */
  priceMicro: bigint;
  /** Units the price is for (1..10^12), e.g. 1_000_000n for a price per million tokens. */
  perUnits: bigint;
  /** Most units one usage may report in this dimension (default {@link usageUnitsMaxDefault}). */
  unitsMax?: bigint;
}

/** A unit price as stored: `unitsMax` resolved. */
export interface MeterUnitPrice {
  dimension: string;
  priceMicro: bigint;
  perUnits: bigint;
  unitsMax: bigint;
}

/** What `createMeter` takes: a new meter, or the next version of an existing one. */
export interface MeterInput {
  /** 1–64 of a–z 0–9 _ . : - (like a pool id). */
  id: string;
  /** Pool its holds draw from first (default `general`). */
  poolId?: string;
  /** Billing mode of its holds (default `live`). */
  billingMode?: BillingMode;
  /** Smallest hold a reserve places (1..10^15 micro-USD; at most `maxCostMicro`). */
  holdMicro: bigint;
  /** Highest cost of one usage (and highest hold); absent: uncapped. */
  maxCostMicro?: bigint;
  /** Hold lifetime (default: the ledger's). */
  ttlSeconds?: number;
  /** At least one, dimensions unique. */
  unitPrices: readonly UnitPrice[];
  /** When the version takes force (default now; never before now or before the previous version's). */
  effectiveAt?: Date;
  /** Who set the prices (an admin id); recorded on the version. */
  createdBy: string;
}

/** One version of a meter, as stored (immutable). */
export interface Meter {
  id: string;
  version: number;
  poolId: string;
  billingMode: BillingMode;
  holdMicro: bigint;
  maxCostMicro: bigint | null;
  ttlSeconds: number | null;
  unitPrices: MeterUnitPrice[];
  effectiveAt: Date;
  createdBy: string;
  createdAt: Date;
}

/** Units used per dimension (non-negative integers); a dimension left out used 0 units. */
export type Usage = Readonly<Record<string, bigint | number>>;

/** One itemized line of a priced usage. */
export interface PricingLine {
  dimension: string;
  units: bigint;
  priceMicro: bigint;
  perUnits: bigint;
  /** This line's share of `subtotalMicro`: its exact value rounded down or up (the lines sum to the subtotal). */
  amountMicro: bigint;
}

/** A usage priced under one meter version. */
export interface Pricing {
  meterId: string;
  meterVersion: number;
  /** Lines of the dimensions the usage names (units > 0 or not), in the meter's order. */
  lines: PricingLine[];
  /** Σ units × priceMicro / perUnits, rounded up once to a whole micro-USD. */
  subtotalMicro: bigint;
  /** `subtotalMicro` capped at the meter's `maxCostMicro`: what the usage costs. */
  totalMicro: bigint;
  /** True when the cap lowered the subtotal. */
  capped: boolean;
}
