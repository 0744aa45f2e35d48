import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestChain, type TestChain } from '../src/testing/chain.js';
import { quickStart } from './quick-start.js';

let chain: TestChain;
beforeAll(async () => {
  chain = await startTestChain({ payerCount: 1 });
}, 120_000);
afterAll(async () => chain?.stop());

describe('examples/quick-start.ts', () => {
  it('runs and shows what the README says: 402, then 201 after paying on chain', async () => {
    const payer = chain.payers[0]!;
    const before = await chain.balanceOf(payer.address);
    const result = await quickStart({
      rpcUrl: chain.node.rpcUrl,
      network: chain.network,
      token: { address: chain.usdc.address, name: chain.usdc.name, version: chain.usdc.version },
      payTo: chain.payTo,
      settlerKey: chain.settlerKey,
      payerKey: chain.payerKeys[0]!,
    });
    expect(result).toMatchObject({
      unpaidStatus: 402,
      paidStatus: 201,
      body: { creditedMicro: '5000000' },
      reconciled: 0,
    });
    expect(result.transaction).toMatch(/^0x[0-9a-f]{64}$/);
    expect(await chain.balanceOf(payer.address)).toBe(before - 5_000_000n);
  });
});
