import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGatewayClient, describeGatewayContract, type GatewayContractTokens } from '@arrakis/e2e-contracts';
import type { JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countersFileName } from './counters.js';
import { ledgerDataDirName } from './ledger.js';
import {
  type GatewayProcess,
  readDevJwk,
  runCli,
  runServerToExit,
  spawnGateway,
  stopIfRunning,
} from './testing/processes.js';

function publicOf(jwk: JWK): JWK {
  const copy = { ...jwk };
  delete copy.d;
  return copy;
}

/** Short request deadlines, so the contract's slow-body case runs in seconds (the cap stays the default, 128). */
const httpLimitsEnv = { HTTP_REQUEST_TIMEOUT_MS: '3000', HTTP_HEADERS_TIMEOUT_MS: '3000' };

async function cliToken(dataDir: string, aud: string, sub: string, scope?: string): Promise<string> {
  const args = ['token', '--aud', aud, '--sub', sub, '--data-dir', dataDir];
  if (scope !== undefined) args.push('--scope', scope);
  const result = await runCli(args);
  expect(result.code, result.stderr).toBe(0);
  return result.stdout.trim();
}

describe('gateway process with no configuration (embedded SQLite, dev keys)', () => {
  let dataDir: string;
  let gateway: GatewayProcess | undefined;
  let devJwk: JWK;
  let tokens: GatewayContractTokens;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'arrakis-gateway-e2e-'));
    gateway = await spawnGateway({ DATA_DIR: dataDir, SHUTDOWN_TIMEOUT_MS: '8000', ...httpLimitsEnv });
    devJwk = await readDevJwk(dataDir);
    tokens = {
      user: await cliToken(dataDir, 'arrakis-api', 'e2e-user'),
      service: await cliToken(dataDir, 'arrakis-internal', 'e2e-service'),
      admin: await cliToken(dataDir, 'arrakis-admin', 'e2e-admin', 'admin,rules:approve'),
    };
  });

  afterAll(async () => {
    await stopIfRunning(gateway);
    await rm(dataDir, { recursive: true, force: true });
  });

  describeGatewayContract('node dist/server.js', {
    baseUrl: () => gateway?.url ?? '',
    tokens: () => tokens,
    signer: () => ({ privateKey: devJwk, kid: devJwk.kid }),
    publicJwk: () => publicOf(devJwk),
    httpLimits: { requestTimeoutMs: Number(httpLimitsEnv.HTTP_REQUEST_TIMEOUT_MS), connectionsPerAddressMax: 128 },
  });

  describe('process behaviour', () => {
    it('keeps its counters, ledger and dev key in DATA_DIR', () => {
      expect(existsSync(join(dataDir, countersFileName))).toBe(true);
      expect(existsSync(join(dataDir, ledgerDataDirName, 'PG_VERSION'))).toBe(true);
      expect(devJwk).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256' });
    });

    it('prints the URL, the docs URL and an admin token command in dev mode', () => {
      const banner = gateway?.stderr() ?? '';
      expect(banner).toContain(`API       ${gateway?.url}`);
      expect(banner).toContain(`Docs      ${gateway?.url}/docs`);
      expect(banner).toContain(`pnpm run token --aud arrakis-admin --sub alice --scope admin --data-dir "${dataDir}"`);
      expect(banner).toContain('dev keys in use');
      const logged = (gateway?.stdout() ?? '')
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l));
      expect(logged.find((l) => l.msg === 'listening')).toMatchObject({
        counters: 'sqlite',
        ledger: 'pglite',
        ledgerSweepIntervalMs: 30_000,
        keys: 'dev',
      });
    });

    it('accepts the admin token printed in the banner', async () => {
      const token = /Admin token \(sub dev-admin[^\n]*\n\s+(\S+)/.exec(gateway?.stderr() ?? '')?.[1];
      expect(token).toBeDefined();
      const me = await createGatewayClient({ baseUrl: gateway?.url ?? '', token }).adminWhoami();
      expect(me.ok && me.body).toMatchObject({ sub: 'dev-admin', audience: 'arrakis-admin', scopes: ['admin'] });
    });

    it('serves /v1/whoami to a token minted by the CLI (a separate process)', async () => {
      const token = await cliToken(dataDir, 'arrakis-api', 'cli-user');
      const me = await createGatewayClient({ baseUrl: gateway?.url ?? '', token }).whoami();
      expect(me.status).toBe(200);
      expect(me.ok && me.body).toMatchObject({ sub: 'cli-user', audience: 'arrakis-api', issuer: 'arrakis-gateway' });
    });

    it('logs each request with its request id as JSON', async () => {
      await fetch(`${gateway?.url}/openapi.json`, { headers: { 'x-request-id': 'e2e-log-check' } });
      await new Promise((r) => setTimeout(r, 100));
      expect(gateway?.stdout()).toContain('"requestId":"e2e-log-check"');
    });

    it('on SIGTERM closes idle keep-alive connections, drains and exits 0', async () => {
      const running = gateway as GatewayProcess;
      const agent = new Agent({ keepAlive: true });
      const status = await new Promise<number | undefined>((resolve, reject) => {
        const req = request(`${running.url}/health`, { agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode));
        });
        req.on('error', reject);
        req.end();
      });
      expect(status).toBe(200);
      const startedMs = Date.now();
      running.child.kill('SIGTERM');
      const exit = await running.exited;
      agent.destroy();
      expect(exit).toEqual({ code: 0, signal: null });
      // The idle keep-alive connection did not hold the shutdown until SHUTDOWN_TIMEOUT_MS (8 s).
      expect(Date.now() - startedMs).toBeLessThan(5000);
      expect(running.stdout()).toContain('"msg":"shut down"');
      expect(running.stdout()).toContain('"drained":true');
    });

    it('restarts on the same DATA_DIR with the same dev key: earlier tokens still work; SIGINT exits 0', async () => {
      gateway = await spawnGateway({ DATA_DIR: dataDir });
      expect(gateway.stderr()).not.toContain('(generated now)');
      const me = await createGatewayClient({ baseUrl: gateway.url, token: tokens.admin }).adminWhoami();
      expect(me.status).toBe(200);
      gateway.child.kill('SIGINT');
      expect(await gateway.exited).toEqual({ code: 0, signal: null });
    });
  });
});

