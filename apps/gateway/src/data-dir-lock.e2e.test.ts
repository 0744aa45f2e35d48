// Two gateway processes on one embedded DATA_DIR: the second refuses to start (exit 1, a message naming the first's
// PID) and the first keeps serving; `arrakis-ledger verify` on the held store is refused too; a store left locked by
// a killed gateway (SIGKILL) is taken over by the next one, with every acknowledged write in it.
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGatewayClient, type GatewayClient, mintAdminToken, mintServiceToken } from '@arrakis/e2e-contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ledgerDataDirName } from './ledger.js';
import {
  type GatewayProcess,
  gatewayDir,
  readDevJwk,
  runServerToExit,
  spawnGateway,
  stopIfRunning,
} from './testing/processes.js';

const ledgerCliPath = join(gatewayDir, '../../packages/billing-ledger/dist/cli.js');

function ok<T>(result: { status: number; body: unknown }, status: number): T {
  expect(result.status, JSON.stringify(result.body)).toBe(status);
  return result.body as T;
}

interface LogLine {
  level: number;
  msg: string;
  err?: { type?: string; code?: string; message?: string; holderPid?: number };
}

const logLines = (stdout: string): LogLine[] =>
  stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as LogLine);

describe('one embedded DATA_DIR, two gateway processes', { timeout: 120_000 }, () => {
  let dataDir: string;
  let env: Record<string, string>;
  let first: GatewayProcess | undefined;
  let next: GatewayProcess | undefined;
  let service: GatewayClient;
  let admin: GatewayClient;
  let accountId: string;

  const clients = async (url: string) => {
    const devJwk = await readDevJwk(dataDir);
    service = createGatewayClient({ baseUrl: url, token: await mintServiceToken({ privateKey: devJwk, sub: 'svc' }) });
    admin = createGatewayClient({
      baseUrl: url,
      token: await mintAdminToken({ privateKey: devJwk, sub: 'ops', scope: ['ledger:grant'] }),
    });
  };

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'arrakis-gateway-lock-'));
    env = { DATA_DIR: dataDir, SHUTDOWN_TIMEOUT_MS: '5000' };
    first = await spawnGateway(env);
    await clients(first.url);
    accountId = ok<{ id: string }>(await service.createAccount({ entityType: 'user', entityId: 'lock-user' }), 201).id;
  });

  afterAll(async () => {
    await stopIfRunning(first);
    await stopIfRunning(next);
    await rm(dataDir, { recursive: true, force: true });
  });

  it('refuses to start a second gateway on the same DATA_DIR: exit 1, one fatal line naming the holder', async () => {
    const second = await runServerToExit(env);
    expect(second.code).toBe(1);
    const fatal = logLines(second.stdout).filter((line) => line.level === 60);
    expect(fatal).toHaveLength(1);
    expect(fatal[0]).toMatchObject({
      msg: expect.stringContaining(`could not start: data directory "${join(dataDir, ledgerDataDirName)}" is in use`),
      err: { type: 'DataDirLockedError', code: 'data_dir_locked', holderPid: first?.child.pid },
    });
    expect(fatal[0]?.err?.message).toContain(
      `data directory "${join(dataDir, ledgerDataDirName)}" is in use by process ${first?.child.pid}; stop it first`,
    );
    expect(logLines(second.stdout).some((line) => line.msg === 'listening')).toBe(false);
  });

  it('the first gateway still serves reads and writes after the refusal', async () => {
    ok(await service.ready(), 200);
    ok(await admin.grant(accountId, { amountMicro: '700', reason: 'after the refusal' }), 201);
    expect(ok<{ availableMicro: string }>(await service.getBalance(accountId), 200).availableMicro).toBe('700');
  });

  it('refuses `arrakis-ledger verify` on the store while the gateway holds it (exit 3, the holder named)', () => {
    const verify = spawnSync(
      process.execPath,
      [ledgerCliPath, 'verify', '--data-dir', join(dataDir, ledgerDataDirName)],
      {
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
    expect(verify.status).toBe(3);
    expect(verify.stderr).toContain(`is in use by process ${first?.child.pid}`);
  });

  it('a gateway started after the holder was killed (SIGKILL) takes the store over, every grant in it', async () => {
    const killed = first as GatewayProcess;
    killed.child.kill('SIGKILL');
    expect(await killed.exited).toEqual({ code: null, signal: 'SIGKILL' });
    next = await spawnGateway(env);
    await clients(next.url);
    expect(ok<{ availableMicro: string }>(await service.getBalance(accountId), 200).availableMicro).toBe('700');
    const refused = await runServerToExit(env);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain(`in use by process ${next.child.pid}`);
  });
});
