/**
 * The credit pack catalog (configuration, not code): what a payment buys. A pack mints one `purchase` lot of
 * `price + floor(price × bonusBps / 10 000)` micro-USD, optionally expiring `lotTtlMs` after the purchase.
 */
import { CreditPackNotFoundError, InvalidArgumentError, quoteValue } from '../errors.js';
import { assertAmountMicro, assertName } from '../ledger/validate.js';
import { creditPacksMax, packCreditsMicroMin, packLotTtlMsMax } from '../limits.js';
import { bpsTotal } from '../money/index.js';

/** One pack as configured. */
export interface CreditPackConfig {
  id: string;
  priceMicro: bigint;
  /** Bonus credits in basis points of the price (0..10 000). */
  bonusBps: number;
  /** Lifetime of the minted lot; omitted or null: the credits never expire. */
  lotTtlMs?: number | null;
}

/** A pack of the catalog, with the credits it mints. */
export interface CreditPack {
  id: string;
  priceMicro: bigint;
  bonusBps: number;
  lotTtlMs: number | null;
  /** price + floor(price × bonusBps / 10 000). */
  creditsMicro: bigint;
}

/** The default catalog (DESIGN.md §3): starter $5 +0 bps, standard $10 +500 bps, premium $25 +1000 bps. */
export const defaultCreditPacks: readonly CreditPackConfig[] = Object.freeze([
  { id: 'starter', priceMicro: 5_000_000n, bonusBps: 0 },
  { id: 'standard', priceMicro: 10_000_000n, bonusBps: 500 },
  { id: 'premium', priceMicro: 25_000_000n, bonusBps: 1000 },
]);

/** A validated, immutable catalog. */
export interface CreditPackCatalog {
  /** The packs, in configuration order. */
  readonly packs: readonly CreditPack[];
  /**
   * The pack with this id.
   *
   * @throws {CreditPackNotFoundError}
   */
  get(packId: string): CreditPack;
  /** The cheapest pack whose credits cover `amountMicro` (ties: fewer credits, then id), or null when none does. */
  smallestCovering(amountMicro: bigint): CreditPack | null;
}

/**
 * The credits a pack mints: price + floor(price × bonusBps / 10 000).
 *
 * @example
 * packCreditsMicro(10_000_000n, 500); // 10_500_000n
 */
export function packCreditsMicro(priceMicro: bigint, bonusBps: number): bigint {
  return priceMicro + (priceMicro * BigInt(bonusBps)) / BigInt(bpsTotal);
}

/**
 * Validates a catalog: 1..100 packs with unique ids (lower-case names), prices in 1..10^15 micro-USD, integer bonus
 * bps in 0..10 000, optional lot lifetimes of 1 ms..10 years, and every pack minting at least 1 000 micro-USD.
 *
 * @throws {InvalidArgumentError} naming the pack and the rule it breaks.
 * @example
 * const catalog = createCreditPackCatalog([{ id: 'tiny', priceMicro: 1_000_000n, bonusBps: 0 }]);
 * catalog.get('tiny').creditsMicro; // 1_000_000n
 */
export function createCreditPackCatalog(configs: readonly CreditPackConfig[] = defaultCreditPacks): CreditPackCatalog {
  if (!Array.isArray(configs) || configs.length === 0 || configs.length > creditPacksMax) {
    throw new InvalidArgumentError(`a credit pack catalog holds 1 to ${creditPacksMax} packs`, {
      details: { field: 'creditPacks' },
    });
  }
  const byId = new Map<string, CreditPack>();
  for (const config of configs) {
    if (config === null || typeof config !== 'object') {
      throw new InvalidArgumentError(`credit pack ${quoteValue(config)} must be an object`, {
        details: { field: 'creditPacks' },
      });
    }
    assertName('packId', config.id);
    if (byId.has(config.id)) {
      throw new InvalidArgumentError(`credit pack id ${quoteValue(config.id)} appears twice`, {
        details: { field: 'creditPacks', packId: config.id },
      });
    }
    assertAmountMicro(`priceMicro of pack ${config.id}`, config.priceMicro);
    if (!Number.isInteger(config.bonusBps) || config.bonusBps < 0 || config.bonusBps > bpsTotal) {
      throw new InvalidArgumentError(
        `bonusBps of pack ${config.id} is ${quoteValue(config.bonusBps)}; it must be an integer from 0 to ${bpsTotal}`,
        { details: { field: 'bonusBps', packId: config.id } },
      );
    }
    const lotTtlMs = config.lotTtlMs ?? null;
    if (lotTtlMs !== null && (!Number.isSafeInteger(lotTtlMs) || lotTtlMs < 1 || lotTtlMs > packLotTtlMsMax)) {
      throw new InvalidArgumentError(
        `lotTtlMs of pack ${config.id} is ${quoteValue(lotTtlMs)}; it must be an integer from 1 to ${packLotTtlMsMax}`,
        { details: { field: 'lotTtlMs', packId: config.id } },
      );
    }
    const creditsMicro = packCreditsMicro(config.priceMicro, config.bonusBps);
    if (creditsMicro < packCreditsMicroMin) {
      throw new InvalidArgumentError(
        `pack ${config.id} mints ${creditsMicro} micro-USD; a pack must mint at least ${packCreditsMicroMin}`,
        { details: { field: 'priceMicro', packId: config.id, creditsMicro: creditsMicro.toString() } },
      );
    }
    byId.set(
      config.id,
      Object.freeze({
        id: config.id,
        priceMicro: config.priceMicro,
        bonusBps: config.bonusBps,
        lotTtlMs,
        creditsMicro,
      }),
    );
  }
  const packs = Object.freeze([...byId.values()]);
  return Object.freeze({
    packs,
    get(packId: string): CreditPack {
      const pack = typeof packId === 'string' ? byId.get(packId) : undefined;
      if (pack === undefined) throw new CreditPackNotFoundError(String(packId), [...byId.keys()]);
      return pack;
    },
    smallestCovering(amountMicro: bigint): CreditPack | null {
      let best: CreditPack | null = null;
      for (const pack of packs) {
        if (pack.creditsMicro < amountMicro) continue;
        if (
          best === null ||
          pack.priceMicro < best.priceMicro ||
          (pack.priceMicro === best.priceMicro &&
            (pack.creditsMicro < best.creditsMicro || (pack.creditsMicro === best.creditsMicro && pack.id < best.id)))
        ) {
          best = pack;
        }
      }
      return best;
    },
  });
}
