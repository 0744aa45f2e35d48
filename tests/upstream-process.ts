// Test support: the test upstream service (tests/upstream-service.mjs) as a real process.
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const upstreamScript = fileURLToPath(new URL('./upstream-service.mjs', import.meta.url));
/** Longest wait for the upstream process to print its `listening` line. */
export const upstreamStartTimeoutMs = 30_000;

/** A running upstream process. */
export interface UpstreamProcess {
  url: string;
  child: ChildProcess;
  stderr(): string;
}

/** Starts tests/upstream-service.mjs with `env` (see its header for the variables) and waits for it to listen. */
export async function startUpstream(env: Record<string, string>): Promise<UpstreamProcess> {
  const child = spawn(process.execPath, [upstreamScript], {
    cwd: fileURLToPath(new URL('.', import.meta.url)),
    env: { PATH: process.env.PATH ?? '', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`upstream did not listen within ${upstreamStartTimeoutMs} ms\n${stderr}`));
    }, upstreamStartTimeoutMs);
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const line = stdout.split('\n').find((l) => l.includes('"listening"'));
      if (line === undefined) return;
      clearTimeout(timer);
      resolve({ url: (JSON.parse(line) as { url: string }).url, child, stderr: () => stderr });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`upstream exited with ${code}\n${stderr}`));
    });
  });
}

export async function stopProcess(child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}
