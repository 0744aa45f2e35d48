import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { GatewayApp, RouteContext } from '../deps.js';
import { GatewayError } from '../errors.js';

/** Title of the OpenAPI document and the docs page. */
export const apiTitle = 'arrakis-economy gateway';

/** Files of swagger-ui-dist served under `/docs/assets/`, with their content types. Nothing else is readable. */
export const docsAssets: Readonly<Record<string, string>> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
};

const initScript = `window.addEventListener('load', function () {
  window.ui = SwaggerUIBundle({
    url: new URL('openapi.json', document.baseURI).href,
    dom_id: '#swagger-ui',
    deepLinking: true,
    persistAuthorization: false,
  });
});
`;

// Relative URLs: the page keeps working when the gateway is served under a path prefix.
const docsHtml = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>${apiTitle} — API docs</title>
    <link rel="stylesheet" href="docs/assets/swagger-ui.css" />
    <link rel="icon" type="image/png" href="docs/assets/favicon-32x32.png" />
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="docs/assets/swagger-ui-bundle.js"></script>
    <script src="docs/init.js"></script>
  </body>
</html>
`;

// Everything the page loads comes from this origin; swagger-ui needs inline styles and data: images.
const contentSecurityPolicy =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'";

const assetCache = new Map<string, Uint8Array>();
let packageVersion: string | undefined;

function swaggerUiDirectory(): string {
  const require = createRequire(import.meta.url);
  return dirname(require.resolve('swagger-ui-dist/package.json'));
}

function gatewayVersion(): string {
  if (packageVersion === undefined) {
    // src/routes/docs.ts in tests, dist/server.js once bundled: look up the nearest package.json of the gateway.
    const require = createRequire(import.meta.url);
    for (const candidate of ['../package.json', '../../package.json']) {
      try {
        const pkg = require(candidate) as { name?: string; version?: string };
        if (pkg.name === '@arrakis/gateway' && typeof pkg.version === 'string') {
          packageVersion = pkg.version;
          break;
        }
      } catch {
        // Not at this depth.
      }
    }
    packageVersion ??= '0.0.0';
  }
  return packageVersion;
}

async function readAsset(name: string): Promise<Uint8Array> {
  const cached = assetCache.get(name);
  if (cached !== undefined) return cached;
  const bytes = new Uint8Array(await readFile(join(swaggerUiDirectory(), name)));
  assetCache.set(name, bytes);
  return bytes;
}

/**
 * Registers `/openapi.json` (OpenAPI 3.1, generated from the route definitions) and `/docs`, an interactive
 * Swagger UI page whose scripts and styles are served from the installed `swagger-ui-dist` package, so it works
 * offline.
 *
 * @example
 * ```ts
 * registerDocsRoutes(app, routeContext);
 * ```
 */
export function registerDocsRoutes(app: GatewayApp, _ctx: RouteContext): void {
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description:
      'ES256 or EdDSA JWT with iss, aud (arrakis-api | arrakis-internal | arrakis-admin), sub, iat, exp. In development: `pnpm run token --aud arrakis-admin --sub alice --scope admin`.',
  });

  app.doc31('/openapi.json', () => ({
    openapi: '3.1.0',
    info: {
      title: apiTitle,
      version: gatewayVersion(),
      description:
        'The money layer of a paid API: credits, holds, payments, identity and rate limits. Errors are `{ error, message, details? }` with stable codes.',
    },
    tags: [
      { name: 'probes', description: 'Liveness, readiness and metrics.' },
      { name: 'auth', description: 'Who the bearer token says the caller is.' },
      { name: 'accounts', description: 'Accounts, balances, lots, journal entries and admin grants.' },
      { name: 'meters', description: 'The price book: meters and their versions (operator-owned charge terms).' },
      {
        name: 'reservations',
        description: 'Holds: reserve (raw or through a meter), finalize (by cost or usage), release.',
      },
      { name: 'events', description: 'The outbox feed of economic events.' },
      { name: 'anchors', description: 'Identity anchors, four-eyes rotations, anchor tokens and their JWKS.' },
      { name: 'internal', description: 'Service-to-service checks (verify-anchor).' },
    ],
  }));

  app.get('/docs', (c) => {
    c.header('Content-Security-Policy', contentSecurityPolicy);
    c.header('Cache-Control', 'no-cache');
    return c.html(docsHtml);
  });

  app.get('/docs/init.js', (c) => {
    c.header('Content-Type', 'text/javascript; charset=utf-8');
    c.header('Cache-Control', 'public, max-age=3600');
    return c.body(initScript);
  });

  app.get('/docs/assets/:file', async (c) => {
    const file = c.req.param('file');
    const contentType = Object.hasOwn(docsAssets, file) ? docsAssets[file] : undefined;
    if (contentType === undefined)
      throw new GatewayError('not_found', 404, `no docs asset named ${JSON.stringify(file)}`);
    const bytes = await readAsset(file);
    c.header('Content-Type', contentType);
    c.header('Cache-Control', 'public, max-age=86400');
    return c.body(bytes);
  });
}
