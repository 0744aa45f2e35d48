/**
 * The x402 ↔ billing-ledger adapter: a {@link PaymentStateStore} on `@arrakis/billing-ledger`'s payment records. Typed
 * structurally ({@link LedgerPaymentsApi}), so this package does not depend on the ledger; the ledger's `Ledger`
 * satisfies it under `strict` + `exactOptionalPropertyTypes` (a gateway type test holds it to that).
 */
import { InvalidX402OptionError } from '../errors.js';
import type {
  PaymentClaim,
  PaymentFailure,
  PaymentStateRecord,
  PaymentStateStore,
  PaymentStatus,
} from '../ports/payment-state-store.js';
import type { PaymentPayload, PaymentRequirements, Settlement } from '../wire/schemas.js';

/** A ledger payment record, as the adapter reads it (the ledger's `PaymentView`). */
export interface LedgerPaymentView {
  reference: string;
  status: PaymentStatus;
  /** What the payment buys: a credit pack (`pack`) or plain credit of its own amount (`credit`). */
  kind: 'pack' | 'credit';
  /** The pack bought; null for plain credit. */
  packId: string | null;
  payer: string;
  payTo: string | null;
  amountMicro: bigint;
  network: string | null;
  asset: string | null;
  nonce: string | null;
  validBefore: bigint | null;
  request: unknown;
  transaction: string | null;
  settlement: Record<string, unknown> | null;
  failure: PaymentFailure | null;
  attempts: number;
  createdAt: Date;
  updatedAt: Date;
}

/** The payment the adapter sends to `claimPayment`: the verified authorization and what settles it again. */
export interface LedgerClaimedPayment {
  reference: string;
  payer: string;
  amountMicro: bigint;
  network: string;
  asset: string;
  payTo: string;
  nonce: string;
  validBefore: bigint;
  request: { payload: PaymentPayload; requirements: PaymentRequirements };
}

/** What the adapter sends to `claimPayment`: the payment and what it buys, a pack or plain credit (never both). */
export type LedgerPaymentClaimInput =
  | { accountId: string; packId: string; creditMicro?: undefined; payment: LedgerClaimedPayment }
  | { accountId: string; creditMicro: bigint; packId?: undefined; payment: LedgerClaimedPayment };

/** The ledger methods the adapter uses (`@arrakis/billing-ledger`'s `Ledger` has them). */
export interface LedgerPaymentsApi<TResult> {
  claimPayment(
    input: LedgerPaymentClaimInput,
    options: { leaseMs: number },
  ): Promise<{ kind: PaymentClaim['kind']; payment: LedgerPaymentView; result?: TResult | undefined }>;
  markPaymentSettling(reference: string): Promise<unknown>;
  recordPaymentSettlement(reference: string, settlement: Settlement): Promise<unknown>;
  creditPayment(reference: string, settlement?: Settlement): Promise<TResult & { replayed: boolean }>;
  failPayment(reference: string, failure: PaymentFailure, options: { watchUntil: Date | null }): Promise<unknown>;
  postponePayment(reference: string, failure: PaymentFailure, options: { retryAt: Date }): Promise<unknown>;
  takeDuePayments(options: { limit: number; leaseMs: number }): Promise<LedgerPaymentView[]>;
  getPayment(idOrReference: string): Promise<LedgerPaymentView>;
}

/**
 * What the payments claimed through this store buy, for which account: a credit pack of the ledger's catalog
 * (`packId`), or plain credit (`creditMicro`, e.g. the price of one call; the payment must cover it).
 */
export type LedgerPurchaseTarget =
  | { accountId: string; packId: string; creditMicro?: undefined }
  | { accountId: string; creditMicro: bigint; packId?: undefined };

/**
 * A purchase target checked when a store or a paywall handler is built: an account id, and exactly one of `packId`
 * (a non-empty string) and `creditMicro` (a positive bigint). The ledger applies its own rules again at each claim.
 *
 * @throws {InvalidX402OptionError} when the target breaks a rule.
 * @example
 * const target = checkLedgerPurchaseTarget({ accountId, creditMicro: 20_000n });
 */
export function checkLedgerPurchaseTarget(target: unknown): LedgerPurchaseTarget {
  if (target === null || typeof target !== 'object') {
    throw new InvalidX402OptionError('ledger purchase target must be an object { accountId, packId | creditMicro }');
  }
  const { accountId, packId, creditMicro } = target as Record<string, unknown>;
  if (typeof accountId !== 'string' || accountId === '') {
    throw new InvalidX402OptionError('ledger purchase target: accountId must be a non-empty string');
  }
  if ((packId === undefined) === (creditMicro === undefined)) {
    throw new InvalidX402OptionError(
      `ledger purchase target: give exactly one of packId and creditMicro (got ${packId === undefined ? 'neither' : 'both'})`,
    );
  }
  if (packId !== undefined) {
    if (typeof packId !== 'string' || packId === '') {
      throw new InvalidX402OptionError('ledger purchase target: packId must be a non-empty string');
    }
    return { accountId, packId };
  }
  if (typeof creditMicro !== 'bigint' || creditMicro <= 0n) {
    throw new InvalidX402OptionError('ledger purchase target: creditMicro must be a positive bigint (micro-USD)', {
      details: { creditMicro: String(creditMicro) },
    });
  }
  return { accountId, creditMicro };
}

