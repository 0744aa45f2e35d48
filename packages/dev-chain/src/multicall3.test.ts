import { createPublicClient, http, parseAbi } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testUsdcAbi } from './abis.js';
import { hardhatChain } from './chain.js';
import { type HardhatNode, startHardhatNode } from './hardhat-node.js';
import { installMulticall3, multicall3Address } from './multicall3.js';
import { type DeployedTestUsdc, deployTestUsdc, mintUsdc } from './test-usdc.js';

// The canonical Multicall3 interface, written out (not imported), so the test checks our contract against it.
const canonicalAbi = parseAbi([
  'struct Call { address target; bytes callData; }',
  'struct Result { bool success; bytes returnData; }',
  'function tryAggregate(bool requireSuccess, Call[] calls) payable returns (Result[] returnData)',
]);

describe('installMulticall3 on a Hardhat node', () => {
  let node: HardhatNode;
  let usdc: DeployedTestUsdc;

  beforeAll(async () => {
    node = await startHardhatNode({ accountCount: 2 });
    usdc = await deployTestUsdc({ rpcUrl: node.rpcUrl, deployerKey: node.accounts[0]!.privateKey });
    await mintUsdc({
      rpcUrl: node.rpcUrl,
      ownerKey: node.accounts[0]!.privateKey,
      address: usdc.address,
      to: node.accounts[1]!.address,
      amountMicro: 1_234_567n,
    });
  });
  afterAll(async () => {
    await node?.stop();
  });

  const client = () =>
    createPublicClient({ chain: hardhatChain(node.chainId, node.rpcUrl), transport: http(node.rpcUrl) });

  it('installs the code at the canonical address once, and mines nothing', async () => {
    expect(multicall3Address).toBe('0xcA11bde05977b3631167028862bE2a173976CA11');
    expect(await client().getCode({ address: multicall3Address })).toBeUndefined();
    const blockBefore = await client().getBlockNumber();
    expect(await installMulticall3({ rpcUrl: node.rpcUrl })).toBe(true);
    expect(await client().getCode({ address: multicall3Address })).toMatch(/^0x[0-9a-f]{100,}$/);
    expect(await installMulticall3({ rpcUrl: node.rpcUrl })).toBe(false);
    expect(await client().getBlockNumber()).toBe(blockBefore);
  });

  it('tryAggregate(false, …) answers every call, a failed one as success false; tryAggregate(true, …) reverts on it', async () => {
    await installMulticall3({ rpcUrl: node.rpcUrl });
    const calls = [
      { target: usdc.address, callData: '0x70a08231' as const }, // balanceOf() without its argument: reverts
      {
        target: usdc.address,
        callData: `0x70a08231${node.accounts[1]!.address.slice(2).toLowerCase().padStart(64, '0')}` as const,
      },
    ];
    // simulateContract: eth_call of a payable function (readContract types only view functions).
    const { result: results } = await client().simulateContract({
      address: multicall3Address,
      abi: canonicalAbi,
      functionName: 'tryAggregate',
      args: [false, calls],
    });
    expect(results.map((r) => r.success)).toEqual([false, true]);
    expect(BigInt(results[1]!.returnData)).toBe(1_234_567n);
    await expect(
      client().simulateContract({
        address: multicall3Address,
        abi: canonicalAbi,
        functionName: 'tryAggregate',
        args: [true, calls],
      }),
    ).rejects.toThrow(/Multicall3: call failed/);
  });

  it("viem's multicall (aggregate3) batches reads through it, keeping a failing call's error", async () => {
    await installMulticall3({ rpcUrl: node.rpcUrl });
    const [balance, decimals, failing] = await client().multicall({
      multicallAddress: multicall3Address,
      contracts: [
        { address: usdc.address, abi: testUsdcAbi, functionName: 'balanceOf', args: [node.accounts[1]!.address] },
        { address: usdc.address, abi: testUsdcAbi, functionName: 'decimals' },
        // Only the owner may mint: from Multicall3 it reverts.
        { address: usdc.address, abi: testUsdcAbi, functionName: 'mint', args: [node.accounts[1]!.address, 1n] },
      ],
    });
    expect(balance).toEqual({ status: 'success', result: 1_234_567n });
    expect(decimals).toEqual({ status: 'success', result: 6 });
    expect(failing).toMatchObject({
      status: 'failure',
      error: expect.objectContaining({ message: expect.stringMatching(/OwnableUnauthorizedAccount/) }),
    });
  });
});
