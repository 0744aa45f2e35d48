import { join } from 'node:path';
import type { Clock, CounterBackend } from '@arrakis/atomic-counter';
import type { GatewayConfig } from './config.js';

/** Name of the embedded SQLite counter database inside `DATA_DIR`. */
export const countersFileName = 'counters.sqlite';

/** Redis key prefix of the gateway's counters. */
export const redisKeyPrefix = 'arrakis:';

/** Which counter backend a configuration selects. */
export type CounterBackendKind = 'redis' | 'postgres' | 'sqlite';

/**
 * `REDIS_URL` or `REDIS_CLUSTER_URLS` → Redis (one server or a cluster); else `DATABASE_URL` → Postgres; else embedded SQLite at `DATA_DIR/counters.sqlite`.
 *
 * @example
 * ```ts
 * counterBackendKind(parseConfig({})); // 'sqlite'
 * ```
 */
export function counterBackendKind(
  config: Pick<GatewayConfig, 'redisUrl' | 'databaseUrl'> & Partial<Pick<GatewayConfig, 'redisClusterUrls'>>,
): CounterBackendKind {
  if (config.redisUrl !== undefined || config.redisClusterUrls !== undefined) return 'redis';
  if (config.databaseUrl !== undefined) return 'postgres';
  return 'sqlite';
}

/**
 * Opens the counter backend the configuration selects (see {@link counterBackendKind}). The driver of the chosen
 * backend only is loaded. Postgres migrations run here; when the database is down the gateway still starts,
 * `/ready` reports it, and the migration runs on first use.
 *
 * @throws {BackendUnavailableError} when the SQLite file cannot be opened.
 * @example
 * ```ts
 * const counters = await openCounterBackend(config, systemClock, (err) => logger.warn({ err }, 'migration failed'));
 * ```
 */
export async function openCounterBackend(
  config: Pick<GatewayConfig, 'redisUrl' | 'databaseUrl' | 'dataDir'> &
    Partial<Pick<GatewayConfig, 'redisClusterUrls'>>,
  clock: Clock,
  onMigrationError: (error: unknown) => void,
): Promise<CounterBackend> {
  switch (counterBackendKind(config)) {
    case 'redis': {
      const { redisBackend } = await import('@arrakis/atomic-counter/redis');
      return config.redisClusterUrls === undefined
        ? redisBackend({ url: config.redisUrl as string, keyPrefix: redisKeyPrefix })
        : redisBackend({ clusterUrls: config.redisClusterUrls, keyPrefix: redisKeyPrefix });
    }
    case 'postgres': {
      const { postgresBackend } = await import('@arrakis/atomic-counter/postgres');
      const backend = postgresBackend({ url: config.databaseUrl as string, clock });
      try {
        await backend.migrate();
      } catch (error) {
        onMigrationError(error);
      }
      return backend;
    }
    case 'sqlite': {
      const { sqliteBackend } = await import('@arrakis/atomic-counter/sqlite');
      return sqliteBackend({ path: join(config.dataDir, countersFileName), clock });
    }
  }
}
