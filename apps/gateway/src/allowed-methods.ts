import type { Hono } from 'hono';
import { TrieRouter } from 'hono/router/trie-router';

/** Methods a route can be registered for and that `Allow` may list, in the order it lists them. */
export const routeMethods = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

/** One registered route as Hono lists it (`app.routes`). */
interface RegisteredRoute {
  method: string;
  path: string;
}

/**
 * The methods registered for a path, from the app's own route table, for a 405 answer's `Allow` header. Middleware
 * (`app.use`, method `ALL`) does not count; a GET route allows HEAD too (Hono answers HEAD with the GET handler).
 * The table is read again when routes were added since the last call.
 *
 * @example
 * ```ts
 * const allowedMethods = allowedMethodsOf(app);
 * app.notFound((c) => {
 *   const allowed = allowedMethods(c.req.path); // ['GET', 'HEAD'] for POST /v1/whoami, [] for an unknown path
 *   return allowed.length > 0 ? c.json({ error: 'method_not_allowed' }, 405, { Allow: allowed.join(', ') }) : c.notFound();
 * });
 * ```
 */
export function allowedMethodsOf(app: Pick<Hono, 'routes'>): (path: string) => string[] {
  let routeCount = -1;
  let router = new TrieRouter<string>();
  return function allowedMethods(path: string): string[] {
    if (app.routes.length !== routeCount) {
      router = routerOf(app.routes);
      routeCount = app.routes.length;
    }
    const allowed = new Set<string>();
    for (const method of routeMethods) {
      const [handlers] = router.match(method, path);
      if (handlers.length > 0) allowed.add(method);
    }
    if (allowed.has('GET')) allowed.add('HEAD');
    return routeMethods.filter((method) => allowed.has(method));
  };
}

function routerOf(routes: readonly RegisteredRoute[]): TrieRouter<string> {
  const router = new TrieRouter<string>();
  for (const route of routes) {
    const method = route.method.toUpperCase();
    if ((routeMethods as readonly string[]).includes(method)) router.add(method, route.path, method);
  }
  return router;
}