describe('gateway process with an invalid environment', () => {
  it('exits 1 and names each invalid variable', async () => {
    const result = await runServerToExit({
      PORT: 'eighty',
      JWT_ALGORITHMS: 'HS256',
      DATA_DIR: join(tmpdir(), 'unused'),
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('invalid configuration:');
    expect(result.stderr).toContain('PORT: expected a non-negative integer');
    expect(result.stderr).toContain('JWT_ALGORITHMS: "HS256" is not allowed');
  });

  it('refuses to run in production without a configured key', async () => {
    const result = await runServerToExit({ NODE_ENV: 'production' });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      'JWT_PUBLIC_JWK: JWT_PUBLIC_JWK or JWT_JWKS_URL is required when NODE_ENV=production',
    );
  });
});

describe('arrakis-gateway CLI', () => {
  it('explains its usage and exits 2 on bad arguments', async () => {
    const noAud = await runCli(['token', '--sub', 'alice']);
    expect(noAud.code).toBe(2);
    expect(noAud.stderr).toContain('--aud is required');
    expect(noAud.stderr).toContain('Usage:');
    const badAud = await runCli(['token', '--aud', 'root', '--sub', 'alice']);
    expect(badAud.code).toBe(2);
    expect(badAud.stderr).toContain('--aud must be one of arrakis-api, arrakis-internal, arrakis-admin');
    const unknownFlag = await runCli(['token', '--aud', 'arrakis-api', '--sub', 'a', '--bogus']);
    expect(unknownFlag.code).toBe(2);
    const unknownCommand = await runCli(['mint']);
    expect(unknownCommand.code).toBe(2);
    expect((await runCli(['--help'])).code).toBe(0);
  });
});
