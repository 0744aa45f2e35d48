// Process plumbing shared by the benchmarks that run the gateway as a real process (bench:proxy, bench:gateway):
// spawn and stop children by their own PID, wait until they listen, mint tokens with the gateway's CLI, call its
// JSON API, fund accounts, read a process's CPU time, and a throwaway database on the DATABASE_URL server.
// Every wait is bounded; only loopback.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Agent, request as httpRequest } from 'node:http';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { closedLoop } from './lib.mjs';

export const gatewayDir = fileURLToPath(new URL('../apps/gateway/', import.meta.url));
/** Longest wait for a process to listen (a gateway migrating a fresh database on a busy 2-core box takes a while). */
const startTimeoutMs = 60_000;
/** Longest wait for a process to exit after SIGTERM, then SIGKILL. */
const stopTimeoutMs = 10_000;
const pollIntervalMs = 50;
/** Child output kept for error reports (the rest is dropped: one log line per call adds up). */
const outputTailCharsMax = 20_000;

export const log = (...parts) => console.error(...parts);
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The value of a required environment variable, or exit 2 with how to set it. */
export function requiredEnv(bench, name) {
  const value = process.env[name];
  if (value === undefined || value === '') {
    console.error(
      `bench:${bench}: ${name} is required (Postgres + Redis, e.g. DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379)`,
    );
    process.exit(2);
  }
  return value;
}

/** A bounded tail of a child's output. */
function tailOf(stream) {
  let text = '';
  stream.setEncoding('utf8').on('data', (chunk) => {
    text = (text + chunk).slice(-outputTailCharsMax);
  });
  return () => text;
}

/** Children started by this run, stopped at the end (or on SIGINT), each by its own PID. */
const started = new Set();

/**
 * Spawns `node args` with `env`; resolves once a stdout line has `"msg":"listening"` and `ready(url)` holds
 * (bounded by `startTimeoutMs`). The child's PID is what {@link stopChild} stops.
 */
export async function startProcess(name, args, { cwd, env, ready = async () => true }) {
  const child = spawn(process.execPath, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  started.add(child);
  let head = '';
  let url;
  const onHead = (chunk) => {
    head += chunk;
    const line = head.split('\n').find((l) => l.startsWith('{') && l.includes('"listening"'));
    if (line !== undefined) {
      url = JSON.parse(line).url;
      child.stdout.off('data', onHead);
    }
  };
  child.stdout.setEncoding('utf8').on('data', onHead);
  const stdout = tailOf(child.stdout);
  const stderr = tailOf(child.stderr);
  const deadline = Date.now() + startTimeoutMs;
  while (Date.now() < deadline && child.exitCode === null) {
    if (url !== undefined && (await ready(url).catch(() => false))) return { child, url, stdout, stderr };
    await sleep(pollIntervalMs);
  }
  await stopChild(child);
  throw new Error(
    `${name} did not start in ${startTimeoutMs} ms\nstdout: ${head.slice(-2000)}${stdout()}\nstderr: ${stderr()}`,
  );
}

/** Stops one child this run started: SIGTERM, then SIGKILL after `stopTimeoutMs`. */
export async function stopChild(child) {
  started.delete(child);
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), stopTimeoutMs);
  await exited;
  clearTimeout(timer);
}

/** Stops every child this run started and has not stopped yet. */
export async function stopAll() {
  for (const child of [...started]) await stopChild(child);
}

process.once('SIGINT', () => {
  stopAll().finally(() => process.exit(130));
});

/**
 * Starts `apps/gateway/dist/server.js` on Postgres + Redis with rate limits on at `ratePerMinute` (on the path,
 * never refusing) under a random key prefix, plus `env`. `cpuProfileDir`: run it with `--cpu-prof` there.
 */
