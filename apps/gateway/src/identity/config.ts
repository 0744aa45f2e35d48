// Identity settings of the gateway (DESIGN.md §5): the trust policy, anchor tokens and their signing keys, rotation
// requests, the chain RPC for ownership checks, and the Sign-In with Ethereum domain. `config.ts` spreads
// `identityEnvShape` into its environment schema and calls `identityConfigFrom` once the environment parsed.
import { anchorTokenTtlSecondsDefault, anchorTokenTtlSecondsMax, trustAmountMicroMax } from '@arrakis/identity-trust';
import type { JWK } from 'jose';
import { z } from 'zod';

/** Where the anchor-token signing keys come from. */
export type AnchorKeySource =
  | { kind: 'env'; keys: JWK[] }
  /** `DATA_DIR/anchor-signing-keys.json`, created with one ES256 key when absent. */
  | { kind: 'file'; dataDir: string };

/** The validated identity settings. */
export interface IdentityConfig {
  trust: {
    /** `TRUST_POLICY_ENABLED` (default true). */
    enabled: boolean;
    /** `TRUST_THRESHOLD_MICRO` (default 100 000 000: $100). Amounts above it need an anchor. */
    thresholdMicro: bigint;
  };
  anchorTokens: {
    /** `aud` of the anchor tokens the gateway issues (`ANCHOR_TOKEN_AUDIENCE`, default `arrakis-services`). */
    audience: string;
    /** `ANCHOR_TOKEN_TTL_SECONDS`, 1-600 (default 300). */
    ttlSeconds: number;
    keys: AnchorKeySource;
  };
  /** `ANCHOR_ROTATION_TTL_SECONDS` (default 86 400: 24 h) in ms. */
  rotationTtlMs: number;
  /** `CHAIN_RPC_URL`: when set, ownership is checked on chain (`ownerOf`) at bind and rotation time. */
  chainRpcUrl: string | undefined;
  siwe: {
    /** `SIWE_DOMAIN`: the domain wallet-proof messages must name (default `localhost`). */
    domain: string;
    /** `SIWE_SCHEME`: when set, wallet-proof messages must carry this scheme (e.g. `https`). */
    scheme: string | undefined;
  };
}

/** Longest accepted `ANCHOR_ROTATION_TTL_SECONDS`: 30 days. */
export const anchorRotationTtlSecondsMax = 30 * 86_400;

const intFromEnv = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, 'expected a non-negative integer')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

/** The identity variables, spread into the gateway's environment schema. */
export const identityEnvShape = {
  TRUST_POLICY_ENABLED: z.enum(['true', 'false']).default('true'),
  TRUST_THRESHOLD_MICRO: z
    .string()
    .trim()
    .regex(/^(0|[1-9][0-9]{0,15})$/, 'expected micro-USD as canonical base-10 digits')
    .transform((v) => BigInt(v))
    .refine((v) => v <= trustAmountMicroMax, `at most ${trustAmountMicroMax}`)
    .default(100_000_000n),
  ANCHOR_TOKEN_AUDIENCE: z
    .string()
    .trim()
    .regex(/^[\x21-\x7e]{1,256}$/, 'expected 1-256 visible ASCII characters')
    .default('arrakis-services'),
  ANCHOR_TOKEN_TTL_SECONDS: intFromEnv(1, anchorTokenTtlSecondsMax).default(anchorTokenTtlSecondsDefault),
  ANCHOR_SIGNING_JWKS: z.string().trim().optional(),
  ANCHOR_ROTATION_TTL_SECONDS: intFromEnv(60, anchorRotationTtlSecondsMax).default(86_400),
  CHAIN_RPC_URL: z
    .string()
    .trim()
    .refine((v) => URL.canParse(v) && ['http:', 'https:'].includes(new URL(v).protocol), {
      message: 'expected an http(s) URL',
    })
    .optional(),
  SIWE_DOMAIN: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9.-]+(:[0-9]{1,5})?$/, 'expected a host name with an optional port, e.g. api.example.com')
    .default('localhost'),
  SIWE_SCHEME: z.enum(['https', 'http']).optional(),
};

/** What {@link identityConfigFrom} reads: the parsed identity variables and `DATA_DIR`. */
export type IdentityEnv = z.output<z.ZodObject<typeof identityEnvShape>> & { DATA_DIR: string };

function parseSigningJwks(raw: string, issues: { variable: string; message: string }[]): JWK[] {
  const variable = 'ANCHOR_SIGNING_JWKS';
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    issues.push({ variable, message: 'expected a JWK Set of private keys as JSON; the value is not valid JSON' });
    return [];
  }
  const keys = (parsed as { keys?: unknown })?.keys;
  if (!Array.isArray(keys) || keys.length === 0) {
    issues.push({ variable, message: 'expected { "keys": [ private JWKs ] } with at least one key (the first signs)' });
    return [];
  }
  keys.forEach((key, index) => {
    const jwk = key as JWK;
    if (typeof jwk !== 'object' || jwk === null || typeof jwk.d !== 'string' || typeof jwk.kid !== 'string') {
      issues.push({ variable, message: `key ${index}: expected a private JWK ("d") with a "kid"` });
    }
  });
  return keys as JWK[];
}

/**
 * Builds the identity settings from the parsed environment; problems are appended to `issues`.
 *
 * @example
 * ```ts
 * const identity = identityConfigFrom(env, issues);
 * ```
 */
export function identityConfigFrom(e: IdentityEnv, issues: { variable: string; message: string }[]): IdentityConfig {
  const jwks = e.ANCHOR_SIGNING_JWKS === undefined || e.ANCHOR_SIGNING_JWKS === '' ? undefined : e.ANCHOR_SIGNING_JWKS;
  return {
    trust: { enabled: e.TRUST_POLICY_ENABLED === 'true', thresholdMicro: e.TRUST_THRESHOLD_MICRO },
    anchorTokens: {
      audience: e.ANCHOR_TOKEN_AUDIENCE,
      ttlSeconds: e.ANCHOR_TOKEN_TTL_SECONDS,
      keys:
        jwks === undefined
          ? { kind: 'file', dataDir: e.DATA_DIR }
          : { kind: 'env', keys: parseSigningJwks(jwks, issues) },
    },
    rotationTtlMs: e.ANCHOR_ROTATION_TTL_SECONDS * 1000,
    chainRpcUrl: e.CHAIN_RPC_URL,
    siwe: { domain: e.SIWE_DOMAIN, scheme: e.SIWE_SCHEME },
  };
}
