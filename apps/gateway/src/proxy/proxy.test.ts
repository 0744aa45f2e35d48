// The metered proxy through the app (`createApp` on a fresh ledger database) in front of a real upstream HTTP server
// on 127.0.0.1. Every case asserts the money afterwards: a charge is the itemized cost of the reported usage under
// the hold's meter; a release leaves the balance as it was.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ReadableStream } from 'node:stream/web';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Entry, priceUsage, type Usage } from '@arrakis/billing-ledger';
import { serve } from '@hono/node-server';
import { createLocalJWKSet, type JSONWebKeySet, jwtVerify } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { makeAppFixture } from '../testing/app-fixture.js';
import { errorOf, type LedgerAppFixture, makeLedgerAppFixture } from '../testing/ledger-fixture.js';
import { closedPort, deferred, startTestUpstream, type TestUpstream } from './upstream.testing.js';

const meterId = 'llm-tokens';
const holdMicro = 10_000n;
const grantMicro = 1_000_000n;
/** Most polls of a hold settled after the client went away (no answer to wait on), and the pause between two. */
const settleWaitsMax = 400;
const settleWaitMs = 25;

let upstream: TestUpstream;
let f: LedgerAppFixture;

beforeAll(async () => {
  upstream = await startTestUpstream();
  const dead = `http://127.0.0.1:${await closedPort()}`;
  const upstreams = [
    { id: 'llm', url: `${upstream.url}/`, meterId },
    { id: 'llm-slow', url: upstream.url, meterId, firstByteTimeoutMs: 200 },
    { id: 'llm-short', url: upstream.url, meterId, timeoutMs: 2000 },
    { id: 'llm-hold', url: upstream.url, meterId, onMissingUsage: 'charge-hold' },
    { id: 'llm-small', url: upstream.url, meterId, bodyBytesMax: 1024 },
    { id: 'dead', url: dead, meterId },
    { id: 'llm-tiny', url: upstream.url, meterId: 'tiny-ttl' },
  ];
  f = await makeLedgerAppFixture({ env: { UPSTREAMS: JSON.stringify(upstreams) } });
  await f.createMeter(meterId, {
    holdMicro: holdMicro.toString(),
    unitPrices: [
      { dimension: 'input_tokens', priceMicro: '3', perUnits: '1' },
      { dimension: 'output_tokens', priceMicro: '10', perUnits: '1' },
    ],
  });
  // Holds of one second: less than the settle margin the proxy keeps before a hold's expiry.
  await f.createMeter('tiny-ttl', { holdMicro: holdMicro.toString(), ttlSeconds: 1 });
  upstream.selfFinalize = async (token) => {
    const { payload } = await verifyUpstreamToken(token, 'llm');
    const response = await f.post(`/v1/reservations/${String(payload.reservation_id)}/finalize`, {
      token: f.tokens.service,
      json: { usage: { input_tokens: '20', output_tokens: '2' } },
    });
    expect(response.status).toBe(200);
  };
});

afterAll(async () => {
  await upstream?.close();
  await f?.close();
});

beforeEach(() => upstream.reset());

async function verifyUpstreamToken(token: string, audience: string) {
  const jwks = (await (await f.get('/.well-known/jwks.json')).json()) as JSONWebKeySet;
  return jwtVerify(token, createLocalJWKSet(jwks), {
    issuer: f.config.jwt.issuer,
    audience,
    typ: 'upstream+jwt',
    currentDate: new Date(f.clock.nowMs()),
  });
}

let accounts = 0;
/** A service-created account granted {@link grantMicro}. */
async function fundedAccount(): Promise<string> {
  accounts += 1;
  const accountId = await f.createAccount('customer', `proxy-${accounts}`);
  await f.grant(accountId, grantMicro.toString());
  return accountId;
}

interface CallOptions {
  token?: string;
  accountId?: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string | ReadableStream<Uint8Array>;
  signal?: AbortSignal;
}

