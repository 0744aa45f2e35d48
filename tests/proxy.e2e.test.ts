import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { holdFor, type Meter, priceUsage } from '@arrakis/billing-ledger';
import { gatewayLedger } from '@arrakis/billing-ledger/http';
import { mintAdminToken, mintServiceToken, mintUserToken } from '@arrakis/e2e-contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOrCreateDevKey } from '../apps/gateway/src/auth/dev-key.js';
import { type GatewayProcess, readDevJwk, spawnGateway, stopIfRunning } from '../apps/gateway/src/testing/processes.js';
import { createTestDatabase } from '../apps/gateway/src/testing/test-ledger-db.js';
import { freeLoopbackPortForTests } from './free-port.js';
import { startUpstream, stopProcess, type UpstreamProcess } from './upstream-process.js';

type JWK = Awaited<ReturnType<typeof readDevJwk>>;

const issuer = 'arrakis-gateway';

/** Longest wait for one expected event (a chunk at the client, a hold settled, a log line, a sweep). */
const eventWaitMsMax = 30_000;
/** Pause between two polls of a bounded wait. */
const pollIntervalMs = 50;
/** Most reads of one response body by the test client. */
const bodyReadsMax = 100_000;
/** Most entry pages read for one account. */
const entryPagesMax = 20;
/** Sweep interval of an instance that must expire holds during the test. */
const sweepIntervalMs = 200;
/** Credit granted to each test account: $5. */
const grantMicro = 5_000_000n;

const unitPrices = [
  { dimension: 'input_tokens', priceMicro: '1500', perUnits: '1000' },
  { dimension: 'output_tokens', priceMicro: '6000', perUnits: '1000' },
];
/**
 * `proxy-chat`: the upstreams' meter; `proxy-versioned`: a meter that gets a second version (through the admin API)
 * while a call holds on the first; `proxy-short-hold`: an 8 s hold, for the crash-then-sweep case (the gateway ends a
 * call 1 s before its hold expires).
 */
const meters = [
  { id: 'proxy-chat', holdMicro: '200000', unitPrices },
  { id: 'proxy-versioned', holdMicro: '200000', unitPrices },
  { id: 'proxy-short-hold', holdMicro: '50000', ttlSeconds: 8, unitPrices },
];
/** Upstream ids the upstream process serves (one token audience each). */
const servedUpstreams = ['llm', 'llm-charge', 'llm-short', 'llm-sweep', 'llm-versioned'];
const shortFirstByteTimeoutMs = 500;
const shortTimeoutMs = 2000;

function upstreamsConfig(upstreamUrl: string, deadUrl: string) {
  return [
    { id: 'llm', url: upstreamUrl, meterId: 'proxy-chat' },
    { id: 'llm-charge', url: upstreamUrl, meterId: 'proxy-chat', onMissingUsage: 'charge-hold' },
    {
      id: 'llm-short',
      url: upstreamUrl,
      meterId: 'proxy-chat',
      firstByteTimeoutMs: shortFirstByteTimeoutMs,
      timeoutMs: shortTimeoutMs,
    },
    { id: 'llm-dead', url: deadUrl, meterId: 'proxy-chat' },
    { id: 'llm-sweep', url: upstreamUrl, meterId: 'proxy-short-hold' },
    { id: 'llm-versioned', url: upstreamUrl, meterId: 'proxy-versioned' },
  ];
}

type Json = Record<string, unknown>;

/** What the upstream recorded about one call (`GET /control/seen`). */
interface SeenCall {
  call: string;
  method: string;
  path: string;
  query: Record<string, string>;
  claims: {
    accountId: string;
    reservationId: string;
    meterId: string;
    meterVersion: number;
    holdMicro: string;
    anchor: unknown;
    tokenId: string;
    issuer: string;
    audience: string;
    issuedAtMs: number;
    expiresAtMs: number;
  };
  token: { typ: string | null; alg: string | null; kid: string | null } | null;
  headers: Record<string, string | null>;
  sends: { seq: number | 'final'; atMs: number; usage?: { prompt_tokens: number; completion_tokens: number } }[];
  state: 'open' | 'done' | 'aborted' | 'failed';
  error: string | null;
  finalize?: { status: number; reservationStatus: string | null; chargedMicro: string | null };
}

interface EntryWire {
  id: string;
  reservationId: string | null;
  kind: string;
  amountMicro: string;
}

async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `probe` until it answers a value (not undefined), at most `eventWaitMsMax`; throws `what` otherwise. */
async function eventually<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + eventWaitMsMax;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await sleep(pollIntervalMs);
  }
  throw new Error(
    `${what}: not within ${eventWaitMsMax} ms${last === undefined ? '' : ` (last error: ${String(last)})`}`,
  );
}

