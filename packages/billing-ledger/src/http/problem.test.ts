import { describe, expect, it } from 'vitest';
import {
  AccountInDebtError,
  AccountNotFoundError,
  AlreadyRefundedError,
  CreditPackNotFoundError,
  DuplicateSourceError,
  FinalizeConflictError,
  FourEyesViolationError,
  IdempotencyKeyReusedError,
  InsufficientCreditsError,
  InvalidAmountError,
  InvalidArgumentError,
  InvalidCursorError,
  InvalidTransitionError,
  InvalidUsageError,
  LedgerError,
  type LedgerErrorCode,
  LotHasPendingHoldsError,
  LotNotFoundError,
  ledgerErrorHttpStatus,
  MeterDimensionDuplicateError,
  MeterNotFoundError,
  MeterPriceOverflowError,
  MeterPricesEmptyError,
  PaymentFailedError,
  PaymentInsufficientError,
  PaymentNotFoundError,
  PaymentPendingError,
  PaymentReferenceReusedError,
  ReservationNotFoundError,
  ReservationNotMeteredError,
  ReservationNotPendingError,
  RevenueRuleNotFoundError,
  SpendCapExceededError,
  SystemAccountReadOnlyError,
  UnknownDimensionError,
} from '../errors.js';
import { GatewayRequestError } from './errors.js';
import { gatewayLedger } from './gateway-ledger.js';
import { isLedgerErrorCode } from './problem.js';
import { cannedFetch, problemWire } from './test-kit.js';

/** One error per ledger code, as the in-process ledger throws it. */
const samples: { readonly [C in LedgerErrorCode]: () => LedgerError } = {
  invalid_amount: () =>
    new InvalidAmountError('amountMicro "01" must be canonical', { details: { field: 'amountMicro', value: '"01"' } }),
  invalid_argument: () => new InvalidArgumentError('ttlMs 0 must be from 1', { details: { field: 'ttlMs', value: 0 } }),
  invalid_cursor: () => new InvalidCursorError('abc'),
  account_not_found: () => new AccountNotFoundError('acc_x'),
  lot_not_found: () => new LotNotFoundError('lot_x'),
  reservation_not_found: () => new ReservationNotFoundError('res_x'),
  insufficient_credits: () =>
    new InsufficientCreditsError({ accountId: 'acc_1', poolId: 'gpu', requestedMicro: 5n, availableMicro: 2n }),
  reservation_not_pending: () => new ReservationNotPendingError('res_1', 'expired'),
  finalize_conflict: () => new FinalizeConflictError('res_1', 700n, 900n),
  idempotency_key_reused: () =>
    new IdempotencyKeyReusedError('reserve', 'order-1', { details: { idempotencyScope: 'arrakis-api:alice' } }),
  duplicate_source: () => new DuplicateSourceError('stripe_payment', 'pi_1', 'lot_1'),
  lot_has_pending_holds: () => new LotHasPendingHoldsError('lot_1', 300n),
  already_refunded: () => new AlreadyRefundedError('lot_1'),
  four_eyes_violation: () =>
    new FourEyesViolationError('rule_1', 'alice', 'approve', 'the proposer cannot approve their own rule'),
  invalid_transition: () => new InvalidTransitionError('rule_1', 'draft', 'approve'),
  revenue_rule_not_found: () => new RevenueRuleNotFoundError('rule_x'),
  credit_pack_not_found: () => new CreditPackNotFoundError('platinum', ['starter', 'premium']),
  payment_insufficient: () => new PaymentInsufficientError('standard', 10_000_000n, 9_999_999n),
  payment_reference_reused: () =>
    new PaymentReferenceReusedError('eip155:8453:0xabc:0x01', 'acc_1', 'starter', {
      details: { conflict: 'amount', stored: '5000000', requested: '4000000' },
    }),
  payment_not_found: () => new PaymentNotFoundError({ reference: 'eip155:8453:0xabc:0x01' }),
  payment_failed: () =>
    new PaymentFailedError({ reference: 'eip155:8453:0xabc:0x01', code: 'authorization_expired', message: 'gone' }),
  payment_pending: () =>
    new PaymentPendingError({
      reference: 'eip155:8453:0xabc:0x01',
      reconcileAfter: new Date('2026-12-01T00:02:00.000Z'),
    }),
  meter_not_found: () => new MeterNotFoundError({ meterId: 'chat', version: 3, reason: 'not_in_force' }),
  meter_prices_empty: () => new MeterPricesEmptyError({ meterId: 'chat' }),
  meter_dimension_duplicate: () => new MeterDimensionDuplicateError({ meterId: 'chat', dimension: 'request' }),
  meter_price_overflow: () =>
    new MeterPriceOverflowError({ meterId: 'chat', dimension: null, costMicro: 10n ** 18n, maxMicro: 10n ** 15n }),
  unknown_dimension: () =>
    new UnknownDimensionError({ meterId: 'chat', dimension: 'images', knownDimensions: ['request', 'output_tokens'] }),
  invalid_usage: () =>
    new InvalidUsageError('usage output_tokens -1 must be a whole number', { details: { dimension: 'output_tokens' } }),
  reservation_not_metered: () => new ReservationNotMeteredError({ reservationId: 'res_1' }),
  spend_cap_exceeded: () =>
    new SpendCapExceededError({
      accountId: 'acc_1',
      period: 'monthly',
      periodStart: new Date('2026-12-01T00:00:00.000Z'),
      spentMicro: 9n,
      capMicro: 10n,
      requestedMicro: 2n,
    }),
  system_account_read_only: () => new SystemAccountReadOnlyError({ accountId: 'acc_system_treasury' }),
  account_in_debt: () => new AccountInDebtError({ accountId: 'acc_1', debtMicro: 1_500_000n }),
};