function call(path: string, o: CallOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { authorization: `Bearer ${o.token ?? f.tokens.service}`, ...o.headers };
  if (o.accountId !== undefined) headers['x-account-id'] = o.accountId;
  const init: RequestInit & { duplex?: 'half' } = { method: o.method ?? 'GET', headers };
  if (o.body !== undefined) init.body = o.body as RequestInit['body'];
  if (o.body instanceof ReadableStream) init.duplex = 'half';
  if (o.signal !== undefined) init.signal = o.signal;
  return Promise.resolve(f.app.request(`/v1/upstreams/${path}`, init));
}

async function costOf(usage: Usage): Promise<bigint> {
  return priceUsage(await f.ledger.getMeter(meterId), usage).totalMicro;
}

/** The hold entries of the account's only proxied call, by kind. */
async function holdEntries(accountId: string): Promise<{ reservationId: string | null; byKind: Map<string, bigint> }> {
  const entries: Entry[] = (await f.ledger.listEntries(accountId, { limit: 200 })).items;
  const ids = new Set(entries.filter((e) => e.reservationId !== null).map((e) => e.reservationId));
  expect(ids.size).toBeLessThanOrEqual(1);
  const byKind = new Map<string, bigint>();
  for (const entry of entries.filter((e) => e.reservationId !== null)) {
    byKind.set(entry.kind, (byKind.get(entry.kind) ?? 0n) + entry.amountMicro);
  }
  return { reservationId: [...ids][0] ?? null, byKind };
}

async function expectCharged(accountId: string, costMicro: bigint): Promise<void> {
  const balance = await f.ledger.getBalance(accountId);
  expect({ available: balance.availableMicro, reserved: balance.reservedMicro }).toEqual({
    available: grantMicro - costMicro,
    reserved: 0n,
  });
  const { reservationId, byKind } = await holdEntries(accountId);
  expect(byKind.get('consume') ?? 0n).toBe(costMicro);
  const hold = await f.ledger.getReservation(reservationId ?? '');
  expect(hold.status).toBe('finalized');
}

async function expectReleased(accountId: string, expectHold = true): Promise<void> {
  const balance = await f.ledger.getBalance(accountId);
  expect({ available: balance.availableMicro, reserved: balance.reservedMicro }).toEqual({
    available: grantMicro,
    reserved: 0n,
  });
  const { reservationId, byKind } = await holdEntries(accountId);
  expect(byKind.has('consume')).toBe(false);
  if (!expectHold) {
    expect(reservationId).toBeNull();
    return;
  }
  expect((await f.ledger.getReservation(reservationId ?? '')).status).toBe('released');
}

function lastSeen() {
  const seen = upstream.seen.at(-1);
  if (seen === undefined) throw new Error('the upstream received nothing');
  return seen;
}

function metricsText(): Promise<string> {
  return f.registry.metrics();
}

