import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { ZodError } from 'zod';

/** Codes of 401 answers: every way a bearer token can fail. */
export type AuthenticationErrorCode =
  | 'missing_token'
  | 'invalid_token'
  | 'token_expired'
  | 'token_too_old'
  | 'token_not_yet_valid'
  | 'wrong_audience'
  | 'wrong_issuer'
  | 'unknown_key';

/** Every stable error code the gateway answers with (`{ error: code }`). */
export type GatewayErrorCode =
  | 'validation_failed'
  | 'bad_request'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | AuthenticationErrorCode
  | 'insufficient_scope'
  | 'forbidden'
  | 'terms_not_allowed'
  | 'not_found'
  | 'method_not_allowed'
  | 'rate_limited'
  | 'rate_limiter_unavailable'
  | 'dependency_unavailable'
  | 'auth_unavailable'
  | 'wallet_proof_required'
  | 'ownership_check_unavailable'
  | 'internal_error';

/** The one JSON error body: `{ error, message, details? }` (+ `requestId` on a 500). */
export interface ErrorBody {
  error: string;
  message: string;
  details?: unknown;
  requestId?: string;
}

/**
 * Base error of the gateway: a stable `code`, the HTTP `status` it maps to, a message for the client and optional
 * `details`. `app.onError` turns it into the JSON error body; anything else becomes a bare 500.
 *
 * @example
 * ```ts
 * throw new GatewayError('not_found', 404, 'account "acc_1" does not exist');
 * ```
 */
export class GatewayError extends Error {
  override readonly name: string = 'GatewayError';
  readonly code: GatewayErrorCode;
  readonly status: ContentfulStatusCode;
  readonly details: unknown;
  constructor(
    code: GatewayErrorCode,
    status: ContentfulStatusCode,
    message: string,
    options: { details?: unknown; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = status;
    this.details = options.details;
  }

  /** The JSON body of this error. */
  toBody(): ErrorBody {
    return this.details === undefined
      ? { error: this.code, message: this.message }
      : { error: this.code, message: this.message, details: this.details };
  }
}

/** One input problem of a 400 `validation_failed`. */
export interface ValidationIssue {
  /** Dotted path in the validated part, e.g. `body.amountMicro` or `query.limit`. */
  path: string;
  message: string;
  code: string;
}

/**
 * 400 `validation_failed`: the request's params, query, headers or body broke the route's schema.
 *
 * @example
 * ```ts
 * throw RequestValidationError.fromZod('query', zodError);
 * ```
 */
export class RequestValidationError extends GatewayError {
  override readonly name = 'RequestValidationError';
  readonly issues: ValidationIssue[];
  constructor(target: string, issues: ValidationIssue[]) {
    const first = issues[0];
    super(
      'validation_failed',
      400,
      first === undefined
        ? `invalid ${target}`
        : `invalid ${target}: ${first.path === '' ? '' : `${first.path}: `}${first.message}${issues.length > 1 ? ` (and ${issues.length - 1} more)` : ''}`,
      { details: { target, issues } },
    );
    this.issues = issues;
  }

  /** Maps a zod error on one request part (`json`, `query`, `param`, `header`...) to the 400 body. */
  static fromZod(target: string, error: ZodError): RequestValidationError {
    const issues = error.issues.slice(0, validationIssuesMax).map((issue) => ({
      path: issue.path.map(String).join('.'),
      message: issue.message,
      // A custom check names its rule (e.g. `invalid_amount` from the ledger's wire parser) in `params.code`.
      code: issue.code === 'custom' && typeof issue.params?.code === 'string' ? issue.params.code : String(issue.code),
    }));
    return new RequestValidationError(target === 'json' ? 'body' : target, issues);
  }
}

/** Most validation issues listed in one 400 answer. */
export const validationIssuesMax = 20;

/**
 * 401: the bearer token is missing or unacceptable. The code says which rule failed.
 *
 * @example
 * ```ts
 * throw new AuthenticationError('token_expired', 'the token expired at 2026-01-01T00:00:00.000Z');
 * ```
 */
export class AuthenticationError extends GatewayError {
  override readonly name = 'AuthenticationError';
  declare readonly code: AuthenticationErrorCode;
  constructor(code: AuthenticationErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(code, 401, message, options);
  }
}

/**
 * 403 `insufficient_scope`: the token is valid but lacks a scope the route requires.
 *
 * @example
 * ```ts
 * throw new InsufficientScopeError(['rules:approve'], ['rules:read']);
 * ```
 */
export class InsufficientScopeError extends GatewayError {
  override readonly name = 'InsufficientScopeError';
  constructor(required: readonly string[], granted: readonly string[]) {
    super('insufficient_scope', 403, `this route requires the scope(s) ${required.join(', ')}`, {
      details: { required, granted },
    });
  }
}

/**
 * 403 `forbidden`: the token is valid but the principal may not act on this resource (a user reading or spending
 * from an account that is not theirs).
 *
 * @example
 * ```ts
 * throw new ForbiddenError('account "acc_2" does not belong to the caller');
 * ```
 */
export class ForbiddenError extends GatewayError {
  override readonly name = 'ForbiddenError';
  constructor(message: string, options: { details?: unknown } = {}) {
    super('forbidden', 403, message, options);
  }
}

/**
 * 403 `terms_not_allowed`: a user token (`arrakis-api`) set charge terms (`amountMicro`, `billingMode`, `poolId`,
 * `ttlSeconds`) on a reserve. Users reserve through a meter only: the operator owns the terms. Nothing was held.
 *
 * @example
 * ```ts
 * throw new TermsNotAllowedError(['amountMicro', 'billingMode']);
 * ```
 */
export class TermsNotAllowedError extends GatewayError {
  override readonly name = 'TermsNotAllowedError';
  constructor(fields: readonly string[]) {
    super(
      'terms_not_allowed',
      403,
      `a user token may not set ${fields.join(', ')}: reserve through a meter ({accountId, meterId, estimate?})`,
      { details: { fields } },
    );
  }
}

/**
 * 503: a dependency the request needs is down (`dependency_unavailable`, or `auth_unavailable` for the key set).
 *
 * @example
 * ```ts
 * throw new DependencyUnavailableError('dependency_unavailable', 'counters', cause);
 * ```
 */
export class DependencyUnavailableError extends GatewayError {
  override readonly name = 'DependencyUnavailableError';
  constructor(code: 'dependency_unavailable' | 'auth_unavailable', dependency: string, cause?: unknown) {
    super(code, 503, `dependency "${dependency}" is unavailable; retry later`, { details: { dependency }, cause });
  }
}

/** Default error code of an HTTP status (used for hono's HTTPException and other bare statuses). */
export function codeForStatus(status: number): GatewayErrorCode {
  switch (status) {
    case 400:
      return 'bad_request';
    case 401:
      return 'invalid_token';
    case 403:
      return 'insufficient_scope';
    case 404:
      return 'not_found';
    case 405:
      return 'method_not_allowed';
    case 413:
      return 'payload_too_large';
    case 415:
      return 'unsupported_media_type';
    case 429:
      return 'rate_limited';
    case 503:
      return 'dependency_unavailable';
    default:
      return status >= 500 ? 'internal_error' : 'bad_request';
  }
}
