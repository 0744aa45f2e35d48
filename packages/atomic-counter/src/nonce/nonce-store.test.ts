import { describe, expect, it } from 'vitest';
import { memoryBackend } from '../adapters/memory/index.js';
import { InvalidCounterInputError, NonceReusedError } from '../errors.js';
import { trapBackend } from '../limiters/test-support.js';
import { ManualClock } from '../ports/clock.js';
import { nonceStore } from './nonce-store.js';

const start = Date.UTC(2026, 0, 1);

function setup(ttlMs = 60_000, scope?: string) {
  const clock = new ManualClock(start);
  const backend = memoryBackend({ clock });
  return { clock, backend, nonces: nonceStore({ backend, ttlMs, clock, ...(scope ? { scope } : {}) }) };
}

describe('nonceStore', () => {
  it('lets a nonce be claimed once', async () => {
    const { nonces } = setup();
    expect(await nonces.claim('0xabc')).toBe(true);
    expect(await nonces.claim('0xabc')).toBe(false);
    expect(await nonces.claim('0xabd')).toBe(true);
  });

  it('forgets a claim after its TTL (default or per claim)', async () => {
    const { clock, nonces } = setup(1_000);
    await nonces.claim('n1');
    await nonces.claim('n2', { ttlMs: 5_000 });
    clock.advance(999);
    expect(await nonces.claim('n1')).toBe(false);
    clock.advance(1);
    expect(await nonces.claim('n1')).toBe(true);
    expect(await nonces.claim('n2')).toBe(false);
    clock.advance(4_000);
    expect(await nonces.claim('n2')).toBe(true);
  });

  it('remembers a claim until expiresAtMs', async () => {
    const { clock, nonces } = setup(1_000);
    expect(await nonces.claim('n', { expiresAtMs: start + 10_000 })).toBe(true);
    clock.advance(9_999);
    expect(await nonces.claim('n')).toBe(false);
    clock.advance(1);
    expect(await nonces.claim('n')).toBe(true);
  });

  it('scopes are independent and part of the key', async () => {
    const { backend, nonces } = setup(60_000, 'x402');
    expect(await nonces.claim('n')).toBe(true);
    expect(await nonces.claim('n', { scope: 'webhooks' })).toBe(true);
    expect(await nonces.claim('n', { scope: 'x402' })).toBe(false);
    expect(await backend.get('nonce:x402:n')).toMatchObject({ value: 1n });
    expect(await backend.get('nonce:webhooks:n')).toMatchObject({ value: 1n });
  });

  it('claimOrThrow throws NonceReusedError on a replay', async () => {
    const { nonces } = setup();
    await nonces.claimOrThrow('n', { scope: 'pay' });
    const error = await nonces.claimOrThrow('n', { scope: 'pay' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NonceReusedError);
    expect(error).toMatchObject({
      code: 'nonce_reused',
      scope: 'pay',
      nonce: 'n',
      details: { scope: 'pay', nonce: 'n' },
    });
  });

  describe('rejects bad options', () => {
    const backend = memoryBackend();
    it.each([
      ['ttlMs 0', { backend, ttlMs: 0 }, 'invalid_expiry'],
      ['ttlMs negative', { backend, ttlMs: -1 }, 'invalid_expiry'],
      ['ttlMs missing', { backend }, 'invalid_expiry'],
      ['scope with a colon', { backend, ttlMs: 1_000, scope: 'a:b' }, 'invalid_key'],
      ['empty scope', { backend, ttlMs: 1_000, scope: '' }, 'invalid_key'],
      ['no backend', { ttlMs: 1_000 }, 'invalid_option'],
    ])('%s', (_name, options, code) => {
      expect(() => nonceStore(options as never)).toThrowError(
        expect.objectContaining({ name: 'InvalidCounterInputError', code }),
      );
    });
  });

  describe('rejects bad input before any backend call', () => {
    it.each([
      ['empty nonce', '', {}, 'invalid_key'],
      ['non-string nonce', 123, {}, 'invalid_key'],
      ['oversized nonce', 'n'.repeat(257), {}, 'invalid_key'],
      ['scope with a colon', 'n', { scope: 'a:b' }, 'invalid_key'],
      ['scope with a space', 'n', { scope: 'a b' }, 'invalid_key'],
      ['oversized scope', 'n', { scope: 's'.repeat(65) }, 'invalid_key'],
      ['ttlMs 0', 'n', { ttlMs: 0 }, 'invalid_expiry'],
      ['ttlMs fractional', 'n', { ttlMs: 1.5 }, 'invalid_expiry'],
      ['both ttlMs and expiresAtMs', 'n', { ttlMs: 5, expiresAtMs: start + 5 }, 'invalid_expiry'],
      ['expiresAtMs now', 'n', { expiresAtMs: start }, 'invalid_expiry'],
      ['expiresAtMs in the past', 'n', { expiresAtMs: start - 1 }, 'invalid_expiry'],
    ])('%s', async (_name, nonce, options, code) => {
      const backend = trapBackend();
      const nonces = nonceStore({ backend, ttlMs: 1_000, clock: new ManualClock(start) });
      for (const op of [nonces.claim, nonces.claimOrThrow]) {
        const error = await op(nonce as string, options as never).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(InvalidCounterInputError);
        expect(error).toMatchObject({ code });
      }
      expect(backend.calls).toEqual([]);
    });
  });
});
