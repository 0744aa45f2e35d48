import type { Cluster } from 'ioredis';
import { Redis } from 'ioredis';
import { BackendUnavailableError, CounterError, InvalidCounterInputError } from '../../errors.js';
import type {
  AdvanceOptions,
  AdvanceResult,
  CounterBackend,
  CounterSnapshot,
  ExpiryOptions,
  IncrementOptions,
} from '../../ports/counter-backend.js';
import { assertAdvanceOptions, assertAmount, assertExpiry, assertKey, counterValueMax } from '../../validate.js';
import { advanceLua, getLua, incrementLua } from './scripts.js';

/** Longest `keyPrefix` accepted, in UTF-8 bytes. */
export const redisKeyPrefixBytesMax = 256;
/** Retries of one command across reconnects on a client the backend creates from `url` (fail fast). */
export const redisRetriesPerRequestMax = 1;

/** Options of {@link redisBackend}: exactly one of `client` or `url`. */
export interface RedisBackendOptions {
  /**
   * A connected ioredis client (or Cluster) to use; not closed by `close()`. Turn on
   * `enableAutoPipelining` for throughput. The backend defines its Lua commands on it
   * (`arrakisCounterIncrement`, `arrakisCounterAdvance`, `arrakisCounterGet`).
   */
  client?: Redis | Cluster;
  /** `redis://` or `rediss://` URL: the backend opens its own client (auto-pipelining on) and `close()` quits it. */
  url?: string;
  /**
   * Prepended to every key, e.g. `app:counters:`. Default `''`. Every script touches one key only,
   * so the backend is Redis Cluster safe as is; callers that need several counters on one slot
   * (to use them together in their own scripts or MULTI) put a hash tag in the key: `rl:{user42}:minute`.
   */
  keyPrefix?: string;
}

interface CounterCommands {
  arrakisCounterIncrement(key: string, by: string, mode: string, at: string, valueMax: string): Promise<string>;
  arrakisCounterAdvance(
    key: string,
    by: string,
    max: string,
    at: string,
    mode: string,
    floor?: string,
  ): Promise<string>;
  arrakisCounterGet(key: string): Promise<string | null>;
  set(key: string, value: string, nx: 'NX', mode: string, at: string): Promise<'OK' | null>;
  del(key: string): Promise<number>;
}

/**
 * A counter backend on Redis (ioredis): every operation is one atomic round trip, a Lua script
 * sent with EVALSHA (ioredis falls back to EVAL when the script cache is cold) or a single `SET NX`.
 * Many processes and hosts may share it. Expiry is kept by the Redis server: `ttlMs` counts from
 * the server's clock (PX), `expiresAtMs` is an absolute epoch time (PXAT), so this backend takes no
 * `Clock` and tests use real short TTLs. Needs Redis ≥ 7.0 (PEXPIRETIME).
 *
 * @throws {InvalidCounterInputError} `invalid_option` for both or neither of client/url, a bad url or keyPrefix.
 * @example
 * import { redisBackend } from '@arrakis/atomic-counter/redis';
 * const counters = redisBackend({ url: 'redis://127.0.0.1:6379', keyPrefix: 'api:' });
 * await counters.increment('hits:alice', 1n, { ttlMs: 60_000 }); // 1n
 * await counters.close();
 */
