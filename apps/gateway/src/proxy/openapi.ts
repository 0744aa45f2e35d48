// The proxy's operations in `/openapi.json`: one per forwarded method on `/v1/upstreams/{id}/{path}`. The route itself
// is a plain Hono route (the body and answer belong to the upstream), so it is documented through the registry.
import { z } from '@hono/zod-openapi';
import type { GatewayApp } from '../deps.js';
import { authErrorResponses, ErrorBodySchema } from '../routes/schemas.js';
import type { UpstreamConfig } from '../upstreams-config.js';

const json = (description: string) => ({ description, content: { 'application/json': { schema: ErrorBodySchema } } });

/** The documented path of the proxy (Hono: `/v1/upstreams/:id/*`). */
export const upstreamDocPath = '/v1/upstreams/{id}/{path}';

const description =
  "Forwards the call to `{url}/{path}` of the configured upstream `id`, with the query string, method and body (streamed, at most the upstream's `bodyBytesMax`). Before forwarding, credit is held through the upstream's meter (sized by `X-Usage-Estimate` when sent) on the caller's account: a user's own, or the one a service names in `X-Account-Id`. The upstream receives, instead of the caller's `Authorization` and `Cookie`, a gateway-signed `Authorization: Bearer` token (`typ: upstream+jwt`, verifiable through `/.well-known/jwks.json`) with `aud` = the upstream id, `sub` = the account, `reservation_id`, `meter_id`, `meter_version`, `hold_micro`, the account's `anchor` when bound, and a lifetime within the hold's. The answer's status, headers and body are passed through as they stream. When the body ends, the hold is charged with the usage reported (the `X-Usage` response header, else the `usage` object of the JSON body or of the last SSE `data:` chunk carrying one), unless the upstream finalized it itself; with none, the upstream's `onMissingUsage` applies (release by default, or charge the whole hold). An upstream 4xx is passed through and the hold released; failures before the answer release the hold.";

function operation(method: string, ids: readonly string[]) {
  const hasBody = method !== 'get' && method !== 'delete';
  return {
    method: method as 'get',
    path: upstreamDocPath,
    tags: ['upstreams'],
    summary: `${method.toUpperCase()} through the metered proxy`,
    description,
    security: [{ bearerAuth: [] }],
    request: {
      params: z.object({
        id: z
          .enum(ids as [string, ...string[]])
          .openapi({ param: { name: 'id', in: 'path' }, description: 'A configured upstream.' }),
        path: z.string().openapi({
          param: { name: 'path', in: 'path' },
          description: 'The rest of the path (any number of segments), forwarded as sent.',
        }),
      }),
      headers: z.object({
        'x-account-id': z
          .string()
          .optional()
          .openapi({
            param: { name: 'x-account-id', in: 'header' },
            description: 'The account to charge: required with a service token; a user may name only their own.',
          }),
        'x-usage-estimate': z
          .string()
          .optional()
          .openapi({
            param: { name: 'x-usage-estimate', in: 'header' },
            description: 'Expected usage sizing the hold, e.g. `output_tokens=4000, input_tokens=1200`.',
            example: 'output_tokens=4000',
          }),
      }),
      ...(hasBody
        ? { body: { required: false, content: { '*/*': { schema: z.string().openapi({ format: 'binary' }) } } } }
        : {}),
    },
    responses: {
      200: {
        description:
          "The upstream's answer, any 2xx/3xx/4xx status, streamed as it arrives (`X-Request-Id` is the gateway's).",
      },
      400: json('`validation_failed`: a malformed `X-Usage-Estimate`, a missing `X-Account-Id` (service), a bad path.'),
      402: json(
        '`insufficient_credits` (with `PAYMENT-REQUIRED` and a credit pack offer when payments are on), `spend_cap_exceeded`, `account_in_debt`.',
      ),
      ...authErrorResponses,
      403: json('`forbidden` (a user naming another account), `identity_anchor_required`, `insufficient_scope`.'),
      404: json('`upstream_not_found`, `account_not_found`.'),
      413: json("`payload_too_large`: the body exceeds the upstream's `bodyBytesMax` (nothing is charged)."),
      502: json('`upstream_unavailable`: the upstream could not be reached, or failed (5xx) before its body.'),
      504: json('`upstream_timeout`: no response head within `firstByteTimeoutMs`, or the call passed `timeoutMs`.'),
    },
  };
}

/**
 * Adds the proxy's operations (GET, POST, PUT, PATCH, DELETE on `/v1/upstreams/{id}/{path}`) to the OpenAPI
 * document, `id` listing the configured upstreams.
 *
 * @example
 * ```ts
 * documentUpstreamRoutes(app, config.upstreams);
 * ```
 */
export function documentUpstreamRoutes(app: GatewayApp, upstreams: readonly UpstreamConfig[]): void {
  const ids = upstreams.map((upstream) => upstream.id);
  for (const method of ['get', 'post', 'put', 'patch', 'delete']) {
    app.openAPIRegistry.registerPath(operation(method, ids));
  }
}
