import { type IdentityError, identityErrorHttpStatus } from '@arrakis/identity-trust';
import type { Context } from 'hono';
import type { AppEnv } from '../context.js';
import type { ErrorBody } from '../errors.js';

/**
 * The answer to an error of @arrakis/identity-trust: its code and details, at the status of
 * `identityErrorHttpStatus` (400 input, 401 anchor token, 403 trust / four-eyes / wallet proof, 404, 409, 422 chain,
 * 503 chain RPC down). A 5xx is logged as a warning (503) or an error (500, a broken key configuration).
 *
 * @example
 * ```ts
 * if (error instanceof IdentityError) return identityErrorResponse(c, error);
 * ```
 */
export function identityErrorResponse(c: Context<AppEnv>, error: IdentityError): Response {
  const status = identityErrorHttpStatus[error.code];
  const logger = c.var.logger;
  if (status >= 500) {
    if (status === 503) logger.warn({ err: error, code: error.code }, error.message);
    else logger.error({ err: error, code: error.code }, error.message);
  } else {
    logger.info({ code: error.code, details: error.details }, error.message);
  }
  if (status === 500) {
    const body: ErrorBody = {
      error: 'internal_error',
      message: 'an internal error occurred; quote the request id when reporting it',
      requestId: c.var.requestId,
    };
    return c.json(body, 500);
  }
  const body: ErrorBody = { error: error.code, message: error.message, details: error.details };
  return c.json(body, status);
}
