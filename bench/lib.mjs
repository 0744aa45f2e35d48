// Closed-loop load harness shared by the benchmarks: N workers each await one operation at a time.
import { performance } from 'node:perf_hooks';

/**
 * Busy-loop-free closed loop: `inFlight` workers call `op(i)` until `durationMs` has passed. Also reports the CPU
 * this process spent per operation (user + system; the server's CPU is not in it).
 */
export async function closedLoop({ op, inFlight, durationMs, warmupMs = 1000 }) {
  const run = async (ms, record) => {
    const latenciesMs = [];
    let ops = 0;
    let errors = 0;
    const endAt = performance.now() + ms;
    const worker = async (w) => {
      let i = w;
      while (performance.now() < endAt) {
        const t0 = performance.now();
        try {
          await op(i);
          ops += 1;
        } catch {
          errors += 1;
        }
        if (record) latenciesMs.push(performance.now() - t0);
        i += inFlight;
      }
    };
    const t0 = performance.now();
    await Promise.all(Array.from({ length: inFlight }, (_, w) => worker(w)));
    return { ops, errors, elapsedMs: performance.now() - t0, latenciesMs };
  };
  if (warmupMs > 0) await run(warmupMs, false);
  const cpuBefore = process.cpuUsage();
  const { ops, errors, elapsedMs, latenciesMs } = await run(durationMs, true);
  const cpu = process.cpuUsage(cpuBefore);
  latenciesMs.sort((a, b) => a - b);
  const pct = (p) => latenciesMs[Math.min(latenciesMs.length - 1, Math.floor((p / 100) * latenciesMs.length))] ?? 0;
  return {
    opsPerSecond: Math.round((ops / elapsedMs) * 1000),
    errors,
    p50Ms: Number(pct(50).toFixed(3)),
    p99Ms: Number(pct(99).toFixed(3)),
    clientCpuMsPerOp: ops > 0 ? Number(((cpu.user + cpu.system) / 1000 / ops).toFixed(3)) : null,
    clientCpuShare: Number(((cpu.user + cpu.system) / 1000 / elapsedMs).toFixed(3)),
  };
}
