// A tiny "sibling service" for tests/anchor-jwks.e2e.test.ts, run as its own process: it trusts anchor tokens only
// through the gateway's JWKS URL (jose createRemoteJWKSet, via @arrakis/identity-trust's createAnchorTokenVerifier).
// Environment: JWKS_URL, ISSUER, AUDIENCE, PORT (0 = any). Prints one JSON line {"msg":"listening","url":...}.
//
// POST /spend {accountId} with the anchor token in X-Anchor-Token:
//   200 {ok: true, accountId, anchor, kid}, or 401 {ok: false, error, reason} for a refused token,
//   or 503 {ok: false, error: 'jwks_unavailable'} when the JWKS cannot be fetched.
import { createAnchorTokenVerifier, IdentityError } from '@arrakis/identity-trust';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';

const { JWKS_URL, ISSUER, AUDIENCE } = process.env;
if (!JWKS_URL || !ISSUER || !AUDIENCE) {
  process.stderr.write('sibling-service: JWKS_URL, ISSUER and AUDIENCE are required\n');
  process.exit(1);
}

// An unknown kid (a key rotation at the gateway) refetches the JWKS at once: no cooldown in this test service.
const verifier = createAnchorTokenVerifier({
  jwksUrl: JWKS_URL,
  issuer: ISSUER,
  audience: AUDIENCE,
  jwksCooldownMs: 0,
});

const app = new Hono();
app.post('/spend', async (c) => {
  const token = c.req.header('x-anchor-token') ?? '';
  const { accountId } = await c.req.json();
  try {
    const claims = await verifier.verify(token, { accountId });
    return c.json({ ok: true, accountId: claims.accountId, anchor: claims.anchor, kid: claims.kid });
  } catch (error) {
    if (error instanceof IdentityError) {
      return c.json({ ok: false, error: error.code, reason: error.details.reason ?? null }, 401);
    }
    return c.json({ ok: false, error: 'jwks_unavailable', message: String(error) }, 503);
  }
});

const server = serve({ fetch: app.fetch, port: Number(process.env.PORT ?? '0'), hostname: '127.0.0.1' }, (info) => {
  process.stdout.write(`${JSON.stringify({ msg: 'listening', url: `http://127.0.0.1:${info.port}` })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
