import type { Context, MiddlewareHandler } from 'hono';
import { createRemoteJWKSet, customFetch, errors, type JWTVerifyGetKey } from 'jose';
import { InvalidArgumentError, quoteValue } from '../errors.js';
import { type Clock, systemClock } from '../ports/clock.js';
import {
  type UpstreamClaims,
  UpstreamTokenExpiredError,
  UpstreamTokenInvalidError,
  upstreamTokenClockToleranceSecondsMax,
  upstreamTokenLengthMax,
  verifyUpstreamToken,
} from '../tokens/upstream-token.js';

/** Default timeout of one JWKS fetch, in ms. */
export const jwksTimeoutMsDefault = 5000;
/** Longest JWKS fetch timeout accepted, in ms. */
export const jwksTimeoutMsMax = 60_000;
/** Default time a fetched JWKS is used before it is fetched again, in ms (10 minutes). */
export const jwksCacheMaxAgeMsDefault = 600_000;
/** Longest JWKS cache age accepted, in ms (one day). */
export const jwksCacheMaxAgeMsMax = 86_400_000;
/** Default least time between two fetches caused by an unknown `kid` (a key rotation), in ms. */
export const jwksCooldownMsDefault = 30_000;
/** Longest cooldown accepted, in ms (10 minutes). */
export const jwksCooldownMsMax = 600_000;
/** Seconds a 503 `jwks_unavailable` tells the caller to wait (`Retry-After`). */
export const jwksRetryAfterSeconds = 5;
/** Longest `Authorization` header read, in characters (`Bearer ` + the longest token). */
export const authorizationLengthMax = upstreamTokenLengthMax + 16;

/** Codes of the JSON bodies {@link upstreamAuth} answers with. */
export type UpstreamAuthErrorCode =
  | 'missing_token'
  | 'invalid_token'
  | 'token_expired'
  | 'wrong_audience'
  | 'jwks_unavailable';

/** JSON body of a 401 or 503 from {@link upstreamAuth}. */
export interface UpstreamAuthErrorBody {
  error: UpstreamAuthErrorCode;
  message: string;
  details?: Record<string, unknown>;
}

/** Context variables set by {@link upstreamAuth}. */
export interface UpstreamAuthVariables {
  /** The verified claims of the gateway's upstream token. */
  upstream: UpstreamClaims;
}

/** Hono environment of {@link upstreamAuth}: `c.get('upstream')` is typed. */
export interface UpstreamAuthEnv {
  Variables: UpstreamAuthVariables;
}

/** A fetch for the JWKS (default the global `fetch`); jose calls it with a GET, `redirect: 'manual'` and a signal. */
export type JwksFetch = (url: string, init: RequestInit) => Promise<Response>;

/** Options of {@link upstreamAuth}. */
export interface UpstreamAuthOptions {
  /** The gateway's JWKS, e.g. `https://gateway.example/.well-known/jwks.json` (http or https). */
  jwksUrl: string | URL;
  /** The gateway's issuer name (`iss`), e.g. `arrakis-gateway`. */
  issuer: string;
  /** This upstream's id (the token's `aud`). */
  audience: string;
  /** Clock skew tolerated on `exp`, `nbf`, `iat`: 0 … 300 s; default 5. */
  clockToleranceSeconds?: number;
  /** Fetch used for the JWKS; default the global `fetch`. */
  fetch?: JwksFetch;
  /** Time source of token expiry; default the wall clock. */
  clock?: Clock;
  /** Timeout of one JWKS fetch: 1 … 60 000 ms; default 5000. */
  jwksTimeoutMs?: number;
  /** How long a fetched JWKS is used before it is fetched again: 0 … 1 day in ms; default 10 minutes. */
  jwksCacheMaxAgeMs?: number;
  /** Least time between two fetches caused by an unknown `kid`: 0 … 10 minutes in ms; default 30 s. */
  jwksCooldownMs?: number;
}

/** The JWKS could not be fetched or read: not the token's fault. */
class JwksUnavailable extends Error {
  override readonly name = 'JwksUnavailable';
}

function checkRange(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(
      `upstreamAuth(): ${name} ${quoteValue(value)} must be an integer in [${min}, ${max}]`,
      {
        details: { field: name },
      },
    );
  }
  return value;
}

function checkText(name: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 256 || value.trim() !== value) {
    throw new InvalidArgumentError(`upstreamAuth(): ${name} ${quoteValue(value)} must be 1-256 characters`, {
      details: { field: name },
    });
  }
  return value;
}

function jwksUrlOf(value: unknown): URL {
  let url: URL;
  try {
    url = new URL(String(value));
  } catch (cause) {
    throw new InvalidArgumentError(`upstreamAuth(): jwksUrl ${quoteValue(String(value))} is not a URL`, { cause });
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new InvalidArgumentError(`upstreamAuth(): jwksUrl ${quoteValue(url.href)} must be an http(s) URL`);
  }
  return url;
}

