import { afterEach, beforeEach, describe, expect, it } from 'vitest';

/**
 * The counter backend contract: one vitest suite that every `CounterBackend` (in-memory, SQLite,
 * Redis, Postgres, or yours) runs, so all of them behave exactly like the in-memory reference.
 * This package does not depend on `@arrakis/atomic-counter`; the types below mirror its port.
 */

/** Exactly one of a relative TTL or an absolute epoch expiry (mirrors `ExpiryOptions`). */
export type CounterExpiryLike = { ttlMs: number; expiresAtMs?: never } | { expiresAtMs: number; ttlMs?: never };

/** Mirrors `AdvanceOptions` of `@arrakis/atomic-counter`. */
export type CounterAdvanceOptionsLike = CounterExpiryLike & {
  by: bigint;
  floor?: bigint;
  max: bigint;
  expiry?: 'extend' | 'keep';
};

/** Structural twin of the `CounterBackend` port of `@arrakis/atomic-counter`. */
export interface CounterBackendLike {
  readonly name: string;
  increment(key: string, by: bigint, options: CounterExpiryLike): Promise<bigint>;
  advance(
    key: string,
    options: CounterAdvanceOptionsLike,
  ): Promise<{ applied: boolean; value: bigint; expiresAtMs: number | null }>;
  get(key: string): Promise<{ value: bigint; expiresAtMs: number } | null>;
  reset(key: string): Promise<void>;
  setIfAbsent(key: string, value: bigint, options: CounterExpiryLike): Promise<boolean>;
  close(): Promise<void>;
}

/** A manual clock as the suite drives it (a `ManualClock` of `@arrakis/atomic-counter` fits). */
export interface ContractClock {
  nowMs(): number;
  advance(deltaMs: number): void;
}

/** What the suite hands to `makeBackend` and `reopen`: the test's clock in `clock: 'injected'` mode. */
export interface CounterBackendContext {
  clock?: ContractClock;
}

/** Builds a fresh backend (fresh storage: new file, table or key prefix) for one test. */
export type MakeCounterBackend<B extends CounterBackendLike> = (context: CounterBackendContext) => B | Promise<B>;

/** Options of {@link describeCounterBackend}. */
export interface DescribeCounterBackendOptions<B extends CounterBackendLike> {
  /**
   * `injected`: the backend takes the suite's manual clock, and expiry tests move it.
   * `real`: the backend keeps time itself (Redis); expiry tests use real TTLs of at most
   * {@link contractRealTtlMs} ms and poll until the key is gone.
   */
  clock: 'injected' | 'real';
  /**
   * Opens a new backend instance on the storage of the last `makeBackend` call (same file, table
   * or key prefix), with the same context. When given, the suite checks that state survives it.
   */
  reopen?: (context: CounterBackendContext) => B | Promise<B>;
  /** Skips the suite, showing this reason in the test name (e.g. `needs REDIS_URL`). */
  skip?: string;
}

/** Largest counter value every backend keeps exact (2^53 − 1). */
export const contractCounterValueMax = 2n ** 53n - 1n;
/** Longest key every backend accepts, in UTF-8 bytes. */
export const contractKeyBytesMax = 512;
/** Concurrent increments in the atomicity case. */
export const contractIncrementsConcurrent = 500;
/** Concurrent bounded advances in the advance case. */
export const contractAdvancesConcurrent = 500;
/** Concurrent `setIfAbsent` callers in the single-winner case. */
export const contractSetIfAbsentConcurrent = 100;
/** TTL of the real-clock expiry cases. */
export const contractRealTtlMs = 250;
/** How long a real-clock case waits for a key to expire before failing. */
export const contractExpiryWaitMsMax = 3_000;
/** Slack allowed between the test's clock and a backend's own clock in real-clock mode. */
const realClockSlackMs = 50;
const pollIntervalMs = 10;
const hourMs = 3_600_000;

