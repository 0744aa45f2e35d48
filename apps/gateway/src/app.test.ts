import { InvalidCounterInputError } from '@arrakis/atomic-counter';
import { FinalizeConflictError, InsufficientCreditsError, LedgerError } from '@arrakis/billing-ledger';
import {
  errorBodySchema,
  gatewayContractPaths,
  healthBodySchema,
  openApiDocumentSchema,
  readyBodySchema,
} from '@arrakis/e2e-contracts';
import { createRoute, z } from '@hono/zod-openapi';
import { describe, expect, it } from 'vitest';
import { requestBodyBytesMax } from './app.js';
import { makeAppFixture } from './testing/app-fixture.js';

async function json(response: Response): Promise<unknown> {
  expect(response.headers.get('content-type') ?? '').toMatch(/^application\/json/);
  return response.json();
}

describe('probes', () => {
  it('GET /health answers 200 {status: ok}', async () => {
    const { get } = await makeAppFixture();
    const response = await get('/health');
    expect(response.status).toBe(200);
    expect(healthBodySchema.parse(await json(response))).toEqual({ status: 'ok' });
  });

  it('GET /ready lists the counter backend and the ledger and answers 200 when they are up', async () => {
    const { get } = await makeAppFixture();
    const response = await get('/ready');
    expect(response.status).toBe(200);
    const body = readyBodySchema.parse(await json(response));
    expect(body.status).toBe('ready');
    expect(body.dependencies.map((d) => [d.name, d.status])).toEqual([
      ['counters', 'up'],
      ['ledger', 'up'],
    ]);
  });

  it('GET /ready answers 503 naming the dependency that is down, and logs it', async () => {
    const { get, logs } = await makeAppFixture({
      readiness: (counters) => [
        { name: 'counters', check: async () => void (await counters.get('probe')) },
        {
          name: 'ledger',
          check: async () => {
            throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
          },
        },
      ],
    });
    const response = await get('/ready');
    expect(response.status).toBe(503);
    const body = readyBodySchema.parse(await json(response));
    expect(body.status).toBe('not_ready');
    expect(body.dependencies).toEqual([
      expect.objectContaining({ name: 'counters', status: 'up' }),
      expect.objectContaining({ name: 'ledger', status: 'down', error: 'connect ECONNREFUSED 127.0.0.1:5432' }),
    ]);
    expect(logs.some((l) => l.msg === 'readiness check failed' && l.dependency === 'ledger')).toBe(true);
  });

  it('GET /ready counts a check that hangs past READY_CHECK_TIMEOUT_MS as down', async () => {
    const { get } = await makeAppFixture({
      env: { READY_CHECK_TIMEOUT_MS: '50' },
      readiness: () => [
        { name: 'slow', check: (signal) => new Promise((r) => signal.addEventListener('abort', () => r())) },
      ],
    });
    const response = await get('/ready');
    expect(response.status).toBe(503);
    const body = readyBodySchema.parse(await response.json());
    expect(body.dependencies[0]).toMatchObject({ name: 'slow', status: 'down', error: 'timed out after 50 ms' });
  });

  it('GET /metrics counts requests by route pattern, method and status', async () => {
    const { get, token } = await makeAppFixture();
    await get('/health');
    await get('/health');
    await get('/v1/whoami', { token: await token('arrakis-api') });
    await get('/v1/whoami');
    await get('/nope/123');
    const response = await get('/metrics');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    expect(text).toContain('http_requests_total{method="GET",route="/health",status="200"} 2');
    expect(text).toContain('http_requests_total{method="GET",route="/v1/whoami",status="200"} 1');
    expect(text).toContain('http_requests_total{method="GET",route="/v1/whoami",status="401"} 1');
    expect(text).toContain('http_requests_total{method="GET",route="unmatched",status="404"} 1');
    expect(text).toMatch(
      /http_request_duration_seconds_bucket\{le="0\.005",method="GET",route="\/health",status="200"\} \d/,
    );
    expect(text).toContain('# TYPE rate_limiter_backend_failures_total counter');
  });
});

