// bench:gateway — the gateway's reserve+finalize pairs over HTTP against the same pair through
// @arrakis/billing-ledger in this process, on the same Postgres database, at 8 and 32 in flight (issue 15).
//   gateway: `POST /v1/reservations {accountId, amountMicro}` then `POST /v1/reservations/{id}/finalize
//            {actualCostMicro}` with a service token: one real gateway process (apps/gateway/dist/server.js) on
//            Postgres + Redis, rate limits on (per IP and per principal, at a ceiling that never refuses), the trust
//            policy on (its default threshold; these amounts are below it, so the check decides without a read);
//   library: `ledger.reserve({accountId, amountMicro})` then `ledger.finalize({reservationId, actualCostMicro})`
//            on a pool of the gateway's size (LEDGER_DB_POOL_MAX, default 10).
// Interleaved per in-flight count (gateway, library, gateway, library, … BENCH_REPS rounds; each figure is the best
// round). Goals: gateway pairs/s ÷ library pairs/s ≥ 0.75 at 8 and at 32 in flight, and the gateway at 32 in flight
// not slower than at 8. After the load, the bench checks no credit stays held and each account was charged
// `costMicro` per pair that succeeded.
// Env: DATABASE_URL (required: the Postgres server, any database on it), REDIS_URL (required), BENCH_DURATION_MS
// (default 5000 per measurement, plus a warm-up of min(1000, duration / 3)), BENCH_REPS (default 1),
// BENCH_CPU_PROF_DIR (optional: a V8 CPU profile of the gateway; the figures then include the profiler's cost).
// Prints the figures (stderr), then ONE JSON line (stdout). Every loop is bounded; only loopback; only the processes
// this script starts are stopped, by their PID.
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
// The root script builds the gateway and its packages first: these resolve to packages/billing-ledger/dist.
import { createLedger } from '@arrakis/billing-ledger';
import { openPostgresLedgerDb } from '@arrakis/billing-ledger/postgres';
import {
  call,
  cliToken,
  fundedAccounts,
  log,
  measure,
  requiredEnv,
  startGateway,
  stopChild,
  withBenchDatabase,
} from './stack.mjs';

const durationMs = Number(process.env.BENCH_DURATION_MS ?? 5000);
const reps = Number(process.env.BENCH_REPS ?? 1);
const cpuProfileDir = process.env.BENCH_CPU_PROF_DIR || undefined;
const warmupMs = Math.min(1000, Math.round(durationMs / 3));
const inFlights = [8, 32];
/** The gateway's default ledger pool (LEDGER_DB_POOL_MAX); the library runs on a pool of the same size. */
const poolSize = 10;
/** Accounts per path; pair i runs on account i mod accountsPerPath (no hot account). */
const accountsPerPath = 64;
/** $100 per account: never runs out (a pair costs 700 micro-USD). */
const grantMicro = 100_000_000n;
const holdMicro = 1_000n;
const costMicro = 700n;
/** Rate limits on, at the gateway's ceiling (per minute): on the path, never refusing. */
const ratePerMinute = 1_000_000;
const ratioMin = 0.75;

function operations({ gatewayUrl, serviceToken, ledger, gatewayAccounts, libraryAccounts, tally }) {
  const gateway = async (i) => {
    const held = await call(gatewayUrl, serviceToken, 'POST', '/v1/reservations', {
      accountId: gatewayAccounts[i % accountsPerPath],
      amountMicro: holdMicro.toString(),
    });
    await call(gatewayUrl, serviceToken, 'POST', `/v1/reservations/${held.id}/finalize`, {
      actualCostMicro: costMicro.toString(),
    });
    tally.gateway += 1;
  };
  const library = async (i) => {
    const { reservation } = await ledger.reserve({
      accountId: libraryAccounts[i % accountsPerPath],
      amountMicro: holdMicro,
    });
    await ledger.finalize({ reservationId: reservation.id, actualCostMicro: costMicro });
    tally.library += 1;
  };
  return { gateway, library };
}

/** No credit held, and `pairs × costMicro` spent over `accounts`. */
async function settlementCheck(ledger, accounts, pairs) {
  let reservedMicro = 0n;
  let spentMicro = 0n;
  for (const id of accounts) {
    const balance = await ledger.getBalance(id);
    reservedMicro += balance.reservedMicro;
    spentMicro += grantMicro - balance.availableMicro - balance.reservedMicro;
  }
  const expectedMicro = BigInt(pairs) * costMicro;
  return {
    pairs,
    reservedMicro: String(reservedMicro),
    spentMicro: String(spentMicro),
    expectedMicro: String(expectedMicro),
    ok: reservedMicro === 0n && spentMicro === expectedMicro,
  };
}

const best = (a, b) => (a === undefined || b.opsPerSecond > a.opsPerSecond ? b : a);

