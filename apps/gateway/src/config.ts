import { redisClusterSeedsMax } from '@arrakis/atomic-counter';
import type { JSONWebKeySet, JWK } from 'jose';
import { z } from 'zod';
import { type EconomyConfig, economyConfigFrom } from './economy-config.js';
import { type IdentityConfig, identityConfigFrom, identityEnvShape } from './identity/config.js';
import { type PaymentsConfig, paymentsConfigFrom } from './payments-config.js';
import { type UpstreamConfig, upstreamsConfigFrom } from './upstreams-config.js';

/** Signature algorithms the gateway may accept. Anything else (none, HS*, RS*) is never allowed. */
export const jwtAlgorithmsSupported = ['ES256', 'EdDSA'] as const;

/** One of {@link jwtAlgorithmsSupported}. */
export type JwtAlgorithm = (typeof jwtAlgorithmsSupported)[number];

/** What the rate limiter does when its counter backend fails. */
export const rateLimitFailurePolicies = ['fail-closed', 'fail-open', 'insurance'] as const;

/** One of {@link rateLimitFailurePolicies}. */
export type RateLimitFailurePolicy = (typeof rateLimitFailurePolicies)[number];

/** Rate-limit algorithms the gateway can use. */
export const rateLimitAlgorithms = ['fixed-window', 'token-bucket'] as const;

/** One of {@link rateLimitAlgorithms}. */
export type RateLimitAlgorithm = (typeof rateLimitAlgorithms)[number];

/** Largest per-minute limit accepted. */
export const ratePerMinuteMax = 1_000_000;

/** Longest accepted `LEDGER_SWEEP_INTERVAL_MS`: one hour. */
export const ledgerSweepIntervalMsMax = 3_600_000;

/** Largest accepted `LEDGER_DB_POOL_MAX` (Postgres connections of the ledger per process). */
export const ledgerDbPoolSizeMax = 1000;

/** Longest accepted `JWT_MAX_TOKEN_AGE_SECONDS`: one day. */
export const maxTokenAgeSecondsMax = 86_400;

/** Default `HTTP_CONNECTIONS_PER_ADDRESS_MAX`: open connections one client address may hold at once. */
export const connectionsPerAddressMaxDefault = 128;
/** Largest accepted `HTTP_CONNECTIONS_PER_ADDRESS_MAX`. */
export const connectionsPerAddressMaxLimit = 100_000;
/** Default `HTTP_REQUEST_TIMEOUT_MS`: a request (head and body) must arrive within 30 s. */
export const requestTimeoutMsDefault = 30_000;
/** Default `HTTP_HEADERS_TIMEOUT_MS`: a request head must arrive within 10 s. */
export const headersTimeoutMsDefault = 10_000;
/** Shortest accepted `HTTP_REQUEST_TIMEOUT_MS` / `HTTP_HEADERS_TIMEOUT_MS`. */
export const httpTimeoutMsMin = 100;
/** Longest accepted `HTTP_REQUEST_TIMEOUT_MS` / `HTTP_HEADERS_TIMEOUT_MS`: ten minutes. */
export const httpTimeoutMsMax = 600_000;

/** Where the verification keys come from. */
export type JwtKeySource =
  | { kind: 'jwks'; jwks: JSONWebKeySet }
  | { kind: 'jwks-url'; url: string }
  | { kind: 'dev'; dataDir: string };

