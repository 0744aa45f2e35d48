// bench:memory — resident memory (RSS) of the gateway process on its embedded store (PGlite ledger + SQLite
// counters in DATA_DIR), right after start and after a bounded write load, against the same gateway on Postgres
// (DATABASE_URL, a fresh database dropped at the end) measured in the same run: the baseline. Issue 12 item 17.
// RSS is read from /proc/<pid>/status (VmRSS, and VmHWM for the peak) of the `node dist/server.js` child.
// Env: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres: the server for the baseline),
// BENCH_PAIRS (default 2000: reserve+finalize pairs per store, over 4 concurrent clients; 50000 = 100 000 requests).
// RSS is also sampled at every tenth of the pairs: `growthAfterWarmupMiB` is the RSS after the load minus the RSS
// after its first fifth (the warm-up), the answer to "does it keep growing".
// Prints the figures, then ONE JSON line.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { call, cliToken } from './stack.mjs';

const gatewayDir = fileURLToPath(new URL('../apps/gateway/', import.meta.url));
const serverUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const pairs = Number(process.env.BENCH_PAIRS ?? 2000);
const clients = 4;
const startTimeoutMs = 60_000;
const settleMs = 2_000;
const log = (...parts) => console.error(...parts);

/** VmRSS and VmHWM of a process, in MiB. */
async function residentMiB(pid) {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const field = (name) =>
    Number(/^(\w+):\s+(\d+) kB$/m.exec(status.split('\n').find((l) => l.startsWith(name)) ?? '')?.[2] ?? NaN) / 1024;
  return { rssMiB: Math.round(field('VmRSS')), peakMiB: Math.round(field('VmHWM')) };
}

function startGateway(env) {
  const child = spawn(process.execPath, ['dist/server.js'], {
    cwd: gatewayDir,
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'development',
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'info',
      RATE_LIMIT_IP_PER_MINUTE: '0',
      RATE_LIMIT_PRINCIPAL_PER_MINUTE: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + startTimeoutMs;
    const poll = setInterval(() => {
      const line = stdout.split('\n').find((l) => l.includes('"listening"'));
      if (line !== undefined) {
        clearInterval(poll);
        resolve({ child, url: JSON.parse(line).url });
      } else if (child.exitCode !== null || Date.now() > deadline) {
        clearInterval(poll);
        child.kill('SIGKILL');
        reject(new Error(`gateway did not start: ${stderr.slice(-2000)}`));
      }
    }, 50);
  });
}

/** Starts a gateway on `env`, measures RSS at start, after `pairs` reserve+finalize pairs, and after a pause. */
async function measure(name, env, dataDir) {
  const { child, url } = await startGateway({ DATA_DIR: dataDir, ...env });
  try {
    await new Promise((r) => setTimeout(r, settleMs));
    const atStart = await residentMiB(child.pid);
    const admin = await cliToken(dataDir, 'arrakis-admin', 'bench-admin', 'admin');
    const service = await cliToken(dataDir, 'arrakis-internal', 'bench-service');
    const accounts = [];
    for (let i = 0; i < clients; i += 1) {
      const account = await call(url, admin, 'POST', '/v1/accounts', {
        entityType: 'user',
        entityId: `bench-${randomBytes(4).toString('hex')}`,
      });
      await call(url, admin, 'POST', `/v1/accounts/${account.id}/grants`, {
        amountMicro: '100000000',
        reason: 'bench',
      });
      accounts.push(account.id);
    }
    const t0 = performance.now();
    let peakDuringMiB = 0;
    const sampler = setInterval(async () => {
      peakDuringMiB = Math.max(peakDuringMiB, (await residentMiB(child.pid).catch(() => ({ rssMiB: 0 }))).rssMiB);
    }, 200);
    const byTenth = [];
    let done = 0;
    const perClient = Math.ceil(pairs / clients);
    await Promise.all(
      accounts.map(async (accountId) => {
        for (let i = 0; i < perClient; i += 1) {
          const held = await call(url, service, 'POST', '/v1/reservations', { accountId, amountMicro: '1000' });
          await call(url, service, 'POST', `/v1/reservations/${held.id}/finalize`, { actualCostMicro: '700' });
          done += 1;
          if (done % Math.max(1, Math.round((perClient * clients) / 10)) === 0) {
            byTenth.push((await residentMiB(child.pid)).rssMiB);
          }
        }
      }),
    );
    clearInterval(sampler);
    const seconds = (performance.now() - t0) / 1000;
    const afterLoad = await residentMiB(child.pid);
    await new Promise((r) => setTimeout(r, settleMs));
    const steady = await residentMiB(child.pid);
    const figures = {
      startMiB: atStart.rssMiB,
      underLoadMaxMiB: Math.max(peakDuringMiB, afterLoad.rssMiB),
      steadyMiB: steady.rssMiB,
      peakMiB: steady.peakMiB,
      pairsPerSecond: Math.round(pairs / seconds),
      rssByTenthMiB: byTenth,
      growthAfterWarmupMiB: byTenth.length >= 2 ? afterLoad.rssMiB - (byTenth[1] ?? byTenth[0]) : null,
    };
    log(`${name}: ${JSON.stringify(figures)}`);
    return figures;
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

const databaseName = `arrakis_bench_mem_${randomBytes(5).toString('hex')}`;
const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
const embeddedDir = await mkdtemp(join(tmpdir(), 'arrakis-bench-memory-embedded-'));
const postgresDir = await mkdtemp(join(tmpdir(), 'arrakis-bench-memory-pg-'));
try {
  await admin.unsafe(`create database ${databaseName}`);
  const url = new URL(serverUrl);
  url.pathname = `/${databaseName}`;
  const embedded = await measure('embedded (PGlite + SQLite)', {}, embeddedDir);
  const baseline = await measure('Postgres', { DATABASE_URL: url.toString() }, postgresDir);
  const result = {
    bench: 'memory',
    pairs,
    embedded,
    baseline: { store: 'postgres', ...baseline },
    ratio: Number((embedded.steadyMiB / baseline.steadyMiB).toFixed(2)),
    ratioAtStart: Number((embedded.startMiB / baseline.startMiB).toFixed(2)),
  };
  console.log(JSON.stringify(result));
} finally {
  await admin.unsafe(`drop database if exists ${databaseName} with (force)`).catch(() => {});
  await admin.end();
  await rm(embeddedDir, { recursive: true, force: true });
  await rm(postgresDir, { recursive: true, force: true });
}
