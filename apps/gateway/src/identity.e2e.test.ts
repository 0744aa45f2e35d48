// The identity contract of @arrakis/e2e-contracts against the built gateway process (dist/server.js): JWKS, anchors,
// anchor tokens verified through the JWKS URL, verify-anchor, the trust threshold and four-eyes rotation.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  describeIdentityContract,
  type IdentityContractTokens,
  mintAdminToken,
  mintServiceToken,
} from '@arrakis/e2e-contracts';
import { afterAll, beforeAll, describe } from 'vitest';
import { type GatewayProcess, readDevJwk, spawnGateway, stopIfRunning } from './testing/processes.js';

describe('identity contract against node dist/server.js', () => {
  let dataDir: string;
  let gateway: GatewayProcess | undefined;
  let tokens: IdentityContractTokens;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'arrakis-gateway-identity-'));
    gateway = await spawnGateway({ DATA_DIR: dataDir, LEDGER_SWEEP_INTERVAL_MS: '0' });
    const privateKey = await readDevJwk(dataDir);
    tokens = {
      service: await mintServiceToken({ privateKey, sub: 'identity-service', ttlSeconds: 3600 }),
      creator: await mintAdminToken({ privateKey, sub: 'identity-creator', ttlSeconds: 3600 }),
      requester: await mintAdminToken({ privateKey, sub: 'identity-requester', ttlSeconds: 3600 }),
      approver: await mintAdminToken({ privateKey, sub: 'identity-approver', ttlSeconds: 3600 }),
    };
  }, 120_000);
  afterAll(async () => {
    await stopIfRunning(gateway);
    await rm(dataDir, { recursive: true, force: true });
  });

  describeIdentityContract({ baseUrl: () => gateway?.url ?? '', tokens: () => tokens });
});
