// The HTTP layer part of the gateway contract (issue 12 items 9, 11 and 13): what the server answers to requests its
// parser refuses, 405 with Allow, the connection cap per address, the request deadline, and admin reads that need a
// read scope. The raw cases talk to the gateway over node:net, so they check the server itself, not a fetch client.
import { connect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { expectError, expectOk, unique } from './contract-kit.js';
import type { GatewayContractSigner } from './gateway-contract.js';
import type { LedgerContractTokens } from './gateway-ledger-contract.js';
import type { GatewayClient } from './http-client.js';
import { mintTestToken } from './jwt.js';

/** Longest a raw case waits for the gateway to answer and close, beyond the deadline it tests. */
export const contractSocketWaitMsMax = 10_000;
/** A request head every gateway must refuse with 431: 512 KiB of one header. */
export const contractOversizedHeadBytes = 512 * 1024;
/** Size of the bearer token that must reach the auth check (and be refused there with 401 `invalid_token`). */
export const contractLongTokenCharacters = 100_000;

/** The gateway's limits, as configured for the run; a case whose limit is not given is skipped. */
export interface HttpContractLimits {
  /** `HTTP_REQUEST_TIMEOUT_MS`: enables the slow-body case (keep it a few seconds). */
  requestTimeoutMs?: number;
  /** `HTTP_CONNECTIONS_PER_ADDRESS_MAX`: enables the connection cap case. */
  connectionsPerAddressMax?: number;
}

/** The option `describeGatewayContract` passes on to {@link describeHttpContract}. */
export interface GatewayHttpContractOptions {
  /** The gateway's HTTP limits as configured for the run (cases of a limit not given are skipped). */
  httpLimits?: HttpContractLimits;
}

/** What {@link describeHttpContract} needs. */
export interface HttpContractContext {
  client: () => GatewayClient;
  tokens: () => LedgerContractTokens | Promise<LedgerContractTokens>;
  /** The signing key: enables the admin scope cases (tokens with odd scopes). */
  signer?: () => GatewayContractSigner | Promise<GatewayContractSigner>;
  limits?: HttpContractLimits;
}

/** One HTTP answer read off a socket. */
interface SocketAnswer {
  status: number | undefined;
  headers: Record<string, string>;
  body: string;
}

/** Every answer in `text`, split by Content-Length. */
function answersOf(text: string): SocketAnswer[] {
  const answers: SocketAnswer[] = [];
  let rest = text;
  while (rest.length > 0 && answers.length < 16) {
    const headEnd = rest.indexOf('\r\n\r\n');
    const [statusLine = '', ...lines] = (headEnd === -1 ? rest : rest.slice(0, headEnd)).split('\r\n');
    const headers = Object.fromEntries(
      lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]),
    );
    const bodyStart = headEnd === -1 ? rest.length : headEnd + 4;
    const length = Number(headers['content-length'] ?? rest.length - bodyStart);
    const status = /^HTTP\/1\.1 (\d{3})/.exec(statusLine)?.[1];
    answers.push({
      status: status === undefined ? undefined : Number(status),
      headers,
      body: rest.slice(bodyStart, bodyStart + length),
    });
    rest = rest.slice(bodyStart + length);
  }
  return answers;
}

/**
 * Opens a raw TCP connection to an `http://` gateway (for requests `fetch` cannot send).
 *
 * @example
 * const socket = await openSocket('http://127.0.0.1:3000');
 */
export function openSocket(baseUrl: string): Promise<Socket> {
  const url = new URL(baseUrl);
  if (url.protocol !== 'http:') throw new Error(`the raw HTTP cases need an http:// gateway, got ${baseUrl}`);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port || 80), host, () => resolve(socket));
    socket.once('error', reject);
  });
}

/**
 * Writes `chunks` on a new raw connection (a number is a pause in ms) and answers the text the gateway sent, read
 * until it closed the connection (`closedByServer`) or `waitMs` passed (then this side closes it).
 *
 * @example
 * const { text, closedByServer } = await socketExchange(baseUrl, ['GET /health HTTP/1.1\r\nHost: x\r\n\r\n']);
 */