const codes = Object.keys(ledgerErrorHttpStatus) as LedgerErrorCode[];

function clientAnswering(status: number, body: unknown) {
  return gatewayLedger({ baseUrl: 'http://gateway.test', token: 't', fetch: cannedFetch(status, body) });
}

async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('ledger error answers over HTTP', () => {
  it('every LedgerErrorCode has a mapping (add one in src/http/problem.ts with each new code)', () => {
    expect(codes.length).toBeGreaterThan(0);
    expect(codes.filter((code) => !isLedgerErrorCode(code))).toEqual([]);
    expect(codes.filter((code) => !Object.hasOwn(samples, code))).toEqual([]);
    expect(isLedgerErrorCode('rate_limited')).toBe(false);
    expect(isLedgerErrorCode('constructor')).toBe(false);
  });

  it.each(codes)('%s becomes the same class, code, message and details', async (code) => {
    const original = samples[code]();
    expect(original.code).toBe(code);
    const error = await rejectionOf(
      clientAnswering(ledgerErrorHttpStatus[code], problemWire(original)).getReservation('res_1'),
    );
    expect(error).toBeInstanceOf(LedgerError);
    expect((error as LedgerError).constructor).toBe(original.constructor);
    expect(error).toMatchObject({ name: original.name, code, message: original.message });
    expect((error as LedgerError).details).toEqual(original.details);
  });

  it('keeps typed fields as bigint and Date, and details the class does not set (a 402 offering a pack)', async () => {
    const original = samples.insufficient_credits();
    const offer = { pack: { id: 'starter', priceMicro: '5000000' }, purchaseUrl: 'http://gateway.test/p' };
    const body = { ...problemWire(original), details: { ...(problemWire(original).details as object), ...offer } };
    const error = (await rejectionOf(clientAnswering(402, body).getBalance('acc_1'))) as InsufficientCreditsError;
    expect(error).toMatchObject({ requestedMicro: 5n, availableMicro: 2n, shortfallMicro: 3n, poolId: 'gpu' });
    expect(error.details).toMatchObject(offer);
    const capped = (await rejectionOf(
      clientAnswering(402, problemWire(samples.spend_cap_exceeded())).getBalance('acc_1'),
    )) as SpendCapExceededError;
    expect(capped).toMatchObject({ period: 'monthly', spentMicro: 9n, capMicro: 10n });
  });

  it('a ledger code whose details lack a needed field is a malformed_response GatewayRequestError', async () => {
    for (const details of [undefined, { accountId: 'acc_1', poolId: 'general', requestedMicro: 'five' }, []]) {
      const error = await rejectionOf(
        clientAnswering(402, { error: 'insufficient_credits', message: 'short', details }).getBalance('acc_1'),
      );
      expect(error).toBeInstanceOf(GatewayRequestError);
      expect(error).toMatchObject({ code: 'malformed_response', status: 402 });
    }
  });
});
