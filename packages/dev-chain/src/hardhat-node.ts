import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { type DevChainAccount, defaultMnemonic, deriveAccounts } from './accounts.js';
import { DevChainError } from './errors.js';
import { packageRoot } from './paths.js';

/** Chain id of a dev chain unless told otherwise (Hardhat's default). */
export const defaultChainId = 31337;
/** How long {@link startHardhatNode} waits for the node to answer `eth_chainId` by default. */
export const nodeStartTimeoutMsDefault = 60_000;
/** How long `stop()` waits after SIGTERM before it sends SIGKILL. */
export const nodeStopGraceMs = 5_000;
/** How many free ports {@link startHardhatNode} tries when another process takes the port first. */
export const portAttemptsMax = 3;
/** Lines of node output kept for error messages. */
const outputLinesMax = 60;
/** Balance of every account unless told otherwise: 10 000 ETH. */
export const accountBalanceWeiDefault = 10_000n * 10n ** 18n;

/** Options of {@link startHardhatNode}. */
export interface StartHardhatNodeOptions {
  /** Chain id served by `eth_chainId` and used in EIP-155 / EIP-712 signatures. Default 31337. */
  chainId?: number;
  /** BIP-39 mnemonic of the funded accounts. Default: Hardhat's public test mnemonic. */
  mnemonic?: string;
  /** How many funded accounts (1..100). Default 10. */
  accountCount?: number;
  /** Balance of each account in wei. Default 10 000 ETH. */
  accountBalanceWei?: bigint;
  /** Loopback port to listen on. Default: a free port picked by the OS. */
  port?: number;
  /** Hardhat hardfork name (e.g. `'prague'`). Default: Hardhat's default. */
  hardfork?: string;
  /** How long to wait for the node to answer. Default 60 000 ms. */
  startTimeoutMs?: number;
  /** Receives each line the node prints (stdout and stderr). Default: kept only for error messages. */
  onOutput?: (line: string) => void;
}

/** A running Hardhat node. */
export interface HardhatNode {
  /** `http://127.0.0.1:<port>` — JSON-RPC over HTTP (the node also serves WebSocket on the same port). */
  rpcUrl: string;
  chainId: number;
  /** Funded accounts, deterministic for a given mnemonic; `accounts[0]` is a good deployer. */
  accounts: DevChainAccount[];
  /** Process id of the node (also its process group id). */
  pid: number;
  /** Kills the node and its process group and removes its temporary directory. Idempotent. */
  stop(): Promise<void>;
}

const require = createRequire(import.meta.url);

/** Nodes started by this process that have not been stopped, killed if this process exits first. */
const runningNodes = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of runningNodes) killGroup(child, 'SIGKILL');
  });
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

function hardhatCliPath(): string {
  const packageJsonPath = require.resolve('hardhat/package.json', { paths: [packageRoot] });
  const packageJson = JSON.parse(readFileSync(packageJsonPath, 'utf8')) as { bin: { hardhat: string } };
  return join(dirname(packageJsonPath), packageJson.bin.hardhat);
}

/**
 * Asks the OS for a free TCP port on 127.0.0.1 (listen on port 0, read the port, close).
 *
 * @example
 * ```ts
 * const port = await freeLoopbackPort();
 * ```
 */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address === null || typeof address === 'string') reject(new Error('no TCP address'));
        else resolve(address.port);
      });
    });
  });
}

function validateOptions(options: StartHardhatNodeOptions): void {
  const { chainId, port, startTimeoutMs, accountBalanceWei } = options;
  if (chainId !== undefined && (!Number.isSafeInteger(chainId) || chainId < 1)) {
    throw new DevChainError('invalid_option', `chainId must be a positive safe integer, got ${chainId}`);
  }
  if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65_535)) {
    throw new DevChainError('invalid_option', `port must be an integer in 1..65535, got ${port}`);
  }
  if (startTimeoutMs !== undefined && (!Number.isFinite(startTimeoutMs) || startTimeoutMs <= 0)) {
    throw new DevChainError('invalid_option', `startTimeoutMs must be a positive number, got ${startTimeoutMs}`);
  }
  if (accountBalanceWei !== undefined && accountBalanceWei <= 0n) {
    throw new DevChainError('invalid_option', `accountBalanceWei must be positive, got ${accountBalanceWei}`);
  }
}

