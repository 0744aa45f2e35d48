// Revenue rule governance over HTTP (DESIGN.md §7): admins propose, submit, approve (four-eyes), reject and
// emergency-activate rules, and read them (as of now) with their audit trail. The acting admin is the token's `sub`.
import {
  bpsTotal,
  type RevenueRule,
  type RevenueRuleAuditEntry,
  revenueRuleStatuses,
  ruleNameLengthMax,
  rulesPageSizeDefault,
  rulesPageSizeMax,
  ruleTextLengthMax,
} from '@arrakis/billing-ledger';
import { createRoute, z } from '@hono/zod-openapi';
import type { GatewayApp, RouteContext } from '../deps.js';
import { freeTextSchema } from './free-text.js';
import {
  cursorSchema,
  IdempotencyHeaderSchema,
  idParamSchema,
  pageLimitSchema,
  writeOptions,
} from './ledger-schemas.js';
import { authErrorResponses, ErrorBodySchema, validationErrorResponse } from './schemas.js';

/** Scopes of which an admin needs one to read revenue rules. */
export const revenueReadScopes: readonly string[] = ['revenue:read', 'revenue:write', 'admin'];
/** Scopes of which an admin needs one to change revenue rules. */
export const revenueWriteScopes: readonly string[] = ['revenue:write', 'admin'];

const json = (description: string) => ({ description, content: { 'application/json': { schema: ErrorBodySchema } } });
const time = () => z.iso.datetime().openapi({ example: '2026-01-03T00:00:00.000Z' });
const bps = (description: string) =>
  z
    .number()
    .int()
    .min(0)
    .max(bpsTotal)
    .openapi({ example: 2500, description: `${description} (basis points, 0-${bpsTotal}).` });

/** A revenue rule on the wire (OpenAPI component `RevenueRule`). */
export const RevenueRuleSchema = z
  .object({
    id: z.string().openapi({ example: 'rule_0f3c9a' }),
    version: z.number().int().openapi({ example: 2, description: 'Monotonic: a later proposal has a higher version.' }),
    schemaVersion: z
      .union([z.literal(1), z.literal(2)])
      .openapi({ description: '1: commons, community, foundation; 2: also referrer and treasury.' }),
    name: z.string(),
    notes: z.string().nullable(),
    status: z.enum(revenueRuleStatuses).openapi({
      description:
        'As of now: a rule whose cooldown has ended reads `active` (and the one it replaces `superseded`) before the activation job writes it.',
    }),
    commonsBps: z.number().int(),
    communityBps: z.number().int(),
    foundationBps: z.number().int().openapi({ description: 'The foundation also takes the rounding remainder.' }),
    referrerBps: z.number().int(),
    treasuryBps: z.number().int(),
    proposedBy: z.string(),
    submittedBy: z.string().nullable(),
    submittedAt: time().nullable(),
    approvedBy: z.string().nullable(),
    approvedAt: time().nullable(),
    rejectedBy: z.string().nullable(),
    rejectedAt: time().nullable(),
    emergencyBy: z.string().nullable(),
    emergencyReason: z.string().nullable(),
    activatesAt: time().nullable().openapi({ description: 'Approval + cooldown, or the emergency activation time.' }),
    activatedAt: time().nullable(),
    supersededAt: time().nullable(),
    createdAt: time(),
  })
  .openapi('RevenueRule');

/** `GET /v1/revenue-rules`. */
export const RevenueRulePageSchema = z
  .object({ rules: z.array(RevenueRuleSchema), nextCursor: z.string().nullable() })
  .openapi('RevenueRulePage');

/** One audited transition. */
export const RevenueRuleAuditEntrySchema = z
  .object({
    id: z.string().openapi({ example: '12' }),
    ruleId: z.string(),
    actor: z.string().openapi({ description: 'The admin, or `system` for the activation job and the seeded rule.' }),
    fromStatus: z.enum(revenueRuleStatuses).nullable(),
    toStatus: z.enum(revenueRuleStatuses),
    reason: z.string().nullable(),
    createdAt: time().openapi({ description: 'When the transition took effect.' }),
  })
  .openapi('RevenueRuleAuditEntry');

/** `GET /v1/revenue-rules/{id}/audit`. */
export const RevenueRuleAuditSchema = z
  .object({ ruleId: z.string(), audit: z.array(RevenueRuleAuditEntrySchema) })
  .openapi('RevenueRuleAudit');

