// bench:verify — the memory and time `verify()` needs on a ledger of 1 million journal entries (issue 12 item 16:
// it must stream in bounded pages, so its memory does not grow with the ledger).
// Generates the ledger with bulk SQL (bench/verify-ledger.mjs: 50 000 accounts, 150 000 finalized and distributed
// holds, 50 000 pending ones — 1 000 000 entries) in a dedicated database `arrakis_bench_verify_<random>`, dropped at
// the end; then runs, each in a fresh child process so its peak RSS is its own:
//   - the baseline: the same process opening the same database and reading every table once (`count(*)` and a sum of
//     each amount column), which is what any check of the whole ledger must at least do;
//   - verify(): the report must be clean, with the generated counts;
//   - verify() again with the V8 heap capped at `cappedHeapMiB` (--max-old-space-size): it must still finish, which a
//     verify holding the ledger in memory cannot (the one before streaming needed about 1.1 GiB on 1 million entries).
// Prints the figures, then ONE JSON line: { figures, baseline, ratio }.
// Env: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres: the server, any database on it),
// BENCH_VERIFY_ACCOUNTS (default 50000; entries = 20 × accounts), BENCH_VERIFY_COMPARE_DIST (optional: the dist/ folder
// of another build of @arrakis/billing-ledger whose verify() is measured too, e.g. the one before this change).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { entriesPerAccount, generateLedger } from './verify-ledger.mjs';

const holdsPerAccount = 3;
const cappedHeapMiB = 64;
const childTimeoutMs = 30 * 60_000;
const log = (...parts) => console.error(...parts);

/** Child mode: `node verify-1m.mjs --child <verify|scan> <database url> [<dist folder>]`; prints one JSON line. */
async function child(mode, url, distDir) {
  const ledgerModule = distDir ? `${distDir}/index.js` : '@arrakis/billing-ledger';
  const postgresModule = distDir ? `${distDir}/postgres.js` : '@arrakis/billing-ledger/postgres';
  const { createLedger } = await import(ledgerModule);
  const { openPostgresLedgerDb } = await import(postgresModule);
  const handle = openPostgresLedgerDb({ url, max: 1 });
  await handle.sql`select 1`;
  const rssIdleBytes = process.memoryUsage().rss;
  const t0 = performance.now();
  let result;
  if (mode === 'verify') {
    const report = await createLedger({ db: handle.db }).verify();
    result = { ok: report.ok, counts: report.counts, violations: report.violations.slice(0, 5) };
  } else {
    const tables = ['accounts', 'lots', 'reservations', 'reservation_lots', 'entries', 'distributions', 'events'];
    const amounts = { lots: 'original_micro', reservations: 'amount_micro', entries: 'amount_micro' };
    result = {};
    for (const table of tables) {
      const sum = amounts[table] ? `, coalesce(sum(${amounts[table]}), 0)::text as total` : '';
      const [row] = await handle.sql.unsafe(`select count(*)::int as n${sum} from ${table}`);
      result[table] = row.n;
    }
  }
  const elapsedMs = Math.round(performance.now() - t0);
  await handle.close();
  const maxRssBytes = process.resourceUsage().maxRSS * 1024;
  console.log(JSON.stringify({ mode, elapsedMs, rssIdleBytes, maxRssBytes, result }));
}

function runChild(mode, url, distDir, nodeOptions = []) {
  const args = [...nodeOptions, fileURLToPath(import.meta.url), '--child', mode, url, ...(distDir ? [distDir] : [])];
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'], timeout: childTimeoutMs });
    let out = '';
    proc.stdout.setEncoding('utf8').on('data', (chunk) => {
      out += chunk;
    });
    proc.once('error', reject);
    proc.once('exit', (code, signal) => {
      const line = out.trim().split('\n').pop() ?? '';
      if (code === 0 && line.startsWith('{')) resolve(JSON.parse(line));
      else reject(new Error(`child ${mode} exited ${code ?? signal}: ${out}`));
    });
  });
}

const mib = (bytes) => Math.round(bytes / 1048576);

