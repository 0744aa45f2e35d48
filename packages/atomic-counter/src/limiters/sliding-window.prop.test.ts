import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { memoryBackend } from '../adapters/memory/index.js';
import { ManualClock } from '../ports/clock.js';
import { sealMarker, slidingWindow } from './sliding-window.js';
import { assertDecisionShape, assertRetryAfterExact, consumeInterleaved, scheduledBackend } from './test-support.js';

const numRuns = 200;
const start = Date.UTC(2026, 0, 1);

/** The guarantee: in every `windowMs` consecutive ms, admitted cost (by start time) ≤ limit, per key. */
function assertSlidingBound(
  admitted: { key: string; atMs: number; cost: number }[],
  limit: number,
  windowMs: number,
): void {
  for (const last of admitted) {
    const total = admitted
      .filter((a) => a.key === last.key && a.atMs <= last.atMs && a.atMs > last.atMs - windowMs)
      .reduce((sum, a) => sum + a.cost, 0);
    expect(total, `admitted in (${last.atMs - windowMs}, ${last.atMs}] for ${last.key}`).toBeLessThanOrEqual(limit);
  }
}

const config = fc
  .record({
    limit: fc.integer({ min: 1, max: 6 }),
    windowMs: fc.integer({ min: 1, max: 60 }),
    bucketsPerWindow: fc.integer({ min: 1, max: 6 }),
    offsetMs: fc.integer({ min: 0, max: 10_000 }),
  })
  .map((c) => ({ ...c, bucketMs: Math.ceil(c.windowMs / Math.min(c.bucketsPerWindow, c.windowMs)) }));
const call = fc.record({ key: fc.constantFrom('a', 'b'), cost: fc.integer({ min: 1, max: 6 }) });

describe('slidingWindow properties', () => {
  it('never admits more than limit in any windowMs, under any interleaving and latency', async () => {
    await fc.assert(
      fc.asyncProperty(
        config,
        fc.array(call, { minLength: 1, maxLength: 20 }),
        fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 25 })), { minLength: 1, maxLength: 30 }),
        fc.scheduler(),
        async ({ limit, windowMs, bucketMs, offsetMs }, calls, deltasMs, s) => {
          const clock = new ManualClock(start + offsetMs);
          const backend = scheduledBackend(memoryBackend({ clock }), s);
          const limiter = slidingWindow({ backend, limit, windowMs, bucketMs, clock });
          const admitted = await consumeInterleaved({ limiter, calls, limit, scheduler: s, clock, deltasMs });
          assertSlidingBound(admitted, limit, windowMs);
        },
      ),
      { numRuns },
    );
  });

  it('counts exactly what it admits, never a refusal (concurrent batches, clock moving between them)', async () => {
    await fc.assert(
      fc.asyncProperty(
        config,
        fc.array(fc.record({ advanceMs: fc.integer({ min: 0, max: 40 }), calls: fc.array(call, { maxLength: 8 }) }), {
          minLength: 1,
          maxLength: 8,
        }),
        async ({ limit, windowMs, bucketMs, offsetMs }, batches) => {
          const clock = new ManualClock(start + offsetMs);
          const backend = memoryBackend({ clock });
          const limiter = slidingWindow({ backend, limit, windowMs, bucketMs, clock });
          const admitted: { key: string; atMs: number; cost: number }[] = [];
          for (const batch of batches) {
            clock.advance(batch.advanceMs);
            const atMs = clock.nowMs();
            const decisions = await Promise.all(
              batch.calls.map(({ key, cost }) => limiter.consume(key, Math.min(cost, limit))),
            );
            decisions.forEach((d, i) => {
              assertDecisionShape(d, limit);
              const { key, cost } = batch.calls[i] as { key: string; cost: number };
              if (d.allowed) admitted.push({ key, atMs, cost: Math.min(cost, limit) });
            });
            // Every bucket of the window holds exactly the admitted cost (plus the seal on finished ones).
            const first = Math.max(0, Math.floor((atMs - windowMs + 1) / bucketMs));
            const current = Math.floor(atMs / bucketMs);
            for (const key of ['a', 'b']) {
              for (let index = first; index <= current; index++) {
                const stored = (await backend.get(`rl:sw:${key}:${index}`))?.value ?? 0n;
                const count = stored >= sealMarker ? stored - sealMarker : stored;
                const expected = admitted
                  .filter((a) => a.key === key && Math.floor(a.atMs / bucketMs) === index)
                  .reduce((sum, a) => sum + a.cost, 0);
                expect(Number(count)).toBe(expected);
              }
            }
          }
          assertSlidingBound(admitted, limit, windowMs);
        },
      ),
      { numRuns },
    );
  });

  it('retryAfterMs is exact: one ms earlier is still refused, at retryAfterMs the same cost is admitted', async () => {
    await fc.assert(
      fc.asyncProperty(
        config,
        fc.array(fc.record({ advanceMs: fc.integer({ min: 0, max: 30 }), cost: fc.integer({ min: 1, max: 6 }) }), {
          minLength: 1,
          maxLength: 20,
        }),
        async ({ limit, windowMs, bucketMs, offsetMs }, steps) => {
          const clock = new ManualClock(start + offsetMs);
          const limiter = slidingWindow({ backend: memoryBackend({ clock }), limit, windowMs, bucketMs, clock });
          await assertRetryAfterExact({ limiter, clock, limit, steps });
        },
      ),
      { numRuns },
    );
  });
});
