import { InvalidX402OptionError } from '../../errors.js';
import { paymentReference, type VerifiedPayment } from '../../verify/verify-exact.js';
import type { Settlement } from '../../wire/schemas.js';

/** Longest payment reference accepted by the stores' lookups. */
export const referenceLengthMax = 512;

/**
 * Checks a payment handed to a store: an object whose `reference` is derived from it, with an amount > 0.
 *
 * @throws {InvalidX402OptionError} naming the bad field.
 * @example
 * checkVerifiedPayment(payment, 'claim()');
 */
export function checkVerifiedPayment(payment: VerifiedPayment, where: string): void {
  if (payment === null || typeof payment !== 'object')
    throw new InvalidX402OptionError(`${where}: payment is required`);
  const expected = paymentReference({
    network: payment.network,
    asset: payment.asset,
    payer: payment.payer,
    nonce: payment.nonce,
  });
  if (payment.reference !== expected) {
    throw new InvalidX402OptionError(
      `${where}: payment.reference ${JSON.stringify(payment.reference)} is not ${JSON.stringify(expected)}`,
    );
  }
  if (typeof payment.amountAtomic !== 'bigint' || payment.amountAtomic <= 0n) {
    throw new InvalidX402OptionError(`${where}: payment.amountAtomic must be a bigint > 0`);
  }
  if (typeof payment.validBefore !== 'bigint' || payment.validBefore < 0n) {
    throw new InvalidX402OptionError(`${where}: payment.validBefore must be a bigint ≥ 0`);
  }
}

/**
 * Checks a reference argument: a non-empty string of at most {@link referenceLengthMax} characters.
 *
 * @throws {InvalidX402OptionError} otherwise.
 * @example
 * checkReference(reference, 'find()');
 */
export function checkReference(reference: string, where: string): void {
  if (typeof reference !== 'string' || reference.length === 0 || reference.length > referenceLengthMax) {
    throw new InvalidX402OptionError(
      `${where}: reference must be a non-empty string of at most ${referenceLengthMax} characters`,
    );
  }
}

/**
 * Checks a settlement handed to a store: successful, with a transaction.
 *
 * @throws {InvalidX402OptionError} otherwise.
 * @example
 * checkSettlement(settlement, 'credit()');
 */
export function checkSettlement(settlement: Settlement, where: string): void {
  if (
    settlement === null ||
    typeof settlement !== 'object' ||
    settlement.success !== true ||
    typeof settlement.transaction !== 'string' ||
    settlement.transaction === ''
  ) {
    throw new InvalidX402OptionError(`${where}: settlement must be a successful settlement with a transaction`);
  }
}

/**
 * Checks a duration option: an integer number of milliseconds in `min..max`.
 *
 * @throws {InvalidX402OptionError} quoting the value.
 * @example
 * checkDurationMs(leaseMs, 'claim(): leaseMs', 1, paymentLeaseMsMax);
 */
export function checkDurationMs(value: number, name: string, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InvalidX402OptionError(
      `${name} ${JSON.stringify(value)} must be an integer number of ms in ${min}..${max}`,
    );
  }
}
