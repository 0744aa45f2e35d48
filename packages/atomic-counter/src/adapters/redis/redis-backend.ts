import { Cluster, type ClusterNode, Redis, type RedisOptions } from 'ioredis';
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
import { createBatcher } from './batch.js';
import { redisClusterSeedsMax } from './cluster-limits.js';
import { advanceBatchLua, advanceLua, getLua, incrementBatchLua, incrementLua } from './scripts.js';

/** Longest `keyPrefix` accepted, in UTF-8 bytes. */
export const redisKeyPrefixBytesMax = 256;

/**
 * Default `commandTimeoutMs`: a command without a reply after this long is rejected with
 * `BackendUnavailableError`, so the failure policy decides within about this time when Redis is away.
 */
export const redisCommandTimeoutMsDefault = 100;
/** Longest `commandTimeoutMs` accepted. */
export const redisCommandTimeoutMsMax = 60_000;
/** Default `connectTimeoutMs`: one connection attempt (TCP, TLS, handshake) is given up after this long and retried. */
export const redisConnectTimeoutMsDefault = 1_000;
/** Longest `connectTimeoutMs` accepted. */
export const redisConnectTimeoutMsMax = 60_000;
/** Delay before the first reconnect attempt after a lost connection; it doubles on every failed attempt, up to the cap. */
export const redisReconnectDelayMsFirst = 50;
/**
 * Default `reconnectDelayCapMs`: the longest wait between two reconnect attempts, so the backend finds Redis
 * again at most this long after it is back. Attempts never stop (until `close()`).
 */
export const redisReconnectDelayCapMsDefault = 1_000;
/** Longest `reconnectDelayCapMs` accepted. */
export const redisReconnectDelayCapMsMax = 60_000;
/**
 * Default `commandRetries`: how many reconnects a command already sent survives before it is rejected
 * (ioredis `maxRetriesPerRequest`). 0: a command in flight when the connection drops is rejected at once and
 * never sent again later, after its caller has already been answered.
 */
export const redisCommandRetriesDefault = 0;
/** Most `commandRetries` accepted. */
export const redisCommandRetriesMax = 10;
export { redisClusterSeedsMax };
/** Calls coalesced into one script call by default (`batchOpsMax`). */
export const redisBatchOpsDefault = 256;
/** Largest `batchOpsMax`. */
export const redisBatchOpsMax = 1024;

