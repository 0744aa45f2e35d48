// What a proxied call is before anything is held: the upstream, the URL it goes to, the account it is charged to and
// the estimate that sizes its hold. Each refusal here costs nothing (no hold exists yet).
import type { Account, Ledger, Usage } from '@arrakis/billing-ledger';
import type { Principal } from '../context.js';
import { RequestValidationError } from '../errors.js';
import { accountFor } from '../routes/accounts.js';
import { ledgerIdMessage, ledgerIdPattern } from '../routes/ledger-schemas.js';
import type { UpstreamConfig } from '../upstreams-config.js';
import { ProxyError } from './errors.js';
import { forwardedPathLengthMax } from './limits.js';
import { parseUsageHeader, UsageFormatError } from './usage.js';

/** Header naming the account a service token's call is charged to. */
export const accountIdHeader = 'x-account-id';
/** Header sizing the hold with the expected usage (`output_tokens=4000, input_tokens=1200`). */
export const usageEstimateHeader = 'x-usage-estimate';
/** Path segments before the forwarded path: `/v1/upstreams/{id}`. */
const routeSegmentCount = 4;

/**
 * The configured upstream of `id`.
 *
 * @throws {ProxyError} `upstream_not_found` (404) naming the configured ids.
 */
export function upstreamOf(upstreams: readonly UpstreamConfig[], id: string): UpstreamConfig {
  const upstream = upstreams.find((candidate) => candidate.id === id);
  if (upstream !== undefined) return upstream;
  throw new ProxyError('upstream_not_found', `no upstream "${id.slice(0, 64)}" is configured`, {
    upstreams: upstreams.map((u) => u.id),
  });
}

function pathError(message: string, code: string): RequestValidationError {
  return new RequestValidationError('path', [{ path: 'path', message, code }]);
}

/**
 * The URL a call goes to: `{url}/{path...}` (the path as the caller sent it, still percent-encoded) with the query
 * string. A path that resolves outside the upstream's base path (`..` segments, encoded or not) is refused.
 *
 * @throws {RequestValidationError} `validation_failed` (400) for a path leaving the base or too long.
 * @example
 * ```ts
 * targetUrl({ url: 'http://127.0.0.1:9000/api' }, 'http://gw/v1/upstreams/llm/v1/chat?stream=true').href;
 * // 'http://127.0.0.1:9000/api/v1/chat?stream=true'
 * ```
 */
export function targetUrl(upstream: Pick<UpstreamConfig, 'url'>, requestUrl: string): URL {
  const incoming = new URL(requestUrl);
  const segments = incoming.pathname.split('/').slice(routeSegmentCount);
  const rest = segments.length === 0 ? '' : `/${segments.join('/')}`;
  if (rest.length + incoming.search.length > forwardedPathLengthMax) {
    throw pathError(`the forwarded path and query exceed ${forwardedPathLengthMax} characters`, 'path_too_long');
  }
  const base = new URL(upstream.url);
  const target = new URL(`${upstream.url}${rest}${incoming.search}`);
  const basePath = base.pathname.replace(/\/+$/, '');
  if (target.origin !== base.origin || !(target.pathname === basePath || target.pathname.startsWith(`${basePath}/`))) {
    throw pathError("the path leaves the upstream's base path", 'path_outside_upstream');
  }
  return target;
}

/**
 * The account a call is charged to: a service token names it in `X-Account-Id` (required); a user is charged on
 * their own account — the one `X-Account-Id` names when sent (it must be theirs), else their `user` account (created
 * empty on first use, so the answer is the usual 402 with a credit pack to buy).
 *
 * @throws {RequestValidationError} `validation_failed` (400): no or a malformed `X-Account-Id` for a service token.
 * @throws {ForbiddenError} `forbidden` (403): a user naming another account.
 * @throws {AccountNotFoundError} `account_not_found` (404).
 */
export async function callAccount(ledger: Ledger, principal: Principal, header: string | undefined): Promise<Account> {
  if (header !== undefined) {
    if (!ledgerIdPattern.test(header)) {
      throw new RequestValidationError('header', [
        { path: accountIdHeader, message: ledgerIdMessage, code: 'invalid_string' },
      ]);
    }
    return accountFor(ledger, principal, header);
  }
  if (principal.audience === 'arrakis-api') {
    return (await ledger.createAccount({ entityType: 'user', entityId: principal.sub })).account;
  }
  throw new RequestValidationError('header', [
    {
      path: accountIdHeader,
      message: 'a service token names the account to charge in X-Account-Id',
      code: 'account_id_required',
    },
  ]);
}

/**
 * The expected usage of `X-Usage-Estimate` (`output_tokens=4000, input_tokens=1200`), or undefined without one.
 *
 * @throws {RequestValidationError} `validation_failed` (400) for a malformed or over-long header (`parseUsageHeader`).
 */
export function usageEstimateOf(header: string | undefined): Usage | undefined {
  if (header === undefined || header.trim() === '') return undefined;
  const invalid = (message: string) =>
    new RequestValidationError('header', [{ path: usageEstimateHeader, message, code: 'invalid_usage_estimate' }]);
  try {
    return parseUsageHeader(header) ?? undefined;
  } catch (error) {
    if (error instanceof UsageFormatError) throw invalid(error.message);
    throw error;
  }
}

/**
 * A request body over the upstream's limit, known from `Content-Length` before anything is held.
 *
 * @throws {ProxyError} `payload_too_large` (413).
 */
export function checkDeclaredLength(upstream: UpstreamConfig, contentLength: string | undefined): void {
  if (contentLength === undefined || !/^\d{1,16}$/.test(contentLength.trim())) return;
  if (Number(contentLength) <= upstream.bodyBytesMax) return;
  throw new ProxyError('payload_too_large', `the request body exceeds ${upstream.bodyBytesMax} bytes`, {
    upstream: upstream.id,
    bodyBytesMax: upstream.bodyBytesMax,
  });
}

/** A call on a method that carries no body. */
export function methodHasBody(method: string): boolean {
  return method !== 'GET' && method !== 'HEAD';
}
