// The gateway's HTTP server: Node's http server around the Hono app, with limits on what one client can hold (a
// connection cap per remote address, deadlines for a request's head and body) and the JSON error shape for the
// requests Node's own parser refuses before the app sees them (issue 12 items 11 and 13).
import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerOptions,
  type ServerResponse,
  STATUS_CODES,
} from 'node:http';
import type { Socket } from 'node:net';
import { getRequestListener, RequestError } from '@hono/node-server';
import type { Logger } from 'pino';
import type { GatewayConfig } from './config.js';
import type { ErrorBody } from './errors.js';

/**
 * Largest request head (request line and headers) accepted, in bytes. Node's default is 16 KiB; a real token with
 * many claims, or a 100 kB one, must reach the auth middleware (and get its 401 `invalid_token`) instead of being
 * cut by the parser. Larger heads are a 431 `headers_too_large`.
 */
export const headersBytesMax = 128 * 1024;
/** Longest pause between Node's sweeps of the request and head deadlines (a late request is cut at most this late). */
export const connectionsCheckIntervalMsMax = 1000;
/** How long a connection over the per-address cap may stay open to receive its 503 before it is destroyed. */
export const refusedConnectionLingerMs = 2000;
/** `Retry-After` of a 503 `too_many_connections`, in seconds. */
export const refusedConnectionRetryAfterSeconds = 1;

/** Codes of the answers the HTTP server itself writes (the app never sees these requests). */
export type ServerErrorCode =
  | 'bad_request'
  | 'headers_too_large'
  | 'request_timeout'
  | 'too_many_connections'
  | 'internal_error';

/** Options of {@link createGatewayServer}. */
export interface GatewayServerOptions {
  /** The app's fetch handler (`app.fetch`). */
  fetch: (request: Request, env: unknown) => Response | Promise<Response>;
  /** Host name of requests without a `Host` header. */
  hostname?: string;
  /** Connection cap per remote address and the head/body deadlines. */
  http: GatewayConfig['http'];
  logger: Logger;
}

function errorBodyText(code: ServerErrorCode, message: string): string {
  const body: ErrorBody = { error: code, message };
  return JSON.stringify(body);
}

