// Child process of postgres-driver-patch.test.ts: runs one scenario against the real Postgres at DATABASE_URL with
// the installed postgres.js (patches/postgres@3.4.9.patch), or with the module at POSTGRES_DRIVER_URL (a file URL,
// e.g. an unpatched copy). A separate process so that an uncaught exception shows as its exit code:
//   0: the scenario held; 1: Node's exit code for an uncaught exception (the upstream crash);
//   3: the scenario failed (a query hung, resolved on another session, or rejected with an unexpected error).
// It prints one JSON line `{ scenario, ok, ... }` on stdout. By hand:
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test node tests/postgres-driver-patch.child.mjs reserved-after-terminate
import net from 'node:net';

const { default: postgres } = await import(process.env.POSTGRES_DRIVER_URL || 'postgres');
const databaseUrl = process.env.DATABASE_URL;
const scenarioName = process.argv[2];

/** Longest wait for one query to settle; a query still pending then counts as hung. */
const settleWaitMsMax = 3_000;
/** Longest wait for the driver to notice that a terminated backend closed its socket. */
const closeWaitMsMax = 5_000;
/** Connect timeout of the clients under test, in seconds: a connection that cannot start fails fast. */
const connectTimeoutSeconds = 2;
/** Size of the statement that fills the backend's receive buffer, so its exit resets the socket (RST). */
const unreadPayloadBytes = 4 * 1024 * 1024;
/** Exit code of a scenario that did not hold (1 is Node's own for an uncaught exception). */
const scenarioFailedExitCode = 3;

/** How a query ended within `waitMs`: fulfilled, rejected (with its code), or still pending (hung). */
async function settle(query, waitMs = settleWaitMsMax) {
  let timer;
  const pending = new Promise((resolve) => {
    timer = setTimeout(() => resolve({ status: 'pending' }), waitMs);
  });
  const outcome = await Promise.race([
    Promise.resolve(query).then(
      (rows) => ({ status: 'fulfilled', rows: Array.from(rows ?? []) }),
      (error) => ({ status: 'rejected', code: error?.code ?? null, message: String(error?.message ?? error) }),
    ),
    pending,
  ]);
  clearTimeout(timer);
  return outcome;
}

const rejectedClosed = (outcome) => outcome.status === 'rejected' && outcome.code === 'CONNECTION_CLOSED';
/** A lost connection: closed by the server (FIN), reset (RST), or refused on a socket already gone. */
const rejectedLost = (outcome) =>
  outcome.status === 'rejected' && ['CONNECTION_CLOSED', 'ECONNRESET', 'EPIPE'].includes(outcome.code);

