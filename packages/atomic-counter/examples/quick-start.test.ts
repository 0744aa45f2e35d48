import { describe, expect, it } from 'vitest';
import { quickStart } from './quick-start.js';

describe('examples/quick-start.ts', () => {
  it('runs and shows what the README says', async () => {
    const result = await quickStart();
    expect(result.statuses).toEqual([200, 200, 429]);
    expect(Number(result.retryAfter)).toBeGreaterThanOrEqual(60);
    expect(Number(result.retryAfter)).toBeLessThanOrEqual(66);
    expect(result).toMatchObject({
      refusedCode: 'spend_cap_exceeded',
      remainingMicro: 2_000_000n,
      firstClaim: true,
      replayClaim: false,
    });
  });
});
