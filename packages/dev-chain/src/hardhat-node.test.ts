import { createPublicClient, createWalletClient, http, parseEther } from 'viem';
import { describe, expect, it } from 'vitest';
import { hardhatChain } from './chain.js';
import { DevChainError } from './errors.js';
import { freeLoopbackPort, startHardhatNode } from './hardhat-node.js';

const processExists = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('startHardhatNode', () => {
  it('starts a real node with the chain id and funded, deterministic accounts, and stop() kills it', async () => {
    const node = await startHardhatNode({ chainId: 1_337, accountCount: 3, accountBalanceWei: parseEther('42') });
    try {
      expect(node.rpcUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(node.chainId).toBe(1_337);
      // Hardhat's well-known first account of the public test mnemonic.
      expect(node.accounts.map((account) => account.address)).toEqual([
        '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266',
        '0x70997970C51812dc3A010C7d01b50e0d17dc79C8',
        '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC',
      ]);
      const client = createPublicClient({
        chain: hardhatChain(node.chainId, node.rpcUrl),
        transport: http(node.rpcUrl),
      });
      expect(await client.getChainId()).toBe(1_337);
      for (const account of node.accounts) {
        expect(await client.getBalance({ address: account.address })).toBe(parseEther('42'));
      }
      // The node knows exactly these accounts (eth_accounts lists the configured keys).
      const rpcAccounts = await createWalletClient({ transport: http(node.rpcUrl) }).getAddresses();
      expect(rpcAccounts.map((address) => address.toLowerCase())).toEqual(
        node.accounts.map((account) => account.address.toLowerCase()),
      );
      expect(processExists(node.pid)).toBe(true);
    } finally {
      await node.stop();
    }
    expect(processExists(node.pid)).toBe(false);
    await expect(fetch(node.rpcUrl, { method: 'POST' })).rejects.toThrow();
    await node.stop(); // idempotent
  });

  it('derives other accounts from another mnemonic and runs two nodes side by side', async () => {
    const mnemonic = 'legal winner thank year wave sausage worth useful legal winner thank yellow';
    const [first, second] = await Promise.all([startHardhatNode({ mnemonic, accountCount: 1 }), startHardhatNode()]);
    try {
      expect(first.rpcUrl).not.toBe(second.rpcUrl);
      expect(first.accounts[0]?.address).not.toBe(second.accounts[0]?.address);
      expect(first.accounts[0]?.address).toBe('0x58A57ed9d8d624cBD12e2C467D34787555bB1b25');
    } finally {
      await Promise.all([first.stop(), second.stop()]);
    }
  });

  it('refuses bad options before starting anything', async () => {
    const refused = async (promise: Promise<unknown>) => {
      const error = await promise.then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(error).toBeInstanceOf(DevChainError);
      return error as DevChainError;
    };
    expect((await refused(startHardhatNode({ chainId: 0 }))).code).toBe('invalid_option');
    expect((await refused(startHardhatNode({ port: 70_000 }))).code).toBe('invalid_option');
    expect((await refused(startHardhatNode({ accountCount: 0 }))).code).toBe('invalid_option');
    expect((await refused(startHardhatNode({ accountCount: 101 }))).code).toBe('invalid_option');
    expect((await refused(startHardhatNode({ mnemonic: 'not a mnemonic' }))).code).toBe('invalid_option');
    expect((await refused(startHardhatNode({ accountBalanceWei: 0n }))).code).toBe('invalid_option');
  });

  it('reports a node that cannot start, with its output', async () => {
    const error = await startHardhatNode({ hardfork: 'no-such-hardfork', startTimeoutMs: 60_000 }).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(DevChainError);
    expect((error as DevChainError).code).toBe('node_start_failed');
    expect((error as DevChainError).message).toMatch(/no-such-hardfork/);
  });

  it('freeLoopbackPort returns a port nobody listens on', async () => {
    const port = await freeLoopbackPort();
    expect(port).toBeGreaterThan(0);
    await expect(fetch(`http://127.0.0.1:${port}`)).rejects.toThrow();
  });
});
