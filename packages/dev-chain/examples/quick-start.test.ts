import { describe, expect, it } from 'vitest';
import { quickStart } from './quick-start.js';

describe('examples/quick-start.ts', () => {
  it('runs and shows what the README says', async () => {
    const result = await quickStart();
    expect(result).toMatchObject({
      chainId: 31337,
      nftHolderIsPayer: true,
      payerMicro: 3_750_000n,
      payeeMicro: 1_250_000n,
      status: 'success',
    });
  });
});