/** The validated gateway configuration. Built by {@link parseConfig} from an environment. */
export interface GatewayConfig {
  port: number;
  host: string;
  /** Directory of the embedded stores and the dev key (as given; resolved against the working directory). */
  dataDir: string;
  databaseUrl: string | undefined;
  redisUrl: string | undefined;
  /** Seed nodes of a Redis Cluster for the counters (`REDIS_CLUSTER_URLS`); exclusive with `redisUrl`. */
  redisClusterUrls: string[] | undefined;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  nodeEnv: 'development' | 'test' | 'production';
  jwt: {
    issuer: string;
    algorithms: JwtAlgorithm[];
    maxTokenAgeSeconds: number;
    keys: JwtKeySource;
  };
  rateLimit: {
    /** Requests per minute per client IP (0 disables the IP limit). */
    ipPerMinute: number;
    /** Requests per minute per authenticated principal (0 disables the principal limit). */
    principalPerMinute: number;
    algorithm: RateLimitAlgorithm;
    failurePolicy: RateLimitFailurePolicy;
    /** Prefix of every rate-limit counter key, so deployments (or test runs) sharing a backend stay apart. */
    keyPrefix: string;
    /** Reverse proxies in front of the gateway whose `X-Forwarded-For` entry is trusted (0 = use the socket address). */
    trustProxyHops: number;
  };
  ledger: {
    /**
     * How often the ledger sweepers (expired holds, expired lots, idempotency keys) run in this process; 0 turns
     * them off. Safe with many instances: the sweepers lock rows with `FOR UPDATE SKIP LOCKED`.
     */
    sweepIntervalMs: number;
    /** Connections of the ledger's Postgres pool (ignored on PGlite). */
    dbPoolMax: number;
  };
  /** Limits of the HTTP server on connections and slow clients (see `http-server.ts`). */
  http: {
    /** Connections one remote address may hold open at once (0 = no cap); more are answered 503 and closed. */
    connectionsPerAddressMax: number;
    /** Time for a whole request (head and body) to arrive; then 408 `request_timeout` and the connection closes. */
    requestTimeoutMs: number;
    /** Time for a request head to arrive (at most `requestTimeoutMs`). */
    headersTimeoutMs: number;
  };
  /** How long shutdown waits for in-flight requests before closing connections. */
  shutdownTimeoutMs: number;
  /** Timeout of one readiness check. */
  readyCheckTimeoutMs: number;
  /** Trust policy, anchor tokens, rotations, chain RPC and SIWE domain (see `identity/config.ts`). */
  identity: IdentityConfig;
  /** Credit pack catalog and revenue rule cooldown (see `economy-config.ts`). */
  economy: EconomyConfig;
  /** x402 purchases of credit packs: network, token, payTo, facilitator (see `payments-config.ts`). */
  payments: PaymentsConfig;
  /** Upstream services of the metered proxy, `UPSTREAMS` / `UPSTREAMS_FILE` (see `upstreams-config.ts`); default none. */
  upstreams: UpstreamConfig[];
}

/** One invalid variable. */
export interface ConfigIssue {
  variable: string;
  message: string;
}

