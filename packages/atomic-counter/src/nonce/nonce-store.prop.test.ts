import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { memoryBackend } from '../adapters/memory/index.js';
import { clockAct, scheduledBackend } from '../limiters/test-support.js';
import { ManualClock } from '../ports/clock.js';
import type { CounterBackend } from '../ports/counter-backend.js';
import { nonceStore } from './nonce-store.js';

const numRuns = 200;
const start = Date.UTC(2026, 0, 1);

describe('nonceStore properties', () => {
  it('exactly one concurrent claim of a (scope, nonce) wins, under any interleaving', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ scope: fc.constantFrom('x402', 'webhooks'), nonce: fc.constantFrom('n1', 'n2', 'n3') }), {
          minLength: 1,
          maxLength: 30,
        }),
        fc.scheduler(),
        async (claims, s) => {
          const clock = new ManualClock(start);
          const nonces = nonceStore({ backend: scheduledBackend(memoryBackend({ clock }), s), ttlMs: 60_000, clock });
          const pending = claims.map((c, i) =>
            s.schedule(Promise.resolve(), `claim ${i}`).then(() => nonces.claim(c.nonce, { scope: c.scope })),
          );
          await s.waitIdle();
          const won = await Promise.all(pending);
          const winners = new Map<string, number>();
          claims.forEach((c, i) => {
            const id = `${c.scope}/${c.nonce}`;
            winners.set(id, (winners.get(id) ?? 0) + (won[i] ? 1 : 0));
          });
          for (const count of winners.values()) expect(count).toBe(1);
        },
      ),
      { numRuns },
    );
  });

  it('a nonce is claimable once per TTL while the clock moves and calls are in flight', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 50 }),
        fc.array(fc.integer({ min: 0, max: 30 }), { minLength: 1, maxLength: 20 }),
        fc.integer({ min: 1, max: 20 }),
        fc.scheduler(),
        async (ttlMs, deltasMs, count, s) => {
          const clock = new ManualClock(start);
          const inner = memoryBackend({ clock });
          // When each claim reaches the store, and whether it set the key.
          const landings: { atMs: number; won: boolean }[] = [];
          const observed: CounterBackend = {
            ...inner,
            setIfAbsent: async (key, value, options) => {
              const atMs = clock.nowMs();
              const won = await inner.setIfAbsent(key, value, options);
              landings.push({ atMs, won });
              return won;
            },
          };
          const nonces = nonceStore({ backend: scheduledBackend(observed, s), ttlMs, clock });
          const pending = Array.from({ length: count }, (_, i) =>
            s.schedule(Promise.resolve(), `claim ${i}`).then(() => nonces.claim('n')),
          );
          await s.waitIdle(clockAct(clock, deltasMs));
          const won = await Promise.all(pending);
          const wins = landings.filter((l) => l.won).map((l) => l.atMs);
          expect(wins.length).toBe(won.filter(Boolean).length);
          expect(wins[0]).toBe(landings[0]?.atMs);
          for (let i = 1; i < wins.length; i++) {
            expect((wins[i] as number) - (wins[i - 1] as number)).toBeGreaterThanOrEqual(ttlMs);
          }
          // A claim that lost landed while the previous win was still remembered.
          let lastWinMs = Number.NEGATIVE_INFINITY;
          for (const l of landings) {
            if (l.won) lastWinMs = l.atMs;
            else expect(l.atMs - lastWinMs).toBeLessThan(ttlMs);
          }
        },
      ),
      { numRuns },
    );
  });
});
