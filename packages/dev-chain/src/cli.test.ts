import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { createPublicClient, http } from 'viem';
import { describe, expect, it } from 'vitest';
import { testUsdcAbi } from './abis.js';

const cliPath = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

function startCli(args: string[]) {
  const child = spawn(process.execPath, [cliPath, ...args], { cwd: tmpdir(), stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const firstLine = new Promise<string>((resolve, reject) => {
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const newline = stdout.indexOf('\n');
      if (newline >= 0) resolve(stdout.slice(0, newline));
    });
    child.once('exit', (code) => reject(new Error(`cli exited with ${code}: ${stderr}`)));
  });
  return { child, exited, firstLine };
}

describe('arrakis-dev-chain (dist/cli.js, a separate process)', () => {
  it('runs from another working directory, prints where the chain is, and stops the node on SIGTERM', async () => {
    expect(existsSync(cliPath), 'build first: pnpm --filter @arrakis/dev-chain build').toBe(true);
    const { child, exited, firstLine } = startCli(['--chain-id', '4242', '--accounts', '2', '--deploy']);
    try {
      const line = await firstLine;
      const info = JSON.parse(line) as {
        rpcUrl: string;
        chainId: number;
        accounts: { address: `0x${string}` }[];
        contracts: { testNft: `0x${string}`; testUsdc: `0x${string}` };
      };
      expect(info.chainId).toBe(4242);
      expect(info.accounts).toHaveLength(2);

      const client = createPublicClient({ transport: http(info.rpcUrl, { retryCount: 0 }) });
      expect(await client.getChainId()).toBe(4242);
      expect(await client.getCode({ address: info.contracts.testNft })).toMatch(/^0x[0-9a-f]{100,}$/);
      expect(
        await client.readContract({ address: info.contracts.testUsdc, abi: testUsdcAbi, functionName: 'decimals' }),
      ).toBe(6);

      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      await expect(client.getChainId()).rejects.toThrow();
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('the node exits on its own when the process that started it dies without stopping it', async () => {
    expect(existsSync(cliPath), 'build first: pnpm --filter @arrakis/dev-chain build').toBe(true);
    const { child, exited, firstLine } = startCli(['--accounts', '1']);
    const { rpcUrl } = JSON.parse(await firstLine) as { rpcUrl: string };
    const client = createPublicClient({ transport: http(rpcUrl, { retryCount: 0 }) });
    expect(await client.getChainId()).toBe(31337);
    child.kill('SIGKILL');
    await exited;
    // The node's watchdog checks its parent every 500 ms; give it a bounded while to notice.
    let answering = true;
    for (let attempt = 0; attempt < 100 && answering; attempt++) {
      answering = await client.getChainId().then(
        () => true,
        () => false,
      );
      if (answering) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(answering).toBe(false);
  });
});
