import { z } from '@hono/zod-openapi';
import { audiences } from '../context.js';

/** The JSON error body of every non-2xx answer. */
export const ErrorBodySchema = z
  .object({
    error: z.string().openapi({ description: 'Stable lower_snake_case code.', example: 'invalid_token' }),
    message: z.string().openapi({ description: 'What went wrong, for humans.' }),
    details: z.unknown().optional().openapi({ description: 'Structured context (validation issues, limits...).' }),
    requestId: z.string().optional().openapi({ description: 'Present on 500s: quote it when reporting the bug.' }),
  })
  .openapi('ErrorBody');

const json = (description: string) => ({
  description,
  content: { 'application/json': { schema: ErrorBodySchema } },
});

/** Error answers shared by every route. */
export const commonErrorResponses = {
  429: json('Rate limited (`rate_limited`); see `Retry-After` and `RateLimit-*` headers.'),
  500: json('Bug (`internal_error`), with `requestId`.'),
  503: json('A dependency is down (`rate_limiter_unavailable`, `dependency_unavailable`, `auth_unavailable`).'),
} as const;

/** Error answers of authenticated routes. */
export const authErrorResponses = {
  ...commonErrorResponses,
  401: json(
    'Bearer token missing or rejected: `missing_token`, `invalid_token`, `token_expired`, `token_too_old`, `token_not_yet_valid`, `wrong_audience`, `wrong_issuer`, `unknown_key`.',
  ),
  403: json('Token valid but lacks a required scope (`insufficient_scope`).'),
} as const;

/** Error answer of routes that validate input. */
export const validationErrorResponse = { 400: json('Invalid input (`validation_failed`, `bad_request`).') } as const;

/** Who the token says the caller is. */
export const PrincipalSchema = z
  .object({
    sub: z.string().openapi({ example: 'alice' }),
    audience: z.enum(audiences),
    scopes: z.array(z.string()).openapi({ example: ['admin'] }),
    issuer: z.string().openapi({ example: 'arrakis-gateway' }),
    expiresAt: z.iso.datetime().openapi({ example: '2026-01-01T01:00:00.000Z' }),
  })
  .openapi('Principal');
