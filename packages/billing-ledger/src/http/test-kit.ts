/**
 * Test support (not exported): a Hono app that serves an in-process ledger on the gateway's wire shapes (the routes
 * `gatewayLedger()` calls, spec of issue 11), so the client is tested through `app.request` with no server. Answers
 * are built the way the gateway builds them: amounts as base-10 strings, times as ISO strings, errors as
 * `{ error, message, details }` with the ledger's status table.
 */
import { Hono } from 'hono';
import { LedgerError, ledgerErrorHttpStatus } from '../errors.js';
import type { Ledger } from '../ledger/ledger.js';
import type { Meter, Pricing } from '../meters/types.js';
import type { Balance, Distribution, Reservation, ReserveInput } from '../types.js';
import type { GatewayFetch } from './transport.js';

type Json = Record<string, unknown>;

/** bigints → strings, Dates → ISO strings, recursively (what the gateway's `jsonSafe` does to error details). */
export function jsonSafe(value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(jsonSafe);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, entry]) => [key, jsonSafe(entry)]));
  }
  return value;
}

/** The wire body of a balance. */
export const balanceWire = (balance: Balance): unknown => jsonSafe(balance);
/** The wire body of a hold (`usage` units as strings). */
export const reservationWire = (reservation: Reservation): Json => jsonSafe(reservation) as Json;
/** The wire body of a meter version. */
export const meterWire = (meter: Meter): unknown => jsonSafe(meter);
const distributionWire = (d: Distribution | null) => (d === null ? null : jsonSafe(d));
const pricingWire = (p: Pricing | null) => (p === null ? null : jsonSafe(p));

/** An error answer as the gateway writes it. */
export function problemWire(error: LedgerError): Json {
  return { error: error.code, message: error.message, details: jsonSafe(error.details) };
}

function reserveInputOf(body: Json): ReserveInput {
  if (body.meterId !== undefined) {
    const estimate = body.estimate as Record<string, string> | undefined;
    return {
      accountId: String(body.accountId),
      meterId: String(body.meterId),
      ...(estimate === undefined
        ? {}
        : { estimate: Object.fromEntries(Object.entries(estimate).map(([k, v]) => [k, BigInt(v)])) }),
    };
  }
  return {
    accountId: String(body.accountId),
    amountMicro: BigInt(String(body.amountMicro)),
    ...(body.poolId === undefined ? {} : { poolId: String(body.poolId) }),
    ...(body.ttlSeconds === undefined ? {} : { ttlMs: Number(body.ttlSeconds) * 1000 }),
    ...(body.billingMode === undefined ? {} : { billingMode: body.billingMode as 'live' | 'soft' | 'shadow' }),
  };
}

/** A request the fake gateway received. */
export interface SeenRequest {
  method: string;
  path: string;
  headers: Headers;
  body: unknown;
}

/** The fake gateway: its app, a fetch for `gatewayLedger({ fetch })`, and the requests it saw. */
export interface FakeGateway {
  app: Hono;
  fetch: GatewayFetch;
  seen: SeenRequest[];
}

/**
 * A Hono app serving `ledger` on the gateway's reservation, balance and meter routes; it accepts `Bearer <token>`
 * only (else 401 `invalid_token`). Idempotency keys are scoped to `arrakis-internal:svc`.
 */
export function fakeGateway(ledger: Ledger, token: string): FakeGateway {
  const app = new Hono();
  const seen: SeenRequest[] = [];
  const scope = 'arrakis-internal:svc';
  const writeOptions = (key: string | undefined) =>
    key === undefined ? {} : { idempotencyKey: key, idempotencyScope: scope };
  app.onError((error, c) =>
    error instanceof LedgerError
      ? c.json(problemWire(error), ledgerErrorHttpStatus[error.code])
      : c.json({ error: 'internal_error', message: error.message, requestId: 'req_1' }, 500),
  );
  app.use('*', async (c, next) => {
    const text = await c.req.raw.clone().text();
    seen.push({
      method: c.req.method,
      path: c.req.path,
      headers: c.req.raw.headers,
      body: text === '' ? undefined : JSON.parse(text),
    });
    if (c.req.header('authorization') !== `Bearer ${token}`) {
      return c.json({ error: 'invalid_token', message: 'the bearer token is not valid' }, 401);
    }
    return next();
  });
  app.post('/v1/reservations', async (c) => {
    const result = await ledger.reserve(
      reserveInputOf(await c.req.json()),
      writeOptions(c.req.header('idempotency-key')),
    );
    return c.json({ ...reservationWire(result.reservation), balance: balanceWire(result.balance) }, 201);
  });
  app.post('/v1/reservations/:id/finalize', async (c) => {
    const body = (await c.req.json()) as Json;
    const reservationId = c.req.param('id');
    const input =
      body.usage === undefined
        ? { reservationId, actualCostMicro: BigInt(String(body.actualCostMicro)) }
        : {
            reservationId,
            usage: Object.fromEntries(Object.entries(body.usage as Json).map(([k, v]) => [k, BigInt(String(v))])),
          };
    const r = await ledger.finalize(input, writeOptions(c.req.header('idempotency-key')));
    return c.json({
      id: r.reservation.id,
      status: r.reservation.status,
      actualCostMicro: String(r.reservation.actualCostMicro),
      ...(jsonSafe({
        chargedMicro: r.chargedMicro,
        releasedMicro: r.releasedMicro,
        overrunMicro: r.overrunMicro,
        uncollectedMicro: r.uncollectedMicro,
      }) as Json),
      distribution: distributionWire(r.distribution),
      pricing: pricingWire(r.pricing),
      reservation: reservationWire(r.reservation),
      balance: balanceWire(r.balance),
    });
  });
  app.post('/v1/reservations/:id/release', async (c) => {
    const r = await ledger.release({ reservationId: c.req.param('id') }, writeOptions(c.req.header('idempotency-key')));
    return c.json({
      ...reservationWire(r.reservation),
      releasedMicro: String(r.releasedMicro),
      balance: balanceWire(r.balance),
    });
  });
  app.get('/v1/reservations/:id', async (c) => c.json(reservationWire(await ledger.getReservation(c.req.param('id')))));
  app.get('/v1/accounts/:id/balance', async (c) =>
    c.json(balanceWire(await ledger.getBalance(c.req.param('id'))) as Json),
  );
  app.get('/v1/meters/:id', async (c) => {
    const version = c.req.query('version');
    const meter = await ledger.getMeter(c.req.param('id'), version === undefined ? {} : { version: Number(version) });
    return c.json(meterWire(meter) as Json);
  });
  return { app, fetch: (input, init) => app.request(input, init), seen };
}

/**
 * A fetch answering every call with `status` and `body` (a JSON value, or raw text), for shapes a real ledger never
 * produces (malformed answers, gateway-only codes).
 */
export function cannedFetch(status: number, body: unknown, headers: Record<string, string> = {}): GatewayFetch {
  return () =>
    new Response(typeof body === 'string' ? body : JSON.stringify(body), {
      status,
      headers: { 'content-type': typeof body === 'string' ? 'text/html' : 'application/json', ...headers },
    });
}
