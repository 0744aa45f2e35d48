/**
 * A gateway process on Postgres whose database connections are cut under load (issue 12, item 1). The ledger and,
 * with no REDIS_URL, the rate-limit counters both run on the fresh database DATABASE_URL names. Eight clients reserve
 * and finalize while another connection runs `pg_terminate_backend` on every backend of that database about once a
 * second, for ten seconds. Upstream postgres.js 3.4.9 killed the process after one or two rounds (`TypeError ...
 * reading 'write' at Immediate.nextWrite`, see postgres-driver-patch.test.ts and ADR 003).
 *
 * Holds: the process never exits; every answer is a success or a 503 with a documented error code
 * (`dependency_unavailable` for the ledger, `rate_limiter_unavailable` for the counters under the default
 * fail-closed policy); no request hangs; once the terminations stop the gateway answers again within a few seconds
 * by itself, all clients at once; the ledger verifies clean. Skipped (with the reason printed) without DATABASE_URL.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mintAdminToken, mintServiceToken } from '@arrakis/e2e-contracts';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GatewayProcess, readDevJwk, spawnGateway, stopIfRunning } from '../apps/gateway/src/testing/processes.js';
import { createTestDatabase } from '../apps/gateway/src/testing/test-ledger-db.js';

const databaseUrl = process.env.DATABASE_URL;
const skipReason =
  databaseUrl === undefined || databaseUrl === ''
    ? 'skipped: DATABASE_URL not set (the gateway must run on a real Postgres whose backends can be terminated)'
    : '';
if (skipReason !== '') console.warn(`postgres-terminate.e2e: ${skipReason}`);

const ledgerCli = fileURLToPath(new URL('../packages/billing-ledger/dist/cli.js', import.meta.url));

/** Concurrent clients, each reserving and finalizing on its own account. */
const clientCount = 8;
/** How long backends are terminated, and how often. */
const terminationPhaseMs = 10_000;
const terminationIntervalMs = 1_000;
/** Rounds (reserve, then finalize) one client runs at most during the termination phase. */
const roundsPerClientMax = 2_000;
/** Attempts of one finalize (same Idempotency-Key) when it gets a 503. */
const finalizeAttemptsMax = 3;
/** Longest wait for any one answer: a request still pending then counts as hung. */
const requestTimeoutMs = 10_000;
/** Once the terminations stop, the gateway must answer every client within this. */
const recoveryMsMax = 5_000;
/** Pause between recovery probes. */
const recoveryProbeIntervalMs = 100;
/** Rounds per client after recovery; every one must succeed. */
const steadyRoundsPerClient = 10;
/** Under the trust threshold of a grant to an account without an identity anchor (100 USD). */
const grantMicro = 90_000_000n;
const holdMicro = 1_000n;
const costMicro = 600n;
/** 503 codes the gateway documents for a dependency that is down (routes/schemas.ts). */
const documentedUnavailableCodes = new Set(['dependency_unavailable', 'rate_limiter_unavailable']);

type Json = Record<string, unknown>;
interface Answer {
  status: number;
  body: Json;
}

