// bench:ledger — reserve+finalize pairs per second of @arrakis/billing-ledger on Postgres at 1, 8 and 32 concurrent
// clients (1000 funded accounts; postgres.js pool max = clients), one hot account at 32 clients, and the same
// pair loop on PGlite in process (serial) — against pgbench `tpcb-like` at the same client counts on the same
// server, in the same run, on a dedicated database `arrakis_bench_<random>` dropped at the end.
// A ledger operation is one reserve or one finalize: a pair is two operations, and the goal (issue 3) compares
// ledger operations/s with pgbench tps: ops/s at 8 clients ≥ 0.5 × tps, hot account at 32 ≥ 0.3 × ledger at 8.
// Prints the figures and ratios, then ONE JSON line.
// Env: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres; the server to use, any database on it),
// BENCH_DURATION_MS (default 5000 per measurement), BENCH_REPS (default 1; the best run of each is kept),
// PGBENCH_BIN (default pgbench).
import { randomBytes } from 'node:crypto';
import { Socket } from 'node:net';
import { loadavg } from 'node:os';
// The root script builds the ledger first: these resolve to packages/billing-ledger/dist.
import { createLedger, migrateLedger } from '@arrakis/billing-ledger';
import { openPgliteLedgerDb } from '@arrakis/billing-ledger/pglite';
import { openPostgresLedgerDb } from '@arrakis/billing-ledger/postgres';
import postgres from 'postgres';
import { closedLoop } from './lib.mjs';
import { pgbenchInit, pgbenchTpcb } from './pgbench.mjs';

const serverUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const durationMs = Number(process.env.BENCH_DURATION_MS ?? 5000);
const reps = Number(process.env.BENCH_REPS ?? 1);
const clientCounts = [1, 8, 32];
const hotClients = 32;
const accountCount = 1000;
const pgliteAccountCount = 100;
const fundMicro = 10n ** 12n; // never runs out: the bench measures the admitted path
const holdMicro = 1_000n;
const costMicro = 700n;
const profilePairs = 50;

const databaseName = `arrakis_bench_${randomBytes(5).toString('hex')}`;
const benchUrl = (() => {
  const url = new URL(serverUrl);
  url.pathname = `/${databaseName}`;
  return url.toString();
})();
const log = (...parts) => console.error(...parts);
const loadAtStart = loadavg().map((x) => Number(x.toFixed(2)));

const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
await admin.unsafe(`create database "${databaseName}"`);
log(`database ${databaseName} created on ${new URL(serverUrl).host}`);

/** Creates `count` accounts, each with one lot of `fundMicro`, on `pairs` concurrent workers. */
async function fundAccounts(ledger, count, prefix, workers = 16) {
  const ids = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (next < count) {
        const i = next++;
        const { account } = await ledger.createAccount({ entityType: 'bench', entityId: `${prefix}-${i}` });
        await ledger.mint({ accountId: account.id, amountMicro: fundMicro, sourceType: 'grant' });
        ids[i] = account.id;
      }
    }),
  );
  return ids;
}

const pair = (ledger, accountIdOf) => async (i) => {
  const { reservation } = await ledger.reserve({ accountId: accountIdOf(i), amountMicro: holdMicro });
  await ledger.finalize({ reservationId: reservation.id, actualCostMicro: costMicro });
};

const figures = {};
const keep = (id, result) => {
  if (!figures[id] || result.opsPerSecond > figures[id].opsPerSecond) figures[id] = result;
};
let profile = null;

