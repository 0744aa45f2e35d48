import { type Anchor, assertAnchor } from '../anchor/derive-anchor.js';
import { IdentityAnchorRequiredError, InvalidArgumentError, quoteValue } from '../errors.js';

/** Default trust threshold: $100 in micro-USD. Amounts up to and including it need no anchor. */
export const trustThresholdMicroDefault = 100_000_000n;

/** Largest amount (and threshold) the policy accepts: 10^15 micro-USD, the ledger's bound. */
export const trustAmountMicroMax = 1_000_000_000_000_000n;

/** Operations the trust policy knows. `purchase` (buying a credit pack) is exempt by default. */
export const trustOperations = ['reserve', 'finalize', 'grant', 'purchase'] as const;

/** One of {@link trustOperations}. */
export type TrustOperation = (typeof trustOperations)[number];

/** A validated trust policy; build it with {@link createTrustPolicy}. */
export interface TrustPolicy {
  /** False turns the policy off: every operation is allowed. */
  readonly enabled: boolean;
  /** Amounts above this need an anchor; exactly this amount does not. */
  readonly thresholdMicro: bigint;
  /** Operations allowed at any amount without an anchor. */
  readonly exemptOperations: readonly TrustOperation[];
}

/** Options of {@link createTrustPolicy}. */
export interface TrustPolicyOptions {
  /** Default true. */
  enabled?: boolean;
  /** Default {@link trustThresholdMicroDefault} (100 000 000). A bigint in [0, 10^15]. */
  thresholdMicro?: bigint;
  /** Default `['purchase']`. */
  exemptOperations?: readonly TrustOperation[];
}

/** What {@link evaluateTrust} decides about. */
export interface TrustInput {
  /** The amount at stake, micro-USD, a bigint in [0, 10^15]. */
  amountMicro: bigint;
  /** The account's current anchor, or null / undefined when it has none. */
  anchor: Anchor | string | null | undefined;
  operation: TrustOperation;
}

/** Why {@link evaluateTrust} allowed an operation. */
export type TrustAllowReason = 'policy_disabled' | 'exempt_operation' | 'within_threshold' | 'anchored';

/** The decision of {@link evaluateTrust}. */
export type TrustDecision =
  | { allowed: true; reason: TrustAllowReason; thresholdMicro: bigint }
  | { allowed: false; reason: 'identity_anchor_required'; thresholdMicro: bigint };

function assertMicro(field: string, value: unknown): asserts value is bigint {
  if (typeof value !== 'bigint' || value < 0n || value > trustAmountMicroMax) {
    throw new InvalidArgumentError(`${field} ${quoteValue(value)} must be a bigint in [0, ${trustAmountMicroMax}]`, {
      details: { field },
    });
  }
}

function assertOperation(value: unknown, field = 'operation'): asserts value is TrustOperation {
  if (typeof value !== 'string' || !(trustOperations as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(`${field} ${quoteValue(value)} must be one of ${trustOperations.join(', ')}`, {
      details: { field },
    });
  }
}

/**
 * Builds a trust policy from options, with the defaults filled in: enabled, threshold $100, `purchase` exempt.
 *
 * @throws {InvalidArgumentError} `invalid_argument` for a threshold outside [0, 10^15], a non-boolean `enabled` or
 *   an unknown operation.
 * @example
 * const policy = createTrustPolicy({ thresholdMicro: 50_000_000n });
 */
export function createTrustPolicy(options: TrustPolicyOptions = {}): TrustPolicy {
  const enabled = options.enabled ?? true;
  if (typeof enabled !== 'boolean') throw new InvalidArgumentError(`enabled ${quoteValue(enabled)} must be a boolean`);
  const thresholdMicro = options.thresholdMicro ?? trustThresholdMicroDefault;
  assertMicro('thresholdMicro', thresholdMicro);
  const exemptOperations = options.exemptOperations ?? ['purchase'];
  if (!Array.isArray(exemptOperations)) {
    throw new InvalidArgumentError(`exemptOperations ${quoteValue(exemptOperations)} must be an array`);
  }
  for (const operation of exemptOperations) assertOperation(operation, 'exemptOperations[]');
  return Object.freeze({ enabled, thresholdMicro, exemptOperations: Object.freeze([...new Set(exemptOperations)]) });
}

/** The policy with every default: enabled, threshold 100 000 000 micro-USD, `purchase` exempt. */
export const defaultTrustPolicy: TrustPolicy = createTrustPolicy();

/**
 * Graduated trust: decides whether an operation may go ahead. Allowed when the policy is off, the operation is
 * exempt (credit-pack purchases by default), the amount is at most the threshold, or the account has an anchor;
 * otherwise denied with `identity_anchor_required`. Monotonic: if an amount is denied, every larger one is too.
 *
 * @throws {InvalidArgumentError} `invalid_argument` for an amount outside [0, 10^15] or an unknown operation.
 * @throws {InvalidAnchorError} `invalid_anchor` when `anchor` is given but is not an anchor string.
 * @example
 * evaluateTrust({ amountMicro: 150_000_000n, anchor: null, operation: 'reserve' });
 * // { allowed: false, reason: 'identity_anchor_required', thresholdMicro: 100000000n }
 */
export function evaluateTrust(input: TrustInput, policy: TrustPolicy = defaultTrustPolicy): TrustDecision {
  if (typeof input !== 'object' || input === null) {
    throw new InvalidArgumentError(`trust input ${quoteValue(input)} must be an object`);
  }
  assertMicro('amountMicro', input.amountMicro);
  assertOperation(input.operation);
  if (input.anchor !== null && input.anchor !== undefined) assertAnchor(input.anchor);
  const thresholdMicro = policy.thresholdMicro;
  if (!policy.enabled) return { allowed: true, reason: 'policy_disabled', thresholdMicro };
  if (policy.exemptOperations.includes(input.operation)) {
    return { allowed: true, reason: 'exempt_operation', thresholdMicro };
  }
  if (input.amountMicro <= thresholdMicro) return { allowed: true, reason: 'within_threshold', thresholdMicro };
  if (input.anchor !== null && input.anchor !== undefined) return { allowed: true, reason: 'anchored', thresholdMicro };
  return { allowed: false, reason: 'identity_anchor_required', thresholdMicro };
}

/**
 * True when {@link evaluateTrust} would allow the operation whatever the account's anchor: the caller can skip
 * looking the anchor up.
 *
 * @throws {InvalidArgumentError} as {@link evaluateTrust}.
 * @example
 * if (!needsAnchor({ amountMicro, operation: 'reserve' }, policy)) return; // no lookup
 */
export function needsAnchor(input: Omit<TrustInput, 'anchor'>, policy: TrustPolicy = defaultTrustPolicy): boolean {
  return !evaluateTrust({ ...input, anchor: null }, policy).allowed;
}

/**
 * {@link evaluateTrust}, throwing when the operation is denied.
 *
 * @throws {IdentityAnchorRequiredError} `identity_anchor_required` (HTTP 403) when denied.
 * @throws {InvalidArgumentError} as {@link evaluateTrust}.
 * @example
 * assertTrusted({ amountMicro, anchor: current?.anchor ?? null, operation: 'grant' }, policy, accountId);
 */
export function assertTrusted(input: TrustInput, policy: TrustPolicy = defaultTrustPolicy, accountId?: string): void {
  const decision = evaluateTrust(input, policy);
  if (!decision.allowed) {
    throw new IdentityAnchorRequiredError({
      amountMicro: input.amountMicro,
      thresholdMicro: decision.thresholdMicro,
      operation: input.operation,
      ...(accountId === undefined ? {} : { accountId }),
    });
  }
}
