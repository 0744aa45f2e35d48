// bench:proxy — the metered reverse proxy of the gateway (issue 14) on Postgres + Redis: calls/s, p50 and p99 of
//   (a) the upstream called directly,
//   (b) the same call through the gateway, `POST /v1/upstreams/bench/v1/chat/completions` with a service token and
//       `X-Account-Id` (authenticate, rate limit, trust check, hold through the meter, forward, finalize by usage),
//   (c) the gateway's own HTTP reserve + finalize pair (`POST /v1/reservations` with `meterId`, then
//       `POST /v1/reservations/{id}/finalize` with `usage`): the baseline the issue names,
// each at 1 and 32 in flight, in the same run, against the same processes.
// Goals (issue 14): p50 overhead at 1 in flight (proxy p50 − direct p50) ≤ 3 ms; ratio = proxy calls/s at 32 ÷
// reserve+finalize pairs/s at 32 ≥ 0.75.
// Processes: the upstream (bench/proxy-upstream.mjs, node:http) and one gateway (apps/gateway/dist/server.js) on a
// fresh database `arrakis_bench_proxy_<random>` (created on the DATABASE_URL server, dropped at the end) and Redis
// (counters and rate limits, under a random key prefix; rate limits on at their ceiling so they are on the path).
// Load: 32 funded accounts per path, the call i on account i mod 32 (no hot account). After the load, the bench
// checks every hold settled and each proxied call was charged the meter's price of the usage the upstream reported.
// Env: DATABASE_URL (required: the Postgres server, any database on it), REDIS_URL (required),
// BENCH_DURATION_MS (default 5000 per measurement; each has a warm-up of min(1000, duration / 3) before it).
// BENCH_CPU_PROF_DIR (optional: a folder for the gateway's V8 CPU profile, `--cpu-prof`; the figures then include
// the profiler's cost).
// Prints the figures (stderr), then ONE JSON line (stdout). Every loop is bounded; only loopback; only the processes
// this script starts are stopped, by their PID.
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  call,
  cliToken,
  fundedAccounts,
  httpCall,
  log,
  measure as measureOn,
  requiredEnv,
  sleep,
  startGateway,
  startProcess,
  stopChild,
  withBenchDatabase,
} from './stack.mjs';

const upstreamScript = fileURLToPath(new URL('./proxy-upstream.mjs', import.meta.url));

const durationMs = Number(process.env.BENCH_DURATION_MS ?? 5000);
/** When set, the gateway runs with `--cpu-prof` and writes its CPU profile there on exit (for a look, not a figure). */
const cpuProfileDir = process.env.BENCH_CPU_PROF_DIR || undefined;
const warmupMs = Math.min(1000, Math.round(durationMs / 3));
const inFlights = [1, 32];
const accountsPerPath = 32;
/** Longest wait for the last holds to settle after the load (the proxy settles after the body has passed). */
const settleWaitMsMax = 30_000;
const pollIntervalMs = 50;
/** Grant per account: $100 (the default trust threshold of an account without an anchor); a call costs 3840 micro-USD. */
const grantMicro = 100_000_000n;
/** Rate limits on, at the gateway's ceiling (per minute): on the path, never refusing. */
const ratePerMinute = 1_000_000;
const upstreamId = 'bench';
const meter = {
  id: 'bench-chat',
  holdMicro: '10000',
  unitPrices: [
    { dimension: 'input_tokens', priceMicro: '1500', perUnits: '1000' },
    { dimension: 'output_tokens', priceMicro: '6000', perUnits: '1000' },
  ],
};
/** What the upstream reports per call (bench/proxy-upstream.mjs), in the meter's dimensions. */
const usage = { input_tokens: 1200, output_tokens: 340 };
const requestBody = JSON.stringify({ model: 'bench', messages: [{ role: 'user', content: 'hello' }] });
const callPath = '/v1/chat/completions';

/** Warm-up, then the measured closed loop; adds the gateway's CPU per operation over the measured part. */
const measure = (label, op, inFlight, pid) => measureOn({ label, op, inFlight, pid, durationMs, warmupMs });

/**
 * The three operations measured, all over node:http with keep-alive (`httpCall`). Each throws on a non-2xx answer,
 * after reading the body to its end.
 */
