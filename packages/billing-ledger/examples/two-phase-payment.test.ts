import { describe, expect, it } from 'vitest';
import { twoPhasePayment } from './two-phase-payment.js';

describe('examples/two-phase-payment.ts', () => {
  it('runs and shows what the README says', async () => {
    expect(await twoPhasePayment()).toEqual({
      boughtMicro: 5_000_000n,
      replayed: true,
      claimKind: 'owner',
      reconciled: ['eip155:8453:0xusdc:0xpayer:0x02'],
      byStatus: { verified: 0, settling: 0, settled: 0, credited: 2, failed: 0 },
      availableMicro: 10_000_000n,
      verified: true,
    });
  });
});