/** Thrown by {@link parseConfig}: every invalid variable, one per line in `message`. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'invalid_config' as const;
  readonly issues: ConfigIssue[];
  constructor(issues: ConfigIssue[]) {
    super(`invalid configuration:\n${issues.map((i) => `  ${i.variable}: ${i.message}`).join('\n')}`);
    this.issues = issues;
  }
}

const intFromEnv = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, 'expected a non-negative integer')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

const optionalUrl = (protocols: readonly string[]) =>
  z
    .string()
    .trim()
    .optional()
    .transform((v) => (v === '' ? undefined : v))
    .pipe(
      z
        .string()
        .refine((v) => URL.canParse(v) && protocols.includes(new URL(v).protocol), {
          message: `expected a URL with scheme ${protocols.join(' or ')}`,
        })
        .optional(),
    );

const envSchema = z.object({
  PORT: intFromEnv(0, 65_535).default(3000),
  HOST: z.string().trim().min(1).default('127.0.0.1'),
  DATA_DIR: z.string().trim().min(1).default('./.data'),
  DATABASE_URL: optionalUrl(['postgres:', 'postgresql:']),
  REDIS_URL: optionalUrl(['redis:', 'rediss:']),
  REDIS_CLUSTER_URLS: z
    .string()
    .trim()
    .optional()
    .transform((value) => (value === undefined || value === '' ? undefined : value.split(',').map((url) => url.trim())))
    .refine(
      (urls) =>
        urls === undefined ||
        (urls.length <= redisClusterSeedsMax &&
          urls.every((url) => URL.canParse(url) && ['redis:', 'rediss:'].includes(new URL(url).protocol))),
      { message: `expected 1 to ${redisClusterSeedsMax} comma-separated redis:// or rediss:// URLs` },
    ),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  JWT_ISSUER: z.string().trim().min(1).max(256).default('arrakis-gateway'),
  JWT_PUBLIC_JWK: z.string().trim().optional(),
  JWT_JWKS_URL: optionalUrl(['https:', 'http:']),
  JWT_ALGORITHMS: z
    .string()
    .default('ES256,EdDSA')
    .transform((raw, ctx) => {
      const issues: ConfigIssue[] = [];
      const algorithms = parseAlgorithms(raw, issues);
      for (const issue of issues) ctx.addIssue({ code: 'custom', message: issue.message });
      return algorithms;
    }),
  JWT_MAX_TOKEN_AGE_SECONDS: intFromEnv(1, maxTokenAgeSecondsMax).default(3600),
  RATE_LIMIT_IP_PER_MINUTE: intFromEnv(0, ratePerMinuteMax).default(600),
  RATE_LIMIT_PRINCIPAL_PER_MINUTE: intFromEnv(0, ratePerMinuteMax).default(300),
  RATE_LIMIT_ALGORITHM: z.enum(rateLimitAlgorithms).default('fixed-window'),
  RATE_LIMIT_FAILURE_POLICY: z.enum(rateLimitFailurePolicies).default('fail-closed'),
  RATE_LIMIT_KEY_PREFIX: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9:._-]{1,64}$/, 'expected 1-64 characters of A-Z a-z 0-9 : . _ -')
    .default('rl'),
  TRUST_PROXY_HOPS: intFromEnv(0, 10).default(0),
  LEDGER_SWEEP_INTERVAL_MS: intFromEnv(0, ledgerSweepIntervalMsMax).default(30_000),
  LEDGER_DB_POOL_MAX: intFromEnv(1, ledgerDbPoolSizeMax).default(10),
  HTTP_CONNECTIONS_PER_ADDRESS_MAX: intFromEnv(0, connectionsPerAddressMaxLimit).default(
    connectionsPerAddressMaxDefault,
  ),
  HTTP_REQUEST_TIMEOUT_MS: intFromEnv(httpTimeoutMsMin, httpTimeoutMsMax).default(requestTimeoutMsDefault),
  HTTP_HEADERS_TIMEOUT_MS: intFromEnv(httpTimeoutMsMin, httpTimeoutMsMax).default(headersTimeoutMsDefault),
  SHUTDOWN_TIMEOUT_MS: intFromEnv(0, 120_000).default(10_000),
  READY_CHECK_TIMEOUT_MS: intFromEnv(1, 60_000).default(2000),
  ...identityEnvShape,
});

const publicKeyTypes: Record<JwtAlgorithm, { kty: string; crv: string }> = {
  ES256: { kty: 'EC', crv: 'P-256' },
  EdDSA: { kty: 'OKP', crv: 'Ed25519' },
};

function parseAlgorithms(raw: string, issues: ConfigIssue[]): JwtAlgorithm[] {
  const names = raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (names.length === 0) issues.push({ variable: 'JWT_ALGORITHMS', message: 'expected at least one algorithm' });
  const algorithms: JwtAlgorithm[] = [];
  for (const name of names) {
    if ((jwtAlgorithmsSupported as readonly string[]).includes(name)) {
      if (!algorithms.includes(name as JwtAlgorithm)) algorithms.push(name as JwtAlgorithm);
    } else {
      issues.push({
        variable: 'JWT_ALGORITHMS',
        message: `"${name}" is not allowed; expected a comma-separated subset of ${jwtAlgorithmsSupported.join(', ')}`,
      });
    }
  }
  return algorithms;
}

function parsePublicJwks(raw: string, algorithms: JwtAlgorithm[], issues: ConfigIssue[]): JSONWebKeySet {
  const variable = 'JWT_PUBLIC_JWK';
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    issues.push({ variable, message: 'expected a JWK or a JWK Set as JSON; the value is not valid JSON' });
    return { keys: [] };
  }
  const keys: unknown[] =
    typeof parsed === 'object' && parsed !== null && Array.isArray((parsed as { keys?: unknown }).keys)
      ? (parsed as { keys: unknown[] }).keys
      : [parsed];
  if (keys.length === 0) issues.push({ variable, message: 'the JWK Set has no keys' });
  const valid: JWK[] = [];
  keys.forEach((key, index) => {
    const where = keys.length > 1 ? `key ${index}: ` : '';
    if (typeof key !== 'object' || key === null) {
      issues.push({ variable, message: `${where}expected a JWK object` });
      return;
    }
    const jwk = key as JWK;
    if (jwk.d !== undefined) {
      issues.push({ variable, message: `${where}contains private key material ("d"); configure the PUBLIC key only` });
      return;
    }
    const usable = algorithms.filter((alg) => {
      const type = publicKeyTypes[alg];
      return jwk.kty === type.kty && jwk.crv === type.crv && (jwk.alg === undefined || jwk.alg === alg);
    });
    if (usable.length === 0) {
      issues.push({
        variable,
        message: `${where}kty ${String(jwk.kty)} crv ${String(jwk.crv)} alg ${String(jwk.alg)} matches none of JWT_ALGORITHMS (${algorithms.join(', ')}); expected an EC P-256 (ES256) or OKP Ed25519 (EdDSA) public key`,
      });
      return;
    }
    valid.push(jwk);
  });
  return { keys: valid };
}

/**
 * True for the loopback addresses a development gateway may listen on: `localhost`, `127.0.0.0/8`, `::1`.
 *
 * @example
 * ```ts
 * isLoopbackHost('127.0.0.1'); // true
 * isLoopbackHost('0.0.0.0'); // false
 * ```
 */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return bare === 'localhost' || bare === '::1' || /^127(\.\d{1,3}){3}$/.test(bare);
}