describe('request id', () => {
  it('generates a request id, echoes it, and logs it with the request', async () => {
    const { get, logs } = await makeAppFixture();
    const response = await get('/health');
    const requestId = response.headers.get('x-request-id') ?? '';
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    const line = logs.find((l) => l.msg === 'request' && l.requestId === requestId);
    expect(line).toMatchObject({ method: 'GET', path: '/health', route: '/health', status: 200 });
  });

  it('accepts a sane incoming X-Request-Id and replaces an unsafe one', async () => {
    const { get } = await makeAppFixture();
    const kept = await get('/health', { headers: { 'x-request-id': 'edge-01:abc.DEF_9' } });
    expect(kept.headers.get('x-request-id')).toBe('edge-01:abc.DEF_9');
    const replaced = await get('/health', { headers: { 'x-request-id': 'bad id\twith "quotes"' } });
    expect(replaced.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const tooLong = await get('/health', { headers: { 'x-request-id': 'a'.repeat(129) } });
    expect(tooLong.headers.get('x-request-id')).not.toBe('a'.repeat(129));
  });

  it('puts the request id on error answers too', async () => {
    const { get } = await makeAppFixture();
    const response = await get('/missing', { headers: { 'x-request-id': 'req-404' } });
    expect(response.headers.get('x-request-id')).toBe('req-404');
  });
});

describe('OpenAPI and docs', () => {
  it('GET /openapi.json is an OpenAPI 3.1 document generated from the routes', async () => {
    const { get } = await makeAppFixture();
    const response = await get('/openapi.json');
    expect(response.status).toBe(200);
    const raw = (await json(response)) as Record<string, unknown>;
    const doc = openApiDocumentSchema.parse(raw);
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths).sort()).toEqual([...gatewayContractPaths].sort());
    const whoami = doc.paths['/v1/whoami']?.get as { security?: unknown; responses: Record<string, unknown> };
    expect(whoami.security).toEqual([{ bearerAuth: [] }]);
    expect(Object.keys(whoami.responses)).toEqual(expect.arrayContaining(['200', '401', '403', '429', '500', '503']));
    const components = raw.components as { securitySchemes: Record<string, unknown>; schemas: Record<string, unknown> };
    expect(components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    // Every $ref points at a component that exists.
    const refs = [...JSON.stringify(raw).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map((m) => m[1]);
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of refs) expect(Object.keys(components.schemas)).toContain(ref);
  });

  it('GET /docs serves an HTML page that loads its assets from the gateway only', async () => {
    const { get } = await makeAppFixture();
    const response = await get('/docs');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(response.headers.get('content-security-policy')).toContain("default-src 'self'");
    const html = await response.text();
    expect(html).not.toMatch(/(?:src|href)="(?:https?:)?\/\//);
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => `/${m[1]}`);
    expect(assets).toEqual(
      expect.arrayContaining(['/docs/assets/swagger-ui.css', '/docs/assets/swagger-ui-bundle.js', '/docs/init.js']),
    );
    for (const asset of assets) {
      const assetResponse = await get(asset);
      expect(assetResponse.status, asset).toBe(200);
      expect((await assetResponse.arrayBuffer()).byteLength, asset).toBeGreaterThan(100);
    }
    const bundle = await get('/docs/assets/swagger-ui-bundle.js');
    expect(bundle.headers.get('content-type')).toMatch(/^text\/javascript/);
  });

  it('refuses any docs asset outside the allowlist with a JSON 404', async () => {
    const { get } = await makeAppFixture();
    for (const path of ['/docs/assets/package.json', '/docs/assets/..%2Fpackage.json', '/docs/assets/index.html']) {
      const response = await get(path);
      expect(response.status, path).toBe(404);
      expect(errorBodySchema.parse(await json(response)).error).toBe('not_found');
    }
  });
});