const ProposeBodySchema = z
  .object({
    name: freeTextSchema({ lengthMax: ruleNameLengthMax }).openapi({ example: 'community first' }),
    schemaVersion: z.union([z.literal(1), z.literal(2)]).openapi({ example: 1 }),
    commonsBps: bps('Commons share'),
    communityBps: bps('Community pool share'),
    foundationBps: bps('Foundation share'),
    referrerBps: bps('Referrer share, schema 2 only').optional(),
    treasuryBps: bps('Treasury share, schema 2 only').optional(),
    notes: freeTextSchema({ lengthMax: ruleTextLengthMax, lengthMin: 0 }).optional(),
  })
  .strict()
  .openapi('ProposeRevenueRuleRequest', {
    description: 'The shares must sum to 10000 bps; schema 1 rules have no referrer or treasury share (400 otherwise).',
  });

const ReasonBodySchema = z
  .object({
    reason: freeTextSchema({ lengthMax: ruleTextLengthMax }).openapi({
      example: 'the old split pays a closed pool',
      description: `Why (1-${ruleTextLengthMax} characters, no NUL or unpaired surrogate).`,
    }),
  })
  .strict()
  .openapi('RevenueRuleReasonRequest');

const ListQuerySchema = z.object({
  status: z
    .enum(revenueRuleStatuses)
    .optional()
    .openapi({ param: { name: 'status', in: 'query' }, description: 'Only rules in this status as of now.' }),
  limit: pageLimitSchema(rulesPageSizeMax, rulesPageSizeDefault),
  cursor: cursorSchema('cursor'),
});

const iso = (date: Date) => date.toISOString();
const isoOrNull = (date: Date | null) => (date === null ? null : date.toISOString());

/**
 * The wire body of a revenue rule.
 *
 * @example
 * ```ts
 * return c.json(revenueRuleBody(await ledger.getActiveRule()), 200);
 * ```
 */
export function revenueRuleBody(rule: RevenueRule): z.infer<typeof RevenueRuleSchema> {
  return {
    id: rule.id,
    version: rule.version,
    schemaVersion: rule.schemaVersion,
    name: rule.name,
    notes: rule.notes,
    status: rule.status,
    commonsBps: rule.commonsBps,
    communityBps: rule.communityBps,
    foundationBps: rule.foundationBps,
    referrerBps: rule.referrerBps,
    treasuryBps: rule.treasuryBps,
    proposedBy: rule.proposedBy,
    submittedBy: rule.submittedBy,
    submittedAt: isoOrNull(rule.submittedAt),
    approvedBy: rule.approvedBy,
    approvedAt: isoOrNull(rule.approvedAt),
    rejectedBy: rule.rejectedBy,
    rejectedAt: isoOrNull(rule.rejectedAt),
    emergencyBy: rule.emergencyBy,
    emergencyReason: rule.emergencyReason,
    activatesAt: isoOrNull(rule.activatesAt),
    activatedAt: isoOrNull(rule.activatedAt),
    supersededAt: isoOrNull(rule.supersededAt),
    createdAt: iso(rule.createdAt),
  };
}

function auditEntryBody(entry: RevenueRuleAuditEntry): z.infer<typeof RevenueRuleAuditEntrySchema> {
  return {
    id: entry.id.toString(),
    ruleId: entry.ruleId,
    actor: entry.actor,
    fromStatus: entry.fromStatus,
    toStatus: entry.toStatus,
    reason: entry.reason,
    createdAt: iso(entry.createdAt),
  };
}

/**
 * Registers the revenue rule routes (admin tokens only): `POST /v1/revenue-rules` and its `submit`, `approve`,
 * `reject` and `activate-now` transitions (scope `revenue:write` or `admin`), and `GET /v1/revenue-rules`,
 * `/active`, `/{id}` and `/{id}/audit` (scope `revenue:read`, `revenue:write` or `admin`).
 *
 * @example
 * ```ts
 * registerRevenueRuleRoutes(app, routeContext);
 * ```
 */
