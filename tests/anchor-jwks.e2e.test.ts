// A sibling service (tests/sibling-service.mjs, its own process) verifies the gateway's anchor tokens with nothing
// but the gateway's JWKS URL, across a rotation of the gateway's anchor-signing key (new key first, old key kept,
// then retired with `arrakis-gateway anchor-keys`). The gateway runs from apps/gateway/dist with its keys in DATA_DIR.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mintAdminToken, mintServiceToken } from '@arrakis/e2e-contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type GatewayProcess,
  readDevJwk,
  runCli,
  spawnGateway,
  stopIfRunning,
} from '../apps/gateway/src/testing/processes.js';
import { freeLoopbackPortForTests } from './free-port.js';

const siblingScript = fileURLToPath(new URL('./sibling-service.mjs', import.meta.url));
const audience = 'arrakis-services';
const issuer = 'arrakis-gateway';

interface Sibling {
  url: string;
  child: ChildProcess;
}

async function startSibling(jwksUrl: string): Promise<Sibling> {
  const child = spawn(process.execPath, [siblingScript], {
    cwd: fileURLToPath(new URL('.', import.meta.url)),
    env: { PATH: process.env.PATH ?? '', JWKS_URL: jwksUrl, ISSUER: issuer, AUDIENCE: audience, PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const line = stdout.split('\n').find((l) => l.includes('"listening"'));
      if (line !== undefined) resolve({ url: (JSON.parse(line) as { url: string }).url, child });
    });
    child.once('exit', (code) => reject(new Error(`sibling exited with ${code}\n${stderr}`)));
  });
}

async function stopSibling(sibling: Sibling | undefined): Promise<void> {
  if (sibling === undefined || sibling.child.exitCode !== null) return;
  const exited = new Promise((resolve) => sibling.child.once('exit', resolve));
  sibling.child.kill('SIGKILL');
  await exited;
}

/** Stops a gateway gracefully (SIGTERM) so its embedded database is closed before the next start. */
async function stopGateway(gateway: GatewayProcess): Promise<void> {
  gateway.child.kill('SIGTERM');
  await gateway.exited;
}

describe('a sibling service verifies anchor tokens through the gateway JWKS URL, across a key rotation', () => {
  let dataDir: string;
  let port: number;
  let gateway: GatewayProcess | undefined;
  let sibling: Sibling | undefined;
  let env: Record<string, string>;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'arrakis-anchor-jwks-'));
    port = await freeLoopbackPortForTests();
    env = { DATA_DIR: dataDir, PORT: String(port), LEDGER_SWEEP_INTERVAL_MS: '0' };
    gateway = await spawnGateway(env);
  }, 120_000);
  afterAll(async () => {
    await stopSibling(sibling);
    await stopIfRunning(gateway);
    await rm(dataDir, { recursive: true, force: true });
  });

  async function call(
    path: string,
    token: string,
    json?: unknown,
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    const response = await fetch(`${gateway?.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: json === undefined ? undefined : JSON.stringify(json),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  async function spend(
    accountId: string,
    anchorToken: string,
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    const response = await fetch(`${sibling?.url}/spend`, {
      method: 'POST',
      headers: { 'x-anchor-token': anchorToken, 'content-type': 'application/json' },
      body: JSON.stringify({ accountId }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  it('verifies before, during and after the rotation; a retired key stops verifying', async () => {
    const devJwk = await readDevJwk(dataDir);
    const admin = await mintAdminToken({ privateKey: devJwk, sub: 'root' });
    const service = await mintServiceToken({ privateKey: devJwk, sub: 'billing' });
    const created = await call('/v1/accounts', service, { entityType: 'user', entityId: 'sibling-user' });
    const accountId = created.body.id as string;
    const other = (await call('/v1/accounts', service, { entityType: 'user', entityId: 'someone-else' })).body
      .id as string;
    const bound = await call(`/v1/accounts/${accountId}/anchor`, admin, {
      chainId: '1',
      contractAddress: `0x${'ab'.repeat(20)}`,
      tokenId: '7',
      ownerAddress: `0x${'cd'.repeat(20)}`,
    });
    expect(bound.status).toBe(201);
    const anchor = bound.body.anchor as string;

    const oldToken = (await call(`/v1/accounts/${accountId}/anchor-token`, service)).body.token as string;
    sibling = await startSibling(`${gateway?.url}/.well-known/jwks.json`);
    const before = await spend(accountId, oldToken);
    expect(before).toMatchObject({ status: 200, body: { ok: true, accountId, anchor } });
    const oldKid = before.body.kid as string;
    // The token is for this account only.
    expect(await spend(other, oldToken)).toMatchObject({ status: 401, body: { reason: 'wrong_account' } });

    // Rotation step 1: a new signing key first, the old one kept; the gateway restarts on the same port.
    await stopGateway(gateway as GatewayProcess);
    const rotated = await runCli(['anchor-keys', 'rotate', '--data-dir', dataDir]);
    expect(rotated.code, rotated.stderr).toBe(0);
    const newKid = rotated.stdout.trim();
    gateway = await spawnGateway(env);
    const newToken = (await call(`/v1/accounts/${accountId}/anchor-token`, service)).body.token as string;
    const during = await spend(accountId, newToken);
    expect(during).toMatchObject({ status: 200, body: { ok: true, kid: newKid } });
    expect(newKid).not.toBe(oldKid);
    // Tokens signed before the rotation still verify until the old key is retired.
    expect(await spend(accountId, oldToken)).toMatchObject({ status: 200, body: { kid: oldKid } });

    // Rotation step 2: the old key retired. A sibling with a fresh cache no longer accepts the old token.
    await stopGateway(gateway as GatewayProcess);
    const retired = await runCli(['anchor-keys', 'retire', '--data-dir', dataDir, `--kid=${oldKid}`]);
    expect(retired.code, retired.stderr).toBe(0);
    gateway = await spawnGateway(env);
    const jwks = (await (await fetch(`${gateway.url}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] };
    expect(jwks.keys.map((k) => k.kid)).toEqual([newKid]);
    await stopSibling(sibling);
    sibling = await startSibling(`${gateway.url}/.well-known/jwks.json`);
    expect(await spend(accountId, oldToken)).toMatchObject({
      status: 401,
      body: { error: 'anchor_token_invalid', reason: 'unknown_key' },
    });
    expect(await spend(accountId, newToken)).toMatchObject({ status: 200, body: { kid: newKid } });
  }, 300_000);
});