function operations({ upstreamUrl, gatewayUrl, tokens, proxyAccounts, pairAccounts, tally }) {
  const jsonHeaders = { 'content-type': 'application/json' };
  const direct = async () => {
    const response = await httpCall(`${upstreamUrl}${callPath}`, {
      method: 'POST',
      headers: jsonHeaders,
      body: requestBody,
    });
    if (response.status !== 200) throw new Error(`direct → ${response.status}`);
  };
  const proxied = async (i) => {
    const response = await httpCall(`${gatewayUrl}/v1/upstreams/${upstreamId}${callPath}`, {
      method: 'POST',
      headers: {
        ...jsonHeaders,
        authorization: `Bearer ${tokens.service}`,
        'x-account-id': proxyAccounts[i % accountsPerPath],
      },
      body: requestBody,
    });
    if (response.status !== 200) throw new Error(`proxy → ${response.status}`);
    tally.proxied += 1;
  };
  const pair = async (i) => {
    const held = await call(gatewayUrl, tokens.service, 'POST', '/v1/reservations', {
      accountId: pairAccounts[i % accountsPerPath],
      meterId: meter.id,
    });
    await call(gatewayUrl, tokens.service, 'POST', `/v1/reservations/${held.id}/finalize`, { usage });
    tally.pairs += 1;
  };
  return { direct, proxied, pair };
}

/**
 * Waits (bounded) until no account holds credit, then checks each path charged `costMicro` per successful call:
 * the proxy settled every call with the usage the upstream reported.
 */
async function settlementCheck(gatewayUrl, tokens, accounts, calls, costMicro) {
  const deadline = Date.now() + settleWaitMsMax;
  let balances = [];
  while (Date.now() < deadline) {
    balances = await Promise.all(
      accounts.map((id) => call(gatewayUrl, tokens.service, 'GET', `/v1/accounts/${id}/balance`)),
    );
    if (balances.every((b) => b.reservedMicro === '0')) break;
    await sleep(pollIntervalMs);
  }
  const reservedMicro = balances.reduce((sum, b) => sum + BigInt(b.reservedMicro), 0n);
  const spentMicro = balances.reduce((sum, b) => sum + grantMicro - BigInt(b.availableMicro), 0n);
  const expectedMicro = BigInt(calls) * costMicro;
  return {
    calls,
    reservedMicro: String(reservedMicro),
    spentMicro: String(spentMicro),
    expectedMicro: String(expectedMicro),
    ok: reservedMicro === 0n && spentMicro === expectedMicro,
  };
}

async function startStack({ databaseUrl, redisUrl, dataDir }) {
  const upstream = await startProcess('upstream', [upstreamScript], {
    cwd: fileURLToPath(new URL('.', import.meta.url)),
    env: { PATH: process.env.PATH ?? '', PORT: '0' },
    ready: async (url) => (await fetch(`${url}/stats`)).status === 200,
  });
  const gateway = await startGateway({
    bench: 'proxy',
    dataDir,
    databaseUrl,
    redisUrl,
    ratePerMinute,
    cpuProfileDir,
    env: {
      METERS: JSON.stringify([meter]),
      UPSTREAMS: JSON.stringify([{ id: upstreamId, url: upstream.url, meterId: meter.id }]),
    },
  });
  return { upstream, gateway };
}

/** One proxied call and one pair, checked: both 200, the same charge. Answers the charge of one call. */
async function smokeTest(ops, gatewayUrl, tokens, account) {
  await ops.direct();
  const held = await call(gatewayUrl, tokens.service, 'POST', '/v1/reservations', {
    accountId: account,
    meterId: meter.id,
  });
  const finalized = await call(gatewayUrl, tokens.service, 'POST', `/v1/reservations/${held.id}/finalize`, { usage });
  const costMicro = BigInt(finalized.chargedMicro);
  const response = await fetch(`${gatewayUrl}/v1/upstreams/${upstreamId}${callPath}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens.service}`, 'x-account-id': account },
    body: requestBody,
  });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`the proxied smoke call answered ${response.status}: ${text}`);
  const check = await settlementCheck(gatewayUrl, tokens, [account], 2, costMicro);
  if (!check.ok) throw new Error(`the smoke calls did not charge 2 × ${costMicro} micro-USD: ${JSON.stringify(check)}`);
  return costMicro;
}

