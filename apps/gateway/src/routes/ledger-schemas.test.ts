import { describe, expect, it } from 'vitest';
import { idempotencyScopeLengthMax, idempotencyScopeOf, writeOptions } from './ledger-schemas.js';

describe('idempotency scopes', () => {
  it('are <audience>:<sub>, and the write options always carry one', () => {
    expect(idempotencyScopeOf({ audience: 'arrakis-api', sub: 'alice' })).toBe('arrakis-api:alice');
    expect(writeOptions({ audience: 'arrakis-internal', sub: 'billing' }, {})).toEqual({
      idempotencyScope: 'arrakis-internal:billing',
    });
    expect(writeOptions({ audience: 'arrakis-api', sub: 'bob' }, { 'idempotency-key': 'order-1' })).toEqual({
      idempotencyKey: 'order-1',
      idempotencyScope: 'arrakis-api:bob',
    });
  });

  it('hash a sub the ledger would refuse (non-ASCII, or a scope over 255 characters), keeping callers apart', () => {
    const long = idempotencyScopeOf({ audience: 'arrakis-api', sub: 'a'.repeat(256) });
    const unicode = idempotencyScopeOf({ audience: 'arrakis-api', sub: 'zoë' });
    for (const scope of [long, unicode]) {
      expect(scope).toMatch(/^arrakis-api:sha256:[0-9a-f]{64}$/);
      expect(scope.length).toBeLessThanOrEqual(idempotencyScopeLengthMax);
    }
    expect(long).not.toBe(unicode);
    expect(idempotencyScopeOf({ audience: 'arrakis-admin', sub: 'zoë' })).not.toBe(unicode);
  });
});