try {
  // Setup: ledger schema and pgbench tables side by side in the same fresh database.
  const setup = openPostgresLedgerDb({ url: benchUrl, max: 16 });
  await migrateLedger(setup.db, 'postgres');
  await pgbenchInit({ url: benchUrl, scale: 1 });
  const setupLedger = createLedger({ db: setup.db });
  const t0 = Date.now();
  const accountIds = await fundAccounts(setupLedger, accountCount, 'spread');
  const [hotAccountId] = await fundAccounts(setupLedger, 1, 'hot', 1);
  log(`funded ${accountCount} accounts + 1 hot account in ${Date.now() - t0} ms`);
  await setup.close();

  // Statements and socket writes per reserve and per finalize (pipelined statements share a write; postgres.js sends
  // a message of 1 KiB or more at once, so a finalize's COMMIT follows its large write statement in a write of its
  // own without waiting for it: 2 round trips in 3 writes),
  // counted on a serial loop.
  {
    let statements = 0;
    let writes = 0;
    const socketWrite = Socket.prototype.write;
    Socket.prototype.write = function countedWrite(...args) {
      writes += 1;
      return socketWrite.apply(this, args);
    };
    const texts = new Map();
    const sql = postgres(benchUrl, {
      max: 1,
      onnotice: () => {},
      types: { bigint: postgres.BigInt },
      debug: (_connection, query) => {
        statements += 1;
        const head = query.replace(/\s+/g, ' ').trim().slice(0, 60);
        texts.set(head, (texts.get(head) ?? 0) + 1);
      },
    });
    const handle = openPostgresLedgerDb({ sql });
    const ledger = createLedger({ db: handle.db });
    let reserveStatements = 0;
    let finalizeStatements = 0;
    let reserveWrites = 0;
    let finalizeWrites = 0;
    // Warm up (the first use of a statement on a connection prepares it: one more round trip), then count.
    for (let i = 0; i < 2 * profilePairs; i += 1) {
      const counting = i >= profilePairs;
      const before = [statements, writes];
      const { reservation } = await ledger.reserve({ accountId: accountIds[i], amountMicro: holdMicro });
      const mid = [statements, writes];
      await ledger.finalize({ reservationId: reservation.id, actualCostMicro: costMicro });
      if (counting) {
        reserveStatements += mid[0] - before[0];
        finalizeStatements += statements - mid[0];
        reserveWrites += mid[1] - before[1];
        finalizeWrites += writes - mid[1];
      }
      if (i === profilePairs - 1) texts.clear();
    }
    Socket.prototype.write = socketWrite;
    await sql.end({ timeout: 5 });
    profile = {
      statementsPerReserve: reserveStatements / profilePairs,
      statementsPerFinalize: finalizeStatements / profilePairs,
      statementsPerPair: (reserveStatements + finalizeStatements) / profilePairs,
      socketWritesPerReserve: reserveWrites / profilePairs,
      socketWritesPerFinalize: finalizeWrites / profilePairs,
      statements: Object.fromEntries(
        [...texts.entries()].sort((a, b) => b[1] - a[1]).map(([text, n]) => [text, n / profilePairs]),
      ),
    };
    log(
      `statements per reserve ${profile.statementsPerReserve}, per finalize ${profile.statementsPerFinalize}; ` +
        `socket writes per reserve ${profile.socketWritesPerReserve}, per finalize ${profile.socketWritesPerFinalize}:`,
      profile.statements,
    );
  }

  const seconds = Math.max(1, Math.round(durationMs / 1000));
  for (let rep = 0; rep < reps; rep += 1) {
    for (const clients of clientCounts) {
      const pg = await pgbenchTpcb({ url: benchUrl, clients, seconds });
      keep(`pgbench@${clients}`, { opsPerSecond: pg.tps, latencyAvgMs: pg.latencyAvgMs });
      log(`pgbench tpcb-like  clients=${String(clients).padStart(2)} rep ${rep + 1}  tps=${pg.tps}`);

      const handle = openPostgresLedgerDb({ url: benchUrl, max: clients });
      const ledger = createLedger({ db: handle.db });
      const result = await closedLoop({
        op: pair(ledger, (i) => accountIds[i % accountIds.length]),
        inFlight: clients,
        durationMs,
      });
      await handle.close();
      keep(`ledger@${clients}`, result);
      log(`ledger pairs       clients=${String(clients).padStart(2)} rep ${rep + 1}  ${JSON.stringify(result)}`);
    }
    const handle = openPostgresLedgerDb({ url: benchUrl, max: hotClients });
    const ledger = createLedger({ db: handle.db });
    const hot = await closedLoop({ op: pair(ledger, () => hotAccountId), inFlight: hotClients, durationMs });
    await handle.close();
    keep(`ledgerHot@${hotClients}`, hot);
    log(`ledger hot account clients=${hotClients} rep ${rep + 1}  ${JSON.stringify(hot)}`);
  }

  // PGlite in process: one connection, transactions one at a time.
  {
    const handle = await openPgliteLedgerDb();
    await migrateLedger(handle.db, 'pglite');
    const ledger = createLedger({ db: handle.db });
    const ids = await fundAccounts(ledger, pgliteAccountCount, 'pglite', 1);
    for (let rep = 0; rep < reps; rep += 1) {
      const result = await closedLoop({ op: pair(ledger, (i) => ids[i % ids.length]), inFlight: 1, durationMs });
      keep('pglite@1', result);
      log(`pglite pairs       clients= 1 rep ${rep + 1}  ${JSON.stringify(result)}`);
    }
    await handle.close();
  }
} finally {
  await admin.unsafe(`drop database if exists "${databaseName}" with (force)`);
  await admin.end({ timeout: 5 });
  log(`database ${databaseName} dropped`);
}

