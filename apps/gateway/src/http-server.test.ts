// The HTTP server around the app, on real sockets (node:net): what Node's parser refuses gets the JSON error shape,
// a slow client is cut at the configured deadlines, one address cannot hold more than its share of connections.
import type { Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { openSocket, socketExchange } from '@arrakis/e2e-contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GatewayConfig } from './config.js';
import { clientErrorAnswer, connectionAddressOf, createGatewayServer, headersBytesMax } from './http-server.js';
import { createLogger } from './logger.js';
import { type AppFixture, makeAppFixture } from './testing/app-fixture.js';

/** Longest a test waits for the server to close a connection. */
const closeWaitMsMax = 10_000;

interface RawAnswer {
  status: number | undefined;
  headers: Record<string, string>;
  body: string;
  closedByServer: boolean;
}

/** The last answer in `text` (answers are split by their Content-Length), and the count of answers before it. */
function parseAnswer(text: string, closedByServer: boolean): RawAnswer & { earlier: number } {
  let rest = text;
  let earlier = -1;
  let last: Omit<RawAnswer, 'closedByServer'> = { status: undefined, headers: {}, body: '' };
  while (rest.length > 0) {
    const headEnd = rest.indexOf('\r\n\r\n');
    const [statusLine = '', ...lines] = (headEnd === -1 ? rest : rest.slice(0, headEnd)).split('\r\n');
    const headers = Object.fromEntries(
      lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]),
    );
    const length = Number(headers['content-length'] ?? rest.length);
    const bodyStart = headEnd === -1 ? rest.length : headEnd + 4;
    const status = /^HTTP\/1\.1 (\d{3})/.exec(statusLine)?.[1];
    last = {
      status: status === undefined ? undefined : Number(status),
      headers,
      body: rest.slice(bodyStart, bodyStart + length),
    };
    rest = rest.slice(bodyStart + length);
    earlier += 1;
  }
  return { ...last, closedByServer, earlier };
}

/** Opens a connection to `port`. */
const open = (port: number): Promise<Socket> => openSocket(`http://127.0.0.1:${port}`);

/**
 * Writes `chunks` (a number is a pause in ms) and collects what the server sends until it closes the connection or
 * `closeWaitMsMax` passes (then the client closes it: `closedByServer` false).
 */
async function exchange(port: number, chunks: readonly (string | number)[]): Promise<RawAnswer & { earlier: number }> {
  const { text, closedByServer } = await socketExchange(`http://127.0.0.1:${port}`, chunks, closeWaitMsMax);
  return parseAnswer(text, closedByServer);
}

function expectJsonError(answer: RawAnswer, status: number, code: string): void {
  expect(answer.status, JSON.stringify(answer)).toBe(status);
  expect(answer.headers['content-type']).toMatch(/^application\/json/);
  expect(JSON.parse(answer.body)).toMatchObject({ error: code, message: expect.any(String) });
}