describe.skipIf(skipReason !== '')(`a gateway on Postgres whose connections are terminated ${skipReason}`, () => {
  let database: { url: string; drop(): Promise<void> };
  let databaseName: string;
  let dataDir: string;
  let gateway: GatewayProcess | undefined;
  let exitedAtMs: number | undefined;
  let serviceToken: string;
  let adminToken: string;
  const accountIds: string[] = [];

  async function call(method: string, path: string, token: string, json?: unknown, key?: string): Promise<Answer> {
    try {
      const response = await fetch(`${gateway?.url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(json === undefined ? {} : { 'content-type': 'application/json' }),
          ...(key === undefined ? {} : { 'idempotency-key': key }),
        },
        ...(json === undefined ? {} : { body: JSON.stringify(json) }),
        signal: AbortSignal.timeout(requestTimeoutMs),
      });
      const text = await response.text();
      let body: Json;
      try {
        body = text === '' ? {} : (JSON.parse(text) as Json);
      } catch {
        body = { unparsed: text.slice(0, 200) };
      }
      return { status: response.status, body };
    } catch (error) {
      // No answer: the process is gone (connection refused) or the request hung (TimeoutError).
      const cause = (error as { cause?: { code?: unknown } }).cause;
      const reason = typeof cause?.code === 'string' ? cause.code : (error as Error).name;
      return { status: 0, body: { error: `no answer (${reason})`, message: (error as Error).message } };
    }
  }

  /** One reserve then its finalize (retried with the same key on a 503); every answer goes to `answers`. */
  async function round(accountId: string, answers: Answer[]): Promise<boolean> {
    const reserved = await call(
      'POST',
      '/v1/reservations',
      serviceToken,
      { accountId, amountMicro: holdMicro.toString(), ttlSeconds: 30 },
      `reserve-${randomBytes(8).toString('hex')}`,
    );
    answers.push(reserved);
    if (reserved.status !== 201) return false;
    const key = `finalize-${randomBytes(8).toString('hex')}`;
    for (let attempt = 1; attempt <= finalizeAttemptsMax; attempt += 1) {
      const finalized = await call(
        'POST',
        `/v1/reservations/${reserved.body.id as string}/finalize`,
        serviceToken,
        { actualCostMicro: costMicro.toString() },
        key,
      );
      answers.push(finalized);
      if (finalized.status === 200) return true;
      if (finalized.status !== 503) return false;
    }
    return false;
  }

  function ledgerVerify(): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        [ledgerCli, 'verify', '--database-url', database.url, '--json'],
        { timeout: 60_000 },
        (error, stdout, stderr) =>
          resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr }),
      );
    });
  }

  /** The gateway's JSON log lines (pino on stdout). */
  function logLines(): Json[] {
    return (gateway?.stdout() ?? '')
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Json);
  }

  beforeAll(async () => {
    database = await createTestDatabase(databaseUrl as string, 'pg_terminate');
    databaseName = new URL(database.url).pathname.slice(1);
    dataDir = await mkdtemp(join(tmpdir(), 'arrakis-pg-terminate-'));
    gateway = await spawnGateway({
      DATABASE_URL: database.url,
      DATA_DIR: dataDir,
      // The counters run on Postgres too (no REDIS_URL): a limit no client reaches makes every request use them.
      RATE_LIMIT_IP_PER_MINUTE: '1000000',
      RATE_LIMIT_PRINCIPAL_PER_MINUTE: '1000000',
      RATE_LIMIT_ALGORITHM: 'token-bucket',
      RATE_LIMIT_KEY_PREFIX: `pg-terminate-${randomBytes(4).toString('hex')}`,
      // The sweepers query the database outside any request, where the upstream crash was thrown.
      LEDGER_SWEEP_INTERVAL_MS: '500',
      SHUTDOWN_TIMEOUT_MS: '5000',
    });
    gateway.exited.then(() => {
      exitedAtMs = Date.now();
    });
    const devJwk = await readDevJwk(dataDir);
    serviceToken = await mintServiceToken({ privateKey: devJwk, sub: 'pg-terminate', ttlSeconds: 1800 });
    adminToken = await mintAdminToken({ privateKey: devJwk, sub: 'pg-terminate-ops', ttlSeconds: 1800 });
    for (let index = 0; index < clientCount; index += 1) {
      const created = await call('POST', '/v1/accounts', serviceToken, {
        entityType: 'user',
        entityId: `pg-terminate-${index}`,
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      const accountId = created.body.id as string;
      const granted = await call(
        'POST',
        `/v1/accounts/${accountId}/grants`,
        adminToken,
        { amountMicro: grantMicro.toString(), reason: 'pg-terminate e2e' },
        `grant-${index}`,
      );
      expect(granted.status, JSON.stringify(granted.body)).toBe(201);
      accountIds.push(accountId);
    }
  }, 120_000);

  afterAll(async () => {
    await stopIfRunning(gateway);
    await database?.drop();
    if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
  });

  it('stays up, answers 2xx or a documented 503 while its backends are terminated, then recovers by itself and verifies clean', {
    timeout: 120_000,
  }, async () => {
    const listening = logLines().find((entry) => entry.msg === 'listening');
    expect(listening).toMatchObject({ ledger: 'postgres', counters: 'postgres' });

    // The termination phase: 8 clients in bounded loops, one terminator.
    const answers: Answer[] = [];
    const killer = postgres(databaseUrl as string, { max: 1, onnotice: () => {} });
    const terminatedPerRound: number[] = [];
    let stopped = false;
    const startedAtMs = Date.now();
    const clients = accountIds.map(async (accountId) => {
      for (let rounds = 0; rounds < roundsPerClientMax && !stopped && exitedAtMs === undefined; rounds += 1) {
        await round(accountId, answers);
      }
    });
    let lastTerminationAtMs = startedAtMs;
    try {
      while (Date.now() - startedAtMs < terminationPhaseMs && exitedAtMs === undefined) {
        await new Promise((resolve) => setTimeout(resolve, terminationIntervalMs));
        const rows = await killer<{ terminated: boolean }[]>`
          select pg_terminate_backend(pid) as terminated from pg_stat_activity
          where datname = ${databaseName} and pid <> pg_backend_pid()`;
        terminatedPerRound.push(rows.filter((row) => row.terminated).length);
        lastTerminationAtMs = Date.now();
      }
    } finally {
      stopped = true;
      await killer.end({ timeout: 5 });
    }
    await Promise.all(clients);

    // Recovery: the first time every client gets a full round, probing from the last termination.
    let recoveredAtMs: number | undefined;
    const recoveryAnswers: Answer[] = [];
    while (
      recoveredAtMs === undefined &&
      exitedAtMs === undefined &&
      Date.now() - lastTerminationAtMs < recoveryMsMax + requestTimeoutMs
    ) {
      const rounds = await Promise.all(accountIds.map((accountId) => round(accountId, recoveryAnswers)));
      if (rounds.every(Boolean)) recoveredAtMs = Date.now();
      else await new Promise((resolve) => setTimeout(resolve, recoveryProbeIntervalMs));
    }
    // Steady state: all clients at once, every round succeeds (no connection of a pool is lost for good).
    const steadyAnswers: Answer[] = [];
    const steady = await Promise.all(
      accountIds.map(async (accountId) => {
        let succeeded = 0;
        for (let rounds = 0; rounds < steadyRoundsPerClient && exitedAtMs === undefined; rounds += 1) {
          if (await round(accountId, steadyAnswers)) succeeded += 1;
        }
        return succeeded;
      }),
    );
    const ready = await call('GET', '/ready', serviceToken);

    const tally = (list: Answer[]) => {
      const counts: Record<string, number> = {};
      for (const { status, body } of list) {
        const label = status >= 200 && status < 300 ? '2xx' : `${status} ${String(body.error ?? '')}`.trim();
        counts[label] = (counts[label] ?? 0) + 1;
      }
      return counts;
    };
    // What postgres.js threw under the answers the gateway gave (its warn and error logs): the error's code, else the
    // driver's code quoted in the message of the error wrapping it (pino folds a cause into the message).
    const causes: Record<string, number> = {};
    for (const entry of logLines()) {
      const err = entry.err as { code?: unknown; type?: unknown; message?: unknown } | undefined;
      if (err === undefined || (entry.level as number) < 40) continue;
      const quoted = /\b(CONNECTION_[A-Z]+|CONNECT_TIMEOUT|E[A-Z]{4,}|57P0\d|08[0-9A-Z]{3})\b/.exec(
        String(err.message),
      );
      const code = typeof err.code === 'string' ? err.code : `${String(err.type)}(${quoted?.[1] ?? '?'})`;
      const label = `${String(entry.msg)}: ${code}`;
      causes[label] = (causes[label] ?? 0) + 1;
    }
    const summary = {
      terminatedPerRound,
      gatewayExited: exitedAtMs !== undefined,
      duringTerminations: tally(answers),
      recoveryMs: recoveredAtMs === undefined ? null : recoveredAtMs - lastTerminationAtMs,
      recoveryAnswers: tally(recoveryAnswers),
      steady: tally(steadyAnswers),
      ready: ready.status,
      loggedCauses: causes,
    };
    console.info(`postgres-terminate.e2e: ${JSON.stringify(summary)}`);
    const context = `${JSON.stringify(summary)}\nstderr: ${gateway?.stderr().slice(-4000)}`;

    // The process stayed up the whole time.
    expect(exitedAtMs, context).toBeUndefined();
    expect(gateway?.child.exitCode, context).toBeNull();
    // Terminations did happen, and the load ran through them.
    expect(terminatedPerRound.length, context).toBeGreaterThanOrEqual(terminationPhaseMs / terminationIntervalMs - 1);
    expect(terminatedPerRound.filter((count) => count > 0).length, context).toBeGreaterThanOrEqual(
      terminatedPerRound.length - 1,
    );
    expect(summary.duringTerminations['2xx'] ?? 0, context).toBeGreaterThan(0);
    // Every answer was a success or a documented 503 (no 500, no hang, no empty body).
    const undocumented = [...answers, ...recoveryAnswers].filter(
      ({ status, body }) =>
        !(status >= 200 && status < 300) && !(status === 503 && documentedUnavailableCodes.has(String(body.error))),
    );
    expect(undocumented.slice(0, 5), context).toEqual([]);
    // It reconnected by itself, quickly, and stays healthy with every client at once.
    expect(summary.recoveryMs, context).not.toBeNull();
    expect(summary.recoveryMs as number, context).toBeLessThanOrEqual(recoveryMsMax);
    expect(steady, context).toEqual(accountIds.map(() => steadyRoundsPerClient));
    expect(ready.status, context).toBe(200);

    // A graceful stop still works, and the ledger the terminations went through verifies clean.
    gateway?.child.kill('SIGTERM');
    const exit = await gateway?.exited;
    expect(exit, context).toEqual({ code: 0, signal: null });
    const verify = await ledgerVerify();
    expect(verify.code, `${verify.stdout}\n${verify.stderr}`).toBe(0);
    expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true, violations: [] });
  });
});
