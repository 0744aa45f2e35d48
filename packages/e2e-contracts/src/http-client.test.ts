import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGatewayClient, GatewayResponseError } from './http-client.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
const routes: Record<string, Handler> = {
  '/health': (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}'),
  '/ready': (_req, res) =>
    res
      .writeHead(503, { 'content-type': 'application/json' })
      .end('{"status":"not_ready","dependencies":[{"name":"counters","status":"down","latencyMs":3,"error":"x"}]}'),
  '/v1/whoami': (req, res) => {
    if (req.headers.authorization !== 'Bearer good') {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"missing_token","message":"no token"}');
      return;
    }
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(
        '{"sub":"alice","audience":"arrakis-api","scopes":[],"issuer":"arrakis-gateway","expiresAt":"2030-01-01T00:00:00.000Z"}',
      );
  },
  '/v1/admin/whoami': (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"sub":"alice"}'),
  '/openapi.json': (_req, res) => res.writeHead(502, { 'content-type': 'text/html' }).end('<h1>Bad gateway</h1>'),
};

let server: Server;
let baseUrl: string;
beforeAll(async () => {
  server = createServer((req, res) => (routes[req.url ?? ''] ?? ((_q, r) => r.writeHead(404).end('{}')))(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
});

describe('createGatewayClient', () => {
  it('returns validated bodies with their status', async () => {
    const client = createGatewayClient({ baseUrl, token: 'good' });
    expect(await client.health()).toMatchObject({ ok: true, status: 200, body: { status: 'ok' } });
    const ready = await client.ready();
    expect(ready).toMatchObject({ ok: true, status: 503, body: { status: 'not_ready' } });
    const me = await client.whoami();
    expect(me.ok && me.body.sub).toBe('alice');
  });

  it('parses error answers with the error shape; token null sends no Authorization header', async () => {
    const client = createGatewayClient({ baseUrl, token: 'good' });
    const result = await client.whoami({ token: null });
    expect(result).toMatchObject({ ok: false, status: 401, body: { error: 'missing_token', message: 'no token' } });
  });

  it('throws GatewayResponseError when the gateway breaks its contract', async () => {
    const client = createGatewayClient({ baseUrl });
    await expect(client.adminWhoami()).rejects.toThrow(GatewayResponseError);
    await expect(client.openapi()).rejects.toThrow(/not JSON/);
    await expect(
      client.request('/missing', { schema: (await import('./schemas.js')).healthBodySchema }),
    ).rejects.toThrow(/without the error shape/);
  });

  it('refuses a base URL that is not http(s)', () => {
    expect(() => createGatewayClient({ baseUrl: 'ftp://example.com' })).toThrow(TypeError);
  });
});