export async function socketExchange(
  baseUrl: string,
  chunks: readonly (string | number)[],
  waitMs = contractSocketWaitMsMax,
): Promise<{ text: string; closedByServer: boolean }> {
  const socket = await openSocket(baseUrl);
  let text = '';
  let closed = false;
  const done = new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), waitMs);
    socket.on('data', (data) => {
      text += data.toString('latin1');
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      closed = true;
      clearTimeout(timer);
      resolve(true);
    });
  });
  for (const chunk of chunks) {
    if (closed) break;
    if (typeof chunk === 'number') await new Promise((r) => setTimeout(r, chunk));
    else socket.write(chunk);
  }
  const closedByServer = await done;
  socket.destroy();
  return { text, closedByServer };
}

async function exchange(
  baseUrl: string,
  chunks: readonly (string | number)[],
  waitMs = contractSocketWaitMsMax,
): Promise<{ answers: SocketAnswer[]; closedByServer: boolean }> {
  const { text, closedByServer } = await socketExchange(baseUrl, chunks, waitMs);
  return { answers: answersOf(text), closedByServer };
}

function expectJsonAnswer(answer: SocketAnswer | undefined, status: number, code: string): void {
  expect(answer?.status, JSON.stringify(answer)).toBe(status);
  expect(answer?.headers['content-type'] ?? '').toMatch(/^application\/json/);
  const body = JSON.parse(answer?.body ?? '') as { error?: unknown; message?: unknown };
  expect(body.error).toBe(code);
  expect(typeof body.message === 'string' && body.message.length > 0).toBe(true);
}

function hostOf(client: GatewayClient): string {
  return new URL(client.baseUrl).host;
}

/**
 * Registers the HTTP layer cases of the gateway contract (run by `describeGatewayContract`): a 405 with `Allow` for a
 * wrong method on a known path; the JSON error shape for what the server's parser refuses (431 `headers_too_large`
 * for a 512 KiB head, 400 `bad_request` for a NUL in a header, a target not starting with `/`, bytes past a body's
 * `Content-Length`); a 100 kB bearer token reaching the auth check (401 `invalid_token`); with `limits`, a slow body
 * cut with 408 `request_timeout` and the connections of one address capped (503 `too_many_connections`); with the
 * signer, admin reads that need `ledger:read` or `admin`.
 *
 * @example
 * ```ts
 * describeHttpContract({ client, tokens, signer, limits: { requestTimeoutMs: 2000, connectionsPerAddressMax: 128 } });
 * ```
 */
export function describeHttpContract(context: HttpContractContext): void {
  const { client } = context;
  const limits = context.limits ?? {};
  describe('http: methods and what the parser refuses', () => {
    describeParserCases(client);
  });
  describe.skipIf(limits.requestTimeoutMs === undefined)('http: request deadline (skipped without limits)', () => {
    describeDeadlineCase(context, limits.requestTimeoutMs ?? 0);
  });
  describe.skipIf(limits.connectionsPerAddressMax === undefined)(
    'http: connections per address (skipped without limits)',
    () => {
      describeConnectionCapCase(client, limits.connectionsPerAddressMax ?? 0);
    },
  );
  describe.skipIf(context.signer === undefined)('http: admin reads need a read scope (skipped without signer)', () => {
    describeAdminReadCases(context);
  });
}

