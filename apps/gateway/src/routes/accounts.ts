import {
  type Account,
  AccountNotFoundError,
  entriesPageSizeDefault,
  entriesPageSizeMax,
  externalIdLengthMax,
  isSystemEntityType,
  type Ledger,
} from '@arrakis/billing-ledger';
import { createRoute, z } from '@hono/zod-openapi';
import { adminNeedsAnyScope, adminReadScopeNote } from '../auth/scopes.js';
import type { Principal } from '../context.js';
import type { GatewayApp, RouteContext } from '../deps.js';
import { enforceTrust } from '../identity/trust-guard.js';
import { freeTextSchema } from './free-text.js';
import {
  AccountSchema,
  accountBody,
  amountMicroSchema,
  assertMayUseAccount,
  BalanceSchema,
  balanceBody,
  cursorSchema,
  EntryPageSchema,
  entityIdPattern,
  entryBody,
  GrantResultSchema,
  grantReasonLengthMax,
  IdempotencyHeaderSchema,
  idParamSchema,
  LotListSchema,
  ledgerNameSchema,
  lotBody,
  pageLimitSchema,
  UtcTimeSchema,
  writeOptions,
} from './ledger-schemas.js';
import { authErrorResponses, ErrorBodySchema, validationErrorResponse } from './schemas.js';

/** Scopes of which an admin needs one to grant credits. */
export const grantScopes: readonly string[] = ['ledger:grant', 'admin'];

/** `sourceType` of the lots minted by `POST /v1/accounts/:id/grants`. */
export const grantSourceType = 'grant';

const json = (description: string) => ({ description, content: { 'application/json': { schema: ErrorBodySchema } } });
const forbiddenResponse = {
  403: json(
    "`forbidden`: a user token on an account that is not the caller's (whether or not it exists); `insufficient_scope`: an admin token without `ledger:read` or `admin`.",
  ),
} as const;
const notFoundResponse = { 404: json('`account_not_found`.') } as const;
const conflictResponse = {
  409: json('`idempotency_key_reused`: the Idempotency-Key was used with another body.'),
} as const;

const CreateAccountBodySchema = z
  .object({
    entityType: ledgerNameSchema('user')
      .refine((value) => !isSystemEntityType(value), {
        message:
          "entity types system, system.*, system:*, system-* and system_* are reserved for the ledger's own accounts",
      })
      .openapi({ example: 'user' }),
    entityId: z
      .string()
      .regex(entityIdPattern, `expected 1-${externalIdLengthMax} visible ASCII characters`)
      .openapi({ example: 'alice', description: "For `user` accounts: the user's token `sub`." }),
  })
  .strict()
  .openapi('CreateAccountRequest');

const GrantBodySchema = z
  .object({
    amountMicro: amountMicroSchema('amountMicro'),
    poolId: ledgerNameSchema('general').optional(),
    expiresAt: UtcTimeSchema.optional(),
    reason: freeTextSchema({
      lengthMax: grantReasonLengthMax,
      trim: true,
      requiredMessage: 'a reason is required',
    }).openapi({
      example: 'welcome credit',
      description: `Why (1-${grantReasonLengthMax} characters, no NUL or unpaired surrogate), recorded on the lot's entry.`,
    }),
  })
  .strict()
  .openapi('GrantRequest');

const EntriesQuerySchema = z.object({
  cursor: cursorSchema('cursor'),
  limit: pageLimitSchema(entriesPageSizeMax, entriesPageSizeDefault),
});

const LotsQuerySchema = z.object({
  includeEmpty: z
    .enum(['true', 'false'])
    .optional()
    .openapi({
      param: { name: 'includeEmpty', in: 'query' },
      description: 'Also list lots with nothing left (default false).',
    }),
});

/**
 * Loads an account a principal may use: a user only their own (403 `forbidden` for any other id, existing or not);
 * services and admins any (404 `account_not_found` for an unknown id).
 */