export function registerRevenueRuleRoutes(app: GatewayApp, ctx: RouteContext): void {
  const { ledger } = ctx.deps;
  const readers = ctx.guard(['arrakis-admin'], { anyScope: revenueReadScopes });
  const writers = ctx.guard(['arrakis-admin'], { anyScope: revenueWriteScopes });
  const ruleJson = (description: string) => ({
    description,
    content: { 'application/json': { schema: RevenueRuleSchema } },
  });
  const forbidden = {
    403: json(
      '`insufficient_scope`; `four_eyes_violation` (the proposer approving, or the proposer or approver activating early).',
    ),
  } as const;
  const notFound = { 404: json('`revenue_rule_not_found`.') } as const;
  const conflict = {
    409: json('`invalid_transition` (the rule is not in a status this step applies to), `idempotency_key_reused`.'),
  } as const;

  const proposeRoute = createRoute({
    method: 'post',
    path: '/v1/revenue-rules',
    tags: ['revenue-rules'],
    summary: 'Propose a revenue rule (a draft)',
    description: 'The calling admin is the proposer. Scope `revenue:write` or `admin`.',
    security: [{ bearerAuth: [] }],
    middleware: writers,
    request: {
      headers: IdempotencyHeaderSchema,
      body: { required: true, content: { 'application/json': { schema: ProposeBodySchema } } },
    },
    responses: {
      201: ruleJson('The draft.'),
      400: json(
        '`validation_failed`; `invalid_argument` (the shares do not sum to 10000, schema 1 with a referrer or treasury share).',
      ),
      ...authErrorResponses,
      409: json('`idempotency_key_reused`.'),
    },
  });

  const transitionResponses = {
    200: ruleJson('The rule after the transition.'),
    ...validationErrorResponse,
    ...authErrorResponses,
    ...forbidden,
    ...notFound,
    ...conflict,
  };
  const transitionRoute = <Step extends 'submit' | 'approve'>(step: Step, summary: string, description: string) =>
    createRoute({
      method: 'post',
      path: `/v1/revenue-rules/{id}/${step}` as const,
      tags: ['revenue-rules'],
      summary,
      description: `${description} Scope \`revenue:write\` or \`admin\`.`,
      security: [{ bearerAuth: [] }],
      middleware: writers,
      request: { params: idParamSchema('rule_0f3c9a'), headers: IdempotencyHeaderSchema },
      responses: transitionResponses,
    });
  const reasonedRoute = <Step extends 'reject' | 'activate-now'>(step: Step, summary: string, description: string) =>
    createRoute({
      method: 'post',
      path: `/v1/revenue-rules/{id}/${step}` as const,
      tags: ['revenue-rules'],
      summary,
      description: `${description} Scope \`revenue:write\` or \`admin\`.`,
      security: [{ bearerAuth: [] }],
      middleware: writers,
      request: {
        params: idParamSchema('rule_0f3c9a'),
        headers: IdempotencyHeaderSchema,
        body: { required: true, content: { 'application/json': { schema: ReasonBodySchema } } },
      },
      responses: transitionResponses,
    });

  const submitRoute = transitionRoute('submit', 'Submit a draft for approval', '`draft → pending_approval`.');
  const approveRoute = transitionRoute(
    'approve',
    'Approve a rule (four-eyes)',
    '`pending_approval → cooling_down`; active when the cooldown (48 h by default) ends. The proposer cannot approve (403 `four_eyes_violation`).',
  );
  const rejectRoute = reasonedRoute(
    'reject',
    'Reject a rule',
    '`pending_approval | cooling_down → rejected`, with a reason. A rule whose cooldown has ended is active: 409.',
  );
  const activateNowRoute = reasonedRoute(
    'activate-now',
    'Activate a cooling-down rule now (emergency)',
    '`cooling_down → active` at once, superseding the rule in force, by an admin who is neither the proposer nor the approver (403 `four_eyes_violation`), with a reason.',
  );

  const listRoute = createRoute({
    method: 'get',
    path: '/v1/revenue-rules',
    tags: ['revenue-rules'],
    summary: 'Revenue rules, newest first',
    description:
      'Optionally in one status as of now; cursor-paginated. Scope `revenue:read`, `revenue:write` or `admin`.',
    security: [{ bearerAuth: [] }],
    middleware: readers,
    request: { query: ListQuerySchema },
    responses: {
      200: { description: 'A page of rules.', content: { 'application/json': { schema: RevenueRulePageSchema } } },
      400: json('`validation_failed` (status, cursor or limit), `invalid_cursor`.'),
      ...authErrorResponses,
    },
  });

  const activeRoute = createRoute({
    method: 'get',
    path: '/v1/revenue-rules/active',
    tags: ['revenue-rules'],
    summary: 'The rule in force now',
    description:
      'The rule that splits a charge finalized now (a rule whose cooldown has ended is in force before the activation job writes it).',
    security: [{ bearerAuth: [] }],
    middleware: readers,
    responses: { 200: ruleJson('The rule in force.'), ...authErrorResponses },
  });

  const getRoute = createRoute({
    method: 'get',
    path: '/v1/revenue-rules/{id}',
    tags: ['revenue-rules'],
    summary: 'A revenue rule',
    description: 'As of now.',
    security: [{ bearerAuth: [] }],
    middleware: readers,
    request: { params: idParamSchema('rule_0f3c9a') },
    responses: { 200: ruleJson('The rule.'), ...validationErrorResponse, ...authErrorResponses, ...notFound },
  });

  const auditRoute = createRoute({
    method: 'get',
    path: '/v1/revenue-rules/{id}/audit',
    tags: ['revenue-rules'],
    summary: "A rule's audit trail",
    description: 'Every transition, oldest first: actor, from, to, reason, time. The table is append-only.',
    security: [{ bearerAuth: [] }],
    middleware: readers,
    request: { params: idParamSchema('rule_0f3c9a') },
    responses: {
      200: { description: 'The audit trail.', content: { 'application/json': { schema: RevenueRuleAuditSchema } } },
      ...validationErrorResponse,
      ...authErrorResponses,
      ...notFound,
    },
  });

  app.openapi(proposeRoute, async (c) => {
    const body = c.req.valid('json');
    const rule = await ledger.proposeRule(
      { ...body, actor: c.var.principal.sub },
      writeOptions(c.var.principal, c.req.valid('header')),
    );
    return c.json(revenueRuleBody(rule), 201);
  });

  app.openapi(submitRoute, async (c) => {
    const input = { ruleId: c.req.valid('param').id, actor: c.var.principal.sub };
    return c.json(
      revenueRuleBody(await ledger.submitRule(input, writeOptions(c.var.principal, c.req.valid('header')))),
      200,
    );
  });

  app.openapi(approveRoute, async (c) => {
    const input = { ruleId: c.req.valid('param').id, actor: c.var.principal.sub };
    return c.json(
      revenueRuleBody(await ledger.approveRule(input, writeOptions(c.var.principal, c.req.valid('header')))),
      200,
    );
  });

  app.openapi(rejectRoute, async (c) => {
    const { reason } = c.req.valid('json');
    const input = { ruleId: c.req.valid('param').id, actor: c.var.principal.sub, reason };
    return c.json(
      revenueRuleBody(await ledger.rejectRule(input, writeOptions(c.var.principal, c.req.valid('header')))),
      200,
    );
  });

  app.openapi(activateNowRoute, async (c) => {
    const { reason } = c.req.valid('json');
    const input = { ruleId: c.req.valid('param').id, actor: c.var.principal.sub, reason };
    return c.json(
      revenueRuleBody(await ledger.activateRuleNow(input, writeOptions(c.var.principal, c.req.valid('header')))),
      200,
    );
  });

  // `/active` before `/{id}`: a static segment wins over the parameter.
  app.openapi(activeRoute, async (c) => c.json(revenueRuleBody(await ledger.getActiveRule()), 200));

  app.openapi(listRoute, async (c) => {
    const { status, limit, cursor } = c.req.valid('query');
    const page = await ledger.listRules({
      ...(status === undefined ? {} : { status }),
      ...(limit === undefined ? {} : { limit }),
      ...(cursor === undefined ? {} : { cursor }),
    });
    return c.json({ rules: page.items.map(revenueRuleBody), nextCursor: page.nextCursor }, 200);
  });

  app.openapi(getRoute, async (c) => c.json(revenueRuleBody(await ledger.getRule(c.req.valid('param').id)), 200));

  app.openapi(auditRoute, async (c) => {
    const { id } = c.req.valid('param');
    const audit = await ledger.listRuleAudit(id);
    return c.json({ ruleId: id, audit: audit.map(auditEntryBody) }, 200);
  });
}