/** Reads a response body as text, chunk by chunk, waiting (bounded) for markers. */
function bodyReader(body: Response['body']) {
  if (body === null) throw new Error('the response has no body');
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  let reads = 0;
  let ended: { how: 'done' } | { how: 'error'; error: unknown } | undefined;

  async function readOnce(deadline: number): Promise<void> {
    const remainingMs = deadline - Date.now();
    if (remainingMs <= 0 || reads >= bodyReadsMax) throw new Error(`no more data within ${eventWaitMsMax} ms`);
    reads += 1;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), remainingMs);
    });
    try {
      const next = await Promise.race([reader.read(), timeout]);
      if (next === 'timeout') throw new Error(`no more data within ${eventWaitMsMax} ms`);
      if (next.done) ended = { how: 'done' };
      else text += decoder.decode(next.value, { stream: true });
    } catch (error) {
      if (error instanceof Error && error.message.startsWith('no more data')) throw error;
      ended = { how: 'error', error };
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    text: () => text,
    /** Resolves with the time `marker` has arrived at the client. */
    async until(marker: string): Promise<number> {
      const deadline = Date.now() + eventWaitMsMax;
      while (!text.includes(marker)) {
        if (ended !== undefined) throw new Error(`the body ended (${ended.how}) before ${marker}; got ${text}`);
        await readOnce(deadline).catch((error: Error) => {
          throw new Error(`${marker} did not reach the client: ${error.message}; got ${JSON.stringify(text)}`);
        });
      }
      return Date.now();
    },
    /** Reads to the end of the body; answers how it ended (closed, or errored). */
    async toEnd(): Promise<'done' | 'error'> {
      const deadline = Date.now() + eventWaitMsMax;
      while (ended === undefined) await readOnce(deadline);
      return ended.how;
    },
  };
}

/** OpenAI usage → the ledger's dimensions, as the gateway maps them. */
function ledgerUsage(usage: { prompt_tokens: number; completion_tokens: number }) {
  return { input_tokens: usage.prompt_tokens, output_tokens: usage.completion_tokens };
}

function callId(label: string): string {
  return `${label}-${randomBytes(5).toString('hex')}`;
}

/** A running stack: one upstream process and one or two gateway processes on one store. */
interface Stack {
  dataDir: string;
  devJwk: JWK;
  adminToken: string;
  serviceToken: string;
  upstream: UpstreamProcess;
  gateways: (GatewayProcess | undefined)[];
  ports: number[];
  envOf(index: number, overrides?: Record<string, string>): Record<string, string>;
  stop(): Promise<void>;
}

interface StackOptions {
  label: string;
  instances: number;
  /** Store variables (empty: the embedded store in DATA_DIR). */
  storeEnv: Record<string, string>;
  /** `LEDGER_SWEEP_INTERVAL_MS` per instance. */
  sweepIntervalsMs: number[];
  drop?: () => Promise<void>;
}

