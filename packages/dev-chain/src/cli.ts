#!/usr/bin/env node
// arrakis-dev-chain: runs a dev chain as its own process for tests that start other processes.
// Prints one JSON line {rpcUrl, chainId, accounts, contracts?} on stdout once the node answers, then
// runs until SIGINT/SIGTERM (or until stdin closes, with --exit-on-stdin-close).
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { startHardhatNode } from './hardhat-node.js';
import { deployTestNft } from './test-nft.js';
import { deployTestUsdc } from './test-usdc.js';

const usage = `usage: arrakis-dev-chain [--chain-id 31337] [--port N] [--accounts 10] [--deploy] [--out file.json] [--exit-on-stdin-close]
  --deploy   also deploy TestNft and TestUsdc (deployer: accounts[0]) and print their addresses`;

function integerOption(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,10}$/.test(value)) {
    process.stderr.write(`--${name} must be a positive integer, got "${value}"\n${usage}\n`);
    process.exit(2);
  }
  return Number(value);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'chain-id': { type: 'string' },
      port: { type: 'string' },
      accounts: { type: 'string' },
      deploy: { type: 'boolean', default: false },
      out: { type: 'string' },
      'exit-on-stdin-close': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return;
  }
  const node = await startHardhatNode({
    chainId: integerOption('chain-id', values['chain-id']),
    port: integerOption('port', values.port),
    accountCount: integerOption('accounts', values.accounts),
  });
  let stopping = false;
  const shutdown = () => {
    if (stopping) return;
    stopping = true;
    node.stop().finally(() => process.exit(0));
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
  if (values['exit-on-stdin-close']) {
    process.stdin.on('end', shutdown);
    process.stdin.on('close', shutdown);
    process.stdin.resume();
  }

  try {
    const [deployer] = node.accounts;
    let contracts: { testNft: string; testUsdc: string } | undefined;
    if (values.deploy && deployer !== undefined) {
      const nft = await deployTestNft({ rpcUrl: node.rpcUrl, deployerKey: deployer.privateKey });
      const usdc = await deployTestUsdc({ rpcUrl: node.rpcUrl, deployerKey: deployer.privateKey });
      contracts = { testNft: nft.address, testUsdc: usdc.address };
    }
    const info = { rpcUrl: node.rpcUrl, chainId: node.chainId, accounts: node.accounts, contracts };
    const line = JSON.stringify(info);
    if (values.out !== undefined) writeFileSync(values.out, `${line}\n`);
    process.stdout.write(`${line}\n`);
  } catch (error) {
    await node.stop();
    throw error;
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`arrakis-dev-chain: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
