import type { Audience } from '../context.js';
import { scopePattern } from './tokens.js';

/** Scopes of which an admin needs one to read the ledger (accounts, balances, lots, entries, holds, events, meters). */
export const ledgerReadScopes: readonly string[] = ['ledger:read', 'admin'];

/** Longest list of scopes one route may name (all-of or any-of). */
export const routeScopeCountMax = 16;

/** Options of one route group's requirement (`auth.require`, `ctx.guard`). */
export interface RequireAuthOptions {
  /** Scopes the principal must all hold (403 `insufficient_scope` otherwise). */
  scopes?: readonly string[];
  /** Scopes of which the principal must hold at least one (403 `insufficient_scope` otherwise). */
  anyScope?: readonly string[];
  /**
   * The audiences `scopes` and `anyScope` apply to; default every audience the route accepts. A token of another
   * accepted audience passes on its audience alone (users still only reach their own account, by the route's check).
   */
  scopedAudiences?: readonly Audience[];
}

/**
 * The requirement of a route that users and services reach by audience but admins only with one of `scopes`
 * (default {@link ledgerReadScopes}): an admin token without a scope reads nothing.
 *
 * @example
 * ```ts
 * ctx.guard(['arrakis-api', 'arrakis-internal', 'arrakis-admin'], adminNeedsAnyScope());
 * ctx.guard(['arrakis-admin'], adminNeedsAnyScope(['ledger:read', 'ledger:caps', 'admin']));
 * ```
 */
export function adminNeedsAnyScope(scopes: readonly string[] = ledgerReadScopes): RequireAuthOptions {
  return { anyScope: scopes, scopedAudiences: ['arrakis-admin'] };
}

/**
 * Checks a route's scope requirement when it is built (`auth.require` calls it).
 *
 * @throws {TypeError} naming the bad option: an empty `anyScope`, a malformed scope, a scoped audience the route
 *   does not accept, more than {@link routeScopeCountMax} scopes.
 * @example
 * ```ts
 * checkRequireAuthOptions(['arrakis-admin'], { anyScope: ['ledger:read', 'admin'] });
 * ```
 */
export function checkRequireAuthOptions(allowed: readonly Audience[], options: RequireAuthOptions): void {
  for (const [name, list] of [
    ['scopes', options.scopes],
    ['anyScope', options.anyScope],
  ] as const) {
    if (list === undefined) continue;
    if (list.length > routeScopeCountMax) throw new TypeError(`${name} lists more than ${routeScopeCountMax} scopes`);
    for (const scope of list) {
      if (!scopePattern.test(scope)) throw new TypeError(`${name}: invalid scope ${JSON.stringify(scope)}`);
    }
  }
  if (options.anyScope !== undefined && options.anyScope.length === 0) {
    throw new TypeError('anyScope must name at least one scope (omit it for none)');
  }
  for (const audience of options.scopedAudiences ?? []) {
    if (!allowed.includes(audience)) {
      throw new TypeError(`scopedAudiences: ${audience} is not one of the route's audiences (${allowed.join(', ')})`);
    }
  }
}

/**
 * The scopes `principal` lacks for `options`, as the `required` list of a 403 (`[]` when it may pass): every missing
 * `scopes` entry, or the `anyScope` alternatives joined with " or ".
 *
 * @example
 * ```ts
 * missingScopes({ audience: 'arrakis-admin', scopes: [] }, adminNeedsAnyScope()); // ['ledger:read or admin']
 * ```
 */
export function missingScopes(
  principal: { audience: Audience; scopes: readonly string[] },
  options: RequireAuthOptions,
): string[] {
  if (options.scopedAudiences !== undefined && !options.scopedAudiences.includes(principal.audience)) return [];
  const missing = (options.scopes ?? []).filter((scope) => !principal.scopes.includes(scope));
  const anyScope = options.anyScope;
  if (anyScope !== undefined && !anyScope.some((scope) => principal.scopes.includes(scope))) {
    missing.push(anyScope.join(' or '));
  }
  return missing;
}

/** The sentence route descriptions add for {@link adminNeedsAnyScope} with {@link ledgerReadScopes}. */
export const adminReadScopeNote = 'Admins need the scope `ledger:read` or `admin` (403 `insufficient_scope` without).';