async function run(databaseUrl, { redisUrl, dataDir }) {
  const gateway = await startGateway({
    bench: 'gateway',
    dataDir,
    databaseUrl,
    redisUrl,
    ratePerMinute,
    cpuProfileDir,
  });
  const adminToken = await cliToken(dataDir, 'arrakis-admin', 'bench-gateway-admin', 'admin');
  const serviceToken = await cliToken(dataDir, 'arrakis-internal', 'bench-gateway-service');
  const funding = { count: accountsPerPath, grantMicro };
  const gatewayAccounts = await fundedAccounts(gateway.url, adminToken, { prefix: 'bench-gateway', ...funding });
  const libraryAccounts = await fundedAccounts(gateway.url, adminToken, { prefix: 'bench-library', ...funding });
  // The gateway migrated the database; the library opens it as it is.
  const handle = openPostgresLedgerDb({ url: databaseUrl, max: poolSize });
  const ledger = createLedger({ db: handle.db });
  log(`gateway ${gateway.url} (pid ${gateway.child.pid}); library pool ${poolSize}; ${durationMs} ms per measurement`);
  const tally = { gateway: 0, library: 0 };
  const ops = operations({ gatewayUrl: gateway.url, serviceToken, ledger, gatewayAccounts, libraryAccounts, tally });
  const figures = { gateway: {}, library: {} };
  try {
    for (const inFlight of inFlights) {
      for (let rep = 0; rep < reps; rep += 1) {
        const at = { inFlight, durationMs, warmupMs };
        const viaGateway = await measure({
          label: 'gateway over HTTP',
          op: ops.gateway,
          pid: gateway.child.pid,
          ...at,
        });
        figures.gateway[inFlight] = best(figures.gateway[inFlight], viaGateway);
        const viaLibrary = await measure({ label: 'library in process', op: ops.library, ...at });
        figures.library[inFlight] = best(figures.library[inFlight], viaLibrary);
      }
    }
    const checks = {
      gateway: await settlementCheck(ledger, gatewayAccounts, tally.gateway),
      library: await settlementCheck(ledger, libraryAccounts, tally.library),
    };
    log(`settlement: gateway ${JSON.stringify(checks.gateway)}; library ${JSON.stringify(checks.library)}`);
    return { figures, checks };
  } finally {
    await handle.close();
    await stopChild(gateway.child);
  }
}

function report({ figures, checks }, loadAtStart) {
  const byInFlight = (path) =>
    Object.fromEntries(
      inFlights.map((n) => [`inFlight${n}`, { pairsPerSecond: figures[path][n].opsPerSecond, ...figures[path][n] }]),
    );
  const ratioAt = (n) => Number((figures.gateway[n].opsPerSecond / figures.library[n].opsPerSecond).toFixed(3));
  const ratios = Object.fromEntries(inFlights.map((n) => [`inFlight${n}`, ratioAt(n)]));
  const ratio = Math.min(...inFlights.map(ratioAt));
  const scales = figures.gateway[32].opsPerSecond >= figures.gateway[8].opsPerSecond;
  const met = ratio >= ratioMin && scales && checks.gateway.ok && checks.library.ok;
  const load = { atStart: loadAtStart, atEnd: loadavg().map((x) => Number(x.toFixed(2))) };
  log(
    `ratio (gateway pairs/s ÷ library pairs/s): ${inFlights.map((n) => `${ratios[`inFlight${n}`]} at ${n}`).join(', ')} ` +
      `(goal ≥ ${ratioMin} at both: ${ratio >= ratioMin ? 'met' : 'NOT met'}); gateway at 32 ${scales ? 'not slower' : 'SLOWER'} ` +
      `than at 8; load average ${load.atStart.join(' ')} → ${load.atEnd.join(' ')} (other work on this host shares the CPU)`,
  );
  const result = {
    bench: 'gateway',
    durationMs,
    warmupMs,
    reps,
    store: 'postgres+redis',
    poolSize,
    pair: { holdMicro: String(holdMicro), costMicro: String(costMicro) },
    gateway: byInFlight('gateway'),
    ratios,
    goals: { ratioMin, gateway32NotSlowerThan8: scales, met },
    checks,
    load,
    baseline: {
      path: '@arrakis/billing-ledger reserve + finalize in process, same database, same pool size',
      ...byInFlight('library'),
    },
    ratio,
  };
  console.log(JSON.stringify(result));
}

const serverUrl = requiredEnv('gateway', 'DATABASE_URL');
const redisUrl = requiredEnv('gateway', 'REDIS_URL');
const loadAtStart = loadavg().map((x) => Number(x.toFixed(2)));
const dataDir = await mkdtemp(join(tmpdir(), 'arrakis-bench-gateway-'));
let outcome;
try {
  outcome = await withBenchDatabase(serverUrl, 'arrakis_bench_gateway', (url) => run(url, { redisUrl, dataDir }));
} finally {
  await rm(dataDir, { recursive: true, force: true });
}
report(outcome, loadAtStart);
if (!outcome.checks.gateway.ok || !outcome.checks.library.ok) process.exitCode = 1;