async function startStack(options: StackOptions): Promise<Stack> {
  const dataDir = await mkdtemp(join(tmpdir(), `arrakis-proxy-${options.label}-`));
  // The dev key exists before any process starts: the upstream gets its service token (self-finalize) up front.
  await loadOrCreateDevKey(dataDir);
  const devJwk = await readDevJwk(dataDir);
  const ports: number[] = [];
  for (let index = 0; index < options.instances; index += 1) ports.push(await freeLoopbackPortForTests());
  const deadPort = await freeLoopbackPortForTests();
  const serviceToken = await mintServiceToken({ privateKey: devJwk, issuer, sub: 'proxy-e2e', ttlSeconds: 3600 });
  const adminToken = await mintAdminToken({ privateKey: devJwk, issuer, sub: 'proxy-ops', ttlSeconds: 3600 });
  const gatewayUrl = `http://127.0.0.1:${ports[0]}`;
  const upstream = await startUpstream({
    JWKS_URL: `${gatewayUrl}/.well-known/jwks.json`,
    AUDIENCE: servedUpstreams.join(','),
    ISSUER: issuer,
    GATEWAY_URL: gatewayUrl,
    SERVICE_TOKEN: serviceToken,
  });
  const upstreams = JSON.stringify(upstreamsConfig(upstream.url, `http://127.0.0.1:${deadPort}`));
  const keyPrefix = `proxy-e2e-${randomBytes(6).toString('hex')}`;
  const envOf = (index: number, overrides: Record<string, string> = {}): Record<string, string> => ({
    DATA_DIR: dataDir,
    PORT: String(ports[index]),
    METERS: JSON.stringify(meters),
    UPSTREAMS: upstreams,
    RATE_LIMIT_IP_PER_MINUTE: '0',
    RATE_LIMIT_PRINCIPAL_PER_MINUTE: '0',
    RATE_LIMIT_KEY_PREFIX: keyPrefix,
    SHUTDOWN_TIMEOUT_MS: '5000',
    LEDGER_SWEEP_INTERVAL_MS: String(options.sweepIntervalsMs[index] ?? 0),
    ...options.storeEnv,
    ...overrides,
  });
  const gateways: (GatewayProcess | undefined)[] = [];
  const stack: Stack = {
    dataDir,
    devJwk,
    adminToken,
    serviceToken,
    upstream,
    gateways,
    ports,
    envOf,
    async stop() {
      for (const gateway of gateways) await stopIfRunning(gateway);
      await stopProcess(upstream.child);
      await options.drop?.();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  try {
    // One after the other: the first migrates the store and creates the anchor keys the others reuse.
    for (let index = 0; index < options.instances; index += 1) gateways.push(await spawnGateway(envOf(index)));
  } catch (error) {
    await stack.stop();
    throw error;
  }
  return stack;
}

/** The HTTP side of the tests against a stack: the gateway API, the proxy, the upstream's control routes. */
function clientOf(stack: Stack) {
  const gatewayUrl = (index: number) => `http://127.0.0.1:${stack.ports[index]}`;
  let chatMeter: Meter | undefined;

  async function api(
    index: number,
    method: string,
    path: string,
    options: { token?: string; json?: unknown } = {},
  ): Promise<{ status: number; body: Json }> {
    const response = await fetch(`${gatewayUrl(index)}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${options.token ?? stack.serviceToken}`,
        ...(options.json === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(options.json === undefined ? {} : { body: JSON.stringify(options.json) }),
    });
    const text = await response.text();
    return { status: response.status, body: text === '' ? {} : (JSON.parse(text) as Json) };
  }

  return {
    gatewayUrl,
    api,
    /** A user account granted `grantMicro`, and that user's token. */
    async newUser(index: number): Promise<{ accountId: string; token: string }> {
      const sub = `proxy-user-${randomBytes(5).toString('hex')}`;
      const created = await api(index, 'POST', '/v1/accounts', { json: { entityType: 'user', entityId: sub } });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      const accountId = String(created.body.id);
      const granted = await api(index, 'POST', `/v1/accounts/${accountId}/grants`, {
        token: stack.adminToken,
        json: { amountMicro: grantMicro.toString(), reason: 'proxy e2e' },
      });
      expect(granted.status, JSON.stringify(granted.body)).toBe(201);
      const token = await mintUserToken({ privateKey: stack.devJwk, issuer, sub, ttlSeconds: 3600 });
      return { accountId, token };
    },
    async balance(index: number, accountId: string): Promise<{ availableMicro: bigint; reservedMicro: bigint }> {
      const answer = await api(index, 'GET', `/v1/accounts/${accountId}/balance`);
      expect(answer.status, JSON.stringify(answer.body)).toBe(200);
      return {
        availableMicro: BigInt(String(answer.body.availableMicro)),
        reservedMicro: BigInt(String(answer.body.reservedMicro)),
      };
    },
    /** The account's whole journal (newest first). */
    async entries(index: number, accountId: string): Promise<EntryWire[]> {
      const all: EntryWire[] = [];
      let cursor: string | null = null;
      for (let page = 0; page < entryPagesMax; page += 1) {
        const query: string = cursor === null ? '?limit=200' : `?limit=200&cursor=${encodeURIComponent(cursor)}`;
        const answer = await api(index, 'GET', `/v1/accounts/${accountId}/entries${query}`);
        expect(answer.status, JSON.stringify(answer.body)).toBe(200);
        all.push(...(answer.body.entries as EntryWire[]));
        cursor = (answer.body.nextCursor as string | null) ?? null;
        if (cursor === null) return all;
      }
      throw new Error(`more than ${entryPagesMax} entry pages for ${accountId}`);
    },
    async reservation(index: number, id: string): Promise<Json> {
      const answer = await api(index, 'GET', `/v1/reservations/${id}`);
      expect(answer.status, JSON.stringify(answer.body)).toBe(200);
      return answer.body;
    },
    /** The hold once it is no longer pending (the gateway settles after the body has passed). */
    async settled(index: number, id: string): Promise<Json> {
      return eventually(`hold ${id} settled`, async () => {
        const answer = await api(index, 'GET', `/v1/reservations/${id}`);
        return answer.status === 200 && answer.body.status !== 'pending' ? answer.body : undefined;
      });
    },
    /** `proxy-chat` (one version only), as the ledger's `Meter` (for the itemized cost). */
    async chatMeter(): Promise<Meter> {
      chatMeter ??= await gatewayLedger({ baseUrl: gatewayUrl(0), token: stack.serviceToken }).getMeter('proxy-chat');
      return chatMeter;
    },
    /** A meter version, as the ledger's `Meter`. */
    meter(meterId: string, version: number): Promise<Meter> {
      return gatewayLedger({ baseUrl: gatewayUrl(0), token: stack.serviceToken }).getMeter(meterId, { version });
    },
    proxy(
      index: number,
      upstreamId: string,
      path: string,
      options: {
        token: string;
        method?: string;
        json?: unknown;
        headers?: Record<string, string>;
        signal?: AbortSignal;
      },
    ): Promise<Response> {
      return fetch(`${gatewayUrl(index)}/v1/upstreams/${upstreamId}${path}`, {
        method: options.method ?? (options.json === undefined ? 'GET' : 'POST'),
        headers: {
          authorization: `Bearer ${options.token}`,
          ...(options.json === undefined ? {} : { 'content-type': 'application/json' }),
          ...options.headers,
        },
        ...(options.json === undefined ? {} : { body: JSON.stringify(options.json) }),
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      });
    },
    async seen(call: string): Promise<SeenCall> {
      const response = await fetch(`${stack.upstream.url}/control/seen?call=${encodeURIComponent(call)}`);
      const body = (await response.json()) as SeenCall;
      expect(response.status, `the upstream did not see call ${call}: ${JSON.stringify(body)}`).toBe(200);
      return body;
    },
    async seenWhen(call: string, what: string, predicate: (seen: SeenCall) => boolean): Promise<SeenCall> {
      return eventually(`upstream call ${call}: ${what}`, async () => {
        const response = await fetch(`${stack.upstream.url}/control/seen?call=${encodeURIComponent(call)}`);
        if (response.status !== 200) return undefined;
        const seen = (await response.json()) as SeenCall;
        return predicate(seen) ? seen : undefined;
      });
    },
    async release(call: string, n = 1): Promise<void> {
      const response = await fetch(`${stack.upstream.url}/control/release?call=${encodeURIComponent(call)}&n=${n}`, {
        method: 'POST',
      });
      expect(response.status).toBe(200);
    },
    /** Gateway log lines (JSON) of instance `index`. */
    logLines(index: number): Json[] {
      return (stack.gateways[index]?.stdout() ?? '')
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Json);
    },
  };
}

type Client = ReturnType<typeof clientOf>;

/** New entries of `accountId` since `before` (ids not in it). */
function newEntries(before: EntryWire[], after: EntryWire[]): EntryWire[] {
  const known = new Set(before.map((entry) => entry.id));
  return after.filter((entry) => !known.has(entry.id));
}

function sumMicro(entries: EntryWire[], kind: string, reservationId?: string): bigint {
  return entries
    .filter((entry) => entry.kind === kind && (reservationId === undefined || entry.reservationId === reservationId))
    .reduce((total, entry) => total + BigInt(entry.amountMicro), 0n);
}

/**
 * Nothing charged since `before`: the same balance, nothing reserved, and the only new entries are a hold and its
 * release (or none at all). Answers the new entries.
 */
async function expectNothingCharged(
  client: Client,
  index: number,
  accountId: string,
  before: { entries: EntryWire[]; availableMicro: bigint },
): Promise<EntryWire[]> {
  const reserveIds = newEntries(before.entries, await client.entries(index, accountId))
    .filter((entry) => entry.kind === 'reserve')
    .map((entry) => entry.reservationId);
  for (const id of new Set(reserveIds)) {
    if (id !== null) expect((await client.settled(index, id)).status, `hold ${id}`).toBe('released');
  }
  const fresh = newEntries(before.entries, await client.entries(index, accountId));
  expect(fresh.filter((entry) => !['reserve', 'release'].includes(entry.kind))).toEqual([]);
  expect(sumMicro(fresh, 'release')).toBe(sumMicro(fresh, 'reserve'));
  expect(await client.balance(index, accountId)).toEqual({ availableMicro: before.availableMicro, reservedMicro: 0n });
  return fresh;
}

async function snapshot(client: Client, index: number, accountId: string) {
  return {
    entries: await client.entries(index, accountId),
    availableMicro: (await client.balance(index, accountId)).availableMicro,
  };
}

/**
 * A charge of exactly the itemized cost of `usage` under `meter` (default `proxy-chat`) on the hold `id`: the hold
 * finalized with it, the balance down by it, one charge in the journal.
 */
async function expectCharged(
  client: Client,
  index: number,
  accountId: string,
  id: string,
  before: { entries: EntryWire[]; availableMicro: bigint },
  usage: { input_tokens: number; output_tokens: number },
  meterOfHold?: Meter,
): Promise<Json> {
  const meter = meterOfHold ?? (await client.chatMeter());
  const costMicro = priceUsage(meter, usage).totalMicro;
  const hold = await client.settled(index, id);
  expect(hold).toMatchObject({
    status: 'finalized',
    accountId,
    meterId: meter.id,
    meterVersion: meter.version,
    chargedMicro: costMicro.toString(),
    usage: { input_tokens: String(usage.input_tokens), output_tokens: String(usage.output_tokens) },
  });
  const fresh = newEntries(before.entries, await client.entries(index, accountId));
  expect(sumMicro(fresh, 'consume', id)).toBe(costMicro);
  expect(sumMicro(fresh, 'consume')).toBe(costMicro);
  expect(await client.balance(index, accountId)).toEqual({
    availableMicro: before.availableMicro - costMicro,
    reservedMicro: 0n,
  });
  return hold;
}

// ---------------------------------------------------------------------------------------------------------------
// The cases, run by both describes. `g` is the instance the call goes through, `r` the one the test reads from.
// ---------------------------------------------------------------------------------------------------------------

async function jsonUsageCase(client: Client, g: number, r: number): Promise<void> {
  const user = await client.newUser(r);
  const before = await snapshot(client, r, user.accountId);
  const call = callId('json');
  const requestBody = { model: 'test-model', messages: [{ role: 'user', content: 'héllo' }] };
  const response = await client.proxy(g, 'llm', `/v1/chat/completions?call=${call}&in=1234&out=567&q=a%20b`, {
    token: user.token,
    json: requestBody,
    // The estimate sizes the hold above the meter's holdMicro; the cookie and estimate never reach the upstream.
    headers: { 'x-usage-estimate': 'output_tokens=100000', cookie: 'session=secret', 'x-test-header': 'kept' },
  });
  const body = (await response.json()) as Json & { echo: Json };
  expect(response.status, JSON.stringify(body)).toBe(200);
  expect(body.usage).toEqual({ prompt_tokens: 1234, completion_tokens: 567, total_tokens: 1801 });
  expect(body.echo).toEqual({
    method: 'POST',
    query: { call, in: '1234', out: '567', q: 'a b' },
    bodyBytes: Buffer.byteLength(JSON.stringify(requestBody)),
    body: JSON.stringify(requestBody),
  });

  const meter = await client.chatMeter();
  const seen = await client.seen(call);
  const hold = await expectCharged(client, r, user.accountId, seen.claims.reservationId, before, {
    input_tokens: 1234,
    output_tokens: 567,
  });
  const expectedHoldMicro = holdFor(meter, { output_tokens: 100_000 });
  expect(expectedHoldMicro).toBeGreaterThan(meter.holdMicro);
  expect(hold.amountMicro).toBe(expectedHoldMicro.toString());
  // The upstream verified the gateway's token through the JWKS: these are the verified claims.
  expect(seen.claims).toMatchObject({
    accountId: user.accountId,
    audience: 'llm',
    issuer,
    reservationId: hold.id,
    meterId: 'proxy-chat',
    meterVersion: meter.version,
    holdMicro: expectedHoldMicro.toString(),
  });
  expect(seen.claims.tokenId).toMatch(/.+/);
  expect(seen.claims.expiresAtMs, 'the token lives no longer than the hold').toBeLessThanOrEqual(
    Date.parse(String(hold.expiresAt)),
  );
  expect(seen.token?.typ).toBe('upstream+jwt');
  expect(seen.headers).toMatchObject({
    authorizationScheme: 'Bearer',
    cookie: null,
    xAccountId: null,
    xUsageEstimate: null,
    xTestHeader: 'kept',
  });
  expect(seen.headers.xRequestId).toMatch(/.+/);
}

async function sseCausalityCase(client: Client, g: number, r: number): Promise<void> {
  const user = await client.newUser(r);
  const before = await snapshot(client, r, user.accountId);
  const call = callId('sse');
  const chunks = 3;
  const response = await client.proxy(g, 'llm', `/v1/stream?call=${call}&chunks=${chunks}&in=800&out=90`, {
    token: user.token,
    json: { model: 'test-model', stream: true },
  });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const body = bodyReader(response.body);
  const receivedAtMs: number[] = [];
  for (let seq = 0; seq < chunks; seq += 1) {
    await client.release(call);
    receivedAtMs.push(await body.until(`"chunk-${seq}"`));
    // The client holds chunk `seq` while the upstream has sent exactly seq + 1 chunks and waits to be released.
    const seen = await client.seen(call);
    expect(seen.state).toBe('open');
    expect(seen.sends.map((send) => send.seq)).toEqual(Array.from({ length: seq + 1 }, (_, k) => k));
    expect(body.text()).not.toContain(`"chunk-${seq + 1}"`);
  }
  await client.release(call);
  expect(await body.toEnd()).toBe('done');
  expect(body.text()).toContain('"final"');
  expect(body.text()).toContain('[DONE]');
  const seen = await client.seen(call);
  expect(seen.state).toBe('done');
  // Arrival order against the upstream's sends (one clock, one machine): chunk k reached the client before the
  // upstream sent chunk k + 1.
  for (let seq = 0; seq < chunks; seq += 1) {
    expect(receivedAtMs[seq]).toBeLessThanOrEqual(seen.sends[seq + 1]?.atMs ?? Number.POSITIVE_INFINITY);
  }
  await expectCharged(client, r, user.accountId, seen.claims.reservationId, before, {
    input_tokens: 800,
    output_tokens: 90,
  });
}

async function headerUsageCase(client: Client, g: number, r: number): Promise<void> {
  const user = await client.newUser(r);
  const before = await snapshot(client, r, user.accountId);
  const call = callId('header');
  const response = await client.proxy(g, 'llm', `/v1/header-usage?call=${call}&in=1200&out=340`, {
    token: user.token,
  });
  expect(response.status).toBe(200);
  expect(response.headers.get('x-usage')).toBe('input_tokens=1200, output_tokens=340');
  // The body carries a decoy usage (1/1): the header is found first.
  expect(await response.json()).toMatchObject({ usage: { prompt_tokens: 1, completion_tokens: 1 } });
  const seen = await client.seen(call);
  await expectCharged(client, r, user.accountId, seen.claims.reservationId, before, {
    input_tokens: 1200,
    output_tokens: 340,
  });
}

/** The upstream finalizes the hold itself (through instance `f`, its GATEWAY_URL); the gateway then does nothing. */
async function selfFinalizeCase(client: Client, g: number, r: number): Promise<void> {
  const user = await client.newUser(r);
  const before = await snapshot(client, r, user.accountId);
  const call = callId('self');
  const response = await client.proxy(g, 'llm', `/v1/self-finalize?call=${call}&in=500&out=60`, {
    token: user.token,
    json: {},
  });
  const body = (await response.json()) as Json;
  expect(response.status, JSON.stringify(body)).toBe(200);
  expect(body).not.toHaveProperty('usage');
  const seen = await client.seen(call);
  const id = seen.claims.reservationId;
  expect(seen.finalize).toMatchObject({ status: 200, reservationStatus: 'finalized' });
  // The gateway's one log line for the call: after it, the gateway has done all it will do.
  const callLine = await eventually(`the gateway's log line for ${id}`, async () =>
    client.logLines(g).find((line) => line.reservationId === id && line.upstream === 'llm'),
  );
  expect(callLine).toMatchObject({ accountId: user.accountId, status: 200 });
  const noisy = client.logLines(g).filter((line) => line.reservationId === id && Number(line.level) >= 40);
  expect(noisy, 'no finalize/release attempted on a hold the upstream finalized').toEqual([]);
  await expectCharged(client, r, user.accountId, id, before, { input_tokens: 500, output_tokens: 60 });
}

/**
 * A new meter version (created through the admin API) while a call holds on the previous one: the call is charged at
 * its hold's version; the next call holds and is charged on the new one.
 */
async function meterVersionCase(client: Client, stack: Stack, g: number, r: number): Promise<void> {
  const user = await client.newUser(r);
  const before = await snapshot(client, r, user.accountId);
  const call = callId('versioned');
  const response = await client.proxy(g, 'llm-versioned', `/v1/stream?call=${call}&chunks=1&in=2000&out=700`, {
    token: user.token,
    json: { stream: true },
  });
  expect(response.status).toBe(200);
  const body = bodyReader(response.body);
  await client.release(call);
  await body.until('"chunk-0"');
  const doubled = unitPrices.map((price) => ({ ...price, priceMicro: String(Number(price.priceMicro) * 2) }));
  const created = await client.api(g, 'POST', '/v1/meters', {
    token: stack.adminToken,
    json: { id: 'proxy-versioned', holdMicro: '200000', unitPrices: doubled },
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const newVersion = Number(created.body.version);
  const [first, second] = [
    await client.meter('proxy-versioned', newVersion - 1),
    await client.meter('proxy-versioned', newVersion),
  ];
  await client.release(call);
  expect(await body.toEnd()).toBe('done');
  const usage = { input_tokens: 2000, output_tokens: 700 };
  expect(priceUsage(second, usage).totalMicro).not.toBe(priceUsage(first, usage).totalMicro);
  const seen = await client.seen(call);
  expect(seen.claims.meterVersion).toBe(first.version);
  await expectCharged(client, r, user.accountId, seen.claims.reservationId, before, usage, first);

  const after = await snapshot(client, r, user.accountId);
  const nextCall = callId('versioned-next');
  const next = await client.proxy(g, 'llm-versioned', `/v1/chat/completions?call=${nextCall}&in=2000&out=700`, {
    token: user.token,
    json: {},
  });
  expect(next.status).toBe(200);
  await next.text();
  const nextSeen = await client.seen(nextCall);
  expect(nextSeen.claims.meterVersion).toBe(second.version);
  await expectCharged(client, r, user.accountId, nextSeen.claims.reservationId, after, usage, second);
}

/** The upstream refuses what has no gateway token (it trusts nothing but the JWKS). */
async function upstreamRefusesOthersCase(client: Client, stack: Stack): Promise<void> {
  const bare = await fetch(`${stack.upstream.url}/v1/chat/completions`, { method: 'POST', body: '{}' });
  expect(bare.status).toBe(401);
  expect(await bare.json()).toMatchObject({ error: 'missing_token' });
  const user = await client.newUser(0);
  const withUserToken = await fetch(`${stack.upstream.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${user.token}` },
    body: '{}',
  });
  expect(withUserToken.status).toBe(401);
  expect(((await withUserToken.json()) as Json).error).toMatch(/^(invalid_token|wrong_audience)$/);
}

async function refusedPortCase(client: Client, g: number, r: number): Promise<void> {
  const user = await client.newUser(r);
  const before = await snapshot(client, r, user.accountId);
  const response = await client.proxy(g, 'llm-dead', '/v1/chat/completions', { token: user.token, json: {} });
  expect(response.status).toBe(502);
  expect(await response.json()).toMatchObject({ error: 'upstream_unavailable', message: expect.any(String) });
  await expectNothingCharged(client, r, user.accountId, before);
}

async function upstream500Case(client: Client, g: number, r: number): Promise<void> {
  const user = await client.newUser(r);
  const before = await snapshot(client, r, user.accountId);
  const call = callId('fail');
  const response = await client.proxy(g, 'llm', `/v1/fail?call=${call}`, { token: user.token });
  expect(response.status).toBe(502);
  const text = await response.text();
  expect(JSON.parse(text)).toMatchObject({ error: 'upstream_unavailable', message: expect.any(String) });
  expect(text, 'the upstream 5xx body is not passed').not.toContain('secret upstream detail');
  const seen = await client.seen(call);
  const fresh = await expectNothingCharged(client, r, user.accountId, before);
  expect(fresh.map((entry) => entry.reservationId)).toContain(seen.claims.reservationId);
}

async function slowHeadCase(client: Client, g: number, r: number): Promise<void> {
  const user = await client.newUser(r);
  const before = await snapshot(client, r, user.accountId);
  const call = callId('slow');
  // The upstream sends no head until released, which the test does only after the gateway has answered.
  const response = await client.proxy(g, 'llm-short', `/v1/slow?call=${call}`, { token: user.token });
  expect(response.status).toBe(504);
  expect(await response.json()).toMatchObject({ error: 'upstream_timeout', message: expect.any(String) });
  await client.seenWhen(call, 'the gateway aborted the upstream request', (seen) => seen.state === 'aborted');
  await client.release(call);
  await expectNothingCharged(client, r, user.accountId, before);
}

async function upstream400Case(client: Client, g: number, r: number): Promise<void> {
  const user = await client.newUser(r);
  const before = await snapshot(client, r, user.accountId);
  const call = callId('bad');
  const response = await client.proxy(g, 'llm', `/v1/bad?call=${call}`, { token: user.token });
  expect(response.status).toBe(400);
  expect(await response.json()).toEqual({ error: 'bad_prompt', message: 'the upstream refuses this prompt' });
  await client.seen(call);
  await expectNothingCharged(client, r, user.accountId, before);
}

async function wholeCallTimeoutCase(client: Client, g: number, r: number): Promise<void> {
  const user = await client.newUser(r);
  const before = await snapshot(client, r, user.accountId);
  const call = callId('forever');
  const response = await client.proxy(g, 'llm-short', `/v1/forever?call=${call}&gapMs=50`, { token: user.token });
  expect(response.status).toBe(200);
  const body = bodyReader(response.body);
  await body.until('tick 0');
  // The gateway cuts the call at timeoutMs: the client's body ends (closed or errored), the upstream request aborted.
  await body.toEnd();
  await client.seenWhen(call, 'the gateway aborted the never-ending upstream request', (s) => s.state === 'aborted');
  await expectNothingCharged(client, r, user.accountId, before);
}

async function missingUsageCase(client: Client, g: number, r: number): Promise<void> {
  // Default onMissingUsage: release.
  const user = await client.newUser(r);
  const before = await snapshot(client, r, user.accountId);
  const released = await client.proxy(g, 'llm', `/v1/chat/completions?call=${callId('nousage')}&usage=0`, {
    token: user.token,
    json: {},
  });
  expect(released.status).toBe(200);
  expect(await released.json()).not.toHaveProperty('usage');
  await expectNothingCharged(client, r, user.accountId, before);

  // onMissingUsage charge-hold: the hold is charged whole.
  const call = callId('chargehold');
  const charged = await client.proxy(g, 'llm-charge', `/v1/chat/completions?call=${call}&usage=0`, {
    token: user.token,
    json: {},
  });
  expect(charged.status).toBe(200);
  await charged.text();
  const seen = await client.seen(call);
  const holdMicro = BigInt(seen.claims.holdMicro);
  const hold = await client.settled(r, seen.claims.reservationId);
  expect(hold).toMatchObject({ status: 'finalized', chargedMicro: holdMicro.toString() });
  expect(await client.balance(r, user.accountId)).toEqual({
    availableMicro: before.availableMicro - holdMicro,
    reservedMicro: 0n,
  });
}

async function clientAbortCases(client: Client, g: number, r: number): Promise<void> {
  // Usage reported so far (every chunk carries the cumulative usage): the hold is charged by the last one seen.
  const user = await client.newUser(r);
  const before = await snapshot(client, r, user.accountId);
  const call = callId('abort-usage');
  const controller = new AbortController();
  const response = await client.proxy(g, 'llm', `/v1/stream?call=${call}&chunks=5&usageEach=1&in=300&out=600`, {
    token: user.token,
    json: { stream: true },
    signal: controller.signal,
  });
  expect(response.status).toBe(200);
  const body = bodyReader(response.body);
  await client.release(call, 2);
  await body.until('"chunk-1"');
  controller.abort();
  const aborted = await client.seenWhen(call, 'the upstream request aborted', (seen) => seen.state === 'aborted');
  expect(aborted.sends.map((send) => send.seq)).toEqual([0, 1]);
  const soFar = aborted.sends[1]?.usage;
  if (soFar === undefined) throw new Error('chunk 1 carried no usage');
  await expectCharged(client, r, user.accountId, aborted.claims.reservationId, before, ledgerUsage(soFar));

  // No usage so far: the hold is released (onMissingUsage release).
  const second = await snapshot(client, r, user.accountId);
  const plainCall = callId('abort-plain');
  const plainController = new AbortController();
  const plain = await client.proxy(g, 'llm', `/v1/stream?call=${plainCall}&chunks=3`, {
    token: user.token,
    json: { stream: true },
    signal: plainController.signal,
  });
  expect(plain.status).toBe(200);
  const plainBody = bodyReader(plain.body);
  await client.release(plainCall);
  await plainBody.until('"chunk-0"');
  plainController.abort();
  await client.seenWhen(plainCall, 'the upstream request aborted', (seen) => seen.state === 'aborted');
  await expectNothingCharged(client, r, user.accountId, second);
}

/**
 * Starts a stream on `llm-sweep` (an 8 s hold) through instance `g`, kills that instance with SIGKILL once the client
 * holds chunk 0, and answers the user, the hold id and the snapshot before the call.
 */
async function killMidStream(client: Client, stack: Stack, g: number, r: number) {
  const user = await client.newUser(r);
  const before = await snapshot(client, r, user.accountId);
  const call = callId('sigkill');
  const response = await client.proxy(g, 'llm-sweep', `/v1/stream?call=${call}&chunks=3`, {
    token: user.token,
    json: { stream: true },
  });
  expect(response.status).toBe(200);
  const body = bodyReader(response.body);
  await client.release(call);
  await body.until('"chunk-0"');
  const seen = await client.seen(call);
  const gateway = stack.gateways[g] as GatewayProcess;
  gateway.child.kill('SIGKILL');
  expect(await gateway.exited).toMatchObject({ signal: 'SIGKILL' });
  expect(await body.toEnd()).toBe('error');
  await client.seenWhen(call, 'the upstream saw the gateway go away', (s) => s.state === 'aborted');
  return { user, id: seen.claims.reservationId, before };
}

/** The hold of a killed call expires and is swept (expire_hold entries): no charge, nothing left reserved. */
async function expectSwept(
  client: Client,
  r: number,
  accountId: string,
  id: string,
  before: { entries: EntryWire[]; availableMicro: bigint },
) {
  const fresh = await eventually(`hold ${id} swept`, async () => {
    const entries = newEntries(before.entries, await client.entries(r, accountId));
    return entries.some((entry) => entry.kind === 'expire_hold' && entry.reservationId === id) ? entries : undefined;
  });
  expect(await client.reservation(r, id)).toMatchObject({ status: 'expired', chargedMicro: null });
  expect(fresh.filter((entry) => entry.kind === 'consume')).toEqual([]);
  expect(sumMicro(fresh, 'expire_hold', id)).toBe(sumMicro(fresh, 'reserve', id));
  expect(await client.balance(r, accountId)).toEqual({ availableMicro: before.availableMicro, reservedMicro: 0n });
}

// ---------------------------------------------------------------------------------------------------------------

describe('metered proxy on real processes: embedded store (PGlite in DATA_DIR), one gateway', () => {
  let stack: Stack | undefined;
  let client: Client;

  beforeAll(async () => {
    stack = await startStack({ label: 'embedded', instances: 1, storeEnv: {}, sweepIntervalsMs: [0] });
    client = clientOf(stack);
  }, 180_000);
  afterAll(async () => {
    await stack?.stop();
  });

  it('a JSON call is charged exactly the itemized cost of its OpenAI usage; the upstream verified the token', async () => {
    await jsonUsageCase(client, 0, 0);
  });
  it('SSE chunks reach the client one by one while the upstream is still sending; the final usage is charged', async () => {
    await sseCausalityCase(client, 0, 0);
  });
  it('usage in an X-Usage header is found first and charged', async () => {
    await headerUsageCase(client, 0, 0);
  });
  it('an upstream finalizing the hold itself is charged once; the gateway does nothing more', async () => {
    await selfFinalizeCase(client, 0, 0);
  });
  it('a call is charged at the meter version of its hold, even when a new version is created mid-call', async () => {
    await meterVersionCase(client, stack as Stack, 0, 0);
  });
  it('the upstream refuses calls without the gateway token', async () => {
    await upstreamRefusesOthersCase(client, stack as Stack);
  });
  it('refused port → 502 upstream_unavailable, nothing charged', async () => {
    await refusedPortCase(client, 0, 0);
  });
  it('upstream 500 → 502 upstream_unavailable (its body not passed), nothing charged', async () => {
    await upstream500Case(client, 0, 0);
  });
  it('no head within firstByteTimeoutMs → 504 upstream_timeout, upstream request aborted, nothing charged', async () => {
    await slowHeadCase(client, 0, 0);
  });
  it('upstream 400 is passed through, nothing charged', async () => {
    await upstream400Case(client, 0, 0);
  });
  it('a never-ending stream is cut at timeoutMs, upstream request aborted, nothing charged', async () => {
    await wholeCallTimeoutCase(client, 0, 0);
  });
  it('no usage: released by default, the whole hold charged with onMissingUsage charge-hold', async () => {
    await missingUsageCase(client, 0, 0);
  });
  it('a client abort mid-stream aborts the upstream and settles: charged by the usage so far, or released', async () => {
    await clientAbortCases(client, 0, 0);
  });
  it('SIGKILL of the gateway mid-stream, restart with a sweeper: the hold expires and is swept, balance whole', async () => {
    const s = stack as Stack;
    const killed = await killMidStream(client, s, 0, 0);
    s.gateways[0] = await spawnGateway(s.envOf(0, { LEDGER_SWEEP_INTERVAL_MS: String(sweepIntervalMs) }));
    await expectSwept(client, 0, killed.user.accountId, killed.id, killed.before);
  }, 180_000);
});

const databaseUrl = process.env.DATABASE_URL || undefined;
const redisUrl = process.env.REDIS_URL || undefined;
const missing = [databaseUrl ? null : 'DATABASE_URL', redisUrl ? null : 'REDIS_URL'].filter((v) => v !== null);
const skipReason = missing.length > 0 ? `skipped: ${missing.join(' and ')} not set (two gateways must share them)` : '';
if (skipReason !== '') console.warn(`proxy.e2e (Postgres + Redis): ${skipReason}`);

describe.skipIf(skipReason !== '')(`metered proxy on Postgres + Redis, two gateway instances ${skipReason}`, () => {
  let stack: Stack | undefined;
  let client: Client;

  beforeAll(async () => {
    const database = await createTestDatabase(databaseUrl as string, 'proxy_e2e');
    stack = await startStack({
      label: 'postgres',
      instances: 2,
      storeEnv: { DATABASE_URL: database.url, REDIS_URL: redisUrl as string },
      // Instance 0 sweeps: it expires the hold of a call killed on instance 1.
      sweepIntervalsMs: [sweepIntervalMs, 0],
      drop: database.drop,
    });
    client = clientOf(stack);
  }, 180_000);
  afterAll(async () => {
    await stack?.stop();
  });

  it('JSON usage through instance 1 is charged exactly the itemized cost, read on instance 0', async () => {
    await jsonUsageCase(client, 1, 0);
  });
  it('SSE chunks reach the client one by one through instance 1', async () => {
    await sseCausalityCase(client, 1, 0);
  });
  it('X-Usage header through instance 0', async () => {
    await headerUsageCase(client, 0, 1);
  });
  it('a call through instance 1 self-finalized by the upstream on instance 0: charged once', async () => {
    await selfFinalizeCase(client, 1, 1);
  });
  it('faults through both instances: refused port, 500, slow head, 400 — nothing charged', async () => {
    await refusedPortCase(client, 1, 0);
    await upstream500Case(client, 0, 1);
    await slowHeadCase(client, 1, 0);
    await upstream400Case(client, 0, 1);
  });
  it('a client abort mid-stream through instance 1 settles', async () => {
    await clientAbortCases(client, 1, 0);
  });
  it('SIGKILL of instance 1 mid-stream: the sweeper on instance 0 expires the hold, balance whole', async () => {
    const killed = await killMidStream(client, stack as Stack, 1, 0);
    await expectSwept(client, 0, killed.user.accountId, killed.id, killed.before);
  }, 120_000);
});
