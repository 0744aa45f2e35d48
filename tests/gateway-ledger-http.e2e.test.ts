/**
 * The ledger over HTTP against a real gateway process (issue 11): an admin creates a meter and grants credit over
 * HTTP; a sibling Hono app with no database of its own meters a request with `meter({ ledger: gatewayLedger(...),
 * meterId: 'chat' })` and reports usage; the balance over HTTP drops by exactly the itemized cost; ledger refusals
 * over HTTP (insufficient credits, a spend cap) are the ledger's own error classes, and gateway-only refusals
 * (`terms_not_allowed`, a bad token) are `GatewayRequestError`s. The gateway runs on the embedded defaults (PGlite in
 * a temporary DATA_DIR), or on a fresh Postgres database when DATABASE_URL is set.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ledgerRoot from '@arrakis/billing-ledger';
import { priceUsage } from '@arrakis/billing-ledger';
import { type MeterEnv, meter } from '@arrakis/billing-ledger/hono';
// The workspace alias maps both the root and this subpath to their sources (one set of error classes).
import {
  type GatewayLedger,
  GatewayRequestError,
  gatewayLedger,
  InsufficientCreditsError,
  LedgerError,
  SpendCapExceededError,
} from '@arrakis/billing-ledger/http';
import { mintAdminToken, mintServiceToken, mintUserToken } from '@arrakis/e2e-contracts';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GatewayProcess, readDevJwk, spawnGateway, stopIfRunning } from '../apps/gateway/src/testing/processes.js';
import { createTestDatabase } from '../apps/gateway/src/testing/test-ledger-db.js';

const databaseUrl = process.env.DATABASE_URL || undefined;
const store = databaseUrl === undefined ? 'PGlite in DATA_DIR' : 'Postgres (DATABASE_URL)';

type Json = Record<string, unknown>;

async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe(`ledger over HTTP: a sibling service meters against a gateway process on ${store}`, () => {
  let dataDir: string;
  let dropDatabase: (() => Promise<void>) | undefined;
  let gateway: GatewayProcess | undefined;
  let devJwk: Awaited<ReturnType<typeof readDevJwk>>;
  let adminToken: string;
  let serviceToken: string;
  let service: GatewayLedger;
  let chatVersion = 0;

  async function call(
    method: string,
    path: string,
    token: string,
    json?: unknown,
  ): Promise<{ status: number; body: Json }> {
    const response = await fetch(`${gateway?.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(json === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(json === undefined ? {} : { body: JSON.stringify(json) }),
    });
    const text = await response.text();
    return { status: response.status, body: text === '' ? {} : (JSON.parse(text) as Json) };
  }

  async function expectStatus(
    method: string,
    path: string,
    token: string,
    json: unknown,
    status: number,
  ): Promise<Json> {
    const answer = await call(method, path, token, json);
    expect(answer.status, `${method} ${path}: ${JSON.stringify(answer.body)}`).toBe(status);
    return answer.body;
  }

  /** A user account (entity id = `sub`) granted `amountMicro` by the admin, all over HTTP. */
  async function fundedAccount(sub: string, amountMicro: string): Promise<string> {
    const account = await call('POST', '/v1/accounts', serviceToken, { entityType: 'user', entityId: sub });
    expect([200, 201], JSON.stringify(account.body)).toContain(account.status);
    const accountId = String(account.body.id);
    await expectStatus('POST', `/v1/accounts/${accountId}/grants`, adminToken, { amountMicro, reason: 'e2e' }, 201);
    return accountId;
  }

  /** The sibling service: no database, the central ledger over HTTP, meter `chat`, usage reported by the handler. */
  function siblingApp(ledger: GatewayLedger, usage: Record<string, number>) {
    const app = new Hono<MeterEnv>();
    app.onError((error, c) => {
      if (error instanceof LedgerError) return c.json(error.toJSON(), error.httpStatus);
      return c.json({ error: 'internal_error', message: error.message }, 500);
    });
    app.post(
      '/chat',
      meter({
        ledger,
        accountId: (c) => c.req.header('x-account-id') ?? '',
        meterId: 'chat',
        estimate: () => ({ output_tokens: 1000 }),
      }),
      (c) => {
        c.get('meter').reportUsage(usage);
        return c.json({ reservationId: c.get('meter').reservationId, held: c.get('meter').estimateMicro.toString() });
      },
    );
    return app;
  }

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'arrakis-ledger-http-'));
    const env: Record<string, string> = { DATA_DIR: dataDir, SHUTDOWN_TIMEOUT_MS: '5000' };
    if (databaseUrl !== undefined) {
      const database = await createTestDatabase(databaseUrl, 'ledger_http_e2e');
      env.DATABASE_URL = database.url;
      dropDatabase = database.drop;
    }
    gateway = await spawnGateway(env);
    devJwk = await readDevJwk(dataDir);
    adminToken = await mintAdminToken({ privateKey: devJwk, sub: 'pricing-ops', scope: ['admin'], ttlSeconds: 1800 });
    serviceToken = await mintServiceToken({ privateKey: devJwk, sub: 'chat-service', ttlSeconds: 1800 });
    service = gatewayLedger({ baseUrl: gateway.url, token: serviceToken });
  });

  afterAll(async () => {
    await stopIfRunning(gateway);
    await dropDatabase?.();
    if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
  });

  it('an admin creates meter chat over HTTP; the client reads it back as the ledger’s Meter', async () => {
    const created = await expectStatus(
      'POST',
      '/v1/meters',
      adminToken,
      {
        id: 'chat',
        holdMicro: '20000',
        maxCostMicro: '500000',
        ttlSeconds: 120,
        unitPrices: [
          { dimension: 'request', priceMicro: '1000', perUnits: '1' },
          { dimension: 'input_tokens', priceMicro: '3000000', perUnits: '1000000' },
          { dimension: 'output_tokens', priceMicro: '15500000', perUnits: '1000000' },
        ],
      },
      201,
    );
    expect(created).toMatchObject({ id: 'chat', holdMicro: '20000', createdBy: 'pricing-ops' });
    const read = await service.getMeter('chat');
    chatVersion = read.version;
    expect(read).toMatchObject({ id: 'chat', version: created.version, holdMicro: 20_000n, maxCostMicro: 500_000n });
    expect(read.unitPrices.map((price) => price.dimension)).toEqual(['request', 'input_tokens', 'output_tokens']);
    expect(read.effectiveAt).toBeInstanceOf(Date);
  });

  it('a sibling app meters a request with meter({ ledger: gatewayLedger(…), meterId }) and the balance drops by the itemized cost', async () => {
    const accountId = await fundedAccount(`alice-${randomUUID()}`, '1000000');
    const before = await service.getBalance(accountId);
    expect(before.availableMicro).toBe(1_000_000n);
    const usage = { request: 1, input_tokens: 1234, output_tokens: 341 };
    const app = siblingApp(service, usage);
    const response = await app.request('/chat', { method: 'POST', headers: { 'x-account-id': accountId } });
    expect(response.status, await response.clone().text()).toBe(200);
    const { reservationId, held } = (await response.json()) as { reservationId: string; held: string };
    expect(held).toBe('20000'); // max(holdMicro, cost of 1000 output tokens = 15 500)

    const expected = priceUsage(await service.getMeter('chat', { version: chatVersion }), usage);
    // ⌈1 × 1 000 + 1 234 × 3 + 341 × 15.5⌉ = ⌈1 000 + 3 702 + 5 285.5⌉ = 9 988 micro-USD (rounded up once).
    expect(expected.totalMicro).toBe(9_988n);
    const after = await service.getBalance(accountId);
    expect(before.availableMicro - after.availableMicro).toBe(expected.totalMicro);
    expect(after.reservedMicro).toBe(0n);
    const hold = await service.getReservation(reservationId);
    expect(hold).toMatchObject({
      status: 'finalized',
      meterId: 'chat',
      meterVersion: chatVersion,
      chargedMicro: 9_988n,
      usage: { request: 1n, input_tokens: 1234n, output_tokens: 341n },
    });
  });

  it('finalize by usage over HTTP answers the itemized pricing the ledger computes', async () => {
    const accountId = await fundedAccount(`bob-${randomUUID()}`, '1000000');
    const { reservation, balance } = await service.reserve(
      { accountId, meterId: 'chat' },
      { idempotencyKey: 'hold-1' },
    );
    expect(reservation).toMatchObject({ amountMicro: 20_000n, meterId: 'chat', status: 'pending' });
    expect(balance.reservedMicro).toBe(20_000n);
    const usage = { request: 2, output_tokens: 1n };
    const done = await service.finalize({ reservationId: reservation.id, usage });
    expect(done.pricing).toEqual(priceUsage(await service.getMeter('chat', { version: chatVersion }), usage));
    // 2 × 1 000 + 1 × 15.5 = 2 015.5 → 2 016; the output_tokens line gets the rounded-up micro (15.5 → 16).
    expect(done.pricing?.lines.find((line) => line.dimension === 'output_tokens')?.amountMicro).toBe(16n);
    expect(done).toMatchObject({ chargedMicro: 2_016n, releasedMicro: 17_984n });
    expect(done.balance.availableMicro).toBe(1_000_000n - 2_016n);
  });

  it('insufficient credits over HTTP is an InsufficientCreditsError, the class of the in-process ledger', async () => {
    expect(InsufficientCreditsError).toBe(ledgerRoot.InsufficientCreditsError);
    const accountId = await fundedAccount(`carol-${randomUUID()}`, '5000');
    const error = await rejectionOf(service.reserve({ accountId, meterId: 'chat' }));
    expect(error).toBeInstanceOf(ledgerRoot.InsufficientCreditsError);
    expect(error).toMatchObject({ requestedMicro: 20_000n, availableMicro: 5_000n, shortfallMicro: 15_000n });
    const response = await siblingApp(service, { request: 1 }).request('/chat', {
      method: 'POST',
      headers: { 'x-account-id': accountId },
    });
    expect(response.status).toBe(402);
    expect(((await response.json()) as { error: string }).error).toBe('insufficient_credits');
    expect((await service.getBalance(accountId)).availableMicro).toBe(5_000n);
  });

  it('a spend cap set over HTTP refuses a hold with a SpendCapExceededError', async () => {
    const accountId = await fundedAccount(`dave-${randomUUID()}`, '1000000');
    const caps = { dailyCapMicro: '30000', monthlyCapMicro: null };
    await expectStatus('PUT', `/v1/accounts/${accountId}/spend-caps`, adminToken, caps, 200);
    await service.reserve({ accountId, meterId: 'chat' });
    const error = await rejectionOf(service.reserve({ accountId, meterId: 'chat' }));
    expect(error).toBeInstanceOf(SpendCapExceededError);
    expect(error).toBeInstanceOf(LedgerError);
    expect(error).toMatchObject({
      code: 'spend_cap_exceeded',
      period: 'daily',
      spentMicro: 20_000n,
      capMicro: 30_000n,
    });
    expect((await service.getBalance(accountId)).reservedMicro).toBe(20_000n);
  });

  it('gateway-only refusals are GatewayRequestErrors: a user setting terms (403 terms_not_allowed), a bad token (401)', async () => {
    const sub = `erin-${randomUUID()}`;
    const accountId = await fundedAccount(sub, '1000000');
    const user = gatewayLedger({
      baseUrl: gateway?.url ?? '',
      getToken: () => mintUserToken({ privateKey: devJwk, sub }),
    });
    const refused = await rejectionOf(user.reserve({ accountId, amountMicro: 1n, billingMode: 'shadow' }));
    expect(refused).toBeInstanceOf(GatewayRequestError);
    expect(refused).toMatchObject({ code: 'terms_not_allowed', status: 403 });
    expect((await service.getBalance(accountId)).reservedMicro).toBe(0n);
    const held = await user.reserve({ accountId, meterId: 'chat' });
    expect(held.reservation.amountMicro).toBe(20_000n);
    const forged = gatewayLedger({ baseUrl: gateway?.url ?? '', token: 'not-a-jwt' });
    expect(await rejectionOf(forged.getBalance(accountId))).toMatchObject({ name: 'GatewayRequestError', status: 401 });
  });
});