const ops = (id) => figures[id].opsPerSecond;
const ratio = (a, b) => Number((ops(a) / ops(b)).toFixed(3));
// A pair is two ledger operations (one reserve, one finalize; each its own transaction). The goal is worded on
// ledger operations/s against pgbench tps, so it is checked on operations; pairs/s and its ratio are printed too.
const opsRatio = (clients) => Number(((2 * ops(`ledger@${clients}`)) / ops(`pgbench@${clients}`)).toFixed(3));
for (const [id, figure] of Object.entries(figures)) {
  if (id.startsWith('ledger') || id.startsWith('pglite')) figure.ledgerOpsPerSecond = 2 * figure.opsPerSecond;
}
const ratios = {
  ledger_vs_pgbench_at_1: ratio('ledger@1', 'pgbench@1'),
  ledger_vs_pgbench_at_8: ratio('ledger@8', 'pgbench@8'),
  ledger_vs_pgbench_at_32: ratio('ledger@32', 'pgbench@32'),
  ledger_ops_vs_pgbench_at_1: opsRatio(1),
  ledger_ops_vs_pgbench_at_8: opsRatio(8),
  ledger_ops_vs_pgbench_at_32: opsRatio(32),
  hot_at_32_vs_ledger_at_8: ratio(`ledgerHot@${hotClients}`, 'ledger@8'),
};
const goals = {
  'ledger_ops_vs_pgbench_at_8 >= 0.5': ratios.ledger_ops_vs_pgbench_at_8 >= 0.5,
  'hot_at_32_vs_ledger_at_8 >= 0.3': ratios.hot_at_32_vs_ledger_at_8 >= 0.3,
};

log('');
log('clients  pgbench tps  ledger pairs/s  ledger ops/s  ops/tps  pairs/tps  client CPU ms/pair');
for (const c of clientCounts) {
  log(
    `${String(c).padStart(7)}  ${String(ops(`pgbench@${c}`)).padStart(11)}  ${String(ops(`ledger@${c}`)).padStart(14)}  ${String(2 * ops(`ledger@${c}`)).padStart(12)}  ${String(opsRatio(c)).padStart(7)}  ${String(ratio(`ledger@${c}`, `pgbench@${c}`)).padStart(9)}  ${figures[`ledger@${c}`].clientCpuMsPerOp}`,
  );
}
log(
  `hot account at ${hotClients}: ${ops(`ledgerHot@${hotClients}`)} pairs/s = ${2 * ops(`ledgerHot@${hotClients}`)} ops/s (${ratios.hot_at_32_vs_ledger_at_8} × ledger@8)`,
);
log(`PGlite in process, serial: ${ops('pglite@1')} pairs/s = ${2 * ops('pglite@1')} ops/s`);
log(`goals: ${JSON.stringify(goals)}`);
// A measurement whose operations failed measures the failure path, not the ledger: say so and exit non-zero.
const failed = Object.entries(figures).filter(([, f]) => (f.errors ?? 0) > 0);
if (failed.length > 0) {
  log(`FAILED operations in: ${failed.map(([id, f]) => `${id} (${f.errors})`).join(', ')}`);
  process.exitCode = 1;
}

console.log(
  JSON.stringify({
    bench: 'ledger',
    server: new URL(serverUrl).host,
    durationMs,
    reps,
    accounts: accountCount,
    pair: `reserve ${holdMicro} + finalize ${costMicro} (live)`,
    operation: 'one reserve or one finalize (a pair is 2 operations)',
    units: {
      'ledger*, pglite* opsPerSecond': 'pairs/s',
      ledgerOpsPerSecond: 'operations/s',
      'pgbench* opsPerSecond': 'tps',
    },
    loadavg: { start: loadAtStart, end: loadavg().map((x) => Number(x.toFixed(2))) },
    figures,
    baseline: 'pgbench -b tpcb-like -j 2 -n, scale 1, same server, same run',
    ratio: ratios,
    goals,
    profile,
  }),
);
