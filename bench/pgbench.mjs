// The pgbench baseline of bench:ledger: the built-in `tpcb-like` script (a 5-statement banking transaction) on
// a database the caller owns, at a given client count. Needs the `pgbench` binary (PostgreSQL client tools).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
const pgbenchBin = process.env.PGBENCH_BIN ?? 'pgbench';

/** `pgbench -i -s <scale> -q <url>`: creates and fills the pgbench tables. */
export async function pgbenchInit({ url, scale = 1 }) {
  await run(pgbenchBin, ['-i', '-s', String(scale), '-q', url], { maxBuffer: 16 * 1024 * 1024 });
}

/**
 * `pgbench -b tpcb-like -c <clients> -j <threads> -T <seconds> -n <url>` → `{ tps, latencyAvgMs, transactions }`.
 * `-n` skips the vacuum between runs; `tps` is the figure without the initial connection time.
 */
export async function pgbenchTpcb({ url, clients, threads = 2, seconds }) {
  const args = [
    '-b',
    'tpcb-like',
    '-c',
    String(clients),
    '-j',
    String(Math.min(threads, clients)),
    '-T',
    String(seconds),
    '-n',
    url,
  ];
  const { stdout } = await run(pgbenchBin, args, { maxBuffer: 16 * 1024 * 1024 });
  const tps = /^tps = ([\d.]+) \(without initial connection time\)$/m.exec(stdout);
  if (!tps) throw new Error(`pgbench printed no tps line:\n${stdout}`);
  const latency = /^latency average = ([\d.]+) ms$/m.exec(stdout);
  const transactions = /^number of transactions actually processed: (\d+)/m.exec(stdout);
  return {
    tps: Math.round(Number(tps[1])),
    latencyAvgMs: latency ? Number(latency[1]) : null,
    transactions: transactions ? Number(transactions[1]) : null,
  };
}
