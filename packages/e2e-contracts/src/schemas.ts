import { z } from 'zod';

/** The three token audiences the gateway accepts: users, services, admins. */
export const gatewayAudiences = ['arrakis-api', 'arrakis-internal', 'arrakis-admin'] as const;

/** One of {@link gatewayAudiences}. */
export type GatewayAudience = (typeof gatewayAudiences)[number];

/**
 * The one JSON error shape of the gateway: `{ error, message, details? }`; a 500 also carries `requestId`.
 *
 * @example
 * ```ts
 * const body = errorBodySchema.parse(await response.json());
 * if (body.error === 'token_expired') refreshToken();
 * ```
 */
export const errorBodySchema = z.object({
  error: z.string().regex(/^[a-z][a-z0-9_]*$/, 'error codes are lower_snake_case'),
  message: z.string().min(1),
  details: z.unknown().optional(),
  requestId: z.string().optional(),
});

/** A parsed {@link errorBodySchema}. */
export type ErrorBody = z.infer<typeof errorBodySchema>;

/**
 * `GET /health` (liveness): answers 200 while the process serves requests.
 *
 * @example
 * ```ts
 * healthBodySchema.parse({ status: 'ok' });
 * ```
 */
export const healthBodySchema = z.object({ status: z.literal('ok') });

/** A parsed {@link healthBodySchema}. */
export type HealthBody = z.infer<typeof healthBodySchema>;

/**
 * One dependency in `GET /ready`: its state, how long the check took, and why it failed.
 *
 * @example
 * ```ts
 * dependencyStateSchema.parse({ name: 'counters', status: 'up', latencyMs: 1 });
 * ```
 */
export const dependencyStateSchema = z.object({
  name: z.string().min(1),
  status: z.enum(['up', 'down']),
  latencyMs: z.number().nonnegative(),
  error: z.string().optional(),
});

/** A parsed {@link dependencyStateSchema}. */
export type DependencyState = z.infer<typeof dependencyStateSchema>;

/**
 * `GET /ready` (readiness): 200 `ready` when every dependency is up, 503 `not_ready` when one is down.
 *
 * @example
 * ```ts
 * const ready = readyBodySchema.parse(await (await fetch(`${baseUrl}/ready`)).json());
 * const down = ready.dependencies.filter((d) => d.status === 'down');
 * ```
 */
export const readyBodySchema = z.object({
  status: z.enum(['ready', 'not_ready']),
  dependencies: z.array(dependencyStateSchema),
});

/** A parsed {@link readyBodySchema}. */
export type ReadyBody = z.infer<typeof readyBodySchema>;

/**
 * `GET /v1/whoami` and `GET /v1/admin/whoami`: the principal the bearer token proved.
 *
 * @example
 * ```ts
 * const me = whoamiBodySchema.parse(body);
 * console.log(me.sub, me.audience, me.scopes);
 * ```
 */
export const whoamiBodySchema = z.object({
  sub: z.string().min(1),
  audience: z.enum(gatewayAudiences),
  scopes: z.array(z.string()),
  issuer: z.string().min(1),
  expiresAt: z.iso.datetime(),
});

/** A parsed {@link whoamiBodySchema}. */
export type WhoamiBody = z.infer<typeof whoamiBodySchema>;

/**
 * The parts of an OpenAPI 3.1 document the contract relies on: the version, `info` and `paths`.
 *
 * @example
 * ```ts
 * const doc = openApiDocumentSchema.parse(await (await fetch(`${baseUrl}/openapi.json`)).json());
 * Object.keys(doc.paths); // ['/health', '/ready', ...]
 * ```
 */
export const openApiDocumentSchema = z.object({
  openapi: z.string().regex(/^3\.1\.\d+$/, 'expected an OpenAPI 3.1.x document'),
  info: z.object({ title: z.string().min(1), version: z.string().min(1) }).loose(),
  paths: z.record(z.string(), z.record(z.string(), z.unknown())),
  components: z.record(z.string(), z.unknown()).optional(),
});

/** A parsed {@link openApiDocumentSchema}. */
export type OpenApiDocument = z.infer<typeof openApiDocumentSchema>;