/** The remote JWKS resolver, with fetch and parse failures marked as {@link JwksUnavailable}. */
function jwksResolver(options: UpstreamAuthOptions): JWTVerifyGetKey {
  const url = jwksUrlOf(options.jwksUrl);
  if (options.fetch !== undefined && typeof options.fetch !== 'function') {
    throw new InvalidArgumentError('upstreamAuth(): fetch must be a function');
  }
  const remote = createRemoteJWKSet(url, {
    timeoutDuration: checkRange('jwksTimeoutMs', options.jwksTimeoutMs, jwksTimeoutMsDefault, 1, jwksTimeoutMsMax),
    cacheMaxAge: checkRange(
      'jwksCacheMaxAgeMs',
      options.jwksCacheMaxAgeMs,
      jwksCacheMaxAgeMsDefault,
      0,
      jwksCacheMaxAgeMsMax,
    ),
    cooldownDuration: checkRange('jwksCooldownMs', options.jwksCooldownMs, jwksCooldownMsDefault, 0, jwksCooldownMsMax),
    ...(options.fetch === undefined ? {} : { [customFetch]: options.fetch }),
  });
  return async function resolveUpstreamKey(header, token) {
    try {
      return await remote(header, token);
    } catch (error) {
      // No key for the token's kid / alg in a JWKS that was read: the token's fault (401). Anything else — refused
      // connection, timeout, non-200, not JSON, not a JWK Set — is the JWKS being unavailable (503).
      if (
        error instanceof errors.JWKSNoMatchingKey ||
        error instanceof errors.JWKSMultipleMatchingKeys ||
        error instanceof errors.JOSENotSupported
      ) {
        throw error;
      }
      throw new JwksUnavailable(`the JWKS at ${url.href} cannot be fetched`, { cause: error });
    }
  };
}

function refuse(c: Context, status: 401 | 503, body: UpstreamAuthErrorBody): Response {
  if (status === 401) {
    const rfcError = body.error === 'missing_token' ? '' : ', error="invalid_token"';
    c.header('WWW-Authenticate', `Bearer realm="upstream"${rfcError}`);
  } else {
    c.header('Retry-After', String(jwksRetryAfterSeconds));
  }
  c.header('Cache-Control', 'no-store');
  return c.json(body, status);
}

const bearerPattern = /^Bearer +([A-Za-z0-9._~+/=-]+) *$/i;

/** The bearer token of the request, or `null` when there is none. */
function bearerOf(c: Context): string | null {
  const header = c.req.header('authorization');
  if (header === undefined || header.length > authorizationLengthMax) return null;
  return bearerPattern.exec(header)?.[1] ?? null;
}

/** The 401 body of a refused token. */
function refusalOf(error: UpstreamTokenInvalidError | UpstreamTokenExpiredError): UpstreamAuthErrorBody {
  if (error instanceof UpstreamTokenExpiredError) return { error: 'token_expired', message: error.message };
  const details = { reason: error.reason };
  if (error.reason === 'wrong_audience') {
    return { error: 'wrong_audience', message: 'the upstream token is for another upstream', details };
  }
  return { error: 'invalid_token', message: error.message, details };
}

/**
 * Hono middleware of an upstream service behind the gateway: reads `Authorization: Bearer <upstream token>`,
 * verifies it OFFLINE against the gateway's JWKS (jose `createRemoteJWKSet`: cached, refetched when a token names an
 * unknown `kid` — a key rotation — at most once per cooldown), and sets `c.get('upstream')` to its
 * {@link UpstreamClaims} (account, reservation, meter, hold, anchor).
 *
 * Answers (JSON `{ error, message, details? }`, `Cache-Control: no-store`):
 * - 401 `missing_token` — no bearer token; `invalid_token` — refused (`details.reason`, see `verifyUpstreamToken`);
 *   `token_expired`; `wrong_audience` — a token for another upstream. With `WWW-Authenticate: Bearer …`.
 * - 503 `jwks_unavailable` — the JWKS cannot be fetched (with `Retry-After`).
 *
 * @throws {InvalidArgumentError} `invalid_argument` when built with an invalid option.
 * @example
 * const app = new Hono<UpstreamAuthEnv>();
 * app.use('/v1/*', upstreamAuth({
 *   jwksUrl: 'https://gateway.example/.well-known/jwks.json', issuer: 'arrakis-gateway', audience: 'llm',
 * }));
 * app.post('/v1/chat/completions', (c) => c.json({ account: c.get('upstream').accountId }));
 */
export function upstreamAuth(options: UpstreamAuthOptions): MiddlewareHandler<UpstreamAuthEnv> {
  if (options === null || typeof options !== 'object') {
    throw new InvalidArgumentError('upstreamAuth(): expected an options object');
  }
  const issuer = checkText('issuer', options.issuer);
  const audience = checkText('audience', options.audience);
  const clockToleranceSeconds = checkRange(
    'clockToleranceSeconds',
    options.clockToleranceSeconds,
    5,
    0,
    upstreamTokenClockToleranceSecondsMax,
  );
  const clock = options.clock ?? systemClock;
  if (typeof clock?.nowMs !== 'function') throw new InvalidArgumentError('upstreamAuth(): clock must have nowMs()');
  const keys = jwksResolver(options);

  return async function upstreamAuth(c, next) {
    const token = bearerOf(c);
    if (token === null) {
      return refuse(c, 401, { error: 'missing_token', message: 'send Authorization: Bearer <upstream token>' });
    }
    let claims: UpstreamClaims;
    try {
      claims = await verifyUpstreamToken(token, {
        keys,
        issuer,
        audience,
        clockToleranceSeconds,
        nowMs: clock.nowMs(),
      });
    } catch (error) {
      if (error instanceof UpstreamTokenInvalidError || error instanceof UpstreamTokenExpiredError) {
        return refuse(c, 401, refusalOf(error));
      }
      if (error instanceof JwksUnavailable) {
        return refuse(c, 503, {
          error: 'jwks_unavailable',
          message: "the gateway's JWKS cannot be fetched; retry later",
        });
      }
      throw error;
    }
    c.set('upstream', claims);
    await next();
  };
}