describe('metered proxy: charge by the reported usage', () => {
  it('forwards path, query, method and body, and charges the usage of an OpenAI-style JSON answer', async () => {
    const accountId = await fundedAccount();
    const response = await call('llm/v1/chat?in=100&out=50&x=%2Fy', {
      accountId,
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: 'session=secret', 'x-custom': 'kept' },
      body: JSON.stringify({ model: 'm', messages: [] }),
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { usage: unknown };
    expect(body.usage).toEqual({ prompt_tokens: 100, completion_tokens: 50 });
    const seen = lastSeen();
    expect({ method: seen.method, path: seen.path, search: seen.search }).toEqual({
      method: 'POST',
      path: '/v1/chat',
      search: '?in=100&out=50&x=%2Fy',
    });
    expect(seen.headers['x-custom']).toBe('kept');
    expect(seen.headers.cookie).toBeUndefined();
    expect(seen.headers['x-account-id']).toBeUndefined();
    expect(seen.headers['x-request-id']).toBe(response.headers.get('x-request-id'));
    const costMicro = await costOf({ input_tokens: 100n, output_tokens: 50n });
    await expectCharged(accountId, costMicro);
    const line = f.logs.find((l) => l.msg === 'upstream call' && l.accountId === accountId);
    expect(line).toMatchObject({
      upstream: 'llm',
      status: 200,
      outcome: 'charged',
      chargedMicro: costMicro.toString(),
    });
    expect(line?.reservationId).toMatch(/^res_/);
    expect(typeof line?.durationMs).toBe('number');
    expect(typeof line?.firstByteMs).toBe('number');
    expect(await metricsText()).toMatch(/upstream_requests_total\{upstream="llm",status="200"\} \d/);
  });

  it('replaces the caller Authorization with a gateway-signed upstream token verifiable through the JWKS', async () => {
    const accountId = await fundedAccount();
    const response = await call('llm/v1/chat?in=1&out=1', {
      accountId,
      headers: { 'x-usage-estimate': 'output_tokens=4000' },
    });
    expect(response.status).toBe(200);
    await response.arrayBuffer();
    const authorization = lastSeen().headers.authorization ?? '';
    expect(authorization).not.toContain(f.tokens.service);
    expect(lastSeen().headers['x-usage-estimate']).toBeUndefined();
    const { payload, protectedHeader } = await verifyUpstreamToken(authorization.replace(/^Bearer /, ''), 'llm');
    expect(protectedHeader.typ).toBe('upstream+jwt');
    const hold = await f.ledger.getReservation(String(payload.reservation_id));
    // The estimate sized the hold: 4000 output tokens at 10 micro-USD is above the meter's holdMicro.
    expect(hold.amountMicro).toBe(40_000n);
    expect(payload).toMatchObject({
      iss: f.config.jwt.issuer,
      aud: 'llm',
      sub: accountId,
      meter_id: meterId,
      meter_version: hold.meterVersion,
      hold_micro: '40000',
    });
    expect(typeof payload.jti).toBe('string');
    expect((payload.exp ?? 0) * 1000).toBeLessThanOrEqual(hold.expiresAt.getTime());
    await expectCharged(accountId, await costOf({ input_tokens: 1n, output_tokens: 1n }));
  });

  it('the X-Usage response header wins over the body', async () => {
    const accountId = await fundedAccount();
    const response = await call('llm/v1/header-usage', { accountId });
    expect(response.status).toBe(200);
    await response.arrayBuffer();
    await expectCharged(accountId, await costOf({ input_tokens: 7n, output_tokens: 3n }));
  });

  it('streams SSE: the client reads chunk 1 before the upstream sends chunk 2; the final usage chunk is charged', async () => {
    const accountId = await fundedAccount();
    const response = await call('llm/v1/stream?in=40&out=8', { accountId, method: 'POST' });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    const first = await reader.read();
    upstream.events.push('client:chunk1');
    expect(decoder.decode(first.value)).toContain('Hel');
    // Nothing is settled while the stream is open: the hold is still pending.
    expect((await f.ledger.getBalance(accountId)).reservedMicro).toBe(holdMicro);
    upstream.gate.resolve();
    let rest = '';
    for (let i = 0; i < 100; i += 1) {
      const next = await reader.read();
      if (next.done) break;
      rest += decoder.decode(next.value);
    }
    upstream.events.push('client:end');
    expect(rest).toContain('[DONE]');
    expect(upstream.events).toEqual(['upstream:chunk1', 'client:chunk1', 'upstream:chunk2', 'client:end']);
    // The end of the stream reached the client only once the hold was charged.
    await expectCharged(accountId, await costOf({ input_tokens: 40n, output_tokens: 8n }));
  });

  it('a hold the upstream finalized itself is left alone (charged once, by the upstream)', async () => {
    const accountId = await fundedAccount();
    const response = await call('llm/v1/self-finalize', { accountId, method: 'POST' });
    expect(response.status).toBe(200);
    await response.arrayBuffer();
    await expectCharged(accountId, await costOf({ input_tokens: 20n, output_tokens: 2n }));
    const line = f.logs.find((l) => l.msg === 'upstream call' && l.accountId === accountId);
    expect(line).toMatchObject({ outcome: 'settled-elsewhere', upstream: 'llm' });
  });

  it('a user token is charged on the user’s own account (no X-Account-Id)', async () => {
    const user = await f.userAccount('proxy-user', grantMicro.toString());
    const response = await call('llm/v1/chat?in=10&out=0', { token: user.token });
    expect(response.status).toBe(200);
    await response.arrayBuffer();
    await expectCharged(user.accountId, await costOf({ input_tokens: 10n }));
  });

  it('forwards PUT, PATCH and DELETE as such, and the upstream root as /', async () => {
    for (const method of ['PUT', 'PATCH', 'DELETE']) {
      const accountId = await fundedAccount();
      const response = await call('llm/v1/chat?in=2&out=0', { accountId, method });
      expect(response.status, method).toBe(200);
      await response.arrayBuffer();
      expect(lastSeen().method).toBe(method);
      await expectCharged(accountId, await costOf({ input_tokens: 2n }));
    }
    const accountId = await fundedAccount();
    const root = await call('llm', { accountId });
    expect(root.status).toBe(404); // the test upstream has no `/`: its 404 is passed through, the hold released
    await root.arrayBuffer();
    expect(lastSeen().path).toBe('/');
    await expectReleased(accountId);
  });

  it('HEAD: no body, settled at once (no usage → released)', async () => {
    const accountId = await fundedAccount();
    const response = await call('llm/v1/plain', { accountId, method: 'HEAD' });
    expect(response.status).toBe(200);
    expect(response.body).toBeNull();
    expect(lastSeen().method).toBe('HEAD');
    await expectReleased(accountId);
  });

  it('streams the request body to the upstream', async () => {
    const accountId = await fundedAccount();
    const chunk = new Uint8Array(4096).fill(97);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent === 8) return controller.close();
        sent += 1;
        controller.enqueue(chunk);
      },
    });
    // Live billing charges at most the hold: the estimate sizes it for the whole body.
    const headers = { 'x-usage-estimate': `input_tokens=${8 * 4096}` };
    const response = await call('llm/v1/echo', { accountId, method: 'POST', body, headers });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { bytes: number }).bytes).toBe(8 * 4096);
    await expectCharged(accountId, await costOf({ input_tokens: 8n * 4096n }));
  });
});

