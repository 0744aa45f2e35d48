import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../errors.js';
import { canonicalJson, decodeStoredAnswer, encodeStoredAnswer, idempotencyClaimOf } from './idempotency.js';

const now = new Date('2026-05-01T12:00:00.000Z');

describe('idempotency claims and stored answers', () => {
  it('a claim is scoped by operation and caller, hashes the canonical input and expires after the ttl', () => {
    const claim = idempotencyClaimOf(
      'bind',
      { b: 1n, a: 'x' },
      { idempotencyKey: 'k1', idempotencyScope: 'arrakis-admin:root' },
      now,
      60_000,
    );
    expect(claim).toMatchObject({
      scope: 'bind@arrakis-admin:root',
      key: 'k1',
      expiresAt: new Date(now.getTime() + 60_000),
    });
    expect(claim?.requestHash).toMatch(/^[0-9a-f]{64}$/);
    const reordered = idempotencyClaimOf('bind', { a: 'x', b: 1n }, { idempotencyKey: 'k1' }, now, 60_000);
    expect(reordered).toMatchObject({ scope: 'bind', requestHash: claim?.requestHash });
    const other = idempotencyClaimOf('bind', { a: 'x', b: 2n }, { idempotencyKey: 'k1' }, now, 60_000);
    expect(other?.requestHash).not.toBe(claim?.requestHash);
    expect(idempotencyClaimOf('bind', {}, {}, now, 60_000)).toBeUndefined();
    expect(() => idempotencyClaimOf('bind', {}, { idempotencyKey: 'ключ' }, now, 60_000)).toThrow(InvalidArgumentError);
  });

  it('canonical JSON sorts keys at every depth, drops undefined, tags bigints and dates', () => {
    expect(canonicalJson({ z: { b: 1, a: [2n, { d: now, c: undefined }] }, y: null })).toBe(
      '{"y":null,"z":{"a":[{"$bigint":"2"},{"d":{"$date":"2026-05-01T12:00:00.000Z"}}],"b":1}}',
    );
  });

  it('a stored answer decodes deep-equal to the answer: bigints, dates, nulls, nesting', () => {
    const answer = {
      record: { chainId: 8453n, tokenId: 2n ** 255n, createdAt: now, approvedAt: null, epoch: 2, reason: 'ok 🎉' },
      created: true,
    };
    const text = encodeStoredAnswer(answer);
    expect(text).toContain('{"$bigint":"8453"}');
    expect(decodeStoredAnswer(text)).toEqual(answer);
  });
});
