import { createRoute } from '@hono/zod-openapi';
import type { GatewayApp, RouteContext } from '../deps.js';
import { NotVerifiedAnchorSchema, VerifiedAnchorSchema, VerifyAnchorBodySchema } from './identity-schemas.js';
import { IdempotencyHeaderSchema } from './ledger-schemas.js';
import { authErrorResponses, ErrorBodySchema } from './schemas.js';

const json = (description: string) => ({ description, content: { 'application/json': { schema: ErrorBodySchema } } });

/**
 * Registers `POST /api/internal/verify-anchor` (services only): a live answer to "is this the account's current
 * anchor?", optionally re-reading `ownerOf` on chain. For operations above the trust threshold, where a stateless
 * anchor token could be stale after a rotation.
 *
 * @example
 * ```ts
 * registerInternalRoutes(app, routeContext);
 * ```
 */
export function registerInternalRoutes(app: GatewayApp, ctx: RouteContext): void {
  const { identity } = ctx.deps;

  const verifyRoute = createRoute({
    method: 'post',
    path: '/api/internal/verify-anchor',
    tags: ['internal'],
    summary: "Is this the account's current anchor? (services)",
    description:
      '200 `{verified: true, anchorHash, epoch, checkedAt}`, or 403 `{verified: false, reason}` with `reason` `no_anchor`, `anchor_mismatch` or `ownership_lost` (with `checkOwnership: true`, the NFT left its owner).',
    security: [{ bearerAuth: [] }],
    middleware: ctx.guard(['arrakis-internal']),
    request: {
      headers: IdempotencyHeaderSchema,
      body: { required: true, content: { 'application/json': { schema: VerifyAnchorBodySchema } } },
    },
    responses: {
      200: { description: 'Verified.', content: { 'application/json': { schema: VerifiedAnchorSchema } } },
      400: json('`validation_failed`, `invalid_anchor`, `invalid_argument` (checkOwnership without CHAIN_RPC_URL).'),
      ...authErrorResponses,
      403: {
        description: 'Not verified (or `insufficient_scope`).',
        content: { 'application/json': { schema: NotVerifiedAnchorSchema } },
      },
      503: json('`chain_unavailable`.'),
    },
  });

  app.openapi(verifyRoute, async (c) => {
    const body = c.req.valid('json');
    const result = await identity.service.verifyAnchor({
      accountId: body.accountId,
      anchor: body.anchor,
      checkOwnership: body.checkOwnership ?? false,
    });
    if (result.verified) {
      return c.json(
        {
          verified: true as const,
          anchorHash: result.anchor,
          epoch: result.epoch,
          ownershipChecked: result.ownershipChecked,
          checkedAt: result.checkedAt.toISOString(),
        },
        200,
      );
    }
    return c.json(
      {
        error: 'anchor_not_verified' as const,
        message: `the anchor is not verified for account ${JSON.stringify(body.accountId)}: ${result.reason}`,
        verified: false as const,
        reason: result.reason,
        checkedAt: result.checkedAt.toISOString(),
      },
      403,
    );
  });
}
