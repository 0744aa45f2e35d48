// The price book over HTTP: admins with the scope `pricing:admin` or `admin` create meters and their next versions
// (never an update; the ledger records who and emits `meter.versioned`); users and services read them, admins with
// `ledger:read`, `pricing:admin` or `admin`.
import { createRoute, z } from '@hono/zod-openapi';
import { adminNeedsAnyScope, ledgerReadScopes } from '../auth/scopes.js';
import type { GatewayApp, RouteContext } from '../deps.js';
import { IdempotencyHeaderSchema, ledgerNameSchema, writeOptions } from './ledger-schemas.js';
import {
  MeterBodySchema,
  MeterListSchema,
  MeterSchema,
  MeterVersionListSchema,
  meterBody,
  meterInputOf,
} from './meter-schemas.js';
import { authErrorResponses, ErrorBodySchema, validationErrorResponse } from './schemas.js';

/** Scopes of which an admin needs one to create meters or meter versions. */
export const pricingScopes: readonly string[] = ['pricing:admin', 'admin'];
/** Scopes of which an admin needs one to read meters: a pricing admin reads what it writes. */
export const meterReadScopes: readonly string[] = ['pricing:admin', ...ledgerReadScopes];

/** Largest `?version=` accepted. */
export const meterVersionMax = 2_147_483_647;

const json = (description: string) => ({ description, content: { 'application/json': { schema: ErrorBodySchema } } });
const meterJson = (description: string) => ({ description, content: { 'application/json': { schema: MeterSchema } } });
const notFound = {
  404: json('`meter_not_found` (`details.reason`: `unknown`, or `not_in_force` for a version still scheduled).'),
} as const;

const MeterParamSchema = z.object({
  id: ledgerNameSchema('chat').openapi({ param: { name: 'id', in: 'path' } }),
});

const VersionQuerySchema = z.object({
  version: z
    .string()
    .regex(/^[1-9][0-9]{0,9}$/, `expected an integer from 1 to ${meterVersionMax}`)
    .transform(Number)
    .pipe(z.number().int().min(1).max(meterVersionMax))
    .optional()
    .openapi({
      param: { name: 'version', in: 'query' },
      example: '2',
      description: 'One version (default: in force).',
    }),
});

/**
 * Registers the meter routes: `POST /v1/meters` (admins with `pricing:admin` or `admin`), `GET /v1/meters`,
 * `GET /v1/meters/{id}` (`?version=N`) and `GET /v1/meters/{id}/versions` (any authenticated caller).
 *
 * @example
 * ```ts
 * registerMeterRoutes(app, routeContext);
 * ```
 */
export function registerMeterRoutes(app: GatewayApp, ctx: RouteContext): void {
  registerCreateMeterRoute(app, ctx);
  registerMeterReadRoutes(app, ctx);
}

function registerCreateMeterRoute(app: GatewayApp, ctx: RouteContext): void {
  const { ledger } = ctx.deps;
  const pricers = ctx.guard(['arrakis-admin'], { anyScope: pricingScopes });
  const createMeterRoute = createRoute({
    method: 'post',
    path: '/v1/meters',
    tags: ['meters'],
    summary: 'Create a meter or its next version (admin)',
    description:
      'A new id is version 1; an existing id gets the next version (never an update: holds placed under an older version keep its prices). The calling admin is recorded as `createdBy`. Scope `pricing:admin` or `admin`.',
    security: [{ bearerAuth: [] }],
    middleware: pricers,
    request: {
      headers: IdempotencyHeaderSchema,
      body: { required: true, content: { 'application/json': { schema: MeterBodySchema } } },
    },
    responses: {
      201: meterJson('The new version.'),
      400: json(
        '`validation_failed` (e.g. a non-canonical amount: issue code `invalid_amount`); `meter_prices_empty`; `meter_dimension_duplicate`; `meter_price_overflow` (a price above 10^15 micro-USD at `unitsMax`); `invalid_argument` (holdMicro above maxCostMicro, effectiveAt in the past).',
      ),
      ...authErrorResponses,
      409: json('`idempotency_key_reused`.'),
    },
  });

  app.openapi(createMeterRoute, async (c) => {
    const principal = c.var.principal;
    const input = meterInputOf(c.req.valid('json'), principal.sub);
    const meter = await ledger.createMeter(input, writeOptions(principal, c.req.valid('header')));
    return c.json(meterBody(meter), 201);
  });
}

function registerMeterReadRoutes(app: GatewayApp, ctx: RouteContext): void {
  const { ledger } = ctx.deps;
  const readers = ctx.guard(['arrakis-api', 'arrakis-internal', 'arrakis-admin'], adminNeedsAnyScope(meterReadScopes));
  const readScopeNote = 'Admins need the scope `ledger:read`, `pricing:admin` or `admin` (403 `insufficient_scope`).';
  const listRoute = createRoute({
    method: 'get',
    path: '/v1/meters',
    tags: ['meters'],
    summary: 'Every meter, as in force now',
    description: `The version in force of each meter, by id. Meters whose first version is still scheduled are left out. ${readScopeNote}`,
    security: [{ bearerAuth: [] }],
    middleware: readers,
    responses: {
      200: { description: 'The meters.', content: { 'application/json': { schema: MeterListSchema } } },
      ...authErrorResponses,
    },
  });

  const getRoute = createRoute({
    method: 'get',
    path: '/v1/meters/{id}',
    tags: ['meters'],
    summary: 'A meter: the version in force, or one version',
    description: `Without \`version\`: the version in force now. With it: that version, in force or not. ${readScopeNote}`,
    security: [{ bearerAuth: [] }],
    middleware: readers,
    request: { params: MeterParamSchema, query: VersionQuerySchema },
    responses: { 200: meterJson('The version.'), ...validationErrorResponse, ...authErrorResponses, ...notFound },
  });

  const versionsRoute = createRoute({
    method: 'get',
    path: '/v1/meters/{id}/versions',
    tags: ['meters'],
    summary: "A meter's versions, newest first",
    description: `Scheduled versions (effectiveAt in the future) too. ${readScopeNote}`,
    security: [{ bearerAuth: [] }],
    middleware: readers,
    request: { params: MeterParamSchema },
    responses: {
      200: { description: 'The versions.', content: { 'application/json': { schema: MeterVersionListSchema } } },
      ...validationErrorResponse,
      ...authErrorResponses,
      ...notFound,
    },
  });

  app.openapi(listRoute, async (c) => c.json({ meters: (await ledger.listMeters()).map(meterBody) }, 200));

  app.openapi(getRoute, async (c) => {
    const { version } = c.req.valid('query');
    const meter = await ledger.getMeter(c.req.valid('param').id, version === undefined ? {} : { version });
    return c.json(meterBody(meter), 200);
  });

  app.openapi(versionsRoute, async (c) => {
    const versions = await ledger.listMeterVersions(c.req.valid('param').id);
    return c.json({ versions: versions.map(meterBody) }, 200);
  });
}