async function main() {
  const postgres = (await import('postgres')).default;
  const serverUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const accounts = Number(process.env.BENCH_VERIFY_ACCOUNTS ?? 50_000);
  const compareDist = process.env.BENCH_VERIFY_COMPARE_DIST;
  const entries = accounts * entriesPerAccount(holdsPerAccount);
  const databaseName = `arrakis_bench_verify_${randomBytes(5).toString('hex')}`;
  const url = new URL(serverUrl);
  url.pathname = `/${databaseName}`;
  const benchUrl = url.toString();
  const loadAtStart = loadavg().map((x) => Number(x.toFixed(2)));
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database "${databaseName}"`);
  log(`database ${databaseName} created on ${new URL(serverUrl).host}`);
  const figures = {};
  try {
    const { migrateLedger } = await import('@arrakis/billing-ledger');
    const { openPostgresLedgerDb } = await import('@arrakis/billing-ledger/postgres');
    const setup = openPostgresLedgerDb({ url: benchUrl, max: 1 });
    await migrateLedger(setup.db, 'postgres');
    await setup.close();
    const sql = postgres(benchUrl, { max: 1, onnotice: () => {} });
    const t0 = performance.now();
    await generateLedger(sql, { accounts, holdsPerAccount });
    await sql.end({ timeout: 5 });
    figures.generateMs = Math.round(performance.now() - t0);
    log(`generated ${entries} entries (${accounts} accounts) in ${figures.generateMs} ms`);
    figures.scan = await runChild('scan', benchUrl);
    log(`baseline scan: ${figures.scan.elapsedMs} ms, peak RSS ${mib(figures.scan.maxRssBytes)} MiB`);
    figures.verify = await runChild('verify', benchUrl);
    log(`verify: ${figures.verify.elapsedMs} ms, peak RSS ${mib(figures.verify.maxRssBytes)} MiB`);
    figures.verifyCappedHeap = await runChild('verify', benchUrl, undefined, [`--max-old-space-size=${cappedHeapMiB}`]);
    figures.verifyCappedHeap.heapCapMiB = cappedHeapMiB;
    const capped = figures.verifyCappedHeap;
    log(`verify with a ${cappedHeapMiB} MiB heap: ${capped.elapsedMs} ms, peak RSS ${mib(capped.maxRssBytes)} MiB`);
    if (compareDist) {
      figures.compare = await runChild('verify', benchUrl, compareDist);
      log(`verify of ${compareDist}: ${figures.compare.elapsedMs} ms, RSS ${mib(figures.compare.maxRssBytes)} MiB`);
    }
  } finally {
    await admin.unsafe(`drop database if exists "${databaseName}" with (force)`);
    await admin.end({ timeout: 5 });
    log(`database ${databaseName} dropped`);
  }
  const { verify, scan } = figures;
  const expected = { accounts: accounts + 4, lots: accounts, entries, distributions: accounts * holdsPerAccount };
  const cleanRun = ({ result }) => result.ok && Object.entries(expected).every(([k, v]) => result.counts[k] === v);
  const clean = cleanRun(verify) && cleanRun(figures.verifyCappedHeap);
  if (!clean) {
    log(`FAILED: verify is not clean or miscounted: ${JSON.stringify(verify.result)}`);
    process.exitCode = 1;
  }
  console.log(
    JSON.stringify({
      bench: 'verify',
      server: new URL(serverUrl).host,
      ledger: { entries, accounts, holdsPerAccount },
      loadavg: { start: loadAtStart, end: loadavg().map((x) => Number(x.toFixed(2))) },
      figures,
      baseline: { scanMs: scan.elapsedMs, scanMaxRssBytes: scan.maxRssBytes },
      ratio: {
        verify_time_vs_scan: Number((verify.elapsedMs / scan.elapsedMs).toFixed(2)),
        verify_rss_vs_scan: Number((verify.maxRssBytes / scan.maxRssBytes).toFixed(2)),
        ...(figures.compare
          ? { verify_rss_vs_compare: Number((verify.maxRssBytes / figures.compare.maxRssBytes).toFixed(3)) }
          : {}),
      },
    }),
  );
}

if (process.argv[2] === '--child') await child(process.argv[3], process.argv[4], process.argv[5]);
else await main();
