/**
 * The pnpm patch of postgres.js 3.4.9 (patches/postgres@3.4.9.patch, docs/adr/003-postgres-driver-patch.md; upstream
 * porsager/postgres#1154 and #1208, unreleased). Upstream, a connection whose socket closes under a reserved
 * connection or a transaction kills the process (`TypeError: Cannot read properties of null (reading 'write') at
 * Immediate.nextWrite`, thrown outside any request), or hangs a query, or runs a stale handle's statement on the
 * pool's next session, or keeps a reconnected socket from ever starting.
 *
 * Each scenario runs in a child process (postgres-driver-patch.child.mjs) against the real Postgres at DATABASE_URL,
 * so an uncaught exception shows as the child's exit code: 0 with the installed (patched) driver; 1 (the crash) or 3
 * (a hang, a statement on another session, a wrong error) with the same driver un-patched (`git apply -R` of the
 * patch on a copy), which also proves that the patch still matches the files it changes.
 * The checks that the patch is installed run without DATABASE_URL; the scenarios are skipped (reason printed).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const databaseUrl = process.env.DATABASE_URL;
const skipReason =
  databaseUrl === undefined || databaseUrl === ''
    ? 'skipped: DATABASE_URL not set (the scenarios terminate backends of a real Postgres)'
    : '';
if (skipReason !== '') console.warn(`postgres-driver-patch: ${skipReason}`);

const root = fileURLToPath(new URL('..', import.meta.url));
const childScript = fileURLToPath(new URL('./postgres-driver-patch.child.mjs', import.meta.url));
const patchedVersion = '3.4.9';
const patchPath = `patches/postgres@${patchedVersion}.patch`;

/** Longest a scenario's child may run; each of its own waits is bounded well below this. */
const childRunMsMax = 25_000;
/** The workspace packages that load postgres.js at run time (and the tests themselves). */
const consumers = ['apps/gateway', 'packages/billing-ledger', 'packages/atomic-counter', 'tests'];
/** The copies of the driver the package ships: ESM (what our ESM code loads), CJS (`require`), Cloudflare. */
const shippedCopies = ['src', 'cjs/src', 'cf/src'];
/** Exit code of Node for an uncaught exception; the child's own code for a scenario that did not hold. */
const uncaughtExitCode = 1;
const scenarioFailedExitCode = 3;
const upstreamCrash = "TypeError: Cannot read properties of null (reading 'write')";

/**
 * The scenarios of the child, and what the un-patched driver does in each: crashes (exit 1), fails (exit 3), or
 * holds (a guard that the patch keeps upstream behaviour the patch's other changes could break).
 */
const scenarios: { name: string; unpatched: 'crash' | 'fails' | 'holds' }[] = [
  { name: 'reserved-after-terminate', unpatched: 'crash' },
  { name: 'reserved-racing-terminate', unpatched: 'crash' },
  { name: 'release-after-terminate', unpatched: 'crash' },
  { name: 'query-between-reset-and-close', unpatched: 'crash' },
  { name: 'reservation-not-reused-after-reconnect', unpatched: 'fails' },
  { name: 'transaction-not-continued-after-reconnect', unpatched: 'fails' },
  { name: 'reconnect-after-close-with-write-pending', unpatched: 'fails' },
  { name: 'fatal-not-carried-to-next-session', unpatched: 'fails' },
  { name: 'reservation-waiting-when-connection-closes', unpatched: 'fails' },
  { name: 'reservation-refused-then-server-back', unpatched: 'holds' },
];

