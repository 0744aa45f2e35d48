// Test support (not part of the build): start the built gateway and CLI as real processes.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { JWK } from 'jose';
import { devKeyFileName } from '../auth/dev-key.js';

/** The gateway package directory (apps/gateway). */
export const gatewayDir = fileURLToPath(new URL('../..', import.meta.url));

/** Longest wait for a started gateway to listen and answer /health (a fresh PGlite data dir takes 20+ s on a busy 2-core box). */
export const startTimeoutMs = 60_000;

/** A gateway process started by {@link spawnGateway}. */
export interface GatewayProcess {
  url: string;
  child: ChildProcess;
  /** Everything written so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves when the process exits. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** The environment of a child: PATH and HOME only from ours, so DATABASE_URL / REDIS_URL never leak in. */
export function childEnv(env: Record<string, string>): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    NODE_ENV: 'development',
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'info',
    ...env,
  };
}

/**
 * Starts `node dist/server.js` with `env` (PORT 0 by default: the OS picks a free port, read from the `listening`
 * log line), then waits until /health answers 200.
 */
export async function spawnGateway(env: Record<string, string>): Promise<GatewayProcess> {
  const child = spawn(process.execPath, [join(gatewayDir, 'dist/server.js')], {
    cwd: gatewayDir,
    env: childEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const deadline = Date.now() + startTimeoutMs;
  let url: string | undefined;
  while (Date.now() < deadline && child.exitCode === null) {
    url ??= listeningUrl(stdout);
    if (url !== undefined) {
      const health = await fetch(`${url}/health`).catch(() => undefined);
      if (health?.status === 200) {
        return { url, child, stdout: () => stdout, stderr: () => stderr, exited };
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`gateway did not become healthy in ${startTimeoutMs} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`);
}

function listeningUrl(stdout: string): string | undefined {
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    const entry = JSON.parse(line) as { msg?: string; url?: string };
    if (entry.msg === 'listening' && entry.url !== undefined) return entry.url;
  }
  return undefined;
}

/** Runs `node dist/cli.js ...args` and collects its output. */
export function runCli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runToExit([join(gatewayDir, 'dist/cli.js'), ...args], env);
}

/** Runs `node dist/server.js` for a process expected to exit by itself (e.g. an invalid environment). */
export function runServerToExit(
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runToExit([join(gatewayDir, 'dist/server.js')], env);
}

function runToExit(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: gatewayDir,
      env: childEnv(env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      stdout += c;
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
    });
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Reads the dev key the gateway created in `dataDir` (a private JWK). */
export async function readDevJwk(dataDir: string): Promise<JWK> {
  return JSON.parse(await readFile(join(dataDir, devKeyFileName), 'utf8')) as JWK;
}

/** Stops a process that is still running (test cleanup). */
export async function stopIfRunning(gateway: GatewayProcess | undefined): Promise<void> {
  if (gateway === undefined || gateway.child.exitCode !== null || gateway.child.signalCode !== null) return;
  gateway.child.kill('SIGKILL');
  await gateway.exited;
}