/**
 * The Hardhat config of one node. It is JavaScript run inside the node process, so it also carries a
 * watchdog: the node exits when the process that started it is gone, even if `stop()` never ran.
 */
function hardhatConfigSource(input: {
  dir: string;
  chainId: number;
  accounts: DevChainAccount[];
  accountBalanceWei: bigint;
  hardfork: string | undefined;
  parentPid: number;
}): string {
  const config = {
    networks: {
      hardhat: {
        chainId: input.chainId,
        accounts: input.accounts.map((account) => ({
          privateKey: account.privateKey,
          balance: input.accountBalanceWei.toString(),
        })),
        ...(input.hardfork === undefined ? {} : { hardfork: input.hardfork }),
      },
    },
    paths: {
      root: input.dir,
      sources: join(input.dir, 'contracts'),
      cache: join(input.dir, 'cache'),
      artifacts: join(input.dir, 'artifacts'),
    },
  };
  return `// Written by @arrakis/dev-chain for one test node; removed when the node stops.
// Watchdog: once the process that started this node is gone (this process is re-parented), remove
// this directory and exit, so a test runner that dies without calling stop() leaves nothing behind.
const parentPid = ${input.parentPid};
setInterval(() => {
  if (process.ppid !== parentPid) {
    require('node:fs').rmSync(__dirname, { recursive: true, force: true });
    process.exit(0);
  }
}, 500).unref();
module.exports = ${JSON.stringify(config, null, 2)};
`;
}

async function answersChainId(rpcUrl: string): Promise<number | undefined> {
  try {
    const response = await fetch(rpcUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
      signal: AbortSignal.timeout(2_000),
    });
    if (!response.ok) return undefined;
    const body = (await response.json()) as { result?: string };
    return typeof body.result === 'string' ? Number.parseInt(body.result, 16) : undefined;
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Starts a real Hardhat 2 node (`hardhat node`) as a child process on a free 127.0.0.1 port and waits
 * until it answers `eth_chainId`. Works offline and from any working directory. The node is its own
 * process group; `stop()` kills the group. Nodes left running are killed when this process exits.
 *
 * @throws {DevChainError} `invalid_option` for bad options, `node_start_failed` when the node exits
 *   before answering (the message carries its last output), `node_start_timeout` when it does not
 *   answer within `startTimeoutMs`.
 * @example
 * ```ts
 * const node = await startHardhatNode();
 * try {
 *   console.log(node.rpcUrl, node.chainId, node.accounts[0].address);
 * } finally {
 *   await node.stop();
 * }
 * ```
 */
export async function startHardhatNode(options: StartHardhatNodeOptions = {}): Promise<HardhatNode> {
  validateOptions(options);
  const chainId = options.chainId ?? defaultChainId;
  const accounts = deriveAccounts(options.mnemonic ?? defaultMnemonic, options.accountCount ?? 10);
  const attempts = options.port === undefined ? portAttemptsMax : 1;
  let lastError: unknown;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const port = options.port ?? (await freeLoopbackPort());
    try {
      return await launch({ port, chainId, accounts, options });
    } catch (error) {
      lastError = error;
      const portTaken = error instanceof DevChainError && /EADDRINUSE/.test(String(error.details?.output));
      if (!portTaken) break;
    }
  }
  throw lastError;
}

