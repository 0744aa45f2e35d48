import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createTrustPolicy, evaluateTrust, trustAmountMicroMax, trustOperations } from './evaluate-trust.js';

const amount = fc.bigInt({ min: 0n, max: trustAmountMicroMax });
const anchor = fc.option(
  fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => `sha256:${Buffer.from(b).toString('hex')}`),
  { nil: null },
);
const policy = fc
  .record({
    enabled: fc.boolean(),
    thresholdMicro: amount,
    exemptOperations: fc.subarray([...trustOperations]),
  })
  .map((options) => createTrustPolicy(options));
const operation = fc.constantFrom(...trustOperations);

describe('evaluateTrust properties', () => {
  it('is monotonic in the amount: if an amount is denied, every larger amount is denied too', () => {
    fc.assert(
      fc.property(policy, operation, anchor, amount, amount, (p, op, anc, x, y) => {
        const [low, high] = x <= y ? [x, y] : [y, x];
        const lowAllowed = evaluateTrust({ amountMicro: low, anchor: anc, operation: op }, p).allowed;
        const highAllowed = evaluateTrust({ amountMicro: high, anchor: anc, operation: op }, p).allowed;
        // allowed(high) implies allowed(low).
        expect(!highAllowed || lowAllowed).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('having an anchor never turns an allowed operation into a denied one', () => {
    fc.assert(
      fc.property(policy, operation, amount, anchor, (p, op, x, anc) => {
        const without = evaluateTrust({ amountMicro: x, anchor: null, operation: op }, p).allowed;
        const withAnchor = evaluateTrust({ amountMicro: x, anchor: anc, operation: op }, p).allowed;
        expect(!without || withAnchor).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('denies exactly when enabled, not exempt, above the threshold and without an anchor', () => {
    fc.assert(
      fc.property(policy, operation, amount, anchor, (p, op, x, anc) => {
        const denied = p.enabled && !p.exemptOperations.includes(op) && x > p.thresholdMicro && anc === null;
        expect(evaluateTrust({ amountMicro: x, anchor: anc, operation: op }, p).allowed).toBe(!denied);
      }),
      { numRuns: 500 },
    );
  });
});
