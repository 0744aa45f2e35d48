// Revenue distribution over HTTP: which rule governed a charge (its distribution row) and what each pool received
// over a time range.
import { revenuePools } from '@arrakis/billing-ledger';
import { createRoute, z } from '@hono/zod-openapi';
import { adminNeedsAnyScope } from '../auth/scopes.js';
import type { GatewayApp, RouteContext } from '../deps.js';
import { RequestValidationError } from '../errors.js';
import { DistributionSchema, distributionBody, idParamSchema } from './ledger-schemas.js';
import { revenueReadScopes } from './revenue-rules.js';
import { authErrorResponses, ErrorBodySchema, validationErrorResponse } from './schemas.js';

const json = (description: string) => ({ description, content: { 'application/json': { schema: ErrorBodySchema } } });
/** Scopes of which an admin needs one to read a hold's distribution: a ledger reader or a revenue reader. */
export const distributionReadScopes: readonly string[] = ['ledger:read', 'revenue:read', 'revenue:write', 'admin'];
const microString = z.string().openapi({ description: 'Micro-USD as a base-10 string (may be negative for net).' });

/** `GET /v1/reservations/{id}/distribution`. */
export const ReservationDistributionSchema = z
  .object({ charge: DistributionSchema.nullable(), reversals: z.array(DistributionSchema) })
  .openapi('ReservationDistribution');

/** `GET /v1/revenue/totals`. */
export const RevenueTotalsSchema = z
  .object({
    from: z.iso.datetime(),
    to: z.iso.datetime(),
    pools: z.array(
      z.object({
        pool: z.enum(revenuePools),
        distributedMicro: microString,
        reversedMicro: microString,
        netMicro: microString,
      }),
    ),
  })
  .openapi('RevenueTotals');

const TotalsQuerySchema = z.object({
  from: z.iso.datetime().openapi({ description: 'Start of the range (inclusive), ISO 8601 UTC.' }),
  to: z.iso.datetime().openapi({ description: 'End of the range (exclusive), ISO 8601 UTC.' }),
});

/**
 * Registers `GET /v1/reservations/{id}/distribution` (services and admins: the charge's split with the rule id,
 * version and schema_version that governed it, and its reversals) and `GET /v1/revenue/totals?from&to` (admins with
 * `revenue:read`, `revenue:write` or `admin`: per pool, distributed, reversed and net in `[from, to)`).
 *
 * @example
 * ```ts
 * registerDistributionRoutes(app, routeContext);
 * ```
 */
export function registerDistributionRoutes(app: GatewayApp, ctx: RouteContext): void {
  const { ledger } = ctx.deps;
  const holdRoute = createRoute({
    method: 'get',
    path: '/v1/reservations/{id}/distribution',
    tags: ['reservations'],
    summary: 'Which revenue rule governed a charge',
    description:
      "The hold's charge distribution (null when nothing was charged) and the reversals of it. Services, and admins with the scope `ledger:read`, `revenue:read`, `revenue:write` or `admin` (403 `insufficient_scope` without).",
    security: [{ bearerAuth: [] }],
    middleware: ctx.guard(['arrakis-internal', 'arrakis-admin'], adminNeedsAnyScope(distributionReadScopes)),
    request: { params: idParamSchema('res_01J0Z3') },
    responses: {
      200: {
        description: 'The distributions.',
        content: { 'application/json': { schema: ReservationDistributionSchema } },
      },
      ...validationErrorResponse,
      ...authErrorResponses,
      404: json('`reservation_not_found`.'),
    },
  });
  app.openapi(holdRoute, async (c) => {
    const { charge, reversals } = await ledger.getDistribution(c.req.valid('param').id);
    return c.json(
      { charge: charge === null ? null : distributionBody(charge), reversals: reversals.map(distributionBody) },
      200,
    );
  });

  const totalsRoute = createRoute({
    method: 'get',
    path: '/v1/revenue/totals',
    tags: ['revenue-rules'],
    summary: 'Revenue per pool over a time range',
    description: 'Distributed, reversed and net micro-USD per pool for distributions written in `[from, to)`.',
    security: [{ bearerAuth: [] }],
    middleware: ctx.guard(['arrakis-admin'], { anyScope: revenueReadScopes }),
    request: { query: TotalsQuerySchema },
    responses: {
      200: { description: 'The totals.', content: { 'application/json': { schema: RevenueTotalsSchema } } },
      ...validationErrorResponse,
      ...authErrorResponses,
    },
  });
  app.openapi(totalsRoute, async (c) => {
    const query = c.req.valid('query');
    const from = new Date(query.from);
    const to = new Date(query.to);
    if (from > to) {
      throw new RequestValidationError('query', [
        { path: 'query.from', message: '`from` must not be after `to`', code: 'custom' },
      ]);
    }
    const totals = await ledger.distributionTotals({ from, to });
    return c.json(
      {
        from: from.toISOString(),
        to: to.toISOString(),
        pools: totals.map((t) => ({
          pool: t.pool,
          distributedMicro: t.distributedMicro.toString(),
          reversedMicro: t.reversedMicro.toString(),
          netMicro: t.netMicro.toString(),
        })),
      },
      200,
    );
  });
}