describe('metered proxy: no usage', () => {
  it('releases by default, logged and counted', async () => {
    const accountId = await fundedAccount();
    const response = await call('llm/v1/plain', { accountId });
    expect(response.status).toBe(200);
    await response.arrayBuffer();
    await expectReleased(accountId);
    expect(f.logs.some((l) => l.msg === 'upstream reported no usage' && l.action === 'release')).toBe(true);
    expect(await metricsText()).toMatch(/upstream_missing_usage_total\{upstream="llm",action="release"\} [1-9]/);
  });

  it('charges the whole hold with onMissingUsage: charge-hold', async () => {
    const accountId = await fundedAccount();
    const response = await call('llm-hold/v1/plain', { accountId });
    expect(response.status).toBe(200);
    await response.arrayBuffer();
    await expectCharged(accountId, holdMicro);
    expect(await metricsText()).toMatch(/upstream_missing_usage_total\{upstream="llm-hold",action="charge-hold"\} 1/);
  });
});

describe('metered proxy: faults release the hold', () => {
  it('connection refused → 502 upstream_unavailable', async () => {
    const accountId = await fundedAccount();
    await errorOf(await call('dead/v1/chat', { accountId }), 502, 'upstream_unavailable');
    await expectReleased(accountId);
  });

  it('upstream 5xx before the body → 502 upstream_unavailable, its body not passed', async () => {
    const accountId = await fundedAccount();
    const body = await errorOf(await call('llm/v1/fail', { accountId }), 502, 'upstream_unavailable');
    expect(JSON.stringify(body)).not.toContain('boom');
    await expectReleased(accountId);
  });

  it('upstream 4xx → passed through, released', async () => {
    const accountId = await fundedAccount();
    const response = await call('llm/v1/bad', { accountId });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: string }).error).toBe('bad_input');
    await expectReleased(accountId);
  });

  it('no response head within firstByteTimeoutMs → 504 upstream_timeout, the upstream request aborted', async () => {
    const accountId = await fundedAccount();
    await errorOf(await call('llm-slow/v1/slow', { accountId }), 504, 'upstream_timeout');
    await upstream.aborted.promise;
    await expectReleased(accountId);
  });

  it('a stream past timeoutMs is cut and settled with the usage it reported so far', async () => {
    const accountId = await fundedAccount();
    const response = await call('llm-short/v1/forever', { accountId });
    expect(response.status).toBe(200);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toContain('usage');
    // The next read fails once the call's deadline passed, after the hold was settled.
    await expect(reader.read()).rejects.toThrow();
    await upstream.aborted.promise;
    await expectCharged(accountId, await costOf({ input_tokens: 5n, output_tokens: 1n }));
  });

  it('a connection reset mid-body errors the client stream and settles with the usage reported so far', async () => {
    const accountId = await fundedAccount();
    const response = await call('llm/v1/reset', { accountId });
    expect(response.status).toBe(200);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toContain('usage');
    upstream.gate.resolve();
    await expect(reader.read()).rejects.toThrow(); // after the settlement
    await expectCharged(accountId, await costOf({ input_tokens: 9n }));
    const line = f.logs.find((l) => l.msg === 'upstream call' && l.accountId === accountId);
    expect(line).toMatchObject({ reason: 'upstream_error', outcome: 'charged' });
  });

  it('a hold living less than the settle margin is released without forwarding → 504', async () => {
    const accountId = await fundedAccount();
    const seenBefore = upstream.seen.length;
    await errorOf(await call('llm-tiny/v1/chat', { accountId }), 504, 'upstream_timeout');
    expect(upstream.seen.length).toBe(seenBefore);
    await expectReleased(accountId);
  });

  it('body over bodyBytesMax with Content-Length → 413 before anything is held', async () => {
    const accountId = await fundedAccount();
    const seenBefore = upstream.seen.length;
    await errorOf(
      await call('llm-small/v1/echo', {
        accountId,
        method: 'POST',
        body: 'x'.repeat(2048),
        headers: { 'content-length': '2048' },
      }),
      413,
      'payload_too_large',
    );
    expect(upstream.seen.length).toBe(seenBefore);
    await expectReleased(accountId, false);
  });

  it('streamed body over bodyBytesMax → 413, the hold released', async () => {
    const accountId = await fundedAccount();
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent === 4) return controller.close();
        sent += 1;
        controller.enqueue(new Uint8Array(512));
      },
    });
    await errorOf(await call('llm-small/v1/echo', { accountId, method: 'POST', body }), 413, 'payload_too_large');
    await expectReleased(accountId);
  });
});

