#!/usr/bin/env node
/**
 * `arrakis-ledger`: command-line tools for the ledger database.
 *
 *   arrakis-ledger verify --database-url postgres://user@host:5432/db [--json]
 *   arrakis-ledger verify --data-dir ./.data/ledger [--json]
 *
 * `verify` replays the journal and checks every invariant (read-only, one snapshot) and prints the report: a
 * readable summary, or the report as JSON with `--json`. Exit status: 0 no violation, 1 violations found,
 * 2 usage error, 3 the database could not be opened or read — among others when another process (a gateway) holds
 * the `--data-dir`: an embedded store is opened by one process at a time, and the message names the holder's PID.
 */
import { existsSync, statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { LedgerDbHandle } from './db/ledger-db.js';
import { createLedger } from './ledger/ledger.js';
import type { VerifyReport } from './types.js';

/** Exit statuses of the CLI. */
export const cliExitCode = { clean: 0, violations: 1, usage: 2, failure: 3 } as const;

const usage = `usage: arrakis-ledger verify (--database-url <postgres url> | --data-dir <pglite folder>) [--json]

  verify   replay the journal and check every invariant; exit 0 when clean, 1 on any violation
  --database-url <url>   a PostgreSQL database (postgres://user@host:5432/db)
  --data-dir <folder>    an embedded PGlite database folder (as written by the gateway)
  --json                 print the report as JSON
  --help                 print this help

exit status: 0 clean, 1 violations, 2 usage error, 3 the database could not be opened or read
  (a --data-dir another process holds, such as a running gateway, is refused: stop that process first)`;

function fail(message: string): number {
  process.stderr.write(`arrakis-ledger: ${message}\n\n${usage}\n`);
  return cliExitCode.usage;
}

function summary(report: VerifyReport, source: string): string {
  const { counts } = report;
  const head =
    `ledger verify ${source}: ${report.ok ? 'OK' : `${report.violations.length} violation(s)`}\n` +
    `  checked at ${report.checkedAt.toISOString()}: ${counts.accounts} accounts, ${counts.lots} lots, ` +
    `${counts.reservations} reservations, ${counts.entries} entries, ${counts.payments} payments\n`;
  return head + report.violations.map((v) => `  ${v.rule}  ${v.subjectId}  ${v.message}\n`).join('');
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    options: {
      'database-url': { type: 'string' },
      'data-dir': { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean' },
    },
    allowPositionals: true,
    strict: true,
  });
}

async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    return fail((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return cliExitCode.clean;
  }
  if (positionals.length !== 1 || positionals[0] !== 'verify') {
    return fail(
      positionals.length === 0 ? 'a command is required' : `unknown command ${JSON.stringify(positionals.join(' '))}`,
    );
  }
  const url = values['database-url'];
  const dataDir = values['data-dir'];
  if ((url === undefined) === (dataDir === undefined)) return fail('give exactly one of --database-url or --data-dir');
  if (url !== undefined && !/^postgres(ql)?:\/\/./.test(url)) {
    return fail(`--database-url ${JSON.stringify(url)} must start with postgres:// or postgresql://`);
  }
  if (dataDir !== undefined && (!existsSync(dataDir) || !statSync(dataDir).isDirectory())) {
    return fail(`--data-dir ${JSON.stringify(dataDir)} is not a folder`);
  }

  let handle: LedgerDbHandle | undefined;
  try {
    if (url !== undefined) {
      const { openPostgresLedgerDb } = await import('./db/postgres.js');
      handle = openPostgresLedgerDb({ url, max: 1 });
    } else {
      const { openPgliteLedgerDb } = await import('./db/pglite.js');
      handle = await openPgliteLedgerDb({ dataDir: dataDir as string });
    }
    const report = await createLedger({ db: handle.db }).verify();
    const source = url !== undefined ? new URL(url).pathname.slice(1) || url : (dataDir as string);
    process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : summary(report, source));
    return report.ok ? cliExitCode.clean : cliExitCode.violations;
  } catch (error) {
    process.stderr.write(`arrakis-ledger: could not verify: ${(error as Error).message}\n`);
    return cliExitCode.failure;
  } finally {
    await handle?.close().catch(() => {});
  }
}

process.exitCode = await main(process.argv.slice(2));
