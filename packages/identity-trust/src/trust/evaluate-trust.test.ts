import { describe, expect, it } from 'vitest';
import { IdentityAnchorRequiredError, IdentityError } from '../errors.js';
import {
  assertTrusted,
  createTrustPolicy,
  defaultTrustPolicy,
  evaluateTrust,
  needsAnchor,
  trustAmountMicroMax,
  trustThresholdMicroDefault,
} from './evaluate-trust.js';

const anchor = `sha256:${'ab'.repeat(32)}`;

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    return error instanceof IdentityError ? error.code : 'not an IdentityError';
  }
  return undefined;
}

describe('evaluateTrust', () => {
  it('defaults to a $100 threshold, on, with purchases exempt', () => {
    expect(trustThresholdMicroDefault).toBe(100_000_000n);
    expect(defaultTrustPolicy).toEqual({ enabled: true, thresholdMicro: 100_000_000n, exemptOperations: ['purchase'] });
  });

  it('allows exactly the threshold without an anchor, and denies one micro-USD more', () => {
    expect(evaluateTrust({ amountMicro: 100_000_000n, anchor: null, operation: 'reserve' })).toEqual({
      allowed: true,
      reason: 'within_threshold',
      thresholdMicro: 100_000_000n,
    });
    expect(evaluateTrust({ amountMicro: 100_000_001n, anchor: null, operation: 'reserve' })).toEqual({
      allowed: false,
      reason: 'identity_anchor_required',
      thresholdMicro: 100_000_000n,
    });
  });

  it('allows any amount with an anchor', () => {
    expect(evaluateTrust({ amountMicro: trustAmountMicroMax, anchor, operation: 'grant' })).toMatchObject({
      allowed: true,
      reason: 'anchored',
    });
  });

  it('exempts purchases at any amount', () => {
    expect(evaluateTrust({ amountMicro: 10n ** 12n, anchor: undefined, operation: 'purchase' })).toMatchObject({
      allowed: true,
      reason: 'exempt_operation',
    });
  });

  it('allows everything when the policy is off', () => {
    const off = createTrustPolicy({ enabled: false });
    expect(evaluateTrust({ amountMicro: 10n ** 12n, anchor: null, operation: 'reserve' }, off)).toMatchObject({
      allowed: true,
      reason: 'policy_disabled',
    });
  });

  it('uses a configured threshold and exempt list', () => {
    const policy = createTrustPolicy({ thresholdMicro: 5n, exemptOperations: ['grant'] });
    expect(evaluateTrust({ amountMicro: 6n, anchor: null, operation: 'grant' }, policy).allowed).toBe(true);
    expect(evaluateTrust({ amountMicro: 6n, anchor: null, operation: 'purchase' }, policy).allowed).toBe(false);
    expect(evaluateTrust({ amountMicro: 5n, anchor: null, operation: 'purchase' }, policy).allowed).toBe(true);
  });

  it('refuses bad input with typed errors', () => {
    expect(codeOf(() => evaluateTrust({ amountMicro: 1 as never, anchor: null, operation: 'reserve' }))).toBe(
      'invalid_argument',
    );
    expect(codeOf(() => evaluateTrust({ amountMicro: -1n, anchor: null, operation: 'reserve' }))).toBe(
      'invalid_argument',
    );
    expect(
      codeOf(() => evaluateTrust({ amountMicro: trustAmountMicroMax + 1n, anchor: null, operation: 'reserve' })),
    ).toBe('invalid_argument');
    expect(codeOf(() => evaluateTrust({ amountMicro: 1n, anchor: null, operation: 'steal' as never }))).toBe(
      'invalid_argument',
    );
    expect(codeOf(() => evaluateTrust({ amountMicro: 1n, anchor: 'sha256:nope', operation: 'reserve' }))).toBe(
      'invalid_anchor',
    );
    expect(codeOf(() => createTrustPolicy({ thresholdMicro: -1n }))).toBe('invalid_argument');
    expect(codeOf(() => createTrustPolicy({ enabled: 'yes' as never }))).toBe('invalid_argument');
    expect(codeOf(() => createTrustPolicy({ exemptOperations: ['nothing' as never] }))).toBe('invalid_argument');
  });

  it('needsAnchor tells when the anchor matters', () => {
    expect(needsAnchor({ amountMicro: 100_000_000n, operation: 'reserve' })).toBe(false);
    expect(needsAnchor({ amountMicro: 100_000_001n, operation: 'reserve' })).toBe(true);
    expect(needsAnchor({ amountMicro: 100_000_001n, operation: 'purchase' })).toBe(false);
  });

  it('assertTrusted throws identity_anchor_required (HTTP 403) with the amounts as strings', () => {
    try {
      assertTrusted({ amountMicro: 150_000_000n, anchor: null, operation: 'grant' }, defaultTrustPolicy, 'acc_1');
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(IdentityAnchorRequiredError);
      const e = error as IdentityAnchorRequiredError;
      expect(e.code).toBe('identity_anchor_required');
      expect(e.httpStatus).toBe(403);
      expect(e.details).toEqual({
        operation: 'grant',
        amountMicro: '150000000',
        thresholdMicro: '100000000',
        accountId: 'acc_1',
      });
    }
    expect(() => assertTrusted({ amountMicro: 150_000_000n, anchor, operation: 'grant' })).not.toThrow();
  });
});