/**
 * Validates an environment (e.g. `process.env`) into a {@link GatewayConfig}. Unknown variables are ignored.
 *
 * Production (`NODE_ENV=production`) requires `JWT_PUBLIC_JWK` or `JWT_JWKS_URL` (https); elsewhere, without
 * either, the gateway uses a dev key pair kept in `DATA_DIR/dev-jwk.json`. A `HOST` that is not loopback needs an
 * explicit `NODE_ENV` (the development default prints a ready admin token).
 *
 * @throws {ConfigError} listing every invalid variable.
 * @example
 * ```ts
 * const config = parseConfig({ PORT: '8080', RATE_LIMIT_IP_PER_MINUTE: '120' });
 * config.port; // 8080
 * ```
 */
export function parseConfig(env: Record<string, string | undefined>): GatewayConfig {
  // An empty variable counts as unset, so `PORT=` falls back to the default instead of failing.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v.trim() !== ''));
  const result = envSchema.safeParse(present);
  const issues: ConfigIssue[] = [];
  if (!result.success) {
    for (const issue of result.error.issues) {
      issues.push({ variable: String(issue.path[0] ?? '(environment)'), message: issue.message });
    }
    throw new ConfigError(issues);
  }
  const e = result.data;
  if (present.NODE_ENV === undefined && !isLoopbackHost(e.HOST)) {
    // Development (the default) uses a dev key and prints a ready admin token: never by accident on a reachable address.
    issues.push({
      variable: 'NODE_ENV',
      message: `HOST ${JSON.stringify(e.HOST)} is not a loopback address: set NODE_ENV explicitly (production needs JWT_PUBLIC_JWK or JWT_JWKS_URL; development prints a ready admin token)`,
    });
  }
  const algorithms = e.JWT_ALGORITHMS;
  const jwk = e.JWT_PUBLIC_JWK === undefined || e.JWT_PUBLIC_JWK === '' ? undefined : e.JWT_PUBLIC_JWK;
  let keys: JwtKeySource = { kind: 'dev', dataDir: e.DATA_DIR };
  if (jwk !== undefined && e.JWT_JWKS_URL !== undefined) {
    issues.push({ variable: 'JWT_PUBLIC_JWK', message: 'set either JWT_PUBLIC_JWK or JWT_JWKS_URL, not both' });
  } else if (jwk !== undefined) {
    keys = { kind: 'jwks', jwks: parsePublicJwks(jwk, algorithms, issues) };
  } else if (e.JWT_JWKS_URL !== undefined) {
    if (e.NODE_ENV === 'production' && !e.JWT_JWKS_URL.startsWith('https:')) {
      issues.push({ variable: 'JWT_JWKS_URL', message: 'must be an https URL when NODE_ENV=production' });
    }
    keys = { kind: 'jwks-url', url: e.JWT_JWKS_URL };
  } else if (e.NODE_ENV === 'production') {
    issues.push({
      variable: 'JWT_PUBLIC_JWK',
      message:
        'JWT_PUBLIC_JWK or JWT_JWKS_URL is required when NODE_ENV=production (dev keys are for development only)',
    });
  }
  if (e.REDIS_URL !== undefined && e.REDIS_CLUSTER_URLS !== undefined) {
    issues.push({
      variable: 'REDIS_CLUSTER_URLS',
      message: 'set REDIS_URL (one Redis) or REDIS_CLUSTER_URLS, not both',
    });
  }
  if (e.HTTP_HEADERS_TIMEOUT_MS > e.HTTP_REQUEST_TIMEOUT_MS) {
    issues.push({
      variable: 'HTTP_HEADERS_TIMEOUT_MS',
      message: `must not exceed HTTP_REQUEST_TIMEOUT_MS (${e.HTTP_REQUEST_TIMEOUT_MS}), got ${e.HTTP_HEADERS_TIMEOUT_MS}`,
    });
  }
  const identity = identityConfigFrom(e, issues);
  const economy = economyConfigFrom(env, issues);
  const payments = paymentsConfigFrom({ ...env, NODE_ENV: e.NODE_ENV }, issues);
  const upstreams = upstreamsConfigFrom(env, issues);
  if (issues.length > 0) throw new ConfigError(issues);
  return {
    port: e.PORT,
    host: e.HOST,
    dataDir: e.DATA_DIR,
    databaseUrl: e.DATABASE_URL,
    redisUrl: e.REDIS_URL,
    redisClusterUrls: e.REDIS_CLUSTER_URLS,
    logLevel: e.LOG_LEVEL,
    nodeEnv: e.NODE_ENV,
    jwt: { issuer: e.JWT_ISSUER, algorithms, maxTokenAgeSeconds: e.JWT_MAX_TOKEN_AGE_SECONDS, keys },
    rateLimit: {
      ipPerMinute: e.RATE_LIMIT_IP_PER_MINUTE,
      principalPerMinute: e.RATE_LIMIT_PRINCIPAL_PER_MINUTE,
      algorithm: e.RATE_LIMIT_ALGORITHM,
      failurePolicy: e.RATE_LIMIT_FAILURE_POLICY,
      keyPrefix: e.RATE_LIMIT_KEY_PREFIX,
      trustProxyHops: e.TRUST_PROXY_HOPS,
    },
    ledger: { sweepIntervalMs: e.LEDGER_SWEEP_INTERVAL_MS, dbPoolMax: e.LEDGER_DB_POOL_MAX },
    http: {
      connectionsPerAddressMax: e.HTTP_CONNECTIONS_PER_ADDRESS_MAX,
      requestTimeoutMs: e.HTTP_REQUEST_TIMEOUT_MS,
      headersTimeoutMs: e.HTTP_HEADERS_TIMEOUT_MS,
    },
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    readyCheckTimeoutMs: e.READY_CHECK_TIMEOUT_MS,
    identity,
    economy,
    payments,
    upstreams,
  };
}

/** True when the gateway signs and accepts tokens from its own dev key (never in production). */
export function usesDevKeys(config: GatewayConfig): boolean {
  return config.jwt.keys.kind === 'dev';
}