class SuiteClock implements ContractClock {
  #nowMs = Date.UTC(2026, 0, 1);
  nowMs(): number {
    return this.#nowMs;
  }
  advance(deltaMs: number): void {
    this.#nowMs += deltaMs;
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Registers the counter backend contract as a vitest `describe` block: increment, advance, get,
 * reset and setIfAbsent semantics identical to the in-memory reference; exact totals under 500
 * concurrent increments; exactly `floor(max / by)` applied under 500 concurrent bounded advances;
 * a single `setIfAbsent` winner among 100 callers; expiry (manual or real clock); persistence
 * across `reopen`; and code-bearing errors for bad input, before any write.
 *
 * @example
 * import { describeCounterBackend } from '@arrakis/e2e-contracts';
 * import { memoryBackend } from '@arrakis/atomic-counter';
 *
 * describeCounterBackend('memory', ({ clock }) => memoryBackend({ clock }), { clock: 'injected' });
 */
export function describeCounterBackend<B extends CounterBackendLike>(
  name: string,
  makeBackend: MakeCounterBackend<B>,
  options: DescribeCounterBackendOptions<B>,
): void {
  const title = `counter backend contract: ${name}${options.skip === undefined ? '' : ` (skipped: ${options.skip})`}`;
  describe.skipIf(options.skip !== undefined)(title, () => {
    const injected = options.clock === 'injected';
    let clock: SuiteClock | undefined;
    let context: CounterBackendContext;
    let b: B;
    const open: B[] = [];

    const now = () => (clock ? clock.nowMs() : Date.now());
    const track = (backend: B) => {
      open.push(backend);
      return backend;
    };
    const close = async (backend: B) => {
      open.splice(open.indexOf(backend), 1);
      await backend.close();
    };

    beforeEach(async () => {
      clock = injected ? new SuiteClock() : undefined;
      context = clock ? { clock } : {};
      b = track(await makeBackend(context));
    });
    afterEach(async () => {
      for (const backend of open.splice(0)) await backend.close();
    });

    /** Asserts an expiry set from `ttlMs` at a time between `beforeMs` and `afterMs`. */
    function expectTtlExpiry(expiresAtMs: number | null | undefined, beforeMs: number, afterMs: number, ttlMs: number) {
      if (injected) {
        expect(expiresAtMs).toBe(beforeMs + ttlMs);
        return;
      }
      expect(expiresAtMs).toBeGreaterThanOrEqual(beforeMs + ttlMs - realClockSlackMs);
      expect(expiresAtMs).toBeLessThanOrEqual(afterMs + ttlMs + realClockSlackMs);
    }

    /** Real clock: polls until `key` reads as missing; fails after {@link contractExpiryWaitMsMax}. */
    async function waitUntilGone(key: string): Promise<void> {
      const deadline = Date.now() + contractExpiryWaitMsMax;
      while ((await b.get(key)) !== null) {
        if (Date.now() > deadline) throw new Error(`"${key}" still live ${contractExpiryWaitMsMax} ms after its TTL`);
        await sleep(pollIntervalMs);
      }
    }

    /** Writes with a short TTL, checks the key is live while the TTL cannot have passed, then lets it expire. */
    async function expire(key: string, write: (expiry: CounterExpiryLike) => Promise<unknown>): Promise<void> {
      if (clock) {
        await write({ ttlMs: 1_000 });
        clock.advance(999);
        expect(await b.get(key)).not.toBeNull();
        clock.advance(1);
        expect(await b.get(key)).toBeNull();
        return;
      }
      const writtenAtMs = Date.now();
      await write({ ttlMs: contractRealTtlMs });
      const snapshot = await b.get(key);
      if (Date.now() < writtenAtMs + contractRealTtlMs - realClockSlackMs) expect(snapshot).not.toBeNull();
      await waitUntilGone(key);
    }

    describe('increment', () => {
      it('starts a missing key at 0 + by with the given expiry; a live key keeps its expiry', async () => {
        const t0 = now();
        expect(await b.increment('inc', 5n, { expiresAtMs: t0 + hourMs })).toBe(5n);
        expect(await b.get('inc')).toEqual({ value: 5n, expiresAtMs: t0 + hourMs });
        expect(await b.increment('inc', 2n, { expiresAtMs: t0 + 2 * hourMs })).toBe(7n);
        expect(await b.increment('inc', 1n, { ttlMs: 5 * hourMs })).toBe(8n);
        expect(await b.get('inc')).toEqual({ value: 8n, expiresAtMs: t0 + hourMs });
      });

      it('sets the expiry of a new key to now + ttlMs', async () => {
        const before = now();
        expect(await b.increment('ttl', 3n, { ttlMs: 60_000 })).toBe(3n);
        const after = now();
        const snapshot = await b.get('ttl');
        expect(snapshot?.value).toBe(3n);
        expectTtlExpiry(snapshot?.expiresAtMs, before, after, 60_000);
      });

      it('creates a live key at 0 when by is 0', async () => {
        expect(await b.increment('zero', 0n, { ttlMs: 60_000 })).toBe(0n);
        expect((await b.get('zero'))?.value).toBe(0n);
        expect(await b.increment('zero', 0n, { ttlMs: 60_000 })).toBe(0n);
      });

      it('is exact up to 2^53 − 1 and refuses an overflow with invalid_amount, changing nothing', async () => {
        const expiry = { expiresAtMs: now() + hourMs };
        expect(await b.increment('big', contractCounterValueMax - 1n, expiry)).toBe(contractCounterValueMax - 1n);
        await expect(b.increment('big', 2n, expiry)).rejects.toMatchObject({ code: 'invalid_amount' });
        expect((await b.get('big'))?.value).toBe(contractCounterValueMax - 1n);
        expect(await b.increment('big', 1n, expiry)).toBe(contractCounterValueMax);
        await expect(b.increment('big', 1n, expiry)).rejects.toMatchObject({ code: 'invalid_amount' });
        expect(await b.get('big')).toEqual({ value: contractCounterValueMax, expiresAtMs: expiry.expiresAtMs });
      });
    });

    describe('get, reset and keys', () => {
      it('get is null for a missing key; reset deletes, and resetting a missing key is a no-op', async () => {
        expect(await b.get('missing')).toBeNull();
        await b.reset('missing');
        const t0 = now();
        await b.increment('r', 4n, { expiresAtMs: t0 + hourMs });
        await b.reset('r');
        expect(await b.get('r')).toBeNull();
        expect(await b.increment('r', 1n, { expiresAtMs: t0 + 2 * hourMs })).toBe(1n);
        expect(await b.get('r')).toEqual({ value: 1n, expiresAtMs: t0 + 2 * hourMs });
      });

      it('keeps distinct keys apart, unusual characters and the longest key included', async () => {
        const keys = [
          'a',
          'A',
          'a ',
          ' a',
          'a:b',
          'a:b:',
          '{tag}:a',
          'ключ',
          '🔑',
          'a\nb',
          'x'.repeat(contractKeyBytesMax),
        ];
        const expiry = { expiresAtMs: now() + hourMs };
        await Promise.all(keys.map((key, i) => b.increment(key, BigInt(i + 1), expiry)));
        for (const [i, key] of keys.entries()) {
          expect(await b.get(key)).toEqual({ value: BigInt(i + 1), expiresAtMs: expiry.expiresAtMs });
        }
      });
    });

    describe('setIfAbsent', () => {
      it('sets a missing key once and refuses a live one, leaving it unchanged', async () => {
        const t0 = now();
        expect(await b.setIfAbsent('n', 7n, { expiresAtMs: t0 + hourMs })).toBe(true);
        expect(await b.get('n')).toEqual({ value: 7n, expiresAtMs: t0 + hourMs });
        expect(await b.setIfAbsent('n', 9n, { expiresAtMs: t0 + 2 * hourMs })).toBe(false);
        expect(await b.get('n')).toEqual({ value: 7n, expiresAtMs: t0 + hourMs });
        await b.increment('counted', 1n, { ttlMs: 60_000 });
        expect(await b.setIfAbsent('counted', 5n, { ttlMs: 60_000 })).toBe(false);
        expect((await b.get('counted'))?.value).toBe(1n);
        expect(await b.setIfAbsent('big', contractCounterValueMax, { ttlMs: 60_000 })).toBe(true);
        expect((await b.get('big'))?.value).toBe(contractCounterValueMax);
      });

      it('sets the expiry of the key to now + ttlMs', async () => {
        const before = now();
        expect(await b.setIfAbsent('n', 0n, { ttlMs: 60_000 })).toBe(true);
        const after = now();
        const snapshot = await b.get('n');
        expect(snapshot?.value).toBe(0n);
        expectTtlExpiry(snapshot?.expiresAtMs, before, after, 60_000);
      });
    });

    describe('advance', () => {
      it('applies while max(current, floor) + by <= max, and reports the value without changing it otherwise', async () => {
        const exp = now() + hourMs;
        const opts = { by: 2n, max: 5n, expiresAtMs: exp };
        expect(await b.advance('a', opts)).toEqual({ applied: true, value: 2n, expiresAtMs: exp });
        expect(await b.advance('a', opts)).toEqual({ applied: true, value: 4n, expiresAtMs: exp });
        expect(await b.advance('a', opts)).toEqual({ applied: false, value: 4n, expiresAtMs: exp });
        expect(await b.advance('a', { ...opts, by: 1n })).toEqual({ applied: true, value: 5n, expiresAtMs: exp });
        expect(await b.advance('a', { ...opts, by: 1n })).toEqual({ applied: false, value: 5n, expiresAtMs: exp });
        expect(await b.get('a')).toEqual({ value: 5n, expiresAtMs: exp });
      });

      it('refuses on a missing key that cannot fit with {applied: false, value: 0, expiresAtMs: null}, creating nothing', async () => {
        expect(await b.advance('m', { by: 6n, max: 5n, ttlMs: 60_000 })).toEqual({
          applied: false,
          value: 0n,
          expiresAtMs: null,
        });
        expect(await b.advance('m', { by: 1n, floor: 5n, max: 5n, ttlMs: 60_000 })).toEqual({
          applied: false,
          value: 0n,
          expiresAtMs: null,
        });
        expect(await b.get('m')).toBeNull();
      });

      it('takes max(current, floor) as the base', async () => {
        const exp = now() + hourMs;
        expect(await b.advance('f', { by: 5n, floor: 50n, max: 100n, expiresAtMs: exp })).toMatchObject({
          applied: true,
          value: 55n,
        });
        expect(await b.advance('f', { by: 1n, floor: 10n, max: 100n, expiresAtMs: exp })).toMatchObject({
          applied: true,
          value: 56n,
        });
        expect(await b.advance('f', { by: 1n, floor: 99n, max: 100n, expiresAtMs: exp })).toMatchObject({
          applied: true,
          value: 100n,
        });
        expect(await b.advance('f', { by: 1n, floor: 0n, max: 100n, expiresAtMs: exp })).toEqual({
          applied: false,
          value: 100n,
          expiresAtMs: exp,
        });
        expect(
          await b.advance('g', {
            by: 1n,
            floor: contractCounterValueMax - 1n,
            max: contractCounterValueMax,
            expiresAtMs: exp,
          }),
        ).toEqual({ applied: true, value: contractCounterValueMax, expiresAtMs: exp });
        expect(
          await b.advance('g', {
            by: contractCounterValueMax,
            floor: contractCounterValueMax,
            max: contractCounterValueMax,
            expiresAtMs: exp,
          }),
        ).toEqual({ applied: false, value: contractCounterValueMax, expiresAtMs: exp });
      });

      it("extend (default) moves a live key's expiry; keep leaves it; keep on a missing key takes the new one", async () => {
        const t0 = now();
        expect(await b.advance('e', { by: 1n, max: 10n, expiresAtMs: t0 + hourMs })).toEqual({
          applied: true,
          value: 1n,
          expiresAtMs: t0 + hourMs,
        });
        expect(await b.advance('e', { by: 1n, max: 10n, expiresAtMs: t0 + 2 * hourMs, expiry: 'extend' })).toEqual({
          applied: true,
          value: 2n,
          expiresAtMs: t0 + 2 * hourMs,
        });
        expect(await b.advance('e', { by: 1n, max: 10n, expiresAtMs: t0 + 3 * hourMs, expiry: 'keep' })).toEqual({
          applied: true,
          value: 3n,
          expiresAtMs: t0 + 2 * hourMs,
        });
        expect(await b.advance('e', { by: 100n, max: 10n, expiresAtMs: t0 + 4 * hourMs })).toEqual({
          applied: false,
          value: 3n,
          expiresAtMs: t0 + 2 * hourMs,
        });
        expect(await b.get('e')).toEqual({ value: 3n, expiresAtMs: t0 + 2 * hourMs });
        expect(await b.advance('k', { by: 1n, max: 10n, expiresAtMs: t0 + hourMs, expiry: 'keep' })).toEqual({
          applied: true,
          value: 1n,
          expiresAtMs: t0 + hourMs,
        });
      });
    });

    describe(`expiry (${options.clock} clock)`, () => {
      it('an expired key reads as missing, and increment restarts it at by with a new expiry', async () => {
        await expire('x', (expiry) => b.increment('x', 10n, expiry));
        const before = now();
        expect(await b.increment('x', 1n, { ttlMs: 60_000 })).toBe(1n);
        const after = now();
        const snapshot = await b.get('x');
        expect(snapshot?.value).toBe(1n);
        expectTtlExpiry(snapshot?.expiresAtMs, before, after, 60_000);
      });

      it('advance counts an expired key as 0, and keep takes the new expiry', async () => {
        await expire('x', (expiry) => b.advance('x', { by: 8n, max: 10n, ...expiry }));
        expect(await b.advance('x', { by: 5n, max: 4n, ttlMs: 60_000 })).toEqual({
          applied: false,
          value: 0n,
          expiresAtMs: null,
        });
        const before = now();
        const result = await b.advance('x', { by: 9n, max: 10n, ttlMs: 60_000, expiry: 'keep' });
        const after = now();
        expect(result).toMatchObject({ applied: true, value: 9n });
        expectTtlExpiry(result.expiresAtMs, before, after, 60_000);
      });

      it('setIfAbsent succeeds again once the key has expired', async () => {
        await expire('n', async (expiry) => expect(await b.setIfAbsent('n', 1n, expiry)).toBe(true));
        expect(await b.setIfAbsent('n', 2n, { ttlMs: 60_000 })).toBe(true);
        expect((await b.get('n'))?.value).toBe(2n);
      });

      it('an expiresAtMs already past is accepted and the key reads as missing at once', async () => {
        const past = { expiresAtMs: now() - 1_000 };
        expect(await b.increment('p', 3n, past)).toBe(3n);
        expect(await b.get('p')).toBeNull();
        expect(await b.setIfAbsent('q', 3n, past)).toBe(true);
        expect(await b.get('q')).toBeNull();
        expect(await b.setIfAbsent('q', 4n, past)).toBe(true);
        expect(await b.advance('r', { by: 1n, max: 5n, ...past })).toEqual({
          applied: true,
          value: 1n,
          expiresAtMs: past.expiresAtMs,
        });
        expect(await b.get('r')).toBeNull();
      });
    });

    describe('concurrency', () => {
      it(`${contractIncrementsConcurrent} concurrent increments: exact total, each caller sees a distinct value`, async () => {
        const expiry = { ttlMs: hourMs };
        const results = await Promise.all(
          Array.from({ length: contractIncrementsConcurrent }, () => b.increment('hot', 1n, expiry)),
        );
        const sorted = [...results].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
        expect(sorted).toEqual(Array.from({ length: contractIncrementsConcurrent }, (_, i) => BigInt(i + 1)));
        expect((await b.get('hot'))?.value).toBe(BigInt(contractIncrementsConcurrent));
      });

      it(`${contractAdvancesConcurrent} concurrent bounded advances: exactly floor(max / by) applied, never past max`, async () => {
        const by = 3n;
        const max = 1_000n;
        const results = await Promise.all(
          Array.from({ length: contractAdvancesConcurrent }, () => b.advance('cap', { by, max, ttlMs: hourMs })),
        );
        const applied = results.filter((r) => r.applied);
        expect(applied).toHaveLength(Number(max / by));
        expect(new Set(applied.map((r) => r.value)).size).toBe(applied.length);
        for (const r of applied) expect(r.value <= max && r.value % by === 0n).toBe(true);
        for (const r of results.filter((x) => !x.applied)) {
          // A refusal reports the value that caused it.
          expect(r.value + by > max).toBe(true);
          expect(r.expiresAtMs).not.toBeNull();
        }
        expect((await b.get('cap'))?.value).toBe((max / by) * by);
      });

      it(`${contractSetIfAbsentConcurrent} concurrent setIfAbsent callers: exactly one wins and its value is stored`, async () => {
        const results = await Promise.all(
          Array.from({ length: contractSetIfAbsentConcurrent }, (_, i) =>
            b.setIfAbsent('once', BigInt(i + 1), { ttlMs: hourMs }),
          ),
        );
        expect(results.filter(Boolean)).toHaveLength(1);
        expect((await b.get('once'))?.value).toBe(BigInt(results.indexOf(true) + 1));
      });
    });

    it.skipIf(options.reopen === undefined)(
      `state survives closing and reopening the storage${options.reopen ? '' : ' (skipped: no reopen given)'}`,
      async () => {
        const reopen = options.reopen as NonNullable<typeof options.reopen>;
        const exp = now() + hourMs;
        await b.increment('p:inc', 41n, { expiresAtMs: exp });
        await b.advance('p:adv', { by: 5n, max: 10n, expiresAtMs: exp, expiry: 'keep' });
        expect(await b.setIfAbsent('p:nonce', 1n, { expiresAtMs: exp })).toBe(true);
        await close(b);
        const reopened = track(await reopen(context));
        expect(await reopened.get('p:inc')).toEqual({ value: 41n, expiresAtMs: exp });
        expect(await reopened.increment('p:inc', 1n, { expiresAtMs: exp + hourMs })).toBe(42n);
        expect(
          await reopened.advance('p:adv', { by: 5n, max: 10n, expiresAtMs: exp + hourMs, expiry: 'keep' }),
        ).toEqual({
          applied: true,
          value: 10n,
          expiresAtMs: exp,
        });
        expect(await reopened.advance('p:adv', { by: 5n, max: 10n, expiresAtMs: exp + hourMs })).toMatchObject({
          applied: false,
          value: 10n,
        });
        expect(await reopened.setIfAbsent('p:nonce', 2n, { expiresAtMs: exp })).toBe(false);
        expect(await reopened.get('p:nonce')).toEqual({ value: 1n, expiresAtMs: exp });
      },
    );

    it('rejects bad input with a code-bearing error before writing anything', async () => {
      const key = 'bad';
      const ttl = { ttlMs: 60_000 };
      const cases: [label: string, call: () => Promise<unknown>, code: string][] = [
        ['empty key', () => b.increment('', 1n, ttl), 'invalid_key'],
        ['key over the byte limit', () => b.increment('é'.repeat(contractKeyBytesMax / 2 + 1), 1n, ttl), 'invalid_key'],
        ['non-string key', () => b.increment(42 as never, 1n, ttl), 'invalid_key'],
        ['empty key on get', () => b.get(''), 'invalid_key'],
        ['empty key on reset', () => b.reset(''), 'invalid_key'],
        ['empty key on advance', () => b.advance('', { by: 1n, max: 5n, ...ttl }), 'invalid_key'],
        ['empty key on setIfAbsent', () => b.setIfAbsent('', 1n, ttl), 'invalid_key'],
        ['negative by', () => b.increment(key, -1n, ttl), 'invalid_amount'],
        ['number by', () => b.increment(key, 1 as never, ttl), 'invalid_amount'],
        ['by past 2^53 − 1', () => b.increment(key, contractCounterValueMax + 1n, ttl), 'invalid_amount'],
        ['no expiry', () => b.increment(key, 1n, undefined as never), 'invalid_expiry'],
        ['empty expiry', () => b.increment(key, 1n, {} as never), 'invalid_expiry'],
        [
          'both ttlMs and expiresAtMs',
          () => b.increment(key, 1n, { ttlMs: 10, expiresAtMs: now() } as never),
          'invalid_expiry',
        ],
        ['zero ttlMs', () => b.increment(key, 1n, { ttlMs: 0 }), 'invalid_expiry'],
        ['fractional ttlMs', () => b.increment(key, 1n, { ttlMs: 1.5 }), 'invalid_expiry'],
        ['NaN expiresAtMs', () => b.increment(key, 1n, { expiresAtMs: Number.NaN }), 'invalid_expiry'],
        ['negative expiresAtMs', () => b.setIfAbsent(key, 1n, { expiresAtMs: -5 }), 'invalid_expiry'],
        ['negative value', () => b.setIfAbsent(key, -1n, ttl), 'invalid_amount'],
        ['no advance options', () => b.advance(key, undefined as never), 'invalid_option'],
        ['advance by 0', () => b.advance(key, { by: 0n, max: 5n, ...ttl }), 'invalid_amount'],
        ['negative max', () => b.advance(key, { by: 1n, max: -1n, ...ttl }), 'invalid_amount'],
        ['negative floor', () => b.advance(key, { by: 1n, floor: -1n, max: 5n, ...ttl }), 'invalid_amount'],
        [
          'unknown expiry mode',
          () => b.advance(key, { by: 1n, max: 5n, ...ttl, expiry: 'slide' as never }),
          'invalid_option',
        ],
        ['advance without expiry', () => b.advance(key, { by: 1n, max: 5n } as never), 'invalid_expiry'],
      ];
      for (const [label, call, code] of cases) {
        let pending: Promise<unknown> | undefined;
        expect(() => {
          pending = call();
        }, `${label}: must reject, not throw synchronously`).not.toThrow();
        const error = await (pending as Promise<unknown>).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error, `${label}: must reject`).toBeInstanceOf(Error);
        expect(error, label).toMatchObject({ code });
        expect((error as Error).message.length, `${label}: message`).toBeGreaterThan(0);
      }
      expect(await b.get(key)).toBeNull();
    });
  });
}
