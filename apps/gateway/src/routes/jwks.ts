import { createRoute } from '@hono/zod-openapi';
import type { GatewayApp, RouteContext } from '../deps.js';
import { JwksSchema } from './identity-schemas.js';
import { commonErrorResponses } from './schemas.js';

/** `Cache-Control` max-age of the JWKS: short, so a rotation reaches verifiers soon (they also refetch on an unknown kid). */
export const jwksMaxAgeSeconds = 60;

/**
 * Registers `GET /.well-known/jwks.json`: the public keys of the anchor-token signing keys (the signing key and the
 * ones still verifying after a rotation), so a sibling service verifies anchor tokens with the URL alone.
 *
 * @example
 * ```ts
 * registerJwksRoutes(app, routeContext);
 * ```
 */
export function registerJwksRoutes(app: GatewayApp, ctx: RouteContext): void {
  const { identity } = ctx.deps;
  const route = createRoute({
    method: 'get',
    path: '/.well-known/jwks.json',
    tags: ['anchors'],
    summary: 'Public keys of the anchor tokens (JWKS)',
    description:
      'ES256 / EdDSA public JWKs with `kid`, `alg`, `use: sig`. After a key rotation the old key stays listed until it is retired.',
    responses: {
      200: { description: 'The key set.', content: { 'application/json': { schema: JwksSchema } } },
      ...commonErrorResponses,
    },
  });
  app.openapi(route, (c) => {
    c.header('Cache-Control', `public, max-age=${jwksMaxAgeSeconds}`);
    return c.json(identity.keys.jwks() as { keys: Record<string, unknown>[] }, 200);
  });
}
