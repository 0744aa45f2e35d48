// bench:counter — Redis counter increment and limiter consume throughput, ours against
// rate-limiter-flexible's RateLimiterRedis on the same Redis, in the same run, at 1 and 256 in flight.
// Ends with one JSON line: figures, baseline and ratios. Env: REDIS_URL (default redis://127.0.0.1:6379),
// BENCH_DURATION_MS (default 5000 per measurement), BENCH_REPS (default 2; the best run is kept).
import { randomUUID } from 'node:crypto';
import { fixedWindow } from '@arrakis/atomic-counter';
import { redisBackend } from '@arrakis/atomic-counter/redis';
import { Redis } from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import { closedLoop } from './lib.mjs';

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const durationMs = Number(process.env.BENCH_DURATION_MS ?? 5000);
const reps = Number(process.env.BENCH_REPS ?? 2);
const inFlights = [1, 256];
const keyCount = 1000;
const windowMs = 60_000;
const pointsMax = 1_000_000_000; // never reached: measures the admitted path
const runId = randomUUID().slice(0, 8);

const client = (name) => new Redis(redisUrl, { enableAutoPipelining: true, connectionName: name, lazyConnect: false });
const oursClient = client('bench-ours');
const theirsClient = client('bench-theirs');

const backend = redisBackend({ client: oursClient, keyPrefix: `bench:${runId}:` });
const limiter = fixedWindow({ backend, limit: pointsMax, windowMs, prefix: 'rl' });
const theirs = new RateLimiterRedis({
  storeClient: theirsClient,
  keyPrefix: `bench:${runId}:rlf`,
  points: pointsMax,
  duration: windowMs / 1000,
});
const key = (i) => `k${i % keyCount}`;

const cases = {
  oursIncrement: (i) => backend.increment(key(i), 1n, { ttlMs: windowMs }),
  oursConsume: async (i) => {
    const d = await limiter.consume(key(i));
    if (!d.allowed) throw new Error('unexpected rejection');
  },
  theirsConsume: (i) => theirs.consume(key(i), 1),
};

// Repetitions are interleaved (A B C, A B C, …) so that drift on a shared machine hits every case alike;
// the best run of each case is kept.
const figures = {};
for (const inFlight of inFlights) {
  for (let rep = 0; rep < reps; rep += 1) {
    for (const [name, op] of Object.entries(cases)) {
      const result = await closedLoop({ op, inFlight, durationMs });
      const id = `${name}@${inFlight}`;
      if (!figures[id] || result.opsPerSecond > figures[id].opsPerSecond) figures[id] = result;
      console.error(
        `${name.padEnd(14)} in-flight=${String(inFlight).padStart(3)} rep ${rep + 1}  ${JSON.stringify(result)}`,
      );
    }
  }
}

// Leave nothing behind in the shared Redis.
for (const c of [oursClient]) {
  let cursor = '0';
  do {
    const [next, keys] = await c.scan(cursor, 'MATCH', `bench:${runId}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await c.del(...keys);
  } while (cursor !== '0');
}
await backend.close();
oursClient.disconnect();
theirsClient.disconnect();

const ratio = (a, b) => Number((figures[a].opsPerSecond / figures[b].opsPerSecond).toFixed(3));
console.log(
  JSON.stringify({
    bench: 'counter',
    redisUrl,
    durationMs,
    reps,
    figures,
    baseline: 'rate-limiter-flexible RateLimiterRedis.consume (ioredis, auto-pipelining on)',
    ratio: {
      increment_vs_theirs_consume_at_1: ratio('oursIncrement@1', 'theirsConsume@1'),
      increment_vs_theirs_consume_at_256: ratio('oursIncrement@256', 'theirsConsume@256'),
      consume_vs_theirs_consume_at_1: ratio('oursConsume@1', 'theirsConsume@1'),
      consume_vs_theirs_consume_at_256: ratio('oursConsume@256', 'theirsConsume@256'),
    },
    goal: 'consume_vs_theirs_consume_at_256 >= 1.3 and increment_vs_theirs_consume_at_256 >= 1.5 (issue 15)',
    met: ratio('oursConsume@256', 'theirsConsume@256') >= 1.3 && ratio('oursIncrement@256', 'theirsConsume@256') >= 1.5,
  }),
);