async function launch(input: {
  port: number;
  chainId: number;
  accounts: DevChainAccount[];
  options: StartHardhatNodeOptions;
}): Promise<HardhatNode> {
  const { port, chainId, accounts, options } = input;
  const cliPath = hardhatCliPath();
  const dir = mkdtempSync(join(tmpdir(), 'arrakis-dev-chain-'));
  const configPath = join(dir, 'hardhat.config.cjs');
  writeFileSync(
    configPath,
    hardhatConfigSource({
      dir,
      chainId,
      accounts,
      accountBalanceWei: options.accountBalanceWei ?? accountBalanceWeiDefault,
      hardfork: options.hardfork,
      parentPid: process.pid,
    }),
  );
  const rpcUrl = `http://127.0.0.1:${port}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HARDHAT_DISABLE_TELEMETRY_PROMPT: 'true',
    FORCE_COLOR: '0',
    NO_COLOR: '1',
  };
  // A HARDHAT_NETWORK other than "hardhat" would make `hardhat node` refuse to start.
  delete env.HARDHAT_NETWORK;
  const child = spawn(
    process.execPath,
    [cliPath, '--config', configPath, 'node', '--hostname', '127.0.0.1', '--port', String(port)],
    // cwd: Hardhat refuses to run unless `hardhat` resolves from the working directory to itself.
    { cwd: packageRoot, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  installExitHook();
  runningNodes.add(child);

  const output: string[] = [];
  const onChunk = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.trim() === '') continue;
      output.push(line);
      if (output.length > outputLinesMax) output.shift();
      options.onOutput?.(line);
    }
  };
  child.stdout?.on('data', onChunk);
  child.stderr?.on('data', onChunk);

  let exitCode: number | null | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exitCode = code ?? (signal === null ? null : -1);
      runningNodes.delete(child);
      resolve();
    });
  });
  let spawnError: Error | undefined;
  child.once('error', (error) => {
    spawnError = error;
  });

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      if (exitCode === undefined && child.pid !== undefined) {
        killGroup(child, 'SIGTERM');
        const timer = setTimeout(() => killGroup(child, 'SIGKILL'), nodeStopGraceMs);
        await exited;
        clearTimeout(timer);
      }
      runningNodes.delete(child);
      rmSync(dir, { recursive: true, force: true });
    })();
    return stopped;
  };

  const timeoutMs = options.startTimeoutMs ?? nodeStartTimeoutMsDefault;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (spawnError !== undefined || exitCode !== undefined) {
      await stopAfterFailure(stop);
      throw new DevChainError(
        'node_start_failed',
        `hardhat node exited (code ${String(exitCode)}) before answering on ${rpcUrl}: ${summary(output)}`,
        { details: { rpcUrl, exitCode, output: output.join('\n') }, cause: spawnError },
      );
    }
    const answeredChainId = await answersChainId(rpcUrl);
    if (answeredChainId !== undefined) {
      if (answeredChainId !== chainId) {
        await stop();
        throw new DevChainError(
          'node_start_failed',
          `the node on ${rpcUrl} answered chain id ${answeredChainId}, expected ${chainId}`,
          { details: { rpcUrl, output: output.join('\n') } },
        );
      }
      if (child.pid === undefined) throw new Error('assertion failed: running node without pid');
      return { rpcUrl, chainId, accounts, pid: child.pid, stop };
    }
    if (Date.now() > deadline) {
      await stopAfterFailure(stop);
      throw new DevChainError('node_start_timeout', `hardhat node did not answer on ${rpcUrl} within ${timeoutMs} ms`, {
        details: { rpcUrl, output: output.join('\n') },
      });
    }
    await sleep(100);
  }
}

/** The last lines of node output without stack frames, for an error message. */
function summary(output: string[]): string {
  return output
    .filter((line) => !/^\s+at /.test(line))
    .slice(-8)
    .join(' | ');
}

async function stopAfterFailure(stop: () => Promise<void>): Promise<void> {
  try {
    await stop();
  } catch {
    // the start error is the one to report
  }
}
