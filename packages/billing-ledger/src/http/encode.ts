/**
 * Request bodies of the ledger over HTTP: the ledger's input types → the gateway's wire shapes (amounts and units as
 * base-10 strings, `ttlMs` as `ttlSeconds`). Input the ledger would refuse is refused here with the ledger's own
 * errors, before any request is sent.
 */
import { InvalidAmountError, InvalidArgumentError, InvalidUsageError, quoteValue } from '../errors.js';
import {
  amountMicroMax,
  idempotencyKeyLengthMax,
  idempotencyKeyPattern,
  unitPricesPerMeterMax,
  wireHoldTtlMsMax,
  wireIdLengthMax,
} from '../limits.js';
import type { Usage } from '../meters/types.js';
import type { FinalizeInput, ReserveInput } from '../types.js';

const visibleAscii = /^[\x21-\x7e]+$/;
const rawTermFields = ['amountMicro', 'poolId', 'ttlMs', 'billingMode'] as const;

/**
 * Checks an id before it goes into a path or body: a string of 1–128 visible ASCII characters.
 *
 * @throws {InvalidArgumentError} otherwise.
 * @example
 * checkId('reservationId', 'res_1');
 */
export function checkId(field: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > wireIdLengthMax || !visibleAscii.test(value)) {
    throw new InvalidArgumentError(
      `${field} ${quoteValue(value)} must be 1 to ${wireIdLengthMax} visible ASCII characters`,
      { details: { field } },
    );
  }
  return value;
}

/**
 * The `Idempotency-Key` header of a write, or undefined without a key. The gateway takes the ledger's rule
 * (`idempotencyKeyPattern`: 1–255 printable ASCII characters, spaces included); a space at either end is refused here,
 * because HTTP trims header values and the gateway would get another key than the one given.
 *
 * @throws {InvalidArgumentError} when the key breaks the ledger's rule or starts or ends with a space.
 * @example
 * idempotencyHeader({ idempotencyKey: 'order-1' }); // 'order-1'
 */
export function idempotencyHeader(options: { idempotencyKey?: string } | undefined): string | undefined {
  if ((options as { idempotencyScope?: unknown } | undefined)?.idempotencyScope !== undefined) {
    throw new InvalidArgumentError(
      'idempotencyScope has no meaning over HTTP: the gateway scopes idempotency keys to the caller (token audience and subject)',
      { details: { field: 'idempotencyScope' } },
    );
  }
  const key = options?.idempotencyKey;
  if (key === undefined) return undefined;
  if (typeof key !== 'string' || !idempotencyKeyPattern.test(key) || key.trim() !== key) {
    throw new InvalidArgumentError(
      `idempotencyKey ${quoteValue(key)} must be 1 to ${idempotencyKeyLengthMax} printable ASCII characters, without a space at either end`,
      { details: { field: 'idempotencyKey' } },
    );
  }
  return key;
}

function microText(field: string, value: unknown, minMicro: bigint): string {
  if (typeof value !== 'bigint' || value < minMicro || value > amountMicroMax) {
    throw new InvalidAmountError(
      `${field} ${quoteValue(value)} must be a bigint from ${minMicro} to ${amountMicroMax}`,
      {
        details: { field, value: quoteValue(value) },
      },
    );
  }
  return value.toString();
}

/**
 * A usage (or estimate) on the wire: each dimension's units as a base-10 string.
 *
 * @throws {InvalidUsageError} when it is not an object of at most 32 dimensions, each a whole number of units ≥ 0.
 * @example
 * encodeUsage('usage', { output_tokens: 340, request: 1n }); // { output_tokens: '340', request: '1' }
 */