function describeParserCases(client: () => GatewayClient): void {
  it('a wrong method on a known path is a 405 method_not_allowed with Allow; an unknown path stays a 404', async () => {
    const result = await client().raw('/v1/whoami', { method: 'DELETE', token: null });
    expect(result.status, result.text).toBe(405);
    expect(result.headers.get('allow') ?? '').toMatch(/\bGET\b/);
    expect(JSON.parse(result.text)).toMatchObject({ error: 'method_not_allowed' });
    expect((await client().raw('/v1/no-such-route-contract', { method: 'DELETE' })).status).toBe(404);
  });

  it(`a ${contractLongTokenCharacters}-character bearer token is a 401 invalid_token`, async () => {
    const token = 'x'.repeat(contractLongTokenCharacters);
    expectError(await client().whoami({ token }), 401, 'invalid_token');
  });

  it(`a request head of ${contractOversizedHeadBytes} bytes is a 431 headers_too_large and the connection closes`, async () => {
    const head = `GET /health HTTP/1.1\r\nHost: ${hostOf(client())}\r\nX-Big: ${'a'.repeat(contractOversizedHeadBytes)}\r\n\r\n`;
    const { answers, closedByServer } = await exchange(client().baseUrl, [head]);
    expectJsonAnswer(answers[0], 431, 'headers_too_large');
    expect(closedByServer).toBe(true);
  });

  it('a NUL in a header and a target not starting with "/" are 400 bad_request with the JSON error shape', async () => {
    const host = hostOf(client());
    for (const request of [
      `GET /health HTTP/1.1\r\nHost: ${host}\r\nX-Contract: a\0b\r\n\r\n`,
      `GET health HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
      `GET * HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
    ]) {
      const { answers, closedByServer } = await exchange(client().baseUrl, [request]);
      expectJsonAnswer(answers[0], 400, 'bad_request');
      expect(closedByServer, JSON.stringify(request)).toBe(true);
    }
  });

  it('bytes past a body’s Content-Length are a malformed next request: 400 bad_request after the answer', async () => {
    const request = `POST /health HTTP/1.1\r\nHost: ${hostOf(client())}\r\nContent-Length: 2\r\n\r\n{}not a request\r\n\r\n`;
    const { answers, closedByServer } = await exchange(client().baseUrl, [request]);
    expect(answers.length, JSON.stringify(answers)).toBeGreaterThanOrEqual(1);
    expectJsonAnswer(answers.at(-1), 400, 'bad_request');
    expect(closedByServer).toBe(true);
  });
}

function describeDeadlineCase(context: HttpContractContext, requestTimeoutMs: number): void {
  it('a body that trickles in is cut with a 408 request_timeout once the request deadline passes', async () => {
    const gateway = context.client();
    const token = (await context.tokens()).service;
    const head = `POST /v1/accounts HTTP/1.1\r\nHost: ${hostOf(gateway)}\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n`;
    const pauseMs = 200;
    const trickle = Array.from({ length: Math.ceil((requestTimeoutMs + contractSocketWaitMsMax) / pauseMs) }, () => [
      ' ',
      pauseMs,
    ]).flat();
    const startedMs = Date.now();
    const { answers, closedByServer } = await exchange(
      gateway.baseUrl,
      [head, ...trickle],
      requestTimeoutMs + contractSocketWaitMsMax,
    );
    expect(closedByServer, 'the gateway must close a connection whose body never completes').toBe(true);
    expect(Date.now() - startedMs).toBeGreaterThanOrEqual(requestTimeoutMs - pauseMs);
    expectJsonAnswer(answers.at(-1), 408, 'request_timeout');
  });
}

function describeConnectionCapCase(client: () => GatewayClient, connectionsPerAddressMax: number): void {
  it(`one address holds at most ${connectionsPerAddressMax} connections: the rest are answered 503 too_many_connections`, async () => {
    const baseUrl = client().baseUrl;
    const request = `GET /health HTTP/1.1\r\nHost: ${hostOf(client())}\r\n\r\n`;
    const held: Socket[] = [];
    const statuses: number[] = [];
    try {
      for (let i = 0; i <= connectionsPerAddressMax; i += 1) {
        const socket = await openSocket(baseUrl);
        held.push(socket);
        const answer = await firstAnswer(socket, request);
        statuses.push(answer.status ?? 0);
        if (answer.status !== 200) expectJsonAnswer(answer, 503, 'too_many_connections');
      }
    } finally {
      for (const socket of held) socket.destroy();
      // The gateway frees the slots when it sees the closes: wait for that, so later cases are admitted.
      await untilAdmitted(baseUrl, request);
    }
    expect(statuses.filter((s) => s === 200).length).toBeLessThanOrEqual(connectionsPerAddressMax);
    expect(statuses.filter((s) => s === 503).length).toBeGreaterThanOrEqual(1);
    expect(
      statuses.every((s) => s === 200 || s === 503),
      JSON.stringify(statuses),
    ).toBe(true);
  });
}

