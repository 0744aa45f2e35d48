import { describe, expect, it } from 'vitest';
import { testNftAbi, testUsdcAbi } from './abis.js';
import { compileTestContract } from './test-contracts.js';

describe('exported ABIs', () => {
  it('match the contracts in contracts/ (regenerate: pnpm --filter @arrakis/dev-chain generate:abis)', async () => {
    expect((await compileTestContract('TestNft')).abi).toEqual(testNftAbi);
    expect((await compileTestContract('TestUsdc')).abi).toEqual(testUsdcAbi);
  });
});
