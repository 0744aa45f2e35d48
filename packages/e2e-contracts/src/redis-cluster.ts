// A real Redis Cluster on loopback for tests: `redis-server --cluster-enabled yes` processes on free ports, joined
// with `redis-cli --cluster create`, stopped by their own PIDs. Node only.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Longest wait for a node to answer PING, and for the cluster to report `cluster_state:ok` on every node. */
export const redisClusterStartMsMax = 30_000;
/** Longest wait for a node to exit after SIGTERM before SIGKILL. */
export const redisClusterStopMsMax = 5_000;
/** Most masters {@link startRedisCluster} starts. */
export const redisClusterMastersMax = 8;
const pollIntervalMs = 100;

/** Options of {@link startRedisCluster}. */
export interface StartRedisClusterOptions {
  /** Masters (3 to {@link redisClusterMastersMax}; Redis Cluster needs 3). Default 3. */
  masters?: number;
  /** Replicas per master (0 to 2). Default 1: 3 masters and 3 replicas on six ports. */
  replicasPerMaster?: number;
  /** Default `redis-server` on the PATH. */
  redisServerBin?: string;
  /** Default `redis-cli` on the PATH. */
  redisCliBin?: string;
}

/** A running cluster. */
export interface RedisCluster {
  /** `redis://127.0.0.1:<port>` of every node, masters and replicas. */
  urls: string[];
  ports: number[];
  /** Stops every node (SIGTERM, then SIGKILL) and removes its files. */
  stop(): Promise<void>;
}

/** True when `redis-server` (or the given binary) runs here: a test that needs a cluster skips otherwise. */
export async function redisServerAvailable(bin = 'redis-server'): Promise<boolean> {
  try {
    await run(bin, ['--version']);
    return true;
  } catch {
    return false;
  }
}

/**
 * A free TCP port on 127.0.0.1 (listen on port 0, read it, close), for a process that listens on a port it is given.
 *
 * @example
 * ```ts
 * const port = await freeLoopbackPort();
 * ```
 */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + redisClusterStartMsMax;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await sleep(pollIntervalMs);
  }
  throw new Error(`redis cluster: ${what} within ${redisClusterStartMsMax} ms`);
}

async function stopNode(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), redisClusterStopMsMax);
  await exited;
  clearTimeout(timer);
}

function checkedCount(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer from ${min} to ${max}, got ${value}`);
  }
  return value;
}

/**
 * Starts a Redis Cluster on loopback: `masters × (1 + replicasPerMaster)` nodes, each `redis-server` with its own
 * data folder, client port and cluster bus port (both free ports), joined with `redis-cli --cluster create`; resolves
 * once every node reports `cluster_state:ok`. On any failure the nodes started so far are stopped.
 *
 * @example
 * ```ts
 * const cluster = await startRedisCluster();
 * // new Cluster(cluster.urls) …
 * await cluster.stop();
 * ```
 */
export async function startRedisCluster(options: StartRedisClusterOptions = {}): Promise<RedisCluster> {
  const masters = checkedCount('masters', options.masters ?? 3, 3, redisClusterMastersMax);
  const replicas = checkedCount('replicasPerMaster', options.replicasPerMaster ?? 1, 0, 2);
  const serverBin = options.redisServerBin ?? 'redis-server';
  const cliBin = options.redisCliBin ?? 'redis-cli';
  const dir = await mkdtemp(join(tmpdir(), 'arrakis-redis-cluster-'));
  const children: ChildProcess[] = [];
  const ports: number[] = [];
  const stop = async () => {
    await Promise.all(children.map(stopNode));
    await rm(dir, { recursive: true, force: true });
  };
  const cli = (port: number, ...args: string[]) => run(cliBin, ['-h', '127.0.0.1', '-p', String(port), ...args]);
  try {
    for (let i = 0; i < masters * (1 + replicas); i += 1) {
      const port = await freeLoopbackPort();
      const busPort = await freeLoopbackPort();
      ports.push(port);
      const args = [
        ...['--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes'],
        ...['--cluster-port', String(busPort), '--cluster-config-file', `nodes-${port}.conf`],
        ...['--cluster-node-timeout', '5000', '--dir', dir, '--save', '', '--appendonly', 'no'],
        ...['--logfile', join(dir, `${port}.log`), '--protected-mode', 'no'],
      ];
      children.push(spawn(serverBin, args, { stdio: 'ignore' }));
      await waitFor(`node ${port} did not answer PING`, async () => (await cli(port, 'ping')).stdout.trim() === 'PONG');
    }
    const nodes = ports.map((port) => `127.0.0.1:${port}`);
    await run(cliBin, ['--cluster', 'create', ...nodes, '--cluster-replicas', String(replicas), '--cluster-yes']);
    for (const port of ports) {
      await waitFor(`node ${port} did not report cluster_state:ok`, async () =>
        (await cli(port, 'cluster', 'info')).stdout.includes('cluster_state:ok'),
      );
    }
    return { urls: ports.map((port) => `redis://127.0.0.1:${port}`), ports, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