/** Options of {@link redisBackend}: exactly one of `client` or `url`. */
export interface RedisBackendOptions {
  /**
   * A connected ioredis client (or Cluster) to use; not closed by `close()`. Turn on
   * `enableAutoPipelining` for throughput. The backend defines its Lua commands on it
   * (`arrakisCounterIncrement`, `arrakisCounterAdvance`, `arrakisCounterGet`). Its own options decide how it
   * behaves while Redis is away: to fail fast like a client opened from `url`, give it `commandTimeout`,
   * `enableOfflineQueue: false`, `maxRetriesPerRequest: 0` and a `retryStrategy` that always returns a delay.
   * The timeout options below are refused with `client`.
   */
  client?: Redis | Cluster;
  /**
   * `redis://` or `rediss://` URL: the backend opens its own client (auto-pipelining on, no offline queue,
   * the timeouts below) and `close()` quits it.
   */
  url?: string;
  /**
   * Redis Cluster seed nodes, `redis://` or `rediss://` URLs of some of its masters or replicas (1 to
   * {@link redisClusterSeedsMax}; the client discovers the others and follows slot moves): the backend opens its
   * own ioredis `Cluster` with the same fail-fast behaviour and timeouts as for `url`, and `close()` quits it. A
   * user name and password, when given, must be the same in every URL (one ACL user for the cluster).
   */
  clusterUrls?: readonly string[];
  /**
   * Prepended to every key, e.g. `app:counters:`. Default `''`. Every script touches one key only,
   * so the backend is Redis Cluster safe as is; callers that need several counters on one slot
   * (to use them together in their own scripts or MULTI) put a hash tag in the key: `rl:{user42}:minute`.
   */
  keyPrefix?: string;
  /**
   * With `url`: how long a call waits for its reply, and for a reconnect in progress, before it fails with
   * `BackendUnavailableError`. 1 to {@link redisCommandTimeoutMsMax}. Default
   * {@link redisCommandTimeoutMsDefault} (100 ms). While Redis is unreachable (no connection), a call fails at once.
   */
  commandTimeoutMs?: number;
  /**
   * With `url`: one connection attempt is given up after this long (and retried), and a call made before the
   * first connection is ready waits for it at most this long. 1 to {@link redisConnectTimeoutMsMax}. Default 1 000.
   */
  connectTimeoutMs?: number;
  /**
   * With `url`: the longest wait between reconnect attempts (they start at {@link redisReconnectDelayMsFirst} ms
   * and double). {@link redisReconnectDelayMsFirst} to {@link redisReconnectDelayCapMsMax}. Default 1 000.
   */
  reconnectDelayCapMs?: number;
  /**
   * With `url`: how many reconnects a command already sent survives (ioredis `maxRetriesPerRequest`).
   * 0 to {@link redisCommandRetriesMax}. Default 0.
   */
  commandRetries?: number;
  /**
   * Most increments (and, separately, advances) made in one turn of the event loop that go to Redis as one script
   * call: each keeps its own reply or error and they run in call order, atomically together. Order holds among the
   * calls of one kind: a `get`, `setIfAbsent` or `reset` (sent alone) made later in the same turn, or an increment
   * among advances, may run first — await a call to order what follows it. 1 to
   * {@link redisBatchOpsMax}; 1 sends every call alone. Default {@link redisBatchOpsDefault}. Always 1 on a
   * Cluster (the keys of one turn live on different slots).
   */
  batchOpsMax?: number;
}

interface CounterCommands {
  arrakisCounterIncrement(key: string, by: string, mode: string, at: string, valueMax: string): Promise<string>;
  arrakisCounterIncrementBatch(keyCount: number, ...keysThenArgs: string[]): Promise<string[]>;
  arrakisCounterAdvanceBatch(keyCount: number, ...keysThenArgs: string[]): Promise<string[]>;
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
 * A client opened from `url` fails fast while Redis is away, so a failure policy decides within a bounded
 * time: no offline queue (a call made while there is no connection fails at once), `commandTimeoutMs` on every
 * reply and on a reconnect in progress, and no resend of a command in flight when the connection drops. Only the
 * calls made before the first connection is ready (just after start) wait longer, up to `connectTimeoutMs`. It keeps reconnecting in the background (every {@link redisReconnectDelayMsFirst} ms, doubling up to
 * `reconnectDelayCapMs`) until `close()`, so it recovers by itself when Redis is back.
 *
 * @throws {InvalidCounterInputError} `invalid_option` for both or neither of client/url, a bad url or keyPrefix,
 *   a timeout option out of range, or a timeout option given with `client`.
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
  const sources = [options.client, options.url, options.clusterUrls].filter((given) => given !== undefined);
  if (sources.length !== 1) {
    throw new InvalidCounterInputError('invalid_option', 'exactly one of client, url or clusterUrls is required');
  }
  if (options.url !== undefined) assertRedisUrl('url', options.url);
  if (options.clusterUrls !== undefined) clusterSeeds(options.clusterUrls);
  const ownsClient = options.client === undefined;
  if (!ownsClient) {
    const given = clientOwnedOptions.filter((name) => options[name] !== undefined);
    if (given.length > 0) {
      throw new InvalidCounterInputError(
        'invalid_option',
        `${given.join(', ')} apply to a client opened from url; set the matching ioredis options on your client instead`,
      );
    }
  }
  const commandTimeoutMs = integerOption(
    'commandTimeoutMs',
    options.commandTimeoutMs,
    redisCommandTimeoutMsDefault,
    1,
    redisCommandTimeoutMsMax,
  );
  const connectTimeoutMs = integerOption(
    'connectTimeoutMs',
    options.connectTimeoutMs,
    redisConnectTimeoutMsDefault,
    1,
    redisConnectTimeoutMsMax,
  );
  const reconnectDelayCapMs = integerOption(
    'reconnectDelayCapMs',
    options.reconnectDelayCapMs,
    redisReconnectDelayCapMsDefault,
    redisReconnectDelayMsFirst,
    redisReconnectDelayCapMsMax,
  );
  const commandRetries = integerOption(
    'commandRetries',
    options.commandRetries,
    redisCommandRetriesDefault,
    0,
    redisCommandRetriesMax,
  );

