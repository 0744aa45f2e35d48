import { createLocalJWKSet, createRemoteJWKSet, errors, type JWTVerifyGetKey } from 'jose';
import type { GatewayConfig } from '../config.js';
import { DependencyUnavailableError } from '../errors.js';
import { type DevKey, loadOrCreateDevKey } from './dev-key.js';

/**
 * Resolves the verification key of a token from its protected header (jose's `JWTVerifyGetKey`):
 * a local JWK set, a remote JWKS, or the dev key.
 */
export type AuthKeyResolver = JWTVerifyGetKey;

/** Timeout of one fetch of a remote JWKS. */
export const jwksFetchTimeoutMs = 5000;
/** How long a fetched JWKS is used before it is refetched. */
export const jwksCacheMaxAgeMs = 10 * 60 * 1000;
/** Minimum time between two refetches triggered by an unknown `kid`. */
export const jwksCooldownMs = 30 * 1000;

/** What {@link resolveAuthKeys} returns. */
export interface ResolvedAuthKeys {
  resolver: AuthKeyResolver;
  /** Set in dev mode: the key pair the server (and `arrakis-gateway token`) signs with. */
  devKey: DevKey | undefined;
  source: GatewayConfig['jwt']['keys']['kind'];
}

/**
 * Builds the key resolver from the configuration: `JWT_PUBLIC_JWK` (a JWK or a JWK Set, imported once),
 * `JWT_JWKS_URL` (fetched and cached), or — in development only — the dev key in `DATA_DIR` (created once).
 * A remote JWKS that cannot be fetched becomes a 503 `auth_unavailable`, never a 500.
 *
 * @throws {DevKeyError} when the dev key file exists but is unusable.
 * @example
 * ```ts
 * const { resolver, devKey } = await resolveAuthKeys(config);
 * const app = createApp({ ...deps, authKeys: resolver });
 * ```
 */
export async function resolveAuthKeys(config: GatewayConfig): Promise<ResolvedAuthKeys> {
  const source = config.jwt.keys;
  switch (source.kind) {
    case 'jwks':
      return { resolver: createLocalJWKSet(source.jwks), devKey: undefined, source: source.kind };
    case 'jwks-url': {
      const remote = createRemoteJWKSet(new URL(source.url), {
        timeoutDuration: jwksFetchTimeoutMs,
        cacheMaxAge: jwksCacheMaxAgeMs,
        cooldownDuration: jwksCooldownMs,
      });
      const resolver: AuthKeyResolver = async (header, token) => {
        try {
          return await remote(header, token);
        } catch (error) {
          // No matching key, several matching keys: the token's fault. Anything else: the JWKS is unreachable.
          if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys)
            throw error;
          throw new DependencyUnavailableError('auth_unavailable', 'jwks', error);
        }
      };
      return { resolver, devKey: undefined, source: source.kind };
    }
    case 'dev': {
      const devKey = await loadOrCreateDevKey(source.dataDir);
      return { resolver: createLocalJWKSet({ keys: [devKey.publicJwk] }), devKey, source: source.kind };
    }
  }
}
