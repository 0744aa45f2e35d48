// Spend caps over HTTP: an admin sets an account's daily and monthly caps (UTC periods); admins, services and the
// account's own user read them with the spend of the current periods. The ledger enforces them at reserve (402
// `spend_cap_exceeded`).
import type { SpendCaps, SpendPeriod } from '@arrakis/billing-ledger';
import { createRoute, z } from '@hono/zod-openapi';
import { adminNeedsAnyScope, ledgerReadScopes } from '../auth/scopes.js';
import type { GatewayApp, RouteContext } from '../deps.js';
import { accountFor } from './accounts.js';
import { amountMicroSchema, IdempotencyHeaderSchema, idParamSchema, writeOptions } from './ledger-schemas.js';
import { authErrorResponses, ErrorBodySchema, validationErrorResponse } from './schemas.js';

/** Scopes of which an admin needs one to set spend caps. */
export const spendCapScopes: readonly string[] = ['ledger:caps', 'admin'];
/** Scopes of which an admin needs one to read spend caps. */
export const spendCapReadScopes: readonly string[] = ['ledger:caps', ...ledgerReadScopes];

const json = (description: string) => ({ description, content: { 'application/json': { schema: ErrorBodySchema } } });
const time = () => z.iso.datetime().openapi({ example: '2026-12-03T00:00:00.000Z' });
const microOrNull = (description: string) =>
  z
    .string()
    .nullable()
    .openapi({ example: '5000000', description: `${description} Null: no cap.` });

const SpendCapsBodySchema = z
  .object({
    dailyCapMicro: amountMicroSchema('dailyCapMicro')
      .nullable()
      .openapi({ description: 'Cap of the UTC day (1 to 10^15 micro-USD), or null for none.' }),
    monthlyCapMicro: amountMicroSchema('monthlyCapMicro')
      .nullable()
      .openapi({ description: 'Cap of the UTC month (1 to 10^15 micro-USD), or null for none.' }),
  })
  .strict()
  .openapi('SpendCapsRequest', { description: 'Both fields are required; both null clears the caps.' });

/** One period's spend against its cap. */
export const SpendPeriodSchema = z
  .object({
    period: z.enum(['daily', 'monthly']),
    periodStart: time(),
    spentMicro: z.string().openapi({
      example: '1200000',
      description: 'Pending holds plus the charges of finalized holds placed since `periodStart`.',
    }),
    capMicro: microOrNull('The cap of this period.'),
  })
  .openapi('SpendPeriod');

/** An account's caps and its spend in the current UTC day and month. */
export const SpendCapsSchema = z
  .object({
    accountId: z.string().openapi({ example: 'acc_01J0Z3' }),
    dailyCapMicro: microOrNull('Daily cap.'),
    monthlyCapMicro: microOrNull('Monthly cap.'),
    updatedBy: z.string().nullable().openapi({ description: 'The admin who set the caps last.' }),
    updatedAt: time().nullable(),
    daily: SpendPeriodSchema,
    monthly: SpendPeriodSchema,
  })
  .openapi('SpendCaps');

const strOrNull = (value: bigint | null) => (value === null ? null : value.toString());

function periodBody(period: SpendPeriod): z.infer<typeof SpendPeriodSchema> {
  return {
    period: period.period,
    periodStart: period.periodStart.toISOString(),
    spentMicro: period.spentMicro.toString(),
    capMicro: strOrNull(period.capMicro),
  };
}

/**
 * The wire body of an account's spend caps.
 *
 * @example
 * ```ts
 * return c.json(spendCapsBody(await ledger.getSpendCaps(accountId)), 200);
 * ```
 */
export function spendCapsBody(caps: SpendCaps): z.infer<typeof SpendCapsSchema> {
  return {
    accountId: caps.accountId,
    dailyCapMicro: strOrNull(caps.dailyCapMicro),
    monthlyCapMicro: strOrNull(caps.monthlyCapMicro),
    updatedBy: caps.updatedBy,
    updatedAt: caps.updatedAt === null ? null : caps.updatedAt.toISOString(),
    daily: periodBody(caps.daily),
    monthly: periodBody(caps.monthly),
  };
}

/**
 * Registers `PUT /v1/accounts/{id}/spend-caps` (admins) and `GET /v1/accounts/{id}/spend-caps` (admins, services,
 * the account's own user).
 *
 * @example
 * ```ts
 * registerSpendCapRoutes(app, routeContext);
 * ```
 */
export function registerSpendCapRoutes(app: GatewayApp, ctx: RouteContext): void {
  const { ledger } = ctx.deps;
  const capsJson = (description: string) => ({
    description,
    content: { 'application/json': { schema: SpendCapsSchema } },
  });

  const putRoute = createRoute({
    method: 'put',
    path: '/v1/accounts/{id}/spend-caps',
    tags: ['accounts'],
    summary: "Set an account's spend caps (admin)",
    description:
      'Replaces the daily and monthly caps (UTC periods; null: none). A reserve whose hold would take the spend of a period past its cap is refused with 402 `spend_cap_exceeded`; holds already placed stay. Emits `spend_caps.updated` with the admin. Scope `ledger:caps` or `admin`.',
    security: [{ bearerAuth: [] }],
    middleware: ctx.guard(['arrakis-admin'], { anyScope: spendCapScopes }),
    request: {
      params: idParamSchema('acc_01J0Z3'),
      headers: IdempotencyHeaderSchema,
      body: { required: true, content: { 'application/json': { schema: SpendCapsBodySchema } } },
    },
    responses: {
      200: capsJson('The caps and the current spend.'),
      ...validationErrorResponse,
      ...authErrorResponses,
      403: json('`insufficient_scope`: an admin token without `ledger:caps` or `admin`.'),
      404: json('`account_not_found`.'),
      409: json('`idempotency_key_reused`.'),
    },
  });

  const getRoute = createRoute({
    method: 'get',
    path: '/v1/accounts/{id}/spend-caps',
    tags: ['accounts'],
    summary: "An account's spend caps and its spend this day and month",
    description:
      'Services, users on their own account, and admins with the scope `ledger:read`, `ledger:caps` or `admin` (403 `insufficient_scope` without).',
    security: [{ bearerAuth: [] }],
    middleware: ctx.guard(['arrakis-api', 'arrakis-internal', 'arrakis-admin'], adminNeedsAnyScope(spendCapReadScopes)),
    request: { params: idParamSchema('acc_01J0Z3') },
    responses: {
      200: capsJson('The caps and the current spend.'),
      ...validationErrorResponse,
      ...authErrorResponses,
      403: json(
        "`forbidden`: a user token on an account that is not the caller's; `insufficient_scope`: an admin token without `ledger:read`, `ledger:caps` or `admin`.",
      ),
      404: json('`account_not_found`.'),
    },
  });

  app.openapi(putRoute, async (c) => {
    const principal = c.var.principal;
    const account = await accountFor(ledger, principal, c.req.valid('param').id);
    const body = c.req.valid('json');
    const caps = await ledger.setSpendCaps(
      {
        accountId: account.id,
        dailyCapMicro: body.dailyCapMicro,
        monthlyCapMicro: body.monthlyCapMicro,
        actor: principal.sub,
      },
      writeOptions(principal, c.req.valid('header')),
    );
    return c.json(spendCapsBody(caps), 200);
  });

  app.openapi(getRoute, async (c) => {
    const account = await accountFor(ledger, c.var.principal, c.req.valid('param').id);
    return c.json(spendCapsBody(await ledger.getSpendCaps(account.id)), 200);
  });
}
