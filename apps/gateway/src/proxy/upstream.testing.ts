// Test support (not part of the build): a real upstream service (a Hono app on a Node HTTP server on 127.0.0.1) for
// the proxy tests. It records what it received (headers, token, body size) and its streams wait on gates the test
// opens, so a test asserts ordering (the client read chunk 1 before the upstream sent chunk 2), never timing.
import type { Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ReadableStream } from 'node:stream/web';
import { type ServerType, serve } from '@hono/node-server';
import { Hono } from 'hono';

/** A promise with its resolver. */
export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
}

/** A new {@link Deferred}. */
export function deferred<T = void>(): Deferred<T> {
  let resolve: (value: T) => void = () => {};
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** One request as the upstream received it. */
export interface SeenRequest {
  method: string;
  path: string;
  search: string;
  headers: Record<string, string>;
}

/** The test upstream. */
export interface TestUpstream {
  url: string;
  seen: SeenRequest[];
  /** Everything sent and received in order (`upstream:…` entries are pushed by the upstream). */
  events: string[];
  /** Opened by the test to let a stream go on past its first chunk. */
  gate: Deferred<void>;
  /** Resolved when the gateway went away from a pending or streaming answer. */
  aborted: Deferred<void>;
  /** Called by `/v1/self-finalize` with the bearer token it received; returns nothing the test needs. */
  selfFinalize: (token: string) => Promise<void>;
  /** New gate and abort promises for the next test. */
  reset(): void;
  close(): Promise<void>;
}

const encoder = new TextEncoder();
/** Most chunks `/v1/forever` sends before it waits for its caller to go away. */
const foreverChunksMax = 1;

function sse(data: unknown): Uint8Array {
  return encoder.encode(`data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`);
}

function usageOfQuery(url: URL): { prompt_tokens: number; completion_tokens: number } {
  return {
    prompt_tokens: Number(url.searchParams.get('in') ?? '0'),
    completion_tokens: Number(url.searchParams.get('out') ?? '0'),
  };
}

function routes(app: Hono, upstream: TestUpstream, never: Promise<void>): void {
  app.all('/v1/chat', async (c) => {
    const url = new URL(c.req.url);
    return c.json({ id: 'cmpl-1', choices: [{ message: { content: 'hi' } }], usage: usageOfQuery(url) });
  });
  app.get('/v1/plain', (c) => c.json({ ok: true }));
  // The header wins over the body's decoy usage.
  app.get('/v1/header-usage', (c) =>
    c.json({ usage: { input_tokens: 999_999 } }, 200, { 'X-Usage': 'input_tokens=7, output_tokens=3' }),
  );
  app.post('/v1/stream', (c) => {
    const url = new URL(c.req.url);
    let step = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        step += 1;
        if (step === 1) {
          upstream.events.push('upstream:chunk1');
          controller.enqueue(sse({ choices: [{ delta: { content: 'Hel' } }] }));
          return;
        }
        await upstream.gate.promise;
        upstream.events.push('upstream:chunk2');
        controller.enqueue(sse({ choices: [{ delta: { content: 'lo' } }], usage: usageOfQuery(url) }));
        controller.enqueue(sse('[DONE]'));
        controller.close();
      },
      cancel() {
        upstream.aborted.resolve();
      },
    });
    return new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream' } });
  });
  app.get('/v1/forever', () => {
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (sent < foreverChunksMax) {
          sent += 1;
          controller.enqueue(sse({ usage: { prompt_tokens: 5, completion_tokens: 1 } }));
          return;
        }
        await never; // until the caller goes away (cancel) or the file ends
      },
      cancel() {
        upstream.aborted.resolve();
      },
    });
    return new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream' } });
  });
  // One chunk with usage, then (once the gate opens) the connection is destroyed mid-body.
  app.get('/v1/reset', (c) => {
    let sent = false;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (!sent) {
          sent = true;
          controller.enqueue(sse({ usage: { prompt_tokens: 9, completion_tokens: 0 } }));
          return;
        }
        await upstream.gate.promise;
        (c.env as { outgoing: ServerResponse }).outgoing.destroy();
      },
    });
    return new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream' } });
  });
  app.get('/v1/slow', async (c) => {
    const gone = new Promise<void>((resolve) => c.req.raw.signal.addEventListener('abort', () => resolve()));
    await Promise.race([never, gone.then(() => upstream.aborted.resolve())]);
    return c.json({ usage: { input_tokens: 1 } });
  });
  app.get('/v1/fail', (c) => c.json({ error: 'boom', usage: { input_tokens: 100 } }, 500));
  app.get('/v1/bad', (c) => c.json({ error: 'bad_input', usage: { input_tokens: 100 } }, 400));
  app.post('/v1/echo', async (c) => {
    const bytes = (await c.req.arrayBuffer()).byteLength;
    return c.json({ bytes, usage: { input_tokens: bytes } });
  });
  app.post('/v1/self-finalize', async (c) => {
    await upstream.selfFinalize((c.req.header('authorization') ?? '').replace(/^Bearer /, ''));
    return c.json({ usage: { input_tokens: 1000, output_tokens: 1000 } }); // ignored: the hold is finalized already
  });
}

/**
 * Starts the test upstream on a free loopback port.
 *
 * @example
 * ```ts
 * const upstream = await startTestUpstream();
 * // UPSTREAMS: [{ id: 'llm', url: upstream.url, meterId: 'llm-tokens' }]
 * await upstream.close();
 * ```
 */
export async function startTestUpstream(): Promise<TestUpstream> {
  const app = new Hono();
  const never = deferred();
  const upstream: TestUpstream = {
    url: '',
    seen: [],
    events: [],
    gate: deferred(),
    aborted: deferred(),
    selfFinalize: async () => {},
    reset() {
      upstream.gate = deferred();
      upstream.aborted = deferred();
      upstream.events.length = 0;
    },
    close: async () => {
      never.resolve();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      (server as Server).closeAllConnections();
      await closed;
    },
  };
  app.use('*', async (c, next) => {
    const url = new URL(c.req.url);
    const seen: SeenRequest = {
      method: c.req.method,
      path: url.pathname,
      search: url.search,
      headers: Object.fromEntries(c.req.raw.headers),
    };
    upstream.seen.push(seen);
    await next();
  });
  routes(app, upstream, never.promise);
  const listening = deferred<AddressInfo>();
  const server: ServerType = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, (info) =>
    listening.resolve(info),
  );
  const { port } = await listening.promise;
  upstream.url = `http://127.0.0.1:${port}`;
  return upstream;
}

/**
 * A loopback port nothing listens on (bound, then closed).
 *
 * @example
 * ```ts
 * const url = `http://127.0.0.1:${await closedPort()}`; // connection refused
 * ```
 */
export async function closedPort(): Promise<number> {
  const { createServer } = await import('node:net');
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', () => resolve()));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}