export function redisBackend(options: RedisBackendOptions): CounterBackend {
  const keyPrefix = options.keyPrefix ?? '';
  if (typeof keyPrefix !== 'string' || Buffer.byteLength(keyPrefix) > redisKeyPrefixBytesMax) {
    throw new InvalidCounterInputError(
      'invalid_option',
      `keyPrefix must be a string of at most ${redisKeyPrefixBytesMax} bytes, got ${JSON.stringify(keyPrefix)}`,
    );
  }
  if ((options.client === undefined) === (options.url === undefined)) {
    throw new InvalidCounterInputError('invalid_option', 'exactly one of client or url is required');
  }
  if (options.url !== undefined && (typeof options.url !== 'string' || !/^rediss?:\/\//.test(options.url))) {
    throw new InvalidCounterInputError(
      'invalid_option',
      `url must start with redis:// or rediss://, got ${JSON.stringify(options.url)}`,
    );
  }

  const ownsClient = options.client === undefined;
  const client: Redis | Cluster =
    options.client ??
    new Redis(options.url as string, { enableAutoPipelining: true, maxRetriesPerRequest: redisRetriesPerRequestMax });
  // Connection errors reach callers as rejected commands (BackendUnavailableError); without a
  // listener ioredis would also print every reconnect failure.
  if (ownsClient) client.on('error', () => {});
  defineCommands(client);
  const redis = client as unknown as CounterCommands;

  return {
    name: 'redis',
    async increment(key: string, by: bigint, opts: IncrementOptions): Promise<bigint> {
      assertKey(key);
      assertAmount('by', by);
      assertExpiry(opts);
      let value: string;
      try {
        value = await redis.arrakisCounterIncrement(
          keyPrefix + key,
          by.toString(),
          opts.ttlMs !== undefined ? 'PX' : 'PXAT',
          String(opts.ttlMs ?? opts.expiresAtMs),
          valueMaxArg,
        );
      } catch (error) {
        throw unavailable(error);
      }
      if (value === '-1') {
        throw new InvalidCounterInputError('invalid_amount', `increment would take "${key}" past ${counterValueMax}`, {
          details: { key, by: by.toString() },
        });
      }
      return BigInt(value);
    },
    async advance(key: string, opts: AdvanceOptions): Promise<AdvanceResult> {
      assertKey(key);
      assertAdvanceOptions(opts);
      const mode = opts.ttlMs !== undefined ? 'PX' : 'PXAT';
      const by = opts.by.toString();
      const max = opts.max.toString();
      const at = String(opts.ttlMs ?? opts.expiresAtMs);
      let reply: string;
      try {
        reply = await (opts.floor === undefined || opts.floor === 0n
          ? redis.arrakisCounterAdvance(keyPrefix + key, by, max, at, opts.expiry === 'keep' ? keepModes[mode] : mode)
          : redis.arrakisCounterAdvance(
              keyPrefix + key,
              by,
              max,
              at,
              opts.expiry === 'keep' ? keepModes[mode] : mode,
              opts.floor.toString(),
            ));
      } catch (error) {
        throw unavailable(error);
      }
      const first = reply.indexOf(' ');
      const second = reply.indexOf(' ', first + 1);
      const expiresAtMs = Number(reply.slice(second + 1));
      return {
        applied: reply.charCodeAt(0) === 49, // '1'
        value: BigInt(reply.slice(first + 1, second)),
        expiresAtMs: expiresAtMs === -2 ? null : expiryOf(key, expiresAtMs),
      };
    },
    async get(key: string): Promise<CounterSnapshot | null> {
      assertKey(key);
      let reply: string | null;
      try {
        reply = await redis.arrakisCounterGet(keyPrefix + key);
      } catch (error) {
        throw unavailable(error);
      }
      if (reply === null) return null;
      const space = reply.indexOf(' ');
      return { value: BigInt(reply.slice(0, space)), expiresAtMs: expiryOf(key, Number(reply.slice(space + 1))) };
    },
    async reset(key: string): Promise<void> {
      assertKey(key);
      try {
        await redis.del(keyPrefix + key);
      } catch (error) {
        throw unavailable(error);
      }
    },
    async setIfAbsent(key: string, value: bigint, opts: ExpiryOptions): Promise<boolean> {
      assertKey(key);
      assertAmount('value', value);
      assertExpiry(opts);
      try {
        const mode = opts.ttlMs !== undefined ? 'PX' : 'PXAT';
        return (
          (await redis.set(keyPrefix + key, value.toString(), 'NX', mode, String(opts.ttlMs ?? opts.expiresAtMs))) ===
          'OK'
        );
      } catch (error) {
        throw unavailable(error);
      }
    },
    async close(): Promise<void> {
      if (!ownsClient) return;
      if (client.status === 'ready') {
        try {
          await client.quit();
          return;
        } catch {
          // Fall through: drop the connection.
        }
      }
      client.disconnect();
    },
  };
}

function defineCommands(client: Redis | Cluster): void {
  const scripts: [name: string, lua: string, readOnly: boolean][] = [
    ['arrakisCounterIncrement', incrementLua, false],
    ['arrakisCounterAdvance', advanceLua, false],
    ['arrakisCounterGet', getLua, true],
  ];
  for (const [name, lua, readOnly] of scripts) {
    if (typeof (client as unknown as Record<string, unknown>)[name] !== 'function') {
      client.defineCommand(name, { lua, numberOfKeys: 1, readOnly });
    }
  }
}

const valueMaxArg = counterValueMax.toString();
const keepModes = { PX: 'KEEPTTL PX', PXAT: 'KEEPTTL PXAT' } as const;

function unavailable(error: unknown): CounterError {
  return error instanceof CounterError ? error : new BackendUnavailableError('redis', error);
}

/** PEXPIRETIME of a key the backend wrote; -1 (no expiry) means someone else wrote it. */
function expiryOf(key: string, expiresAtMs: number): number {
  if (!Number.isSafeInteger(expiresAtMs) || expiresAtMs < 0) {
    throw new BackendUnavailableError(
      'redis',
      new Error(`key "${key}" has no expiry (PEXPIRETIME ${expiresAtMs}); was it written outside this backend?`),
    );
  }
  return expiresAtMs;
}
