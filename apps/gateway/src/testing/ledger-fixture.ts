// Test support (not part of the build): the gateway app on a fresh ledger database (PGlite in memory, or a fresh
// Postgres database when DATABASE_URL is set), tokens for each kind of caller, and a snapshot of an account's state
// to prove that a refused request changed nothing.
import { type ErrorBody, errorBodySchema } from '@arrakis/e2e-contracts';
import { expect } from 'vitest';
import { type AppFixture, type AppFixtureOptions, makeAppFixture } from './app-fixture.js';
import { openTestLedgerDb, type TestLedgerDb } from './test-ledger-db.js';

/** Tokens of the callers the ledger route tests use (users: see {@link LedgerAppFixture.user}). */
export interface LedgerTokens {
  /** `arrakis-internal`. */
  service: string;
  /** `arrakis-admin` with scope `admin`. */
  admin: string;
  /** `arrakis-admin` with scope `ledger:grant` only. */
  granter: string;
  /** `arrakis-admin` with scope `ledger:read` only. */
  reader: string;
  /** `arrakis-admin` without scopes (reads nothing: every admin route needs a scope). */
  adminNoScope: string;
}

export interface LedgerAppFixture extends AppFixture {
  db: TestLedgerDb;
  tokens: LedgerTokens;
  /** Mints the tokens again at the fixture clock (after moving the clock past their lifetime). */
  refreshTokens(): Promise<void>;
  /** A new user: a unique `sub` and its `arrakis-api` token (no account yet). */
  user(label: string): Promise<{ sub: string; token: string }>;
  /** A new user with a `user` account funded with `amountMicro` (a grant) when given. */
  userAccount(label: string, amountMicro?: string): Promise<{ sub: string; token: string; accountId: string }>;
  /** `POST /v1/accounts` as the service; returns the account id. */
  createAccount(entityType: string, entityId: string): Promise<string>;
  /** `POST /v1/accounts/:id/grants` as the admin; returns the answer body. */
  grant(accountId: string, amountMicro: string, extra?: Record<string, unknown>): Promise<GrantAnswer>;
  /** `POST /v1/reservations` as the service; returns the answer body. */
  reserve(accountId: string, amountMicro: string, extra?: Record<string, unknown>): Promise<ReserveAnswer>;
  /** `POST /v1/meters` as the admin (`holdMicro` 10000, one `request` price of 100 unless given); returns the answer. */
  createMeter(id: string, extra?: Record<string, unknown>): Promise<MeterAnswer>;
  /** `POST /v1/reservations` through a meter with `token` (default the service); returns the answer body. */
  reserveByMeter(
    accountId: string,
    meterId: string,
    token?: string,
    extra?: Record<string, unknown>,
  ): Promise<ReserveAnswer>;
  /** Balance (without `asOf`), every lot and entry, and the number of events: what a refused request must not change. */
  snapshot(accountId: string): Promise<unknown>;
  close(): Promise<void>;
}

export interface GrantAnswer {
  lot: { id: string; availableMicro: string; originalMicro: string; poolId: string; expiresAt: string | null };
  balance: { availableMicro: string; reservedMicro: string };
}

export interface MeterAnswer {
  id: string;
  version: number;
  poolId: string;
  billingMode: string;
  holdMicro: string;
  maxCostMicro: string | null;
  ttlSeconds: number | null;
  unitPrices: { dimension: string; priceMicro: string; perUnits: string; unitsMax: string }[];
  effectiveAt: string;
  createdBy: string;
  createdAt: string;
}

export interface ReserveAnswer {
  id: string;
  status: string;
  amountMicro: string;
  poolId: string;
  billingMode: string;
  meterId: string | null;
  meterVersion: number | null;
  usage: Record<string, string> | null;
  lots: { lotId: string; amountMicro: string }[];
  balance: { availableMicro: string; reservedMicro: string };
}

async function expectStatus<T>(response: Response, status: number): Promise<T> {
  const text = await response.text();
  if (response.status !== status) throw new Error(`expected ${status}, got ${response.status}: ${text}`);
  return JSON.parse(text) as T;
}