describe('error shape', () => {
  it('an unknown route is a 404 {error: not_found, message}', async () => {
    const { get } = await makeAppFixture();
    const response = await get('/v1/nothing-here');
    expect(response.status).toBe(404);
    expect(errorBodySchema.parse(await json(response))).toEqual({
      error: 'not_found',
      message: 'no route for GET /v1/nothing-here',
    });
  });

  it('an unexpected error is a bare 500 with the request id, logged with its stack, never leaked', async () => {
    const { app, logs } = await makeAppFixture();
    app.get('/v1/boom', () => {
      throw new Error('secret database password is hunter2');
    });
    const response = await app.request('/v1/boom', { headers: { 'x-request-id': 'req-500' } });
    expect(response.status).toBe(500);
    const text = await response.text();
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('at ');
    expect(JSON.parse(text)).toEqual({
      error: 'internal_error',
      message: 'an internal error occurred; quote the request id when reporting it',
      requestId: 'req-500',
    });
    const logged = logs.find((l) => l.msg === 'unhandled error');
    expect(logged?.requestId).toBe('req-500');
    expect((logged?.err as { stack?: string } | undefined)?.stack).toContain('hunter2');
  });

  it('maps ledger errors to their status in one place, with their code and JSON-safe details', async () => {
    const { app } = await makeAppFixture();
    app.get('/v1/test-402', () => {
      throw new InsufficientCreditsError({
        accountId: 'acc_1',
        poolId: 'general',
        requestedMicro: 5n,
        availableMicro: 2n,
      });
    });
    app.get('/v1/test-409', () => {
      throw new FinalizeConflictError('res_1', 7n, 9n);
    });
    const poor = await app.request('/v1/test-402');
    expect(poor.status).toBe(402);
    expect(await poor.json()).toMatchObject({
      error: 'insufficient_credits',
      details: { requestedMicro: '5', availableMicro: '2', shortfallMicro: '3' },
    });
    const conflict = await app.request('/v1/test-409');
    expect(conflict.status).toBe(409);
    expect(((await conflict.json()) as { error: string }).error).toBe('finalize_conflict');
  });

  it('a ledger error with a code outside the table is a bug: a bare 500', async () => {
    const { app } = await makeAppFixture();
    app.get('/v1/test-unknown-code', () => {
      throw new LedgerError('no_such_code' as never, 'made up');
    });
    const response = await app.request('/v1/test-unknown-code');
    expect(response.status).toBe(500);
    expect(((await response.json()) as { error: string }).error).toBe('internal_error');
  });

  it('maps counter input errors raised by a request to 400 with their code (not 500)', async () => {
    const { app } = await makeAppFixture();
    app.get('/v1/test-counter-input', () => {
      throw new InvalidCounterInputError('invalid_key', 'key "" must be 1-512 bytes', { details: { key: '' } });
    });
    const response = await app.request('/v1/test-counter-input');
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      error: 'invalid_key',
      message: 'key "" must be 1-512 bytes',
      details: { key: '' },
    });
  });

  it('answers 503 dependency_unavailable when the ledger database is down, and /ready says so', async () => {
    const { openPgliteLedgerDb } = await import('@arrakis/billing-ledger/pglite');
    const { migrateLedger } = await import('@arrakis/billing-ledger');
    const ledgerDb = await openPgliteLedgerDb();
    await migrateLedger(ledgerDb.db, ledgerDb.kind);
    const f = await makeAppFixture({ ledgerDb });
    await ledgerDb.close();
    const token = await f.token('arrakis-internal', 'svc');
    const response = await f.get('/v1/accounts/acc_system_foundation', { token });
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ error: 'dependency_unavailable', details: { dependency: 'ledger' } });
    const ready = await f.get('/ready');
    expect(ready.status).toBe(503);
    expect(readyBodySchema.parse(await ready.json()).dependencies).toContainEqual(
      expect.objectContaining({ name: 'ledger', status: 'down' }),
    );
  });

  describe('validation', () => {
    async function appWithValidatedRoute() {
      const fixture = await makeAppFixture();
      fixture.app.openapi(
        createRoute({
          method: 'post',
          path: '/v1/test-validation/{id}',
          request: {
            params: z.object({ id: z.string().regex(/^acc_[a-z0-9]+$/) }),
            query: z.object({ limit: z.coerce.number().int().min(1).max(100).optional() }),
            body: {
              required: true,
              content: { 'application/json': { schema: z.object({ amountMicro: z.string().regex(/^[1-9]\d*$/) }) } },
            },
          },
          responses: {
            200: { description: 'ok', content: { 'application/json': { schema: z.object({ ok: z.boolean() }) } } },
          },
        }),
        (c) => c.json({ ok: true }, 200),
      );
      return fixture;
    }
    const post = (fixture: Awaited<ReturnType<typeof appWithValidatedRoute>>, path: string, body: string) =>
      fixture.app.request(path, { method: 'POST', body, headers: { 'content-type': 'application/json' } });

    it('accepts valid input', async () => {
      const fixture = await appWithValidatedRoute();
      const response = await post(fixture, '/v1/test-validation/acc_1?limit=5', '{"amountMicro":"1500000"}');
      expect(response.status).toBe(200);
    });

    it('maps zod errors to 400 validation_failed with the issues', async () => {
      const fixture = await appWithValidatedRoute();
      const response = await post(fixture, '/v1/test-validation/acc_1', '{"amountMicro":"01"}');
      expect(response.status).toBe(400);
      const body = errorBodySchema.parse(await json(response));
      expect(body.error).toBe('validation_failed');
      expect(body.message).toMatch(/^invalid body: amountMicro: /);
      expect(body.details).toMatchObject({ target: 'body', issues: [{ path: 'amountMicro', code: 'invalid_format' }] });
    });

    it('validates params and query the same way', async () => {
      const fixture = await appWithValidatedRoute();
      const badParam = await post(fixture, '/v1/test-validation/nope', '{"amountMicro":"1"}');
      expect(badParam.status).toBe(400);
      expect(errorBodySchema.parse(await badParam.json()).details).toMatchObject({ target: 'param' });
      const badQuery = await post(fixture, '/v1/test-validation/acc_1?limit=1000', '{"amountMicro":"1"}');
      expect(badQuery.status).toBe(400);
      expect(errorBodySchema.parse(await badQuery.json()).details).toMatchObject({ target: 'query' });
    });

    it('answers malformed JSON with 400 bad_request', async () => {
      const fixture = await appWithValidatedRoute();
      const response = await post(fixture, '/v1/test-validation/acc_1', '{"amountMicro":');
      expect(response.status).toBe(400);
      expect(errorBodySchema.parse(await json(response)).error).toBe('bad_request');
    });

    it(`answers a body over ${requestBodyBytesMax} bytes with 413 payload_too_large`, async () => {
      const fixture = await appWithValidatedRoute();
      const body = JSON.stringify({ amountMicro: '1', pad: 'x'.repeat(requestBodyBytesMax) });
      const response = await post(fixture, '/v1/test-validation/acc_1', body);
      expect(response.status).toBe(413);
      expect(errorBodySchema.parse(await json(response))).toMatchObject({ error: 'payload_too_large' });
    });

    it('decides by Content-Length when the request declares one (as over HTTP/1.1), and counts a chunked body', async () => {
      const fixture = await appWithValidatedRoute();
      const declared = (body: string, headers: Record<string, string>) =>
        fixture.app.request('/v1/test-validation/acc_1', {
          method: 'POST',
          body,
          headers: { 'content-type': 'application/json', ...headers },
        });
      const small = '{"amountMicro":"1"}';
      expect((await declared(small, { 'content-length': String(small.length) })).status).toBe(200);
      const large = JSON.stringify({ amountMicro: '1', pad: 'x'.repeat(requestBodyBytesMax) });
      const over = await declared(large, { 'content-length': String(large.length) });
      expect(over.status).toBe(413);
      expect(errorBodySchema.parse(await json(over))).toMatchObject({ error: 'payload_too_large' });
      const chunked = await declared(large, { 'transfer-encoding': 'chunked' });
      expect(chunked.status).toBe(413);
    });
  });
});
