import { describe, expect, it } from 'vitest';
import { priceBook } from './price-book.js';

describe('examples/price-book.ts', () => {
  it('runs and shows what the README says', async () => {
    expect(await priceBook()).toEqual({
      holdMicro: 60_000n,
      meterVersion: 1,
      lines: ['input_tokens 1200 → 3600', 'output_tokens 341 → 5115'],
      chargedMicro: 8715n,
      capRefusal: 'daily: spent 8715 of 100000',
      verified: true,
    });
  });
});