export async function accountFor(ledger: Ledger, principal: Principal, accountId: string): Promise<Account> {
  let account: Account | undefined;
  try {
    account = (await ledger.getAccount(accountId)) ?? undefined;
  } catch (error) {
    if (!(error instanceof AccountNotFoundError)) throw error;
  }
  assertMayUseAccount(principal, account, accountId);
  if (account === undefined) throw new AccountNotFoundError(accountId);
  return account;
}

/**
 * Registers the account routes: `POST /v1/accounts`, `GET /v1/accounts/{id}` and its `balance`, `lots` and
 * `entries`, and `POST /v1/accounts/{id}/grants`.
 *
 * @example
 * ```ts
 * registerAccountRoutes(app, routeContext);
 * ```
 */
export function registerAccountRoutes(app: GatewayApp, ctx: RouteContext): void {
  const { ledger } = ctx.deps;
  const readers = ctx.guard(['arrakis-api', 'arrakis-internal', 'arrakis-admin'], adminNeedsAnyScope());

  const createAccountRoute = createRoute({
    method: 'post',
    path: '/v1/accounts',
    tags: ['accounts'],
    summary: 'Create an account (or get the existing one)',
    description:
      'One account per `(entityType, entityId)`: 201 with a new account, 200 with the existing one. Services and admins.',
    security: [{ bearerAuth: [] }],
    middleware: ctx.guard(['arrakis-internal', 'arrakis-admin']),
    request: {
      headers: IdempotencyHeaderSchema,
      body: { required: true, content: { 'application/json': { schema: CreateAccountBodySchema } } },
    },
    responses: {
      201: { description: 'Created.', content: { 'application/json': { schema: AccountSchema } } },
      200: { description: 'It already existed.', content: { 'application/json': { schema: AccountSchema } } },
      ...validationErrorResponse,
      ...authErrorResponses,
      ...conflictResponse,
    },
  });

  const getAccountRoute = createRoute({
    method: 'get',
    path: '/v1/accounts/{id}',
    tags: ['accounts'],
    summary: 'An account',
    description: `Users see their own account only (\`entityType\` \`user\`, \`entityId\` = token \`sub\`). ${adminReadScopeNote}`,
    security: [{ bearerAuth: [] }],
    middleware: readers,
    request: { params: idParamSchema('acc_01J0Z3') },
    responses: {
      200: { description: 'The account.', content: { 'application/json': { schema: AccountSchema } } },
      ...validationErrorResponse,
      ...authErrorResponses,
      ...forbiddenResponse,
      ...notFoundResponse,
    },
  });

  const balanceRoute = createRoute({
    method: 'get',
    path: '/v1/accounts/{id}/balance',
    tags: ['accounts'],
    summary: 'Balance as of now',
    description: `Available and reserved, total and per pool; lots past expiry count as expired even before the sweeper runs. ${adminReadScopeNote}`,
    security: [{ bearerAuth: [] }],
    middleware: readers,
    request: { params: idParamSchema('acc_01J0Z3') },
    responses: {
      200: { description: 'The balance.', content: { 'application/json': { schema: BalanceSchema } } },
      ...validationErrorResponse,
      ...authErrorResponses,
      ...forbiddenResponse,
      ...notFoundResponse,
    },
  });

  const lotsRoute = createRoute({
    method: 'get',
    path: '/v1/accounts/{id}/lots',
    tags: ['accounts'],
    summary: 'Lots with their buckets',
    description: `In consumption order. Lots with nothing left are listed with \`includeEmpty=true\` only. ${adminReadScopeNote}`,
    security: [{ bearerAuth: [] }],
    middleware: readers,
    request: { params: idParamSchema('acc_01J0Z3'), query: LotsQuerySchema },
    responses: {
      200: { description: 'The lots.', content: { 'application/json': { schema: LotListSchema } } },
      ...validationErrorResponse,
      ...authErrorResponses,
      ...forbiddenResponse,
      ...notFoundResponse,
    },
  });

  const entriesRoute = createRoute({
    method: 'get',
    path: '/v1/accounts/{id}/entries',
    tags: ['accounts'],
    summary: 'Journal entries, newest first',
    description: `Cursor-paginated: pass \`nextCursor\` as \`cursor\` for the next (older) page; null at the end. ${adminReadScopeNote}`,
    security: [{ bearerAuth: [] }],
    middleware: readers,
    request: { params: idParamSchema('acc_01J0Z3'), query: EntriesQuerySchema },
    responses: {
      200: { description: 'A page of entries.', content: { 'application/json': { schema: EntryPageSchema } } },
      400: json(
        '`validation_failed` (bad id, cursor or limit), `invalid_cursor` (a cursor this ledger did not issue).',
      ),
      ...authErrorResponses,
      ...forbiddenResponse,
      ...notFoundResponse,
    },
  });

  const grantRoute = createRoute({
    method: 'post',
    path: '/v1/accounts/{id}/grants',
    tags: ['accounts'],
    summary: 'Grant credits (admin)',
    description:
      'Mints a `grant` lot. Admin tokens with the scope `ledger:grant` or `admin`. Pays down any debt of the account first.',
    security: [{ bearerAuth: [] }],
    middleware: ctx.guard(['arrakis-admin'], { anyScope: grantScopes }),
    request: {
      params: idParamSchema('acc_01J0Z3'),
      headers: IdempotencyHeaderSchema,
      body: { required: true, content: { 'application/json': { schema: GrantBodySchema } } },
    },
    responses: {
      201: { description: 'The new lot and balance.', content: { 'application/json': { schema: GrantResultSchema } } },
      ...validationErrorResponse,
      ...authErrorResponses,
      ...notFoundResponse,
      ...conflictResponse,
    },
  });

  app.openapi(createAccountRoute, async (c) => {
    const body = c.req.valid('json');
    const result = await ledger.createAccount(body, writeOptions(c.var.principal, c.req.valid('header')));
    return result.created ? c.json(accountBody(result.account), 201) : c.json(accountBody(result.account), 200);
  });

  app.openapi(getAccountRoute, async (c) => {
    const account = await accountFor(ledger, c.var.principal, c.req.valid('param').id);
    return c.json(accountBody(account), 200);
  });

  app.openapi(balanceRoute, async (c) => {
    const account = await accountFor(ledger, c.var.principal, c.req.valid('param').id);
    return c.json(balanceBody(await ledger.getBalance(account.id)), 200);
  });

  app.openapi(lotsRoute, async (c) => {
    const account = await accountFor(ledger, c.var.principal, c.req.valid('param').id);
    const lots = await ledger.listLots(account.id, { includeEmpty: c.req.valid('query').includeEmpty === 'true' });
    return c.json({ lots: lots.map(lotBody) }, 200);
  });

  app.openapi(entriesRoute, async (c) => {
    const account = await accountFor(ledger, c.var.principal, c.req.valid('param').id);
    const { cursor, limit } = c.req.valid('query');
    const page = await ledger.listEntries(account.id, {
      ...(cursor === undefined ? {} : { cursor }),
      ...(limit === undefined ? {} : { limit }),
    });
    return c.json({ entries: page.items.map(entryBody), nextCursor: page.nextCursor }, 200);
  });

  app.openapi(grantRoute, async (c) => {
    const principal = c.var.principal;
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    await enforceTrust(ctx.deps, { accountId: id, amountMicro: body.amountMicro, operation: 'grant' });
    const result = await ledger.mint(
      {
        accountId: id,
        amountMicro: body.amountMicro,
        sourceType: grantSourceType,
        ...(body.poolId === undefined ? {} : { poolId: body.poolId }),
        ...(body.expiresAt === undefined ? {} : { expiresAt: body.expiresAt }),
        memo: `grant by ${principal.sub}: ${body.reason}`,
      },
      writeOptions(principal, c.req.valid('header')),
    );
    return c.json({ lot: lotBody(result.lot), balance: balanceBody(result.balance) }, 201);
  });
}