  const failFast = {
    enableOfflineQueue: false as const,
    // No ioredis commandTimeout: `send` keeps the deadline, checked after pending replies are read.
    connectTimeout: connectTimeoutMs,
    maxRetriesPerRequest: commandRetries,
  };
  const retryStrategy = (attempt: number) => redisReconnectDelayMs(attempt, reconnectDelayCapMs);
  const client: Redis | Cluster =
    options.client ??
    (options.clusterUrls === undefined
      ? new Redis(options.url as string, { enableAutoPipelining: true, ...failFast, retryStrategy })
      : openCluster(clusterSeeds(options.clusterUrls), failFast, retryStrategy));
  // Connection errors reach callers as rejected commands (BackendUnavailableError); without a
  // listener ioredis would also print every reconnect failure.
  if (ownsClient) client.on('error', () => {});
  defineCommands(client);
  const redis = client as unknown as CounterCommands;
  // Without an offline queue a command sent while the connection is still being set up would fail although Redis
  // is there: such a call waits for it, up to connectTimeoutMs for the first connection (a process just started),
  // up to commandTimeoutMs for a reconnect (Redis was away: decide fast).
  const connected = ownsClient
    ? connectionGate(client, { firstMs: connectTimeoutMs, laterMs: commandTimeoutMs })
    : () => undefined;

  /** Runs one command: waits for a connection being set up, keeps the deadline, maps failures. */
  async function send<T>(command: () => Promise<T>): Promise<T> {
    try {
      const connecting = connected();
      if (connecting !== undefined) await connecting;
      return ownsClient ? await withinDeadline(command(), commandTimeoutMs) : await command();
    } catch (error) {
      throw unavailable(error);
    }
  }

  const isCluster = (client as { isCluster?: boolean }).isCluster === true;
  const batchOpsAsked = integerOption('batchOpsMax', options.batchOpsMax, redisBatchOpsDefault, 1, redisBatchOpsMax);
  const batchOpsMax = isCluster ? 1 : batchOpsAsked;
  const failed = (message: string) => new BackendUnavailableError('redis', new Error(message));
  const incrementCall = createBatcher(
    {
      one: (key, [by, mode, at, valueMax]) =>
        send(() => redis.arrakisCounterIncrement(key, by as string, mode as string, at as string, valueMax as string)),
      many: (keys, args) => send(() => redis.arrakisCounterIncrementBatch(keys.length, ...keys, ...args)),
      failed,
    },
    batchOpsMax,
  );
  const advanceCall = createBatcher(
    {
      one: (key, [by, max, at, mode, floor]) =>
        send(() => redis.arrakisCounterAdvance(key, by as string, max as string, at as string, mode as string, floor)),
      many: (keys, args) => send(() => redis.arrakisCounterAdvanceBatch(keys.length, ...keys, ...args)),
      failed,
    },
    batchOpsMax,
  );

