import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { memoryBackend } from '../adapters/memory/index.js';
import { ManualClock } from '../ports/clock.js';
import type { RateLimitDecision } from '../ports/rate-limiter.js';
import { assertDecisionShape, assertRetryAfterExact, consumeInterleaved, scheduledBackend } from './test-support.js';
import { tokenBucket } from './token-bucket.js';

const numRuns = 200;
const start = Date.UTC(2026, 0, 1);

const config = fc.record({
  capacity: fc.integer({ min: 1, max: 8 }),
  refillIntervalMs: fc.integer({ min: 1, max: 40 }),
  refillTokens: fc.integer({ min: 1, max: 5 }),
  offsetMs: fc.integer({ min: 0, max: 10_000 }),
});
const call = fc.record({ key: fc.constantFrom('a', 'b'), cost: fc.integer({ min: 1, max: 8 }) });

describe('tokenBucket properties', () => {
  it('over any interval of d ms admits at most capacity + floor(d · refillTokens / refillIntervalMs), under any interleaving and latency', async () => {
    await fc.assert(
      fc.asyncProperty(
        config,
        fc.array(call, { minLength: 1, maxLength: 20 }),
        fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 30 })), { minLength: 1, maxLength: 30 }),
        fc.scheduler(),
        async ({ capacity, refillIntervalMs, refillTokens, offsetMs }, calls, deltasMs, s) => {
          const clock = new ManualClock(start + offsetMs);
          const backend = scheduledBackend(memoryBackend({ clock }), s);
          const limiter = tokenBucket({ backend, capacity, refillIntervalMs, refillTokens, clock });
          const admitted = await consumeInterleaved({
            limiter,
            calls,
            limit: capacity,
            scheduler: s,
            clock,
            deltasMs,
          });
          for (const from of admitted) {
            for (const to of admitted) {
              if (from.key !== to.key || to.atMs < from.atMs) continue;
              const total = admitted
                .filter((a) => a.key === from.key && a.atMs >= from.atMs && a.atMs <= to.atMs)
                .reduce((sum, a) => sum + a.cost, 0);
              const bound = capacity + Math.floor(((to.atMs - from.atMs) * refillTokens) / refillIntervalMs);
              expect(total).toBeLessThanOrEqual(bound);
            }
          }
        },
      ),
      { numRuns },
    );
  });

  it('refills exactly: after k intervals, exactly min(used, k · refillTokens) of the used tokens are back', async () => {
    await fc.assert(
      fc.asyncProperty(
        config,
        fc.nat({ max: 8 }),
        fc.nat({ max: 5 }),
        async ({ capacity, refillIntervalMs, refillTokens, offsetMs }, usedRaw, k) => {
          const used = Math.min(usedRaw, capacity);
          const clock = new ManualClock(start + offsetMs);
          const limiter = tokenBucket({
            backend: memoryBackend({ clock }),
            capacity,
            refillIntervalMs,
            refillTokens,
            clock,
          });
          for (let i = 0; i < used; i++) expect((await limiter.consume('a')).allowed).toBe(true);
          clock.advance(k * refillIntervalMs);
          let admitted = 0;
          for (let i = 0; i <= capacity; i++) if ((await limiter.consume('a')).allowed) admitted++;
          expect(admitted).toBe(capacity - used + Math.min(used, k * refillTokens));
          if (used === capacity) expect(admitted).toBe(Math.min(capacity, used, k * refillTokens));
        },
      ),
      { numRuns },
    );
  });

  it('counts exactly what it admits: a refused call never moves the bucket (concurrent batches)', async () => {
    await fc.assert(
      fc.asyncProperty(
        config,
        fc.array(fc.record({ advanceMs: fc.integer({ min: 0, max: 40 }), calls: fc.array(call, { maxLength: 8 }) }), {
          minLength: 1,
          maxLength: 8,
        }),
        async ({ capacity, refillIntervalMs, refillTokens, offsetMs }, batches) => {
          const clock = new ManualClock(start + offsetMs);
          const limiter = tokenBucket({
            backend: memoryBackend({ clock }),
            capacity,
            refillIntervalMs,
            refillTokens,
            clock,
          });
          // Reference model: tokens as an exact fraction, tokens·refillIntervalMs kept as an integer.
          const scaledPerToken = refillIntervalMs;
          const scaledCapacity = capacity * scaledPerToken;
          const model = new Map<string, { scaled: number; atMs: number }>();
          for (const batch of batches) {
            clock.advance(batch.advanceMs);
            const nowMs = clock.nowMs();
            const decisions = await Promise.all(
              batch.calls.map(({ key, cost }) => limiter.consume(key, Math.min(cost, capacity))),
            );
            // Within a batch every call sees the same time, so the admitted set must be a sequential outcome.
            for (const key of ['a', 'b']) {
              const state = model.get(key) ?? { scaled: scaledCapacity, atMs: nowMs };
              let scaled = Math.min(scaledCapacity, state.scaled + (nowMs - state.atMs) * refillTokens);
              batch.calls.forEach((c, i) => {
                const d = decisions[i] as RateLimitDecision;
                assertDecisionShape(d, capacity);
                if (c.key === key && d.allowed) scaled -= Math.min(c.cost, capacity) * scaledPerToken;
              });
              expect(scaled).toBeGreaterThanOrEqual(0);
              batch.calls.forEach((c, i) => {
                const d = decisions[i] as RateLimitDecision;
                if (c.key === key && !d.allowed)
                  expect(Math.min(c.cost, capacity) * scaledPerToken).toBeGreaterThan(scaled);
              });
              model.set(key, { scaled, atMs: nowMs });
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
        fc.array(fc.record({ advanceMs: fc.integer({ min: 0, max: 30 }), cost: fc.integer({ min: 1, max: 8 }) }), {
          minLength: 1,
          maxLength: 20,
        }),
        async ({ capacity, refillIntervalMs, refillTokens, offsetMs }, steps) => {
          const clock = new ManualClock(start + offsetMs);
          const limiter = tokenBucket({
            backend: memoryBackend({ clock }),
            capacity,
            refillIntervalMs,
            refillTokens,
            clock,
          });
          await assertRetryAfterExact({ limiter, clock, limit: capacity, steps });
        },
      ),
      { numRuns },
    );
  });
});
