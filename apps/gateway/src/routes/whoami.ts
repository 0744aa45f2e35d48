import { createRoute } from '@hono/zod-openapi';
import { adminNeedsAnyScope } from '../auth/scopes.js';
import { audiences, type Principal } from '../context.js';
import type { GatewayApp, RouteContext } from '../deps.js';
import { authErrorResponses, PrincipalSchema } from './schemas.js';

function principalBody(principal: Principal) {
  return {
    sub: principal.sub,
    audience: principal.audience,
    scopes: principal.scopes,
    issuer: principal.issuer,
    expiresAt: new Date(principal.expiresAtMs).toISOString(),
  };
}

/**
 * Registers `GET /v1/whoami` (users, services and admins) and `GET /v1/admin/whoami` (admins with `ledger:read` or
 * `admin`): the smallest
 * authenticated routes, answering with the principal the token proved.
 *
 * @example
 * ```ts
 * registerWhoamiRoutes(app, routeContext);
 * ```
 */
export function registerWhoamiRoutes(app: GatewayApp, ctx: RouteContext): void {
  const whoamiRoute = createRoute({
    method: 'get',
    path: '/v1/whoami',
    tags: ['auth'],
    summary: 'The caller, as proved by the bearer token',
    description:
      'Accepts a token for any of the three audiences: arrakis-api, arrakis-internal, arrakis-admin, with or without scopes (it shows the caller its own token).',
    security: [{ bearerAuth: [] }],
    middleware: ctx.guard(audiences),
    responses: {
      200: { description: 'The principal.', content: { 'application/json': { schema: PrincipalSchema } } },
      ...authErrorResponses,
    },
  });

  const adminWhoamiRoute = createRoute({
    method: 'get',
    path: '/v1/admin/whoami',
    tags: ['auth'],
    summary: 'The calling admin',
    description:
      'Accepts admin tokens (aud arrakis-admin) with the scope `ledger:read` or `admin` only: any other audience is a 401 `wrong_audience`, an admin token without either scope a 403 `insufficient_scope`.',
    security: [{ bearerAuth: [] }],
    middleware: ctx.guard(['arrakis-admin'], adminNeedsAnyScope()),
    responses: {
      200: { description: 'The admin principal.', content: { 'application/json': { schema: PrincipalSchema } } },
      ...authErrorResponses,
    },
  });

  app.openapi(whoamiRoute, (c) => c.json(principalBody(c.var.principal), 200));
  app.openapi(adminWhoamiRoute, (c) => c.json(principalBody(c.var.principal), 200));
}