  return {
    name: 'redis',
    async increment(key: string, by: bigint, opts: IncrementOptions): Promise<bigint> {
      assertKey(key);
      assertAmount('by', by);
      assertExpiry(opts);
      const value = await incrementCall(keyPrefix + key, [
        by.toString(),
        opts.ttlMs !== undefined ? 'PX' : 'PXAT',
        String(opts.ttlMs ?? opts.expiresAtMs),
        valueMaxArg,
      ]);
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
      const setMode = opts.expiry === 'keep' ? keepModes[mode] : mode;
      const floor = opts.floor === undefined ? '0' : opts.floor.toString();
      const reply = await advanceCall(keyPrefix + key, [by, max, at, setMode, floor]);
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
      const reply = await send(() => redis.arrakisCounterGet(keyPrefix + key));
      if (reply === null) return null;
      const space = reply.indexOf(' ');
      return { value: BigInt(reply.slice(0, space)), expiresAtMs: expiryOf(key, Number(reply.slice(space + 1))) };
    },
    async reset(key: string): Promise<void> {
      assertKey(key);
      await send(() => redis.del(keyPrefix + key));
    },
    async setIfAbsent(key: string, value: bigint, opts: ExpiryOptions): Promise<boolean> {
      assertKey(key);
      assertAmount('value', value);
      assertExpiry(opts);
      const mode = opts.ttlMs !== undefined ? 'PX' : 'PXAT';
      const reply = await send(() =>
        redis.set(keyPrefix + key, value.toString(), 'NX', mode, String(opts.ttlMs ?? opts.expiresAtMs)),
      );
      return reply === 'OK';
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

/** The timeout options that only apply to a client the backend opens from `url`. */
const clientOwnedOptions = ['commandTimeoutMs', 'connectTimeoutMs', 'reconnectDelayCapMs', 'commandRetries'] as const;

function integerOption(name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new InvalidCounterInputError(
      'invalid_option',
      `redisBackend(): ${name} must be an integer in [${min}, ${max}], got ${String(value)}`,
      { details: { [name]: String(value), min, max } },
    );
  }
  return value;
}

/**
 * Delay before reconnect attempt `attempt` (1-based): {@link redisReconnectDelayMsFirst} ms, doubling, at most
 * `capMs`. Always a number, so ioredis never stops trying.
 */
export function redisReconnectDelayMs(attempt: number, capMs: number): number {
  // 2^20 · 50 ms is far past any cap accepted; clamping the exponent keeps the arithmetic finite.
  const exponent = Math.min(Math.max(attempt, 1) - 1, 20);
  return Math.min(redisReconnectDelayMsFirst * 2 ** exponent, capMs);
}

/**
 * `promise`, or a rejection when it has not settled `timeoutMs` after the call. The deadline is checked after the
 * event loop has read the replies that are waiting (a `setImmediate` after the timer), so a process that was busy or
 * descheduled past the deadline does not fail a command whose reply has arrived: only a silent Redis fails it.
 */
function withinDeadline<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      setImmediate(() => reject(new Error(`no reply within ${timeoutMs} ms (commandTimeoutMs)`)));
    }, timeoutMs);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

const establishing = new Set(['connecting', 'connect']);

/**
 * Returns a function that returns undefined at once unless a connection is being established, and otherwise a
 * promise, shared by every caller of this attempt, that settles when the client is ready, the attempt failed, or
 * the wait bound passed — whichever is first: `firstMs` until the client was ready once, then `laterMs`. The
 * command then runs (or fails fast) as usual.
 */
function connectionGate(
  client: Redis | Cluster,
  waitMs: { firstMs: number; laterMs: number },
): () => Promise<void> | undefined {
  let pending: Promise<void> | undefined;
  let wasReady = client.status === 'ready';
  client.on('ready', () => {
    wasReady = true;
  });
  return () => {
    if (!establishing.has(client.status)) return undefined;
    pending ??= new Promise<void>((resolve) => {
      let settled = false;
      const done = () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        client.off('ready', done).off('close', done).off('end', done);
        pending = undefined;
        resolve();
      };
      // Checked after the replies that are waiting are read, like the command deadline.
      const timer = setTimeout(() => setImmediate(done), wasReady ? waitMs.laterMs : waitMs.firstMs);
      client.once('ready', done).once('close', done).once('end', done);
    });
    return pending;
  };
}

