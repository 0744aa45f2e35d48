import { describe, expect, it } from 'vitest';
import { quickStart } from './quick-start.js';

describe('examples/quick-start.ts', () => {
  it('runs and shows what the README says', async () => {
    const result = await quickStart();
    expect(result).toMatchObject({
      chargedMicro: 750_000n,
      releasedMicro: 250_000n,
      availableMicro: 4_250_000n,
      refusedCode: 'insufficient_credits',
      verified: true,
    });
    expect(result.entryKinds).toContain('mint');
    expect(result.entryKinds).toContain('consume');
  });
});