/**
 * A gateway app wired to a fresh ledger database (opening one is slow: share it per test file and give each test
 * its own users and accounts). Close it in `afterAll`.
 */
export async function makeLedgerAppFixture(
  options: Omit<AppFixtureOptions, 'ledgerDb'> = {},
): Promise<LedgerAppFixture> {
  const db = await openTestLedgerDb();
  const fixture = await makeAppFixture({ ...options, ledgerDb: db });
  const tokens = {} as LedgerTokens;
  async function refreshTokens(): Promise<void> {
    Object.assign(tokens, {
      service: await fixture.token('arrakis-internal', 'billing-service'),
      admin: await fixture.token('arrakis-admin', 'root', { scope: 'admin' }),
      granter: await fixture.token('arrakis-admin', 'support', { scope: 'ledger:grant' }),
      reader: await fixture.token('arrakis-admin', 'auditor', { scope: 'ledger:read' }),
      adminNoScope: await fixture.token('arrakis-admin', 'viewer'),
    });
  }
  await refreshTokens();
  let users = 0;

  async function createAccount(entityType: string, entityId: string): Promise<string> {
    const response = await fixture.post('/v1/accounts', { token: tokens.service, json: { entityType, entityId } });
    const body = await expectStatus<{ id: string }>(response, response.status === 200 ? 200 : 201);
    return body.id;
  }

  async function grant(accountId: string, amountMicro: string, extra: Record<string, unknown> = {}) {
    const response = await fixture.post(`/v1/accounts/${accountId}/grants`, {
      token: tokens.admin,
      json: { amountMicro, reason: 'test grant', ...extra },
    });
    return expectStatus<GrantAnswer>(response, 201);
  }

  async function user(label: string) {
    users += 1;
    const sub = `${label}-${users}`;
    return { sub, token: await fixture.token('arrakis-api', sub) };
  }

  return {
    ...fixture,
    db,
    tokens,
    refreshTokens,
    user,
    async userAccount(label, amountMicro) {
      const { sub, token } = await user(label);
      const accountId = await createAccount('user', sub);
      if (amountMicro !== undefined) await grant(accountId, amountMicro);
      return { sub, token, accountId };
    },
    createAccount,
    grant,
    async reserve(accountId, amountMicro, extra = {}) {
      const response = await fixture.post('/v1/reservations', {
        token: tokens.service,
        json: { accountId, amountMicro, ...extra },
      });
      return expectStatus<ReserveAnswer>(response, 201);
    },
    async createMeter(id, extra = {}) {
      const json = { id, holdMicro: '10000', unitPrices: [{ dimension: 'request', priceMicro: '100', perUnits: '1' }] };
      const response = await fixture.post('/v1/meters', { token: tokens.admin, json: { ...json, ...extra } });
      return expectStatus<MeterAnswer>(response, 201);
    },
    async reserveByMeter(accountId, meterId, token = tokens.service, extra = {}) {
      const response = await fixture.post('/v1/reservations', { token, json: { accountId, meterId, ...extra } });
      return expectStatus<ReserveAnswer>(response, 201);
    },
    async snapshot(accountId) {
      const { asOf: _asOf, ...balance } = await fixture.ledger.getBalance(accountId);
      const lots = await fixture.ledger.listLots(accountId, { includeEmpty: true });
      const entries = await fixture.ledger.listEntries(accountId, { limit: 200 });
      let events = 0;
      let after: string | null = null;
      for (let page = 0; page < 100; page += 1) {
        const read: Awaited<ReturnType<typeof fixture.ledger.listEvents>> = await fixture.ledger.listEvents({
          after,
          limit: 1000,
        });
        events += read.items.length;
        if (read.nextCursor === null || read.items.length < 1000) break;
        after = read.nextCursor;
      }
      return { balance, lots, entries: entries.items, events };
    },
    close: () => db.close(),
  };
}

/** Asserts `response` is the JSON error `code` with `status` (the body is printed when the status differs) and returns the body. */
export async function errorOf(response: Response, status: number, code: string): Promise<ErrorBody> {
  const text = await response.text();
  expect(response.status, text).toBe(status);
  const body = errorBodySchema.parse(JSON.parse(text));
  expect(body.error).toBe(code);
  return body;
}