describe('metered proxy: client abort mid-stream', () => {
  it('cancelling the response aborts the upstream request and settles (no usage yet → released)', async () => {
    const accountId = await fundedAccount();
    const response = await call('llm/v1/stream?in=40&out=8', { accountId, method: 'POST' });
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toContain('Hel');
    await reader.cancel(); // resolves once the call is settled
    await upstream.aborted.promise;
    await expectReleased(accountId);
  });

  it('the request signal aborting settles with the usage reported so far', async () => {
    const accountId = await fundedAccount();
    const controller = new AbortController();
    const response = await call('llm/v1/forever', { accountId, signal: controller.signal });
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toContain('usage');
    controller.abort();
    await expect(reader.read()).rejects.toThrow(); // after the settlement
    await upstream.aborted.promise;
    await expectCharged(accountId, await costOf({ input_tokens: 5n, output_tokens: 1n }));
  });
});

describe('metered proxy: behind a real HTTP server', () => {
  it('a client dropping the connection mid-stream aborts the upstream request and releases the hold', async () => {
    const accountId = await fundedAccount();
    const listening = deferred<AddressInfo>();
    const server = serve({ fetch: f.app.fetch, hostname: '127.0.0.1', port: 0 }, (info) => listening.resolve(info));
    try {
      const { port } = await listening.promise;
      const client = new AbortController();
      const response = await fetch(`http://127.0.0.1:${port}/v1/upstreams/llm/v1/stream?in=4&out=4`, {
        method: 'POST',
        headers: { authorization: `Bearer ${f.tokens.service}`, 'x-account-id': accountId },
        signal: client.signal,
      });
      expect(response.status).toBe(200);
      const reader = (response.body as ReadableStream<Uint8Array>).getReader();
      expect(new TextDecoder().decode((await reader.read()).value)).toContain('Hel');
      client.abort();
      await upstream.aborted.promise;
      // The settlement follows the abort: wait for it (bounded), then check the money.
      const { reservationId } = await holdEntries(accountId);
      for (let i = 0; i < settleWaitsMax; i += 1) {
        if ((await f.ledger.getReservation(reservationId ?? '')).status !== 'pending') break;
        await sleep(settleWaitMs);
      }
      await expectReleased(accountId);
    } finally {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      (server as Server).closeAllConnections();
      await closed;
    }
  });
});