/** The claim input of `payment` for `target`: the pack or the credit it buys, and nothing of the other. */
function claimInputOf(target: LedgerPurchaseTarget, payment: LedgerClaimedPayment): LedgerPaymentClaimInput {
  if (target.creditMicro !== undefined) {
    return { accountId: target.accountId, creditMicro: target.creditMicro, payment };
  }
  return { accountId: target.accountId, packId: target.packId, payment };
}

function isRequest(value: unknown): value is { payload: PaymentPayload; requirements: PaymentRequirements } {
  if (value === null || typeof value !== 'object') return false;
  const candidate = value as Record<string, unknown>;
  return typeof candidate.payload === 'object' && typeof candidate.requirements === 'object';
}

function recordOf<TResult>(view: LedgerPaymentView, result: TResult | null): PaymentStateRecord<TResult> {
  return {
    reference: view.reference,
    status: view.status,
    network: view.network ?? '',
    asset: view.asset ?? '',
    payer: view.payer,
    payTo: view.payTo ?? '',
    nonce: view.nonce ?? '',
    amountAtomic: view.amountMicro,
    validBefore: view.validBefore ?? 0n,
    request: isRequest(view.request) ? view.request : null,
    transaction: view.transaction,
    settlement: view.settlement === null ? null : (view.settlement as unknown as Settlement),
    result,
    failure: view.failure,
    attempts: view.attempts,
    createdAtMs: view.createdAt.getTime(),
    updatedAtMs: view.updatedAt.getTime(),
  };
}

/** Latest instant a `Date` holds (year 275760): a `validBefore` beyond it is watched until then. */
const dateSecondsMax = 8_640_000_000_000n;

function dateOfSeconds(seconds: bigint): Date {
  return new Date(Number(seconds > dateSecondsMax ? dateSecondsMax : seconds) * 1000);
}

function isNotFound(error: unknown): boolean {
  return error !== null && typeof error === 'object' && (error as { code?: unknown }).code === 'payment_not_found';
}

/**
 * A {@link PaymentStateStore} on the billing ledger's payment records: the ledger mints the lot when a payment is
 * credited (at most once per payment, in its own transaction): the pack's, or exactly the plain credit bought.
 * `claim` needs `target` (the account, and the pack or the credit bought; checked here); a reconciler's store
 * (`takeDue`, `credit`, …) does not.
 *
 * @throws {InvalidX402OptionError} when `target` is given and breaks a rule (see {@link checkLedgerPurchaseTarget}).
 * @example
 * const store = ledgerPaymentStore(ledger); // for reconcilePayments({ store, resolver, facilitator })
 * const perCall = ledgerPaymentStore(ledger, { accountId: walletAccountId, creditMicro: 20_000n });
 */
export function ledgerPaymentStore<TResult>(
  ledger: LedgerPaymentsApi<TResult>,
  target?: LedgerPurchaseTarget,
): PaymentStateStore<TResult> {
  const checked = target === undefined ? undefined : checkLedgerPurchaseTarget(target);
  return {
    async claim(payment, { leaseMs, request }) {
      if (checked === undefined) throw new TypeError('ledgerPaymentStore(): claim needs the purchase target');
      const claimed: LedgerClaimedPayment = {
        reference: payment.reference,
        payer: payment.payer,
        amountMicro: payment.amountAtomic,
        network: payment.network,
        asset: payment.asset,
        payTo: payment.payTo,
        nonce: payment.nonce,
        validBefore: payment.validBefore,
        request,
      };
      const answer = await ledger.claimPayment(claimInputOf(checked, claimed), { leaseMs });
      return { kind: answer.kind, record: recordOf(answer.payment, answer.result ?? null) };
    },
    markSettling: async (reference) => void (await ledger.markPaymentSettling(reference)),
    markSettled: async (reference, settlement) => void (await ledger.recordPaymentSettlement(reference, settlement)),
    async credit(reference, settlement) {
      const result = await ledger.creditPayment(reference, settlement);
      const view = await ledger.getPayment(reference);
      return { result, record: recordOf(view, result as TResult), replayed: result.replayed };
    },
    async fail(reference, failure, { watchUntilSeconds }) {
      const watchUntil = watchUntilSeconds === null ? null : dateOfSeconds(watchUntilSeconds);
      await ledger.failPayment(reference, failure, { watchUntil });
    },
    async postpone(reference, failure, { retryInMs }) {
      await ledger.postponePayment(reference, failure, { retryAt: new Date(Date.now() + retryInMs) });
    },
    async takeDue(options) {
      return (await ledger.takeDuePayments(options)).map((view) => recordOf<TResult>(view, null));
    },
    async find(reference) {
      let view: LedgerPaymentView;
      try {
        view = await ledger.getPayment(reference);
      } catch (error) {
        if (isNotFound(error)) return null;
        throw error;
      }
      // A credited payment answers its stored result (credit on a credited payment writes nothing).
      const result = view.status === 'credited' ? await ledger.creditPayment(reference) : null;
      return recordOf(view, result);
    },
  };
}
