import { eventsPageSizeDefault, eventsPageSizeMax } from '@arrakis/billing-ledger';
import { createRoute, z } from '@hono/zod-openapi';
import { adminNeedsAnyScope } from '../auth/scopes.js';
import type { GatewayApp, RouteContext } from '../deps.js';
import { cursorSchema, EventPageSchema, eventBody, pageLimitSchema } from './ledger-schemas.js';
import { authErrorResponses, ErrorBodySchema } from './schemas.js';

const EventsQuerySchema = z.object({
  after: cursorSchema('after'),
  limit: pageLimitSchema(eventsPageSizeMax, eventsPageSizeDefault),
});

/**
 * Registers `GET /v1/events?after&limit`: the ledger's outbox of economic events (`lot.minted`,
 * `reservation.created`, `reservation.finalized`, …), oldest first after the cursor. Services, and admins with
 * `ledger:read` or `admin`.
 *
 * @example
 * ```ts
 * registerEventRoutes(app, routeContext);
 * ```
 */
export function registerEventRoutes(app: GatewayApp, ctx: RouteContext): void {
  const { ledger } = ctx.deps;

  const eventsRoute = createRoute({
    method: 'get',
    path: '/v1/events',
    tags: ['events'],
    summary: 'The event feed',
    description:
      'Economic events written in the same transaction as the change they describe, oldest first. Pass `nextCursor` as `after` to read on; an empty page returns the `after` it was given (null only when no event exists yet and no `after` was given), so a consumer polls with the last `nextCursor`. Services, and admins with the scope `ledger:read` or `admin` (403 `insufficient_scope` without).',
    security: [{ bearerAuth: [] }],
    middleware: ctx.guard(['arrakis-internal', 'arrakis-admin'], adminNeedsAnyScope()),
    request: { query: EventsQuerySchema },
    responses: {
      200: { description: 'A page of events.', content: { 'application/json': { schema: EventPageSchema } } },
      400: {
        description:
          '`validation_failed` (bad cursor or limit), `invalid_cursor` (a cursor this ledger did not issue).',
        content: { 'application/json': { schema: ErrorBodySchema } },
      },
      ...authErrorResponses,
    },
  });

  app.openapi(eventsRoute, async (c) => {
    const { after, limit } = c.req.valid('query');
    const page = await ledger.listEvents({
      ...(after === undefined ? {} : { after }),
      ...(limit === undefined ? {} : { limit }),
    });
    // An empty page hands back the cursor it was given, so a consumer can always poll on with `nextCursor`.
    return c.json({ events: page.items.map(eventBody), nextCursor: page.nextCursor ?? after ?? null }, 200);
  });
}
