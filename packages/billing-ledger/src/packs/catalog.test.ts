import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CreditPackNotFoundError, InvalidArgumentError } from '../errors.js';
import { packCreditsMicroMin } from '../limits.js';
import { createCreditPackCatalog, defaultCreditPacks, packCreditsMicro } from './catalog.js';

describe('credit pack catalog', () => {
  it('has the default packs of DESIGN.md with their credits', () => {
    const catalog = createCreditPackCatalog();
    expect(catalog.packs.map((p) => [p.id, p.priceMicro, p.bonusBps, p.creditsMicro])).toEqual([
      ['starter', 5_000_000n, 0, 5_000_000n],
      ['standard', 10_000_000n, 500, 10_500_000n],
      ['premium', 25_000_000n, 1000, 27_500_000n],
    ]);
    expect(catalog.get('standard').creditsMicro).toBe(10_500_000n);
    expect(() => catalog.get('platinum')).toThrow(CreditPackNotFoundError);
    expect(defaultCreditPacks).toHaveLength(3);
  });

  it('finds the cheapest pack that covers a shortfall, or none', () => {
    const catalog = createCreditPackCatalog();
    expect(catalog.smallestCovering(1n)?.id).toBe('starter');
    expect(catalog.smallestCovering(5_000_001n)?.id).toBe('standard');
    expect(catalog.smallestCovering(10_500_000n)?.id).toBe('standard');
    expect(catalog.smallestCovering(27_500_000n)?.id).toBe('premium');
    expect(catalog.smallestCovering(27_500_001n)).toBeNull();
  });

  it('refuses duplicate ids, bad prices, bonuses and lifetimes, and packs minting under 1 000 micro-USD', () => {
    const bad: unknown[] = [
      [],
      [
        { id: 'a', priceMicro: 5_000n, bonusBps: 0 },
        { id: 'a', priceMicro: 6_000n, bonusBps: 0 },
      ],
      [{ id: 'Upper', priceMicro: 5_000n, bonusBps: 0 }],
      [{ id: 'a', priceMicro: 5000, bonusBps: 0 }],
      [{ id: 'a', priceMicro: 0n, bonusBps: 0 }],
      [{ id: 'a', priceMicro: 5_000n, bonusBps: -1 }],
      [{ id: 'a', priceMicro: 5_000n, bonusBps: 10_001 }],
      [{ id: 'a', priceMicro: 5_000n, bonusBps: 1.5 }],
      [{ id: 'a', priceMicro: 5_000n, bonusBps: 0, lotTtlMs: 0 }],
      [{ id: 'a', priceMicro: 999n, bonusBps: 0 }],
      [null],
    ];
    for (const configs of bad) {
      expect(
        () => createCreditPackCatalog(configs as never),
        JSON.stringify(configs, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v)),
      ).toThrow(/credit pack|pack|packId|priceMicro|must/);
    }
    // 999 micro-USD with a 10% bonus mints 1 098: allowed.
    expect(createCreditPackCatalog([{ id: 'tiny', priceMicro: 999n, bonusBps: 1000 }]).get('tiny').creditsMicro).toBe(
      1_098n,
    );
    expect(() => createCreditPackCatalog([{ id: 'a', priceMicro: 999n, bonusBps: 0 }])).toThrow(InvalidArgumentError);
  });

  it('mints price + floor(price × bonus / 10 000) for any valid pack, never less than the minimum', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 1n, max: 10n ** 15n }),
        fc.integer({ min: 0, max: 10_000 }),
        (priceMicro, bonusBps) => {
          const credits = packCreditsMicro(priceMicro, bonusBps);
          expect(credits).toBe(priceMicro + (priceMicro * BigInt(bonusBps)) / 10_000n);
          if (credits < packCreditsMicroMin) {
            expect(() => createCreditPackCatalog([{ id: 'p', priceMicro, bonusBps }])).toThrow(InvalidArgumentError);
          } else {
            expect(createCreditPackCatalog([{ id: 'p', priceMicro, bonusBps }]).get('p').creditsMicro).toBe(credits);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