/** A client whose `nextClose()` resolves the next time the driver reports a closed connection (bounded). */
function client(options = {}) {
  let onClosed = () => {};
  const sql = postgres(databaseUrl, {
    onnotice: () => {},
    connect_timeout: connectTimeoutSeconds,
    ...options,
    onclose: () => onClosed(),
  });
  sql.nextClose = () =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no connection closed in ${closeWaitMsMax} ms`)), closeWaitMsMax);
      onClosed = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  return sql;
}

async function backendPid(sql) {
  const [row] = await sql`select pg_backend_pid() as pid`;
  return row.pid;
}

async function terminate(pid) {
  const killer = postgres(databaseUrl, { max: 1, onnotice: () => {}, connect_timeout: connectTimeoutSeconds });
  try {
    const [row] = await killer`select pg_terminate_backend(${pid}) as terminated`;
    if (row.terminated !== true) throw new Error(`pg_terminate_backend(${pid}) answered ${row.terminated}`);
  } finally {
    await killer.end({ timeout: 1 });
  }
}

const scenarios = {
  /**
   * porsager/postgres#1208: a reserved connection whose backend is terminated. Upstream, the next query on it
   * dereferences the null socket in an Immediate (`TypeError ... reading 'write'`, uncaught: exit 1).
   * Patched: both queries reject with CONNECTION_CLOSED, and the pool reconnects for the next query.
   */
  async 'reserved-after-terminate'() {
    const sql = client({ max: 2 });
    const reserved = await sql.reserve();
    const pid = await backendPid(reserved);
    const closed = sql.nextClose();
    await terminate(pid);
    await closed;
    const first = await settle(reserved`select 1 as one`);
    const second = await settle(reserved`select 2 as two`);
    reserved.release();
    const pool = await settle(sql`select pg_backend_pid() as pid`);
    await sql.end({ timeout: 1 });
    return {
      ok: rejectedClosed(first) && rejectedClosed(second) && pool.status === 'fulfilled',
      first,
      second,
      pool,
    };
  },

  /**
   * The same, without waiting for the close: the query races the socket's 'close' (issue 1208's own sequence).
   * Every query settles, with a lost-connection error, and none crashes the process.
   */
  async 'reserved-racing-terminate'() {
    const sql = client({ max: 2 });
    const reserved = await sql.reserve();
    const pid = await backendPid(reserved);
    await terminate(pid);
    const first = await settle(reserved`select 1 as one`);
    const second = await settle(reserved`select 2 as two`);
    reserved.release();
    const pool = await settle(sql`select 3 as three`);
    await sql.end({ timeout: 1 });
    return {
      ok: rejectedLost(first) && rejectedLost(second) && pool.status === 'fulfilled',
      first,
      second,
      pool,
    };
  },

  /**
   * A reserved connection released after its backend was terminated (what a transaction helper's `finally` does).
   * Upstream, release() puts the dead connection back among the open ones: the next pool query on it crashes the
   * process (or, with a bare null guard, fails forever: one connection of the pool lost for good).
   * Patched: release() is a no-op (the pool already has it back as closed) and every pool query succeeds.
   */
  async 'release-after-terminate'() {
    const sql = client({ max: 2 });
    const reserved = await sql.reserve();
    const pid = await backendPid(reserved);
    const closed = sql.nextClose();
    await terminate(pid);
    await closed;
    reserved.release();
    const outcomes = await Promise.all(Array.from({ length: 8 }, () => settle(sql`select pg_sleep(0.02), 1 as one`)));
    const again = await Promise.all(Array.from({ length: 8 }, () => settle(sql`select 2 as two`)));
    await sql.end({ timeout: 1 });
    const all = [...outcomes, ...again];
    return {
      ok: all.every((outcome) => outcome.status === 'fulfilled'),
      statuses: all.map((outcome) => (outcome.status === 'rejected' ? outcome.code : outcome.status)),
    };
  },

  /**
   * A reservation whose connection the pool has reconnected since (one connection: the pool reuses it at once).
   * Upstream, the stale reserved handle runs its query on the pool's new session (a `rollback` there would end
   * somebody else's transaction). Patched: it rejects with CONNECTION_CLOSED.
   */
  async 'reservation-not-reused-after-reconnect'() {
    const sql = client({ max: 1 });
    const reserved = await sql.reserve();
    const pid = await backendPid(reserved);
    const closed = sql.nextClose();
    await terminate(pid);
    await closed;
    const pool = await settle(sql`select pg_backend_pid() as pid`);
    const stale = await settle(reserved`select pg_backend_pid() as pid`);
    reserved.release();
    const after = await settle(sql`select 1 as one`);
    await sql.end({ timeout: 1 });
    return {
      ok: pool.status === 'fulfilled' && rejectedClosed(stale) && after.status === 'fulfilled',
      pool,
      stale,
      after,
    };
  },

  /**
   * The same for `sql.begin`: the transaction rejects when its backend is terminated, and a statement its body still
   * sends after the pool reconnected the connection must not run on the pool's new session.
   */
  async 'transaction-not-continued-after-reconnect'() {
    const sql = client({ max: 1 });
    let stale;
    let pool;
    const transaction = settle(
      sql.begin(async (tx) => {
        const pid = await backendPid(tx);
        const closed = sql.nextClose();
        await terminate(pid);
        await closed;
        pool = await settle(sql`select pg_backend_pid() as pid`);
        stale = await settle(tx`select pg_backend_pid() as pid`);
      }),
      closeWaitMsMax + 2 * settleWaitMsMax,
    );
    const outcome = await transaction;
    // The body goes on after begin() rejected: wait (bounded) until it has sent its stale statement.
    for (let waitedMs = 0; stale === undefined && waitedMs < 2 * settleWaitMsMax; waitedMs += 50) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await sql.end({ timeout: 1 });
    return {
      ok: rejectedLost(outcome) && pool?.status === 'fulfilled' && stale !== undefined && rejectedClosed(stale),
      transaction: outcome,
      pool,
      stale: stale ?? { status: 'not sent' },
    };
  },

  /**
   * A reserve() waiting for a connection (the only one is reserved) when that connection's backend is terminated:
   * the pool reconnects the connection for the waiting request. Upstream, the request became the connection's
   * `initial` only, which ReadyForQuery drops for a reservation: reserve() never settled (a ledger sweeper stuck for
   * good, and the gateway's shutdown with it). Patched: it gets the reconnected connection.
   */
  async 'reservation-waiting-when-connection-closes'() {
    const sql = client({ max: 1 });
    const first = await sql.reserve();
    const pid = await backendPid(first);
    const waiting = settle(
      sql.reserve().then(async (reserved) => {
        const rows = await reserved`select pg_backend_pid() as pid`;
        reserved.release();
        return rows;
      }),
      closeWaitMsMax + settleWaitMsMax,
    );
    const closed = sql.nextClose();
    await terminate(pid);
    await closed;
    const second = await waiting;
    await sql.end({ timeout: 1 });
    return { ok: second.status === 'fulfilled' && second.rows[0]?.pid !== pid, terminatedPid: pid, second };
  },

  /**
   * A reserve() whose connection cannot start (the server refuses it) rejects, and leaves the queue: once the server
   * accepts connections again, queries and reservations are served (no connection is handed to the rejected request
   * and stranded). Upstream holds this too; the patch must not break it (it keeps waiting requests queued).
   */
  async 'reservation-refused-then-server-back'() {
    const refusedPort = await new Promise((resolve) => {
      const server = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address();
        server.close(() => resolve(port));
      });
    });
    const [host, port] = [new URL(databaseUrl).hostname, Number(new URL(databaseUrl).port || 5432)];
    let refusing = true;
    const sql = client({
      max: 1,
      socket: () => net.connect(refusing ? { host: '127.0.0.1', port: refusedPort } : { host, port }),
    });
    const refused = await settle(sql.reserve(), closeWaitMsMax);
    refusing = false;
    const query = await settle(sql`select 1 as one`, closeWaitMsMax);
    const reserved = await settle(
      sql.reserve().then(async (connection) => {
        const rows = await connection`select 2 as two`;
        connection.release();
        return rows;
      }),
      closeWaitMsMax,
    );
    await sql.end({ timeout: 1 });
    return {
      ok: refused.status === 'rejected' && query.status === 'fulfilled' && reserved.status === 'fulfilled',
      refused,
      query,
      reserved,
    };
  },

  /**
   * A socket reset (RST) under a reserved connection: pg_terminate_backend while the backend has unread bytes (a
   * pipelined 4 MiB statement behind a pg_sleep) makes its exit reset the socket. The 'error' (ECONNRESET) rejects
   * the queries sent; a query sent before the 'close' arrives is written to the destroyed socket and, upstream,
   * never settles (closed(hadError) does not reject it). Patched: it rejects with CONNECTION_CLOSED.
   */
  async 'query-between-reset-and-close'() {
    const sql = client({ max: 2 });
    const reserved = await sql.reserve();
    const pid = await backendPid(reserved);
    let late;
    const sleeping = settle(
      reserved`select pg_sleep(30)`.catch((error) => {
        // Runs in the microtasks of the 'error' event, before the socket's 'close'.
        late = settle(reserved`select 1 as one`);
        throw error;
      }),
      closeWaitMsMax,
    );
    // Without parameters, so that the whole statement is written at once (a parameter is described first).
    const unread = settle(reserved.unsafe(`select length('${'x'.repeat(unreadPayloadBytes)}') as bytes`));
    await new Promise((resolve) => setTimeout(resolve, 200)); // the backend is asleep in pg_sleep
    await terminate(pid);
    const slept = await sleeping;
    const lateOutcome = late === undefined ? { status: 'not sent' } : await late;
    const unreadOutcome = await unread;
    reserved.release();
    const pool = await settle(sql`select 2 as two`);
    await sql.end({ timeout: 1 });
    return {
      // The reset is what this scenario is about: when the kernel delivered a FIN instead, it proves nothing.
      ok: slept.code !== 'ECONNRESET' || (lateOutcome.status === 'rejected' && pool.status === 'fulfilled'),
      reset: slept.code === 'ECONNRESET',
      slept,
      late: lateOutcome,
      unread: unreadOutcome,
      pool,
    };
  },

  /**
   * A socket that closes while a write of it waits for its Immediate (a query sent, then the socket's 'close' in the
   * same turn of the event loop: here the socket is destroyed in an Immediate, so its close callback runs before the
   * next Immediates). Upstream, closed() clears the Immediate but leaves `nextWriteTimer` set: the reconnected
   * socket's StartupMessage is appended to the dead bytes and never flushed (CONNECT_TIMEOUT, forever).
   * Patched: the next query reconnects and succeeds.
   */
  async 'reconnect-after-close-with-write-pending'() {
    const sockets = [];
    const [host, port] = [new URL(databaseUrl).hostname, Number(new URL(databaseUrl).port || 5432)];
    const sql = client({
      max: 1,
      socket: () => {
        const socket = net.connect({ host, port });
        sockets.push(socket);
        return socket;
      },
    });
    await sql`select 1 as warm`;
    const closed = sql.nextClose();
    const { query } = await new Promise((resolve) => {
      setImmediate(() => {
        const query = sql`select 2 as two`.execute(); // written in an Immediate of the next turn
        sockets.at(-1).destroy(); // its close callback runs in this turn
        resolve({ query });
      });
    });
    const first = await settle(query);
    await closed;
    const next = await settle(sql`select 3 as three`, (connectTimeoutSeconds + 1) * 1000);
    await sql.end({ timeout: 1 });
    return { ok: rejectedClosed(first) && next.status === 'fulfilled', first, next, sockets: sockets.length };
  },

  /**
   * A backend terminated in the middle of a query: its FATAL (57P01) arrives while the query runs, then the socket
   * closes. The first query of the next session must not be rejected with the dead session's FATAL.
   */
  async 'fatal-not-carried-to-next-session'() {
    const sql = client({ max: 1 });
    const pid = await backendPid(sql);
    const closed = sql.nextClose();
    const sleeping = settle(sql`select pg_sleep(30)`, closeWaitMsMax);
    await new Promise((resolve) => setTimeout(resolve, 200)); // the backend is asleep in pg_sleep
    await terminate(pid);
    const slept = await sleeping;
    await closed;
    const next = await settle(sql`select 1 as one`);
    await sql.end({ timeout: 1 });
    return { ok: slept.status === 'rejected' && next.status === 'fulfilled', slept, next };
  },
};

if (databaseUrl === undefined || databaseUrl === '') {
  console.error('DATABASE_URL is not set');
  process.exit(2);
}
const scenario = scenarios[scenarioName];
if (scenario === undefined) {
  console.error(`unknown scenario ${JSON.stringify(scenarioName)}; one of: ${Object.keys(scenarios).join(', ')}`);
  process.exit(2);
}
const result = await scenario();
console.log(JSON.stringify({ scenario: scenarioName, ...result }));
process.exit(result.ok ? 0 : scenarioFailedExitCode);
