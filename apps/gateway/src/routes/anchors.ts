import { deriveAnchor, issueAnchorToken, RotationNotFoundError, verifyWalletProof } from '@arrakis/identity-trust';
import { createRoute, z } from '@hono/zod-openapi';
import type { GatewayApp, RouteContext } from '../deps.js';
import { GatewayError } from '../errors.js';
import { accountFor } from './accounts.js';
import {
  AnchorSchema,
  AnchorTokenSchema,
  ApprovedRotationSchema,
  AuditListSchema,
  anchorBody,
  auditBody,
  BindAnchorBodySchema,
  nftOf,
  RotationRequestBodySchema,
  RotationSchema,
  rotationBody,
} from './identity-schemas.js';
import { IdempotencyHeaderSchema, idParamSchema, ledgerIdSchema, writeOptions } from './ledger-schemas.js';
import { authErrorResponses, ErrorBodySchema, validationErrorResponse } from './schemas.js';

/** Scopes of which an admin needs one to bind anchors and to request or approve rotations. */
export const identityAdminScopes: readonly string[] = ['identity:admin', 'admin'];
/** Most audit rows `GET /v1/accounts/{id}/anchor/audit` answers. */
export const anchorAuditLimitMax = 1000;

const json = (description: string) => ({ description, content: { 'application/json': { schema: ErrorBodySchema } } });

/** The guard options of the identity writes: an admin needs one of {@link identityAdminScopes} (users do not). */
const identityAdminGuard = { anyScope: identityAdminScopes, scopedAudiences: ['arrakis-admin'] } as const;

/**
 * A user binds with a wallet proof, which needs the on-chain ownership check: 403 `wallet_proof_required` without
 * one, 503 `ownership_check_unavailable` without `CHAIN_RPC_URL`. Admins need neither.
 */
function assertMayBind(
  ctx: RouteContext,
  audience: string,
  body: { siweMessage?: string | undefined; signature?: string | undefined },
): void {
  if (audience !== 'arrakis-api') return;
  if (body.siweMessage === undefined || body.signature === undefined) {
    throw new GatewayError(
      'wallet_proof_required',
      403,
      'a user binds an anchor with a wallet proof: siweMessage signed by ownerAddress, and its signature',
    );
  }
  if (ctx.deps.identity.ownership === undefined) {
    throw new GatewayError(
      'ownership_check_unavailable',
      503,
      'binding by a user needs an on-chain ownership check, and no CHAIN_RPC_URL is configured; ask an admin',
    );
  }
}

const rotationIdParamSchema = z.object({
  rid: ledgerIdSchema('rot_5f0c…').openapi({ param: { name: 'rid', in: 'path' } }),
});

/**
 * Registers the anchor routes (DESIGN.md §7): `POST|GET /v1/accounts/{id}/anchor`,
 * `POST /v1/accounts/{id}/anchor/rotations`, `POST /v1/anchor-rotations/{rid}/approve`,
 * `GET /v1/anchor-rotations/{rid}`, `GET /v1/accounts/{id}/anchor/audit` and `POST /v1/accounts/{id}/anchor-token`.
 *
 * @example
 * ```ts
 * registerAnchorRoutes(app, routeContext);
 * ```
 */
