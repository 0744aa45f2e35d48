/** The limits and defaults of two-phase payments and their reconciler (one module owns them). */
import { InvalidX402OptionError } from '../errors.js';

/**
 * How long an attempt owns a payment record (claim or reconciler pass) before another may take it: longer than a
 * settlement can take (the local facilitator waits up to 60 s for a receipt).
 */
export const paymentLeaseMsDefault = 120_000;
/** Longest lease accepted. */
export const paymentLeaseMsMax = 3_600_000;
/** Longest `postpone` a store accepts (one week). */
export const paymentRetryInMsMax = 604_800_000;
/** Most records one `takeDue` takes. */
export const takeDueLimitMax = 1_000;
/** Longest failure code a store keeps. */
export const failureCodeLengthMax = 64;
/** Longest failure message a store keeps (longer ones are cut). */
export const failureMessageLengthMax = 2_000;
/** How long a request waits for another attempt that holds its payment before answering `payment_pending`. */
export const paymentWaitMsDefault = 20_000;
/** Pause between two reads of a record held by another attempt. */
export const paymentPollIntervalMsDefault = 250;
/** When a postponed payment (RPC down, transaction not mined) is due again. */
export const paymentRetryInMsDefault = 15_000;
/** Records a reconciler pass takes at most. */
export const reconcileBatchSizeMax = 100;
/** Longest pause accepted for any of the timings. */
const timingMsMax = 3_600_000;

/** The timings of a two-phase settlement (all optional; defaults above). */
export interface PaymentTimings {
  /** See {@link paymentLeaseMsDefault}. */
  leaseMs?: number | undefined;
  /** See {@link paymentWaitMsDefault}. */
  waitMs?: number | undefined;
  /** See {@link paymentPollIntervalMsDefault}. */
  pollIntervalMs?: number | undefined;
  /** See {@link paymentRetryInMsDefault}. */
  retryInMs?: number | undefined;
}

/** {@link PaymentTimings} with every default applied. */
export interface ResolvedPaymentTimings {
  leaseMs: number;
  waitMs: number;
  pollIntervalMs: number;
  retryInMs: number;
}

/**
 * The timings with their defaults.
 *
 * @example
 * resolveTimings({ leaseMs: 5_000 }).waitMs; // 20_000
 */
export function resolveTimings(timings: PaymentTimings): ResolvedPaymentTimings {
  return {
    leaseMs: timings.leaseMs ?? paymentLeaseMsDefault,
    waitMs: timings.waitMs ?? paymentWaitMsDefault,
    pollIntervalMs: timings.pollIntervalMs ?? paymentPollIntervalMsDefault,
    retryInMs: timings.retryInMs ?? paymentRetryInMsDefault,
  };
}

/**
 * Checks resolved timings: integers, `leaseMs` in 1..{@link paymentLeaseMsMax}, the others in 0..1 h (poll ≥ 1).
 *
 * @throws {InvalidX402OptionError} naming the bad timing.
 * @example
 * assertPaymentTimings(resolveTimings({}), 'settleWithStore()');
 */
export function assertPaymentTimings(timings: ResolvedPaymentTimings, where: string): void {
  const bounds: [keyof ResolvedPaymentTimings, number, number][] = [
    ['leaseMs', 1, paymentLeaseMsMax],
    ['waitMs', 0, timingMsMax],
    ['pollIntervalMs', 1, timingMsMax],
    ['retryInMs', 0, timingMsMax],
  ];
  for (const [name, min, max] of bounds) {
    const value = timings[name];
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new InvalidX402OptionError(`${where}: ${name} must be an integer in ${min}..${max}, got ${String(value)}`);
    }
  }
}