/** A whole HTTP/1.1 answer with the JSON error body, for writing on a socket the parser gave up on. */
function rawErrorResponse(status: number, code: ServerErrorCode, message: string): string {
  const body = errorBodyText(code, message);
  return [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`,
    'Content-Type: application/json; charset=UTF-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    '',
    body,
  ].join('\r\n');
}

/**
 * What the server answers to a request Node's parser refused (`clientError`), by the parser's error code.
 *
 * @example
 * ```ts
 * clientErrorAnswer(Object.assign(new Error('Header overflow'), { code: 'HPE_HEADER_OVERFLOW' })).status; // 431
 * ```
 */
export function clientErrorAnswer(error: Error & { code?: string }): {
  status: number;
  code: ServerErrorCode;
  message: string;
} {
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, code: 'headers_too_large', message: `the request head exceeds ${headersBytesMax} bytes` };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, code: 'request_timeout', message: 'the request did not arrive in time' };
    default:
      return { status: 400, code: 'bad_request', message: `malformed HTTP request (${error.code ?? 'parse error'})` };
  }
}

/**
 * The `clientError` listener: answers with the JSON error shape and closes, unless the socket cannot be written or an
 * answer is already on its way on it (then it is only destroyed, never corrupted).
 */
function onClientError(responses: WeakMap<Socket, ServerResponse>, logger: Logger) {
  return function clientError(error: Error & { code?: string }, socket: Socket): void {
    const response = responses.get(socket);
    const answering = response?.headersSent === true && !response.writableEnded;
    if (error.code === 'ECONNRESET' || !socket.writable || answering) {
      socket.destroy();
      return;
    }
    const answer = clientErrorAnswer(error);
    logger.debug({ code: answer.code, reason: error.code, remoteAddress: socket.remoteAddress }, answer.message);
    socket.end(rawErrorResponse(answer.status, answer.code, answer.message));
    destroyAfter(socket, refusedConnectionLingerMs);
  };
}

/** Destroys `socket` after `delayMs` unless it closed before (a wall-clock deadline: activity does not extend it). */
function destroyAfter(socket: Socket, delayMs: number): void {
  const timer = setTimeout(() => socket.destroy(), delayMs);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}

/**
 * The address a connection is counted under: IPv4-mapped IPv6 addresses count as their IPv4 address.
 *
 * @example
 * ```ts
 * connectionAddressOf({ remoteAddress: '::ffff:10.0.0.1' }); // '10.0.0.1'
 * ```
 */
export function connectionAddressOf(socket: Pick<Socket, 'remoteAddress'>): string {
  const address = socket.remoteAddress ?? 'unknown';
  return address.startsWith('::ffff:') ? address.slice('::ffff:'.length) : address;
}

/**
 * Counts open connections per remote address; a connection over `connectionsPerAddressMax` is marked refused (its
 * requests get a 503) and destroyed after {@link refusedConnectionLingerMs}. Returns the refused-socket test.
 */
function capConnectionsPerAddress(server: Server, connectionsPerAddressMax: number): (socket: Socket) => boolean {
  const open = new Map<string, number>();
  const refused = new WeakSet<Socket>();
  if (connectionsPerAddressMax === 0) return () => false;
  server.on('connection', (socket: Socket) => {
    const address = connectionAddressOf(socket);
    const count = open.get(address) ?? 0;
    if (count >= connectionsPerAddressMax) {
      refused.add(socket);
      destroyAfter(socket, refusedConnectionLingerMs);
      return;
    }
    open.set(address, count + 1);
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left <= 0) open.delete(address);
      else open.set(address, left);
    });
  });
  return (socket) => refused.has(socket);
}

function answerJson(res: ServerResponse, status: number, code: ServerErrorCode, message: string, headers = {}): void {
  const body = errorBodyText(code, message);
  res.writeHead(status, {
    'content-type': 'application/json; charset=UTF-8',
    'content-length': Buffer.byteLength(body),
    connection: 'close',
    ...headers,
  });
  res.end(body);
}

/**
 * Builds (does not start) the gateway's HTTP server: request heads up to {@link headersBytesMax}, the head and
 * request deadlines of `http`, at most `http.connectionsPerAddressMax` open connections per remote address (503
 * `too_many_connections` beyond), and JSON error bodies for what Node's parser refuses (400 `bad_request`, 408
 * `request_timeout`, 431 `headers_too_large`) and for request targets the adapter cannot turn into a URL (400).
 *
 * @example
 * ```ts
 * const server = createGatewayServer({ fetch: app.fetch, hostname: '127.0.0.1', http: config.http, logger });
 * server.listen(3000, '127.0.0.1');
 * ```
 */
export function createGatewayServer(options: GatewayServerOptions): Server {
  const { requestTimeoutMs, headersTimeoutMs } = options.http;
  const appListener = getRequestListener(options.fetch, {
    ...(options.hostname === undefined ? {} : { hostname: options.hostname }),
    errorHandler(error: unknown) {
      if (error instanceof RequestError) {
        const body = errorBodyText('bad_request', `the request target or Host cannot be used: ${error.message}`);
        return new Response(body, { status: 400, headers: { 'content-type': 'application/json; charset=UTF-8' } });
      }
      options.logger.error({ err: error }, 'unhandled error before the app');
      const body = errorBodyText('internal_error', 'the request could not be handled');
      return new Response(body, { status: 500, headers: { 'content-type': 'application/json; charset=UTF-8' } });
    },
  });
  const responses = new WeakMap<Socket, ServerResponse>();
  let isRefused: (socket: Socket) => boolean = () => false;
  // `headersTimeout` is a documented option of `http.createServer` (Node >= 18) missing from @types/node 20.
  const serverOptions: ServerOptions & { headersTimeout: number } = {
    maxHeaderSize: headersBytesMax,
    requestTimeout: requestTimeoutMs,
    headersTimeout: headersTimeoutMs,
    connectionsCheckingInterval: Math.min(connectionsCheckIntervalMsMax, headersTimeoutMs),
  };
  const server = createServer(serverOptions, (req: IncomingMessage, res: ServerResponse) => {
    responses.set(req.socket, res);
    if (isRefused(req.socket)) {
      const message = `more than ${options.http.connectionsPerAddressMax} open connections from this address`;
      answerJson(res, 503, 'too_many_connections', message, { 'retry-after': refusedConnectionRetryAfterSeconds });
      return;
    }
    void appListener(req, res);
  });
  isRefused = capConnectionsPerAddress(server, options.http.connectionsPerAddressMax);
  server.on('clientError', onClientError(responses, options.logger));
  return server;
}