async function startServer(f: AppFixture, http: GatewayConfig['http']): Promise<{ server: Server; port: number }> {
  const logger = createLogger({ logLevel: 'silent' });
  const server = createGatewayServer({ fetch: f.app.fetch, hostname: '127.0.0.1', http, logger });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

async function stopServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

describe('gateway HTTP server: answers for what the parser refuses', () => {
  let f: AppFixture;
  let server: Server;
  let port: number;
  beforeAll(async () => {
    f = await makeAppFixture();
    ({ server, port } = await startServer(f, {
      connectionsPerAddressMax: 64,
      requestTimeoutMs: 1000,
      headersTimeoutMs: 500,
    }));
  });
  afterAll(async () => {
    await stopServer(server);
  });

  it(`a request head over ${headersBytesMax} bytes is a 431 headers_too_large, and the connection closes`, async () => {
    const head = `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(headersBytesMax + 1)}\r\n\r\n`;
    const answer = await exchange(port, [head]);
    expectJsonError(answer, 431, 'headers_too_large');
    expect(answer.headers.connection).toBe('close');
    expect(answer.closedByServer).toBe(true);
  });

  it('a 100 kB bearer token reaches the auth middleware: 401 invalid_token', async () => {
    const head = `GET /v1/whoami HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${'x'.repeat(100_000)}\r\nConnection: close\r\n\r\n`;
    expectJsonError(await exchange(port, [head]), 401, 'invalid_token');
  });

  it('a NUL in a header, a target not starting with "/", and bytes past a body\'s Content-Length are 400 bad_request', async () => {
    const requests: [string, number][] = [
      ['GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n', 0],
      ['GET health HTTP/1.1\r\nHost: x\r\n\r\n', 0],
      ['GET * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 0],
      // The request is answered (405: /health is GET only); the bytes after its body are a malformed next request.
      ['POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}garbage that is no request\r\n\r\n', 1],
    ];
    for (const [request, earlier] of requests) {
      const answer = await exchange(port, [request]);
      expectJsonError(answer, 400, 'bad_request');
      expect(answer.earlier, JSON.stringify(answer)).toBe(earlier);
      expect(answer.closedByServer, JSON.stringify(request)).toBe(true);
    }
  });

  it('a wrong method on a known path is a 405 with Allow', async () => {
    const answer = await exchange(port, ['DELETE /v1/whoami HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n']);
    expectJsonError(answer, 405, 'method_not_allowed');
    expect(answer.headers.allow).toBe('GET, HEAD');
  });

  it('a body that trickles in (slow loris) is cut with 408 request_timeout at the request deadline', async () => {
    const token = await f.token('arrakis-internal', 'slow-service');
    const head = `POST /v1/accounts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n`;
    const trickle = Array.from({ length: 40 }, () => ['{', 200]).flat();
    const answer = await exchange(port, [head, ...trickle]);
    expect(answer.closedByServer).toBe(true);
    expectJsonError(answer, 408, 'request_timeout');
    // The app saw a body cut short: no error-level log, nothing reported as a broken dependency.
    await new Promise((r) => setTimeout(r, 100));
    expect(f.logs.filter((line) => line.level >= 50 || line.msg === 'ledger database unavailable')).toEqual([]);
  });

  it('a head that never ends is cut with 408 request_timeout at the head deadline', async () => {
    const trickle = Array.from({ length: 40 }, () => ['X-Slow: 1\r\n', 200]).flat();
    const answer = await exchange(port, ['GET /health HTTP/1.1\r\nHost: x\r\n', ...trickle]);
    expect(answer.closedByServer).toBe(true);
    expectJsonError(answer, 408, 'request_timeout');
  });

  it('maps parser errors to statuses and counts IPv4-mapped addresses as IPv4', () => {
    expect(clientErrorAnswer(Object.assign(new Error('x'), { code: 'HPE_HEADER_OVERFLOW' })).status).toBe(431);
    expect(clientErrorAnswer(Object.assign(new Error('x'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' })).status).toBe(408);
    expect(clientErrorAnswer(Object.assign(new Error('x'), { code: 'HPE_INVALID_METHOD' })).status).toBe(400);
    expect(connectionAddressOf({ remoteAddress: '::ffff:10.0.0.1' })).toBe('10.0.0.1');
    expect(connectionAddressOf({ remoteAddress: '::1' })).toBe('::1');
  });
});

describe('gateway HTTP server: connections per address', () => {
  const connectionsPerAddressMax = 4;
  let f: AppFixture;
  let server: Server;
  let port: number;
  beforeAll(async () => {
    f = await makeAppFixture();
    ({ server, port } = await startServer(f, {
      connectionsPerAddressMax,
      requestTimeoutMs: 30_000,
      headersTimeoutMs: 10_000,
    }));
  });
  afterAll(async () => {
    await stopServer(server);
  });

  it(`the connection over ${connectionsPerAddressMax} from one address is answered 503 too_many_connections and closed; a freed slot admits again`, async () => {
    const held = await Promise.all(Array.from({ length: connectionsPerAddressMax }, () => open(port)));
    // The server counts a connection when it accepts it: wait until every held one is counted.
    await waitForConnections(server, (open) => open >= connectionsPerAddressMax);
    const refused = await exchange(port, ['GET /health HTTP/1.1\r\nHost: x\r\n\r\n']);
    expectJsonError(refused, 503, 'too_many_connections');
    expect(refused.headers['retry-after']).toBe('1');
    expect(refused.closedByServer).toBe(true);
    const closing = held[0] as Socket;
    await new Promise<void>((resolve) => {
      closing.once('close', () => resolve());
      closing.destroy();
    });
    await waitForConnections(server, (open) => open < connectionsPerAddressMax);
    const admitted = await exchange(port, ['GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n']);
    expect(admitted.status, JSON.stringify(admitted)).toBe(200);
    for (const socket of held) socket.destroy();
  });
});

/** Waits (bounded by `closeWaitMsMax`) until the server's count of open connections satisfies `done`. */
async function waitForConnections(server: Server, done: (open: number) => boolean): Promise<void> {
  const deadlineMs = Date.now() + closeWaitMsMax;
  while (Date.now() < deadlineMs) {
    const open = await new Promise<number>((resolve) => server.getConnections((_, n) => resolve(n)));
    if (done(open)) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('the server did not reach the expected number of connections in time');
}