describe('metered proxy: refused before forwarding (nothing held)', () => {
  it('a service token without X-Account-Id → 400 validation_failed', async () => {
    await errorOf(await call('llm/v1/chat'), 400, 'validation_failed');
  });

  it('a malformed X-Usage-Estimate → 400 validation_failed', async () => {
    const accountId = await fundedAccount();
    const response = await call('llm/v1/chat', { accountId, headers: { 'x-usage-estimate': 'output_tokens=-1' } });
    await errorOf(response, 400, 'validation_failed');
    await expectReleased(accountId, false);
  });

  it('a user naming another account → 403 forbidden', async () => {
    const user = await f.user('proxy-intruder');
    const accountId = await fundedAccount();
    await errorOf(await call('llm/v1/chat', { token: user.token, accountId }), 403, 'forbidden');
    await expectReleased(accountId, false);
  });

  it('out of credits → 402 insufficient_credits, the upstream not called', async () => {
    const accountId = await f.createAccount('customer', 'proxy-broke');
    const seenBefore = upstream.seen.length;
    await errorOf(await call('llm/v1/chat', { accountId }), 402, 'insufficient_credits');
    expect(upstream.seen.length).toBe(seenBefore);
  });

  it('an unknown upstream → 404 upstream_not_found; another method → 405 with Allow', async () => {
    const body = await errorOf(await call('nope/v1/chat'), 404, 'upstream_not_found');
    expect(body.details).toMatchObject({ upstreams: expect.arrayContaining(['llm']) });
    const options = await call('llm/v1/chat', { method: 'OPTIONS' });
    expect(options.status).toBe(405);
    expect(options.headers.get('allow')).toBe('GET, HEAD, POST, PUT, PATCH, DELETE');
  });

  it('the per-principal rate limit applies (after the bearer auth)', async () => {
    const limited = await makeAppFixture({
      env: {
        UPSTREAMS: JSON.stringify([{ id: 'llm', url: upstream.url, meterId }]),
        RATE_LIMIT_PRINCIPAL_PER_MINUTE: '1',
      },
    });
    const token = await limited.token('arrakis-internal', 'limited-service');
    const headers = { authorization: `Bearer ${token}`, 'x-account-id': 'acc_missing' };
    const first = await limited.app.request('/v1/upstreams/llm/v1/chat', { headers });
    await errorOf(first, 404, 'account_not_found');
    await errorOf(await limited.app.request('/v1/upstreams/llm/v1/chat', { headers }), 429, 'rate_limited');
  });

  it('is documented in the OpenAPI document, one operation per method', async () => {
    const doc = (await (await f.get('/openapi.json')).json()) as { paths: Record<string, Record<string, unknown>> };
    expect(Object.keys(doc.paths['/v1/upstreams/{id}/{path}'] ?? {}).sort()).toEqual([
      'delete',
      'get',
      'patch',
      'post',
      'put',
    ]);
  });
});