async function run({ databaseUrl, redisUrl, dataDir }) {
  const { upstream, gateway } = await startStack({ databaseUrl, redisUrl, dataDir });
  const tokens = {
    admin: await cliToken(dataDir, 'arrakis-admin', 'bench-proxy-admin', 'admin'),
    service: await cliToken(dataDir, 'arrakis-internal', 'bench-proxy-service'),
  };
  const [smokeAccount] = await fundedAccounts(gateway.url, tokens.admin, {
    prefix: 'bench-proxy-smoke',
    count: 1,
    grantMicro,
  });
  const proxyAccounts = await fundedAccounts(gateway.url, tokens.admin, {
    prefix: 'bench-proxy',
    count: accountsPerPath,
    grantMicro,
  });
  const pairAccounts = await fundedAccounts(gateway.url, tokens.admin, {
    prefix: 'bench-pair',
    count: accountsPerPath,
    grantMicro,
  });
  const tally = { proxied: 0, pairs: 0 };
  const ops = operations({
    upstreamUrl: upstream.url,
    gatewayUrl: gateway.url,
    tokens,
    proxyAccounts,
    pairAccounts,
    tally,
  });
  const costMicro = await smokeTest(ops, gateway.url, tokens, smokeAccount);
  log(
    `gateway ${gateway.url} (pid ${gateway.child.pid}), upstream ${upstream.url} (pid ${upstream.child.pid}); one call costs ${costMicro} micro-USD`,
  );
  const served0 = (await (await fetch(`${upstream.url}/stats`)).json()).served;
  const figures = { direct: {}, proxy: {}, pair: {} };
  for (const inFlight of inFlights) {
    figures.direct[inFlight] = await measure('direct upstream', ops.direct, inFlight, gateway.child.pid);
    figures.proxy[inFlight] = await measure('through the proxy', ops.proxied, inFlight, gateway.child.pid);
    figures.pair[inFlight] = await measure('reserve+finalize pair', ops.pair, inFlight, gateway.child.pid);
  }
  const served = (await (await fetch(`${upstream.url}/stats`)).json()).served - served0;
  const checks = {
    proxy: await settlementCheck(gateway.url, tokens, proxyAccounts, tally.proxied, costMicro),
    pairs: await settlementCheck(gateway.url, tokens, pairAccounts, tally.pairs, costMicro),
  };
  const directCalls = served - tally.proxied;
  log(
    `settlement: proxy ${JSON.stringify(checks.proxy)}; pairs ${JSON.stringify(checks.pairs)}; upstream served ${served} (${directCalls} direct)`,
  );
  await stopChild(gateway.child);
  await stopChild(upstream.child);
  return { figures, checks, costMicro };
}

function report({ figures, checks, costMicro }, loadAtStart) {
  const byInFlight = (path) => Object.fromEntries(inFlights.map((n) => [`inFlight${n}`, figures[path][n]]));
  const overheadMs = Number((figures.proxy[1].p50Ms - figures.direct[1].p50Ms).toFixed(3));
  const ratio = Number((figures.proxy[32].opsPerSecond / figures.pair[32].opsPerSecond).toFixed(3));
  const load = { atStart: loadAtStart, atEnd: loadavg().map((x) => Number(x.toFixed(2))) };
  log(
    `p50 overhead at 1 in flight: ${overheadMs} ms (goal ≤ 3 ms: ${overheadMs <= 3 ? 'met' : 'NOT met'}); ` +
      `ratio at 32 in flight (proxy calls/s ÷ reserve+finalize pairs/s): ${ratio} (goal ≥ 0.75: ${ratio >= 0.75 ? 'met' : 'NOT met'}); ` +
      `load average ${load.atStart.join(' ')} → ${load.atEnd.join(' ')} (other work on this host shares the CPU)`,
  );
  const result = {
    bench: 'proxy',
    durationMs,
    warmupMs,
    store: 'postgres+redis',
    upstream: 'node:http JSON, usage in X-Usage and body',
    costMicroPerCall: String(costMicro),
    direct: byInFlight('direct'),
    proxy: byInFlight('proxy'),
    p50OverheadMsAt1: overheadMs,
    goals: { p50OverheadMsAt1Max: 3, ratioMin: 0.75, met: overheadMs <= 3 && ratio >= 0.75 },
    checks,
    load,
    baseline: {
      path: 'HTTP POST /v1/reservations {meterId} + POST /v1/reservations/{id}/finalize {usage}',
      ...byInFlight('pair'),
    },
    ratio,
  };
  console.log(JSON.stringify(result));
}

const serverUrl = requiredEnv('proxy', 'DATABASE_URL');
const redisUrl = requiredEnv('proxy', 'REDIS_URL');
const loadAtStart = loadavg().map((x) => Number(x.toFixed(2)));
const dataDir = await mkdtemp(join(tmpdir(), 'arrakis-bench-proxy-'));
log(`${durationMs} ms per measurement`);
let outcome;
try {
  outcome = await withBenchDatabase(serverUrl, 'arrakis_bench_proxy', (databaseUrl) =>
    run({ databaseUrl, redisUrl, dataDir }),
  );
} finally {
  await rm(dataDir, { recursive: true, force: true });
}
report(outcome, loadAtStart);
if (!outcome.checks.proxy.ok || !outcome.checks.pairs.ok) process.exitCode = 1;