export function registerAnchorRoutes(app: GatewayApp, ctx: RouteContext): void {
  const { ledger, identity, clock, config } = ctx.deps;

  const bindRoute = createRoute({
    method: 'post',
    path: '/v1/accounts/{id}/anchor',
    tags: ['anchors'],
    summary: 'Bind an identity anchor (an NFT and its owner) to an account',
    description:
      'Admins (scope `identity:admin` or `admin`) bind any account; a user binds their own with a wallet proof (`siweMessage` signed by `ownerAddress`), which needs `CHAIN_RPC_URL` (ownership is read on chain). With `CHAIN_RPC_URL`, `ownerOf` must be `ownerAddress` for admins too. 201 when bound, 200 when it already was (idempotent). With `Idempotency-Key`, a repeat by the same caller with the same account and NFT answers the first answer (status and body) without checking the wallet proof or the chain again; the wallet proof is not part of the request the key names.',
    security: [{ bearerAuth: [] }],
    middleware: ctx.guard(['arrakis-api', 'arrakis-admin'], identityAdminGuard),
    request: {
      params: idParamSchema('acc_01J0Z3'),
      headers: IdempotencyHeaderSchema,
      body: { required: true, content: { 'application/json': { schema: BindAnchorBodySchema } } },
    },
    responses: {
      201: { description: 'Bound.', content: { 'application/json': { schema: AnchorSchema } } },
      200: { description: 'It was already bound.', content: { 'application/json': { schema: AnchorSchema } } },
      400: json('`validation_failed`, `invalid_address` (bad checksum), `invalid_argument`.'),
      ...authErrorResponses,
      403: json(
        '`forbidden` (not your account), `wallet_proof_required`, `wallet_proof_invalid` (with `details.reason`, e.g. `nonce_reused`, `wrong_domain`), `ownership_not_verified`, `insufficient_scope`.',
      ),
      404: json('`account_not_found`.'),
      409: json(
        '`anchor_in_use` (the anchor or its NFT is bound to another account), `account_already_anchored`, `idempotency_key_reused` (the Idempotency-Key was used with another body).',
      ),
      422: json('`unsupported_chain`: the configured RPC serves another chain.'),
      503: json('`ownership_check_unavailable` (no `CHAIN_RPC_URL` for a user binding), `chain_unavailable`.'),
    },
  });

  const getRoute = createRoute({
    method: 'get',
    path: '/v1/accounts/{id}/anchor',
    tags: ['anchors'],
    summary: "An account's anchor",
    security: [{ bearerAuth: [] }],
    middleware: ctx.guard(['arrakis-api', 'arrakis-internal', 'arrakis-admin'], {
      anyScope: ['ledger:read', ...identityAdminScopes],
      scopedAudiences: ['arrakis-admin'],
    }),
    request: { params: idParamSchema('acc_01J0Z3') },
    responses: {
      200: { description: 'The anchor.', content: { 'application/json': { schema: AnchorSchema } } },
      ...validationErrorResponse,
      ...authErrorResponses,
      403: json('`forbidden`: not your account.'),
      404: json('`account_not_found`, `anchor_not_found`.'),
    },
  });

  const requestRotationRoute = createRoute({
    method: 'post',
    path: '/v1/accounts/{id}/anchor/rotations',
    tags: ['anchors'],
    summary: 'Request an anchor rotation (four eyes, step 1)',
    description:
      'By an admin who did not create the current anchor. Another admin (not the requester, not the creator) approves it within `ANCHOR_ROTATION_TTL_SECONDS` (24 h by default). Repeating the same request answers the pending one; with `Idempotency-Key`, a repeat answers the first answer.',
    security: [{ bearerAuth: [] }],
    middleware: ctx.guard(['arrakis-admin'], identityAdminGuard),
    request: {
      params: idParamSchema('acc_01J0Z3'),
      headers: IdempotencyHeaderSchema,
      body: { required: true, content: { 'application/json': { schema: RotationRequestBodySchema } } },
    },
    responses: {
      202: { description: 'Pending approval.', content: { 'application/json': { schema: RotationSchema } } },
      400: json('`validation_failed`, `invalid_address`, `invalid_argument` (the new anchor is the current one).'),
      ...authErrorResponses,
      403: json(
        '`four_eyes_violation` (the requester created the anchor), `ownership_not_verified`, `insufficient_scope`.',
      ),
      404: json('`account_not_found`, `anchor_not_found`.'),
      409: json('`anchor_in_use`, `rotation_pending` (another request is pending), `idempotency_key_reused`.'),
    },
  });

  const approveRoute = createRoute({
    method: 'post',
    path: '/v1/anchor-rotations/{rid}/approve',
    tags: ['anchors'],
    summary: 'Approve an anchor rotation (four eyes, step 2)',
    description:
      'By an admin who is neither the requester nor the creator of the current anchor. The anchor changes and its epoch moves on; the audit keeps both actors, both times and the first 8 hex digits of both anchors. With `Idempotency-Key`, a repeat answers the first answer.',
    security: [{ bearerAuth: [] }],
    middleware: ctx.guard(['arrakis-admin'], identityAdminGuard),
    request: { params: rotationIdParamSchema, headers: IdempotencyHeaderSchema },
    responses: {
      200: { description: 'Approved.', content: { 'application/json': { schema: ApprovedRotationSchema } } },
      ...validationErrorResponse,
      ...authErrorResponses,
      403: json('`four_eyes_violation`, `ownership_not_verified`, `insufficient_scope`.'),
      404: json('`rotation_not_found`.'),
      409: json(
        '`rotation_expired`, `rotation_not_pending`, `anchor_in_use`, `anchor_changed`, `idempotency_key_reused` (the key was used to approve another rotation).',
      ),
    },
  });

  const getRotationRoute = createRoute({
    method: 'get',
    path: '/v1/anchor-rotations/{rid}',
    tags: ['anchors'],
    summary: 'A rotation request',
    security: [{ bearerAuth: [] }],
    middleware: ctx.guard(['arrakis-admin'], identityAdminGuard),
    request: { params: rotationIdParamSchema },
    responses: {
      200: { description: 'The rotation.', content: { 'application/json': { schema: RotationSchema } } },
      ...validationErrorResponse,
      ...authErrorResponses,
      404: json('`rotation_not_found`.'),
    },
  });

  const auditRoute = createRoute({
    method: 'get',
    path: '/v1/accounts/{id}/anchor/audit',
    tags: ['anchors'],
    summary: "An account's anchor audit, oldest first",
    security: [{ bearerAuth: [] }],
    middleware: ctx.guard(['arrakis-admin'], identityAdminGuard),
    request: { params: idParamSchema('acc_01J0Z3') },
    responses: {
      200: { description: 'The audit rows.', content: { 'application/json': { schema: AuditListSchema } } },
      ...validationErrorResponse,
      ...authErrorResponses,
    },
  });

  const tokenRoute = createRoute({
    method: 'post',
    path: '/v1/accounts/{id}/anchor-token',
    tags: ['anchors'],
    summary: 'An anchor token (a short-lived JWT with the anchor claim)',
    description:
      "For the account's user or a service. ES256/EdDSA, `kid`, `iss`, `aud` = `ANCHOR_TOKEN_AUDIENCE`, `sub` = account id, `anchor`, `anc_epoch`, lifetime `ANCHOR_TOKEN_TTL_SECONDS` (at most 10 minutes). Verify it with `/.well-known/jwks.json`. Writes nothing, so a retry is safe: each call issues a new token (no `Idempotency-Key`).",
    security: [{ bearerAuth: [] }],
    middleware: ctx.guard(['arrakis-api', 'arrakis-internal']),
    request: { params: idParamSchema('acc_01J0Z3') },
    responses: {
      200: { description: 'The token.', content: { 'application/json': { schema: AnchorTokenSchema } } },
      ...validationErrorResponse,
      ...authErrorResponses,
      403: json('`forbidden`: not your account.'),
      404: json('`account_not_found`, `anchor_not_found`.'),
    },
  });

  app.openapi(bindRoute, async (c) => {
    const principal = c.var.principal;
    const body = c.req.valid('json');
    const account = await accountFor(ledger, principal, c.req.valid('param').id);
    const input = { accountId: account.id, nft: nftOf(body), actor: principal.sub };
    const options = writeOptions(principal, c.req.valid('header'));
    assertMayBind(ctx, principal.audience, body);
    // A repeat under its key answers first: its wallet proof's nonce was claimed by the first request.
    const replay = await identity.service.findBindReplay(input, options);
    if (replay !== null)
      return replay.created ? c.json(anchorBody(replay.record), 201) : c.json(anchorBody(replay.record), 200);
    if (body.siweMessage !== undefined || body.signature !== undefined) {
      await verifyWalletProof({
        message: body.siweMessage ?? '',
        signature: body.signature ?? '',
        expected: {
          domain: identity.config.siwe.domain,
          ...(identity.config.siwe.scheme === undefined ? {} : { scheme: identity.config.siwe.scheme }),
          address: body.ownerAddress,
          chainId: body.chainId,
          accountId: account.id,
          anchor: deriveAnchor(input.nft),
        },
        nonces: identity.nonces,
        clock,
      });
    }
    const { record, created } = await identity.service.bindAnchor(input, options);
    return created ? c.json(anchorBody(record), 201) : c.json(anchorBody(record), 200);
  });

  app.openapi(getRoute, async (c) => {
    const account = await accountFor(ledger, c.var.principal, c.req.valid('param').id);
    return c.json(anchorBody(await identity.service.requireAnchor(account.id)), 200);
  });

  app.openapi(requestRotationRoute, async (c) => {
    const body = c.req.valid('json');
    const account = await accountFor(ledger, c.var.principal, c.req.valid('param').id);
    const rotation = await identity.service.requestRotation(
      { accountId: account.id, nft: nftOf(body), actor: c.var.principal.sub, reason: body.reason ?? null },
      writeOptions(c.var.principal, c.req.valid('header')),
    );
    return c.json(rotationBody(rotation), 202);
  });

  app.openapi(approveRoute, async (c) => {
    const { rotation, anchor } = await identity.service.approveRotation(
      { rotationId: c.req.valid('param').rid, actor: c.var.principal.sub },
      writeOptions(c.var.principal, c.req.valid('header')),
    );
    return c.json({ ...rotationBody(rotation), anchor: anchorBody(anchor) }, 200);
  });

  app.openapi(getRotationRoute, async (c) => {
    const rid = c.req.valid('param').rid;
    const rotation = await identity.service.getRotation(rid);
    if (rotation === null) throw new RotationNotFoundError(rid);
    return c.json(rotationBody(rotation), 200);
  });

  app.openapi(auditRoute, async (c) => {
    const rows = await identity.service.listAudit(c.req.valid('param').id, { limit: anchorAuditLimitMax });
    return c.json({ audit: rows.map(auditBody) }, 200);
  });

  app.openapi(tokenRoute, async (c) => {
    const account = await accountFor(ledger, c.var.principal, c.req.valid('param').id);
    const record = await identity.service.requireAnchor(account.id);
    const { token, expiresAtMs } = await issueAnchorToken({
      key: identity.keys.signingKey,
      issuer: config.jwt.issuer,
      audience: identity.config.anchorTokens.audience,
      accountId: account.id,
      anchor: record.anchor,
      epoch: record.epoch,
      ttlSeconds: identity.config.anchorTokens.ttlSeconds,
      nowMs: clock.nowMs(),
    });
    return c.json({ token, expiresAt: new Date(expiresAtMs).toISOString() }, 200);
  });
}