/** Sends `request` on new connections until one is answered 200 (bounded by `contractSocketWaitMsMax`). */
async function untilAdmitted(baseUrl: string, request: string): Promise<void> {
  const deadlineMs = Date.now() + contractSocketWaitMsMax;
  while (Date.now() < deadlineMs) {
    const socket = await openSocket(baseUrl);
    try {
      if ((await firstAnswer(socket, request)).status === 200) return;
    } finally {
      socket.destroy();
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the gateway did not admit a connection again after the cap case closed its connections');
}

/** Writes `request` on an open keep-alive socket and reads its one answer (bounded by `contractSocketWaitMsMax`). */
function firstAnswer(socket: Socket, request: string): Promise<SocketAnswer> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error('no answer in time')), contractSocketWaitMsMax);
    const onData = (data: Buffer) => {
      text += data.toString('latin1');
      const answer = answersOf(text)[0];
      if (answer !== undefined && answer.body.length >= Number(answer.headers['content-length'] ?? 0)) {
        clearTimeout(timer);
        socket.off('data', onData);
        resolve(answer);
      }
    };
    socket.on('data', onData);
    socket.on('error', () => {});
    socket.write(request);
  });
}

function describeAdminReadCases(context: HttpContractContext): void {
  async function admin(scope?: string, claims?: Record<string, unknown>): Promise<string> {
    const signer = await context.signer?.();
    if (signer === undefined) throw new Error('this case needs the signer');
    return mintTestToken({
      ...signer,
      audience: 'arrakis-admin',
      sub: unique('scopes'),
      ...(scope === undefined ? {} : { scope }),
      ...(claims === undefined ? {} : { claims }),
    });
  }

  it('an admin token without a usable scope ("", "Admin", "x,admin", ledger:grant, an scp claim) reads nothing: 403 insufficient_scope', async () => {
    const gateway = context.client();
    const service = (await context.tokens()).service;
    const account = await gateway.createAccount(
      { entityType: 'contract', entityId: unique('scopes') },
      { token: service },
    );
    const { id } = expectOk(account, 201);
    const tokens = [
      await admin(),
      await admin('Admin'),
      await admin('x,admin'),
      await admin('ledger:grant'),
      await admin(undefined, { scp: ['admin', 'ledger:read'] }),
    ];
    for (const token of tokens) {
      expectError(await gateway.adminWhoami({ token }), 403, 'insufficient_scope');
      expectError(await gateway.listEvents({ token }), 403, 'insufficient_scope');
      expectError(await gateway.getBalance(id, { token }), 403, 'insufficient_scope');
      expectError(await gateway.listEntries(id, { token }), 403, 'insufficient_scope');
    }
  });

  it('with ledger:read an admin reads: whoami, events, balances and entries', async () => {
    const gateway = context.client();
    const service = (await context.tokens()).service;
    const { id } = expectOk(
      await gateway.createAccount({ entityType: 'contract', entityId: unique('reader') }, { token: service }),
      201,
    );
    const token = await admin('ledger:read');
    expect(expectOk(await gateway.adminWhoami({ token }), 200).scopes).toEqual(['ledger:read']);
    expectOk(await gateway.listEvents({ token, limit: 1 }), 200);
    expectOk(await gateway.getBalance(id, { token }), 200);
    expectOk(await gateway.listEntries(id, { token }), 200);
  });
}
