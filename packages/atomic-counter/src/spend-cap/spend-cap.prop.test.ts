import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { memoryBackend } from '../adapters/memory/index.js';
import { BackendUnavailableError, SpendCapExceededError } from '../errors.js';
import { clockAct, scheduledBackend } from '../limiters/test-support.js';
import { ManualClock } from '../ports/clock.js';
import { spendCap } from './spend-cap.js';

const numRuns = 200;
const start = Date.UTC(2026, 0, 1);

describe('spendCap properties', () => {
  it('concurrent records with random amounts never take a period past the cap, under any interleaving and latency', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.bigInt({ min: 1n, max: 1_000n }),
        fc.integer({ min: 1, max: 40 }),
        fc.array(fc.record({ key: fc.constantFrom('a', 'b'), amountMicro: fc.bigInt({ min: 1n, max: 600n }) }), {
          minLength: 1,
          maxLength: 20,
        }),
        fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 20 })), { minLength: 1, maxLength: 20 }),
        fc.scheduler(),
        async (capMicro, windowMs, records, deltasMs, s) => {
          const clock = new ManualClock(start);
          const backend = scheduledBackend(memoryBackend({ clock }), s);
          const cap = spendCap({ backend, capMicro, period: { windowMs }, clock });
          const recorded = new Map<string, bigint>();
          const pending = records.map(({ key, amountMicro }, i) =>
            s.schedule(Promise.resolve(), `record ${i}`).then(async () => {
              try {
                const decision = await cap.record(key, amountMicro);
                expect(decision.allowed).toBe(true);
                expect(decision.usedMicro).toBeLessThanOrEqual(capMicro);
                expect(decision.remainingMicro).toBe(capMicro - decision.usedMicro);
                const id = `${key}:${decision.periodStartMs}`;
                recorded.set(id, (recorded.get(id) ?? 0n) + amountMicro);
              } catch (error) {
                if (error instanceof SpendCapExceededError) {
                  expect(error.usedMicro + error.amountMicro).toBeGreaterThan(capMicro);
                } else if (!(error instanceof BackendUnavailableError)) throw error;
              }
            }),
          );
          await s.waitIdle(clockAct(clock, deltasMs));
          await Promise.all(pending);
          for (const total of recorded.values()) expect(total).toBeLessThanOrEqual(capMicro);
        },
      ),
      { numRuns },
    );
  });

  it('records exactly the accepted amounts and refuses only what would not fit (concurrent, same period)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.bigInt({ min: 1n, max: 10n ** 15n }),
        fc.array(fc.bigInt({ min: 1n, max: 4n * 10n ** 14n }), { minLength: 1, maxLength: 30 }),
        async (capMicro, amounts) => {
          const clock = new ManualClock(start);
          const cap = spendCap({ backend: memoryBackend({ clock }), capMicro, period: 'day-utc', clock });
          const outcomes = await Promise.all(
            amounts.map((amountMicro) =>
              cap.record('a', amountMicro).then(
                () => ({ ok: true, amountMicro }),
                (error: unknown) => {
                  expect(error).toBeInstanceOf(SpendCapExceededError);
                  return { ok: false, amountMicro };
                },
              ),
            ),
          );
          const accepted = outcomes.filter((o) => o.ok).reduce((sum, o) => sum + o.amountMicro, 0n);
          const usage = await cap.usage('a');
          expect(usage.usedMicro).toBe(accepted);
          expect(accepted).toBeLessThanOrEqual(capMicro);
          // Recorded in order, each refusal happened when the running total was at most the final one.
          for (const o of outcomes) if (!o.ok) expect(accepted + o.amountMicro).toBeGreaterThan(capMicro);
        },
      ),
      { numRuns },
    );
  });
});