interface ChildRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function runScenario(name: string, driverUrl?: string): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [childScript, name], {
      cwd: dirname(childScript),
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        DATABASE_URL: databaseUrl ?? '',
        ...(driverUrl === undefined ? {} : { POSTGRES_DRIVER_URL: driverUrl }),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: childRunMsMax,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

const describeRun = (run: ChildRun) =>
  `exit ${run.code} ${run.signal ?? ''}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`;

/** The real directory of the postgres.js a workspace package resolves (its CJS entry is `cjs/src/index.js`). */
function installedDriverDir(consumer: string): string {
  const entry = createRequire(join(root, consumer, 'package.json')).resolve('postgres');
  return realpathSync(join(dirname(entry), '..', '..'));
}

describe('the installed postgres.js carries patches/postgres@3.4.9.patch', () => {
  it('pnpm-workspace.yaml registers the patch for the version the workspace installs', () => {
    const workspace = readFileSync(join(root, 'pnpm-workspace.yaml'), 'utf8');
    expect(workspace, 'pnpm-workspace.yaml lost its patchedDependencies entry (see ADR 003)').toMatch(
      new RegExp(
        `^patchedDependencies:\\n(?:  .*\\n)*  postgres@${patchedVersion.replaceAll('.', '\\.')}: ${patchPath}$`,
        'm',
      ),
    );
    const installed = JSON.parse(readFileSync(join(installedDriverDir('tests'), 'package.json'), 'utf8')) as {
      version: string;
    };
    expect(
      installed.version,
      `postgres ${installed.version} is installed but the patch is for ${patchedVersion}: if the new release fixes ` +
        'porsager/postgres#1154/#1208, drop the patch (ADR 003); else port it',
    ).toBe(patchedVersion);
  });

  it('every workspace package that loads the driver gets the patched copy, in each module format it ships', () => {
    const dirs = new Set(consumers.map(installedDriverDir));
    expect(dirs.size, `the workspace resolves several copies of postgres.js: ${[...dirs].join(', ')}`).toBe(1);
    const [dir] = [...dirs] as [string];
    for (const copy of shippedCopies) {
      const connection = readFileSync(join(dir, copy, 'connection.js'), 'utf8');
      const index = readFileSync(join(dir, copy, 'index.js'), 'utf8');
      // The guard of nextWrite, the session a reservation or a transaction pins, the reset of the write state.
      expect(connection, `${copy}/connection.js is not patched (run pnpm install)`).toContain(
        'if (socket === null || socket.destroyed)\n      return writeOnClosedSocket()',
      );
      expect(connection).toContain('connection.session++');
      expect(connection).toContain('chunk = nextWriteTimer = null\n    errorResponse = results = null');
      expect(index, `${copy}/index.js is not patched (run pnpm install)`).toContain(
        'if (c.session !== session)\n        return q.reject(connectionClosed())',
      );
      expect(index).toContain('query.reserve && queries.push(query)');
    }
  });

  it('our ESM code loads the ESM copy (src/), and no build inlines an unpatched driver', () => {
    for (const consumer of consumers) {
      // What `import postgres from 'postgres'` resolves to from the package (its dist/ imports the driver).
      const resolved = spawnSync(
        process.execPath,
        ['--input-type=module', '-e', 'console.log(import.meta.resolve("postgres"))'],
        { cwd: join(root, consumer), encoding: 'utf8' },
      );
      expect(resolved.status, resolved.stderr).toBe(0);
      expect(realpathSync(fileURLToPath(resolved.stdout.trim()))).toBe(
        join(installedDriverDir(consumer), 'src/index.js'),
      );
      // tsup leaves dependencies external: a build that bundled the driver would carry its own, unpatched, copy.
      const dist = join(root, consumer, 'dist');
      if (!existsSync(dist)) continue;
      const bundled = readdirSync(dist).filter(
        (file) => file.endsWith('.js') && readFileSync(join(dist, file), 'utf8').includes('function nextWrite('),
      );
      expect(bundled, `${consumer}/dist bundles postgres.js`).toEqual([]);
    }
  });
});

describe.skipIf(skipReason !== '')(`postgres.js with the patch, on a real Postgres ${skipReason}`, () => {
  it.each(scenarios)('$name: the scenario holds (child exits 0)', async ({ name }) => {
    const run = await runScenario(name);
    expect(run.stderr, describeRun(run)).not.toContain(upstreamCrash);
    expect(run.code, describeRun(run)).toBe(0);
    expect(JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '{}')).toMatchObject({ scenario: name, ok: true });
  });
});

describe.skipIf(skipReason !== '')(`the same scenarios without the patch ${skipReason}`, () => {
  let unpatchedDir: string;
  let unpatchedUrl: string;

  beforeAll(async () => {
    unpatchedDir = await mkdtemp(join(tmpdir(), 'postgres-unpatched-'));
    await cp(installedDriverDir('tests'), unpatchedDir, { recursive: true });
    // Outside any repository, `git apply` is a plain patch tool; -R undoes the patch.
    const reverted = spawnSync('git', ['apply', '-R', join(root, patchPath)], { cwd: unpatchedDir, encoding: 'utf8' });
    expect(reverted.status, `the patch no longer reverses on the installed files: ${reverted.stderr}`).toBe(0);
    unpatchedUrl = pathToFileURL(join(unpatchedDir, 'src/index.js')).href;
  });

  afterAll(async () => {
    if (unpatchedDir !== undefined) await rm(unpatchedDir, { recursive: true, force: true });
  });

  it.each(scenarios)('$name: upstream 3.4.9 $unpatched', async ({ name, unpatched }) => {
    const run = await runScenario(name, unpatchedUrl);
    if (unpatched === 'holds') {
      expect(run.code, describeRun(run)).toBe(0);
    } else if (unpatched === 'crash') {
      expect(run.code, describeRun(run)).toBe(uncaughtExitCode);
      expect(run.stderr, describeRun(run)).toContain(upstreamCrash);
    } else {
      expect(run.code, describeRun(run)).toBe(scenarioFailedExitCode);
      expect(JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '{}')).toMatchObject({ scenario: name, ok: false });
    }
  });
});
