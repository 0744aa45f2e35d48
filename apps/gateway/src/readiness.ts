import type { CounterBackend } from '@arrakis/atomic-counter';
import type { LedgerDbHandle } from '@arrakis/billing-ledger';
import { sql } from 'drizzle-orm';
import type { Logger } from 'pino';

/** One dependency `/ready` checks. `check` resolves when the dependency works and rejects otherwise. */
export interface ReadinessCheck {
  name: string;
  check(signal: AbortSignal): Promise<void>;
}

/** The state of one dependency, as `/ready` lists it. */
export interface DependencyState {
  name: string;
  status: 'up' | 'down';
  latencyMs: number;
  error?: string;
}

/** The `/ready` body. */
export interface ReadyReport {
  status: 'ready' | 'not_ready';
  dependencies: DependencyState[];
}

/** Longest error message `/ready` shows for a dependency. */
export const readinessErrorLengthMax = 200;

/** Key read by {@link counterBackendCheck}. */
export const readinessProbeKey = 'gateway:readiness-probe';

/**
 * A readiness check of a counter backend: one `get` round trip.
 *
 * @example
 * ```ts
 * const readiness = [counterBackendCheck(counters)];
 * ```
 */
export function counterBackendCheck(backend: CounterBackend, name = 'counters'): ReadinessCheck {
  return {
    name,
    async check() {
      await backend.get(readinessProbeKey);
    },
  };
}

/**
 * A readiness check of the ledger database (Postgres or PGlite): one `SELECT 1` round trip.
 *
 * @example
 * ```ts
 * const readiness = [counterBackendCheck(counters), ledgerDbCheck(ledgerDb)];
 * ```
 */
export function ledgerDbCheck(handle: Pick<LedgerDbHandle, 'db'>, name = 'ledger'): ReadinessCheck {
  return {
    name,
    async check() {
      await handle.db.execute(sql`select 1`);
    },
  };
}

/**
 * Runs every check in parallel, each bounded by `timeoutMs`; a check that throws or times out is `down`.
 *
 * @example
 * ```ts
 * const report = await runReadinessChecks(readiness, 2000, logger);
 * if (report.status === 'not_ready') console.log(report.dependencies.filter((d) => d.status === 'down'));
 * ```
 */
export async function runReadinessChecks(
  checks: readonly ReadinessCheck[],
  timeoutMs: number,
  logger: Logger,
): Promise<ReadyReport> {
  const dependencies = await Promise.all(
    checks.map(async (dependency): Promise<DependencyState> => {
      const startedMs = performance.now();
      const controller = new AbortController();
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          // Reject first: a check that honours the abort must not win the race by settling on it.
          reject(new Error(`timed out after ${timeoutMs} ms`));
          controller.abort();
        }, timeoutMs);
      });
      try {
        await Promise.race([dependency.check(controller.signal), timeout]);
        return { name: dependency.name, status: 'up', latencyMs: Math.round(performance.now() - startedMs) };
      } catch (error) {
        logger.warn({ err: error, dependency: dependency.name }, 'readiness check failed');
        const message = error instanceof Error ? error.message : String(error);
        return {
          name: dependency.name,
          status: 'down',
          latencyMs: Math.round(performance.now() - startedMs),
          error: message.slice(0, readinessErrorLengthMax),
        };
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  return { status: dependencies.every((d) => d.status === 'up') ? 'ready' : 'not_ready', dependencies };
}