function assertRedisUrl(field: string, url: unknown): asserts url is string {
  if (typeof url !== 'string' || !/^rediss?:\/\//.test(url)) {
    throw new InvalidCounterInputError(
      'invalid_option',
      `${field} must start with redis:// or rediss://, got ${JSON.stringify(url)}`,
    );
  }
}

interface ClusterSeeds {
  nodes: ClusterNode[];
  /** Credentials and TLS of every node (from the seed URLs). */
  redisOptions: Pick<RedisOptions, 'username' | 'password' | 'tls'>;
}

/** The seed nodes of `clusterUrls`, checked: 1..16 redis(s):// URLs with a host, one set of credentials, one scheme. */
function clusterSeeds(urls: readonly string[]): ClusterSeeds {
  if (!Array.isArray(urls) || urls.length === 0 || urls.length > redisClusterSeedsMax) {
    throw new InvalidCounterInputError('invalid_option', `clusterUrls must list 1 to ${redisClusterSeedsMax} URLs`);
  }
  const parsed = urls.map((url, index) => {
    assertRedisUrl(`clusterUrls[${index}]`, url);
    const { protocol, hostname, port, username, password } = new URL(url);
    return {
      protocol,
      host: hostname.replace(/^\[|\]$/g, ''),
      port: port === '' ? 6379 : Number(port),
      username,
      password,
    };
  });
  const first = parsed[0] as (typeof parsed)[number];
  const mixed = parsed.find(
    (node) => node.protocol !== first.protocol || node.username !== first.username || node.password !== first.password,
  );
  if (mixed !== undefined) {
    throw new InvalidCounterInputError('invalid_option', 'clusterUrls must share one scheme, user name and password');
  }
  const decode = (text: string) => (text === '' ? undefined : decodeURIComponent(text));
  const username = decode(first.username);
  const password = decode(first.password);
  return {
    nodes: parsed.map(({ host, port }) => ({ host, port })),
    redisOptions: {
      ...(username === undefined ? {} : { username }),
      ...(password === undefined ? {} : { password }),
      ...(first.protocol === 'rediss:' ? { tls: {} } : {}),
    },
  };
}

/** An ioredis Cluster that fails fast like the client opened from `url` (no offline queue, bounded waits). */
function openCluster(
  seeds: ClusterSeeds,
  failFast: { enableOfflineQueue: false; connectTimeout: number; maxRetriesPerRequest: number },
  retryStrategy: (attempt: number) => number,
): Cluster {
  return new Cluster(seeds.nodes, {
    enableAutoPipelining: true,
    enableOfflineQueue: false,
    clusterRetryStrategy: retryStrategy,
    redisOptions: {
      ...seeds.redisOptions,
      connectTimeout: failFast.connectTimeout,
      maxRetriesPerRequest: failFast.maxRetriesPerRequest,
    },
  });
}

function defineCommands(client: Redis | Cluster): void {
  const scripts: [name: string, lua: string, readOnly: boolean][] = [
    ['arrakisCounterIncrement', incrementLua, false],
    ['arrakisCounterAdvance', advanceLua, false],
    ['arrakisCounterGet', getLua, true],
  ];
  const batches: [name: string, lua: string][] = [
    ['arrakisCounterIncrementBatch', incrementBatchLua],
    ['arrakisCounterAdvanceBatch', advanceBatchLua],
  ];
  for (const [name, lua] of batches) {
    // No numberOfKeys: the key count is the first argument of each call.
    if (typeof (client as unknown as Record<string, unknown>)[name] !== 'function') client.defineCommand(name, { lua });
  }
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
