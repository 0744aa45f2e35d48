// The ledger in a real gateway process: a grant, a hold and a charge survive a stop and a restart on the same
// store (PGlite in DATA_DIR; a fresh Postgres database when DATABASE_URL is set), and the sweepers run.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createGatewayClient,
  type EntryBody,
  type GatewayClient,
  mintAdminToken,
  mintServiceToken,
} from '@arrakis/e2e-contracts';
import type { JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GatewayProcess, readDevJwk, spawnGateway, stopIfRunning } from './testing/processes.js';
import { createTestDatabase } from './testing/test-ledger-db.js';

function ok<T>(result: { ok: boolean; status: number; body: unknown }, status: number): T {
  expect(result.status, JSON.stringify(result.body)).toBe(status);
  return result.body as T;
}

async function allEntries(client: GatewayClient, accountId: string): Promise<EntryBody[]> {
  const entries: EntryBody[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 10; page += 1) {
    const body = ok<{ entries: EntryBody[]; nextCursor: string | null }>(
      await client.listEntries(accountId, { cursor, limit: 200 }),
      200,
    );
    entries.push(...body.entries);
    if (body.nextCursor === null) break;
    cursor = body.nextCursor;
  }
  return entries;
}

function describeLedgerProcess(name: string, store: 'pglite' | 'postgres', serverUrl: string | undefined): void {
  describe.skipIf(store === 'postgres' && serverUrl === undefined)(name, () => {
    let dataDir: string;
    let env: Record<string, string>;
    let dropDatabase: (() => Promise<void>) | undefined;
    let gateway: GatewayProcess | undefined;
    let devJwk: JWK;
    let service: GatewayClient;
    let admin: GatewayClient;
    let accountId: string;
    let before: { balance: unknown; entries: EntryBody[] };

    const clients = async (url: string) => {
      service = createGatewayClient({
        baseUrl: url,
        token: await mintServiceToken({ privateKey: devJwk, sub: 'svc' }),
      });
      admin = createGatewayClient({
        baseUrl: url,
        token: await mintAdminToken({ privateKey: devJwk, sub: 'ops', scope: ['ledger:grant'] }),
      });
    };
    const state = async () => {
      const { asOf: _asOf, ...balance } = ok<Record<string, unknown>>(await service.getBalance(accountId), 200);
      return { balance, entries: await allEntries(service, accountId) };
    };

    beforeAll(async () => {
      dataDir = await mkdtemp(join(tmpdir(), 'arrakis-gateway-ledger-'));
      env = { DATA_DIR: dataDir, LEDGER_SWEEP_INTERVAL_MS: '100', SHUTDOWN_TIMEOUT_MS: '5000' };
      if (store === 'postgres' && serverUrl !== undefined) {
        const database = await createTestDatabase(serverUrl, 'gateway_e2e');
        env.DATABASE_URL = database.url;
        dropDatabase = database.drop;
      }
      gateway = await spawnGateway(env);
      devJwk = await readDevJwk(dataDir);
      await clients(gateway.url);
    });

    afterAll(async () => {
      await stopIfRunning(gateway);
      await dropDatabase?.();
      await rm(dataDir, { recursive: true, force: true });
    });

    it(`serves the ledger on ${store} and reports it ready`, async () => {
      const ready = ok<{ dependencies: { name: string; status: string }[] }>(await service.ready(), 200);
      expect(ready.dependencies).toContainEqual(expect.objectContaining({ name: 'ledger', status: 'up' }));
      expect(gateway?.stdout()).toContain(`"ledger":"${store}"`);
    });

    it('grants, reserves and finalizes', async () => {
      accountId = ok<{ id: string }>(
        await service.createAccount({ entityType: 'user', entityId: 'restart-user' }),
        201,
      ).id;
      ok(await admin.grant(accountId, { amountMicro: '1000000', reason: 'e2e' }, { idempotencyKey: 'e2e-grant' }), 201);
      const hold = ok<{ id: string }>(await service.reserve({ accountId, amountMicro: '400000' }), 201);
      const charged = ok<{ chargedMicro: string; balance: { availableMicro: string } }>(
        await service.finalize(hold.id, { actualCostMicro: '250000' }),
        200,
      );
      expect(charged).toMatchObject({ chargedMicro: '250000', balance: { availableMicro: '750000' } });
      before = await state();
      expect(before.entries.map((e) => e.kind)).toEqual(['release', 'consume', 'reserve', 'mint']);
    });

    it('the sweepers of the process expire a hold past its ttl', async () => {
      const hold = ok<{ id: string }>(await service.reserve({ accountId, amountMicro: '1000', ttlSeconds: 1 }), 201);
      const deadline = Date.now() + 10_000;
      let kinds: string[] = [];
      while (Date.now() < deadline) {
        kinds = (await allEntries(service, accountId)).map((e) => e.kind);
        if (kinds[0] === 'expire_hold') break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(kinds[0]).toBe('expire_hold');
      expect(ok<{ status: string }>(await service.getReservation(hold.id), 200).status).toBe('expired');
      before = await state();
      expect(before.balance).toMatchObject({ availableMicro: '750000', reservedMicro: '0' });
    });

    it('keeps balance and entries across a graceful stop and a restart on the same store', async () => {
      const running = gateway as GatewayProcess;
      running.child.kill('SIGTERM');
      expect(await running.exited).toEqual({ code: 0, signal: null });
      expect(running.stdout()).toContain('"msg":"shut down"');
      gateway = await spawnGateway(env);
      await clients(gateway.url);
      expect(await state()).toEqual(before);
      // The idempotency key survived too: the same grant replays instead of minting again.
      ok(await admin.grant(accountId, { amountMicro: '1000000', reason: 'e2e' }, { idempotencyKey: 'e2e-grant' }), 201);
      expect(await state()).toEqual(before);
    });

    it('keeps an acknowledged write across a killed process (SIGKILL)', async () => {
      const granted = ok<{ lot: { id: string } }>(
        await admin.grant(accountId, { amountMicro: '5', reason: 'before the kill' }),
        201,
      );
      const acknowledged = await state();
      const running = gateway as GatewayProcess;
      running.child.kill('SIGKILL');
      expect((await running.exited).signal).toBe('SIGKILL');
      gateway = await spawnGateway(env);
      await clients(gateway.url);
      expect(await state()).toEqual(acknowledged);
      const lots = ok<{ lots: { id: string }[] }>(await service.listLots(accountId), 200);
      expect(lots.lots.map((lot) => lot.id)).toContain(granted.lot.id);
    });
  });
}

describeLedgerProcess('gateway process: ledger on PGlite in DATA_DIR', 'pglite', undefined);
describeLedgerProcess(
  'gateway process: ledger on Postgres (needs DATABASE_URL)',
  'postgres',
  process.env.DATABASE_URL || undefined,
);
