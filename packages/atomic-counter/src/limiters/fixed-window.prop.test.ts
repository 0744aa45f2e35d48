import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { memoryBackend } from '../adapters/memory/index.js';
import { ManualClock } from '../ports/clock.js';
import type { CounterBackend } from '../ports/counter-backend.js';
import { fixedWindow } from './fixed-window.js';
import { assertDecisionShape, assertRetryAfterExact, consumeInterleaved, scheduledBackend } from './test-support.js';

const numRuns = 200;
const start = Date.UTC(2026, 0, 1);

const config = fc.record({
  limit: fc.integer({ min: 1, max: 6 }),
  windowMs: fc.integer({ min: 1, max: 50 }),
  offsetMs: fc.integer({ min: 0, max: 10_000 }),
});
const call = (limitMax: number) =>
  fc.record({ key: fc.constantFrom('a', 'b'), cost: fc.integer({ min: 1, max: limitMax }) });

describe('fixedWindow properties', () => {
  it('never admits more than limit per window under any interleaving and latency', async () => {
    await fc.assert(
      fc.asyncProperty(
        config,
        fc.array(call(6), { minLength: 1, maxLength: 25 }),
        fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 60 })), { minLength: 1, maxLength: 20 }),
        fc.scheduler(),
        async ({ limit, windowMs, offsetMs }, calls, deltasMs, s) => {
          const clock = new ManualClock(start + offsetMs);
          const backend = scheduledBackend(memoryBackend({ clock }), s);
          const limiter = fixedWindow({ backend, limit, windowMs, clock });
          const admitted = await consumeInterleaved({ limiter, calls, limit, scheduler: s, clock, deltasMs });
          const perWindow = new Map<string, number>();
          for (const a of admitted) {
            // Counted in the window its write landed in (resetAtMs is that window's end): never one before the call.
            const index = a.decision.resetAtMs / windowMs - 1;
            expect(index).toBeGreaterThanOrEqual(Math.floor(a.atMs / windowMs));
            const id = `${a.key}:${index}`;
            perWindow.set(id, (perWindow.get(id) ?? 0) + a.cost);
          }
          for (const total of perWindow.values()) expect(total).toBeLessThanOrEqual(limit);
        },
      ),
      { numRuns },
    );
  });

  it('never refuses a call while fewer than limit calls were made, whatever the latency across window boundaries', async () => {
    // Round trips (time before the write reaches the backend + time for the reply) of at most half a window: a
    // call crosses at most one boundary, so it is decided in 2 attempts. Limits up to 1 000 000 per window.
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 2, max: 200 }).chain((windowMs) =>
          fc.record({
            windowMs: fc.constant(windowMs),
            offsetMs: fc.integer({ min: 0, max: 10_000 }),
            extraLimit: fc.oneof(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 1_000_000 })),
            calls: fc.array(
              fc.record({
                gapMs: fc.integer({ min: 0, max: 2 * windowMs }),
                beforeWriteMs: fc.integer({ min: 0, max: Math.floor(windowMs / 2) }),
                replyShare: fc.double({ min: 0, max: 1, noNaN: true }),
              }),
              { minLength: 1, maxLength: 30 },
            ),
          }),
        ),
        async ({ windowMs, offsetMs, extraLimit, calls }) => {
          const limit = calls.length + extraLimit; // more than the calls made, in any window
          const clock = new ManualClock(start + offsetMs);
          const inner = memoryBackend({ clock });
          let latency = { beforeWriteMs: 0, afterWriteMs: 0 };
          const slow: CounterBackend = {
            ...inner,
            advance: async (key, options) => {
              clock.advance(latency.beforeWriteMs);
              const result = await inner.advance(key, options);
              clock.advance(latency.afterWriteMs);
              return result;
            },
          };
          const limiter = fixedWindow({ backend: slow, limit, windowMs, clock });
          for (const call of calls) {
            clock.advance(call.gapMs);
            const roomMs = Math.floor(windowMs / 2) - call.beforeWriteMs;
            latency = { beforeWriteMs: call.beforeWriteMs, afterWriteMs: Math.floor(roomMs * call.replyShare) };
            const decision = await limiter.consume('a');
            assertDecisionShape(decision, limit);
            expect(decision.allowed).toBe(true);
            expect(clock.nowMs()).toBeLessThan(decision.resetAtMs);
          }
        },
      ),
      { numRuns },
    );
  });

  it('counts exactly what it admits, never a refusal (concurrent batches, clock moving between them)', async () => {
    await fc.assert(
      fc.asyncProperty(
        config,
        fc.array(
          fc.record({ advanceMs: fc.integer({ min: 0, max: 40 }), calls: fc.array(call(6), { maxLength: 8 }) }),
          {
            minLength: 1,
            maxLength: 8,
          },
        ),
        async ({ limit, windowMs, offsetMs }, batches) => {
          const clock = new ManualClock(start + offsetMs);
          const backend = memoryBackend({ clock });
          const limiter = fixedWindow({ backend, limit, windowMs, clock });
          const admittedPerWindow = new Map<string, number>();
          for (const batch of batches) {
            clock.advance(batch.advanceMs);
            const index = Math.floor(clock.nowMs() / windowMs);
            const decisions = await Promise.all(
              batch.calls.map(({ key, cost }) => limiter.consume(key, Math.min(cost, limit))),
            );
            decisions.forEach((d, i) => {
              assertDecisionShape(d, limit);
              const { key, cost } = batch.calls[i] as { key: string; cost: number };
              if (d.allowed)
                admittedPerWindow.set(
                  `${key}:${index}`,
                  (admittedPerWindow.get(`${key}:${index}`) ?? 0) + Math.min(cost, limit),
                );
              else expect(d.retryAfterMs).toBe((index + 1) * windowMs - clock.nowMs());
            });
            for (const key of ['a', 'b']) {
              const stored = await backend.get(`rl:fw:${key}:${index}`);
              expect(Number(stored?.value ?? 0n)).toBe(admittedPerWindow.get(`${key}:${index}`) ?? 0);
            }
          }
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
        async ({ limit, windowMs, offsetMs }, steps) => {
          const clock = new ManualClock(start + offsetMs);
          const limiter = fixedWindow({ backend: memoryBackend({ clock }), limit, windowMs, clock });
          await assertRetryAfterExact({ limiter, clock, limit, steps });
        },
      ),
      { numRuns },
    );
  });
});
