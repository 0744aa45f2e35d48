/**
 * Test harness: an HTTP proxy on loopback in front of a JSON-RPC node that can be switched off, or made to fail
 * one method, by destroying the client's socket (what a dead or unreachable RPC looks like to viem). Not exported
 * from the package; tests import it by relative path.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Largest request body the proxy reads. */
export const rpcProxyBodyBytesMax = 8 * 1024 * 1024;

/** How a failing method fails. */
export interface FailMethodOptions {
  /** The node receives (and executes) the request first; only its answer is lost. Default false. */
  forward?: boolean;
  /** After that method failed once, the proxy goes down for every request (as `setDown(true)`). Default false. */
  thenDown?: boolean;
}

export interface RpcProxy {
  /** `http://127.0.0.1:<port>`: give it to clients instead of the node's URL. */
  url: string;
  /** Down: every request's socket is destroyed, nothing reaches the node. */
  setDown(down: boolean): void;
  /** Requests carrying this JSON-RPC method (alone or in a batch) fail; `null` stops it. */
  failMethod(method: string | null, options?: FailMethodOptions): void;
  /** JSON-RPC methods received so far, in order (failed ones included). */
  readonly methods: readonly string[];
  close(): Promise<void>;
}

async function bodyOf(request: IncomingMessage): Promise<string> {
  request.setEncoding('utf8');
  let body = '';
  for await (const chunk of request) {
    body += chunk as string;
    if (body.length > rpcProxyBodyBytesMax) throw new Error(`request body over ${rpcProxyBodyBytesMax} characters`);
  }
  return body;
}

function methodsOf(body: string): string[] {
  try {
    const parsed: unknown = JSON.parse(body);
    const calls = Array.isArray(parsed) ? parsed : [parsed];
    return calls.map((call) => String((call as { method?: unknown })?.method));
  } catch {
    return [];
  }
}

/**
 * Starts the proxy on a free loopback port.
 *
 * @example
 * const proxy = await startRpcProxy(chain.node.rpcUrl);
 * proxy.failMethod('eth_getTransactionReceipt'); // receipts cannot be read, everything else works
 * proxy.setDown(true); // nothing answers
 */
export async function startRpcProxy(targetUrl: string): Promise<RpcProxy> {
  let down = false;
  let failing: { method: string; options: FailMethodOptions } | null = null;
  const methods: string[] = [];

  const server = createServer((request, response) => {
    void (async () => {
      const body = await bodyOf(request);
      const called = methodsOf(body);
      methods.push(...called);
      const fail = failing !== null && called.includes(failing.method) ? failing.options : null;
      if (down || (fail !== null && fail.forward !== true)) {
        if (fail?.thenDown === true) down = true;
        request.socket.destroy();
        return;
      }
      const answer = await fetch(targetUrl, {
        method: 'POST',
        headers: { 'content-type': request.headers['content-type'] ?? 'application/json' },
        body,
      });
      const text = await answer.text();
      if (fail !== null || down) {
        if (fail?.thenDown === true) down = true;
        request.socket.destroy();
        return;
      }
      response.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' });
      response.end(text);
    })().catch(() => request.socket.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    setDown(value) {
      down = value;
    },
    failMethod(method, options = {}) {
      failing = method === null ? null : { method, options };
    },
    methods,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Calls one JSON-RPC method on `url` and returns its result (for test-only node methods such as `evm_mine`,
 * `evm_increaseTime`, `evm_setAutomine`).
 *
 * @example
 * await jsonRpc(chain.node.rpcUrl, 'evm_setAutomine', [false]);
 */
export async function jsonRpc<T = unknown>(url: string, method: string, params: unknown[] = []): Promise<T> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  });
  const body = (await response.json()) as { result?: T; error?: { message: string } };
  if (body.error !== undefined) throw new Error(`${method}: ${body.error.message}`);
  return body.result as T;
}