export function encodeUsage(field: string, usage: Usage): Record<string, string> {
  if (typeof usage !== 'object' || usage === null || Array.isArray(usage)) {
    throw new InvalidUsageError(`${field} must be an object of dimension → units, got ${quoteValue(usage)}`, {
      details: { field },
    });
  }
  const entries = Object.entries(usage);
  if (entries.length > unitPricesPerMeterMax) {
    throw new InvalidUsageError(
      `${field} names ${entries.length} dimensions; a meter prices at most ${unitPricesPerMeterMax}`,
      {
        details: { field },
      },
    );
  }
  const wire: Record<string, string> = {};
  for (const [dimension, units] of entries) {
    const whole = typeof units === 'bigint' || (typeof units === 'number' && Number.isSafeInteger(units));
    if (!whole || units < 0) {
      throw new InvalidUsageError(
        `${field} ${dimension} ${quoteValue(units)} must be a whole number of units >= 0 (a bigint or a safe integer)`,
        { details: { field, dimension } },
      );
    }
    wire[dimension] = units.toString();
  }
  return wire;
}

function ttlSecondsOf(ttlMs: unknown): number {
  if (
    typeof ttlMs !== 'number' ||
    !Number.isSafeInteger(ttlMs) ||
    ttlMs < 1000 ||
    ttlMs > wireHoldTtlMsMax ||
    ttlMs % 1000 !== 0
  ) {
    throw new InvalidArgumentError(
      `ttlMs ${quoteValue(ttlMs)} must be a whole number of seconds from 1000 to ${wireHoldTtlMsMax} over HTTP (the gateway takes ttlSeconds)`,
      { details: { field: 'ttlMs', value: quoteValue(ttlMs) } },
    );
  }
  return ttlMs / 1000;
}

/**
 * The `POST /v1/reservations` body of a raw or metered reserve.
 *
 * @throws {InvalidArgumentError} when a metered reserve also sets terms, or an id or ttl is invalid.
 * @throws {InvalidAmountError} when a raw reserve's `amountMicro` is not a bigint in `1..10^15`.
 * @throws {InvalidUsageError} when the estimate is not a usage.
 * @example
 * reserveBody({ accountId: 'acc_1', meterId: 'chat', estimate: { output_tokens: 4000 } });
 */
export function reserveBody(input: ReserveInput): Record<string, unknown> {
  const accountId = checkId('accountId', input.accountId);
  if (input.meterId !== undefined) {
    const setTerm = rawTermFields.find((field) => input[field] !== undefined);
    if (setTerm !== undefined) {
      throw new InvalidArgumentError(
        `a reserve through meter ${quoteValue(input.meterId)} takes its terms from the meter: leave ${setTerm} out`,
        { details: { field: setTerm } },
      );
    }
    return {
      accountId,
      meterId: checkId('meterId', input.meterId),
      ...(input.estimate === undefined ? {} : { estimate: encodeUsage('estimate', input.estimate) }),
    };
  }
  if (input.estimate !== undefined) {
    throw new InvalidArgumentError('estimate needs meterId (a raw reserve names its amountMicro)', {
      details: { field: 'estimate' },
    });
  }
  return {
    accountId,
    amountMicro: microText('amountMicro', input.amountMicro, 1n),
    ...(input.poolId === undefined ? {} : { poolId: input.poolId }),
    ...(input.ttlMs === undefined ? {} : { ttlSeconds: ttlSecondsOf(input.ttlMs) }),
    ...(input.billingMode === undefined ? {} : { billingMode: input.billingMode }),
  };
}

/**
 * The `POST /v1/reservations/{id}/finalize` body: `{ actualCostMicro }` or `{ usage }`, exactly one.
 *
 * @throws {InvalidArgumentError} when both or neither are given.
 * @throws {InvalidAmountError} when `actualCostMicro` is not a bigint in `0..10^15`.
 * @throws {InvalidUsageError} when the usage is not a usage.
 * @example
 * finalizeBody({ reservationId: 'res_1', usage: { output_tokens: 340 } }); // { usage: { output_tokens: '340' } }
 */
export function finalizeBody(input: FinalizeInput): Record<string, unknown> {
  const hasCost = input.actualCostMicro !== undefined;
  if (hasCost === (input.usage !== undefined)) {
    throw new InvalidArgumentError('finalize takes exactly one of actualCostMicro and usage', {
      details: { field: hasCost ? 'usage' : 'actualCostMicro' },
    });
  }
  if (input.usage !== undefined) return { usage: encodeUsage('usage', input.usage) };
  return { actualCostMicro: microText('actualCostMicro', input.actualCostMicro, 0n) };
}