export function startGateway({ bench, dataDir, databaseUrl, redisUrl, ratePerMinute, env = {}, cpuProfileDir }) {
  const profile = cpuProfileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${cpuProfileDir}`];
  return startProcess('gateway', [...profile, 'dist/server.js'], {
    cwd: gatewayDir,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      NODE_ENV: 'development',
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'info',
      DATA_DIR: dataDir,
      DATABASE_URL: databaseUrl,
      REDIS_URL: redisUrl,
      RATE_LIMIT_IP_PER_MINUTE: String(ratePerMinute),
      RATE_LIMIT_PRINCIPAL_PER_MINUTE: String(ratePerMinute),
      RATE_LIMIT_KEY_PREFIX: `bench-${bench}-${randomBytes(6).toString('hex')}`,
      SHUTDOWN_TIMEOUT_MS: '5000',
      ...env,
    },
    ready: async (url) => (await fetch(`${url}/health`)).status === 200,
  });
}

/** A bearer token minted by the gateway's CLI with the keys in `dataDir`. */
export function cliToken(dataDir, aud, sub, scope) {
  const args = ['dist/cli.js', 'token', '--aud', aud, '--sub', sub, '--data-dir', dataDir, '--ttl-seconds', '86400'];
  if (scope !== undefined) args.push('--scope', scope);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: gatewayDir, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.on('exit', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`token CLI exited ${code}`))));
  });
}

/**
 * Keep-alive connections for {@link call}: node:http costs the client about a third of the CPU of fetch (undici) per
 * request, and on a 2-core host the client's CPU is taken from the gateway and the database it measures.
 */
const agent = new Agent({ keepAlive: true, maxSockets: 256 });

/** One HTTP request over node:http (keep-alive): resolves with its status, headers and whole body as text. */
export function httpCall(url, { method = 'GET', headers = {}, body } = {}) {
  const sent = { ...headers };
  if (body !== undefined) sent['content-length'] = Buffer.byteLength(body);
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { method, headers: sent, agent }, (response) => {
      const chunks = [];
      response.on('data', (chunk) => chunks.push(chunk));
      response.on('error', reject);
      response.on('end', () =>
        resolve({
          status: response.statusCode ?? 0,
          headers: response.headers,
          text: Buffer.concat(chunks).toString('utf8'),
        }),
      );
    });
    request.on('error', reject);
    request.end(body);
  });
}

/** One JSON call to the gateway ({@link httpCall}); throws unless 2xx. */
export async function call(url, token, method, path, body) {
  const headers = { authorization: `Bearer ${token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const { status, text } = await httpCall(`${url}${path}`, { method, headers, body: payload });
  if (status < 200 || status > 299) throw new Error(`${method} ${path} → ${status} ${text}`);
  return text === '' ? {} : JSON.parse(text);
}

/** CPU time (user + system, ms) of a process so far, from /proc/<pid>/stat (clock ticks of 10 ms). */
export async function cpuMsOf(pid) {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/**
 * Warm-up of `warmupMs`, then the measured closed loop of `durationMs`; adds the CPU per operation of the process
 * `pid` (the gateway) over the measured part.
 */
export async function measure({ label, op, inFlight, pid, durationMs, warmupMs }) {
  await closedLoop({ op, inFlight, durationMs: warmupMs, warmupMs: 0 });
  let ops = 0;
  const counted = async (i) => {
    await op(i);
    ops += 1;
  };
  const cpuBeforeMs = pid === undefined ? 0 : await cpuMsOf(pid);
  const result = await closedLoop({ op: counted, inFlight, durationMs, warmupMs: 0 });
  const cpuMs = pid === undefined ? null : (await cpuMsOf(pid)) - cpuBeforeMs;
  const figures = {
    ...result,
    gatewayCpuMsPerOp: cpuMs !== null && ops > 0 ? Number((cpuMs / ops).toFixed(3)) : null,
    gatewayCpuShare: cpuMs === null ? null : Number((cpuMs / durationMs).toFixed(3)),
  };
  log(
    `${label.padEnd(22)} in flight ${String(inFlight).padStart(2)}: ${String(figures.opsPerSecond).padStart(6)}/s  ` +
      `p50 ${figures.p50Ms.toFixed(3)} ms  p99 ${figures.p99Ms.toFixed(3)} ms  errors ${figures.errors}` +
      (cpuMs === null ? '' : `  gateway CPU ${figures.gatewayCpuMsPerOp} ms/op`),
  );
  return figures;
}

/** Creates `count` accounts through the gateway's admin API, granted `grantMicro` each. */
export async function fundedAccounts(gatewayUrl, adminToken, { prefix, count, grantMicro }) {
  const ids = [];
  for (let i = 0; i < count; i += 1) {
    const account = await call(gatewayUrl, adminToken, 'POST', '/v1/accounts', {
      entityType: 'user',
      entityId: `${prefix}-${i}-${randomBytes(4).toString('hex')}`,
    });
    await call(gatewayUrl, adminToken, 'POST', `/v1/accounts/${account.id}/grants`, {
      amountMicro: grantMicro.toString(),
      reason: `bench:${prefix}`,
    });
    ids.push(account.id);
  }
  return ids;
}

/**
 * Runs `body(databaseUrl)` on a fresh database `<prefix>_<random>` created on the `serverUrl` server and dropped
 * (WITH (FORCE)) afterwards, whatever happens; stops every child still running first.
 */
export async function withBenchDatabase(serverUrl, prefix, body) {
  const databaseName = `${prefix}_${randomBytes(5).toString('hex')}`;
  const url = new URL(serverUrl);
  url.pathname = `/${databaseName}`;
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database "${databaseName}"`);
    log(`database ${databaseName} created on ${url.host}`);
    return await body(url.toString());
  } finally {
    await stopAll();
    await admin.unsafe(`drop database if exists "${databaseName}" with (force)`).catch(() => {});
    await admin.end();
  }
}
