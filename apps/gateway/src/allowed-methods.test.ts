import { errorBodySchema } from '@arrakis/e2e-contracts';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { allowedMethodsOf } from './allowed-methods.js';
import { makeAppFixture } from './testing/app-fixture.js';

describe('405 method_not_allowed from the route table', () => {
  it('a known path with another method is a 405 with Allow and the JSON error shape; an unknown path stays a 404', async () => {
    const f = await makeAppFixture();
    const cases: [string, string, string][] = [
      ['POST', '/v1/whoami', 'GET, HEAD'],
      ['DELETE', '/v1/accounts/acc_1', 'GET, HEAD'],
      ['GET', '/v1/reservations', 'POST'],
      ['PATCH', '/v1/accounts/acc_1/spend-caps', 'GET, HEAD, PUT'],
      ['PUT', '/health', 'GET, HEAD'],
      ['OPTIONS', '/v1/meters', 'GET, HEAD, POST'],
    ];
    for (const [method, path, allow] of cases) {
      const response = await f.app.request(path, { method });
      expect(response.status, `${method} ${path}`).toBe(405);
      expect(response.headers.get('allow')).toBe(allow);
      const body = errorBodySchema.parse(await response.json());
      expect(body).toMatchObject({ error: 'method_not_allowed', details: { allowed: allow.split(', ') } });
      expect(body.message).toContain(`${method} is not allowed on ${path}`);
    }
    const unknown = await f.app.request('/v1/no-such-route', { method: 'POST' });
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('allow')).toBeNull();
    expect((await f.app.request('/health', { method: 'HEAD' })).status).toBe(200);
    // The route exists for this method but its handler found nothing: still a 404.
    const asset = await f.app.request('/docs/assets/package.json');
    expect(asset.status).toBe(404);
    expect(errorBodySchema.parse(await asset.json()).error).toBe('not_found');
  });

  it('ignores middleware and sees routes added after the first lookup', () => {
    const app = new Hono();
    app.use('*', async (_c, next) => next());
    app.get('/a/:id', (c) => c.text('a'));
    const allowed = allowedMethodsOf(app);
    expect(allowed('/a/1')).toEqual(['GET', 'HEAD']);
    expect(allowed('/b')).toEqual([]);
    app.delete('/a/:id', (c) => c.text('gone'));
    expect(allowed('/a/1')).toEqual(['GET', 'HEAD', 'DELETE']);
  });
});
