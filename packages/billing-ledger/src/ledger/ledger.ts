import { getSpendCaps, setSpendCaps } from '../caps/spend-caps.js';
import type { LedgerDb } from '../db/ledger-db.js';
import { distributionTotals, getDistribution } from '../distribution/reads.js';
import { attributeReferral, endReferral } from '../distribution/referrals.js';
import { InvalidArgumentError, quoteValue } from '../errors.js';
import {
  holdTtlMsDefault,
  holdTtlMsLimitMax,
  holdTtlMsMaxDefault,
  idempotencyTtlMsDefault,
  idempotencyTtlMsMax,
  retryCountDefault,
  retryCountLimitMax,
  ruleCooldownMsDefault,
  ruleCooldownMsMax,
} from '../limits.js';
import { createMeter, getMeter, listMeters, listMeterVersions } from '../meters/store.js';
import type { Meter, MeterInput } from '../meters/types.js';
import {
  type CreditPack,
  type CreditPackConfig,
  createCreditPackCatalog,
  defaultCreditPacks,
} from '../packs/catalog.js';
import { creditPayment } from '../packs/payment-credit.js';
import { countPaymentsByStatus, getPayment, listPayments } from '../packs/payment-reads.js';
import {
  claimPayment,
  failPayment,
  markPaymentSettling,
  postponePayment,
  recordPaymentSettlement,
  takeDuePayments,
} from '../packs/payment-states.js';
import { purchasePack } from '../packs/purchase.js';
import { type Clock, systemClock } from '../ports/clock.js';
import {
  activateDueRules,
  activateRuleNow,
  approveRule,
  proposeRule,
  rejectRule,
  submitRule,
} from '../rules/governance.js';
import { getActiveRule, getRule, listRuleAudit, listRules } from '../rules/reads.js';
import type {
  ActivateDueRulesResult,
  ListRulesOptions,
  ProposeRuleInput,
  RevenueRule,
  RevenueRuleAuditEntry,
  RuleActionInput,
  RuleReasonedActionInput,
} from '../rules/types.js';
import type {
  Account,
  Balance,
  CreateAccountInput,
  CreateAccountResult,
  Distribution,
  Entry,
  FinalizeInput,
  FinalizeResult,
  LedgerEvent,
  ListPaymentsOptions,
  Lot,
  MintInput,
  MintResult,
  Page,
  PaymentClaimInput,
  PaymentClaimResult,
  PaymentFailure,
  PaymentPage,
  PaymentSettlement,
  PaymentStatus,
  PaymentView,
  PoolTotal,
  PurchasePackInput,
  PurchasePackOptions,
  PurchasePackResult,
  ReferralAttribution,
  RefundResult,
  RefundTarget,
  ReleaseResult,
  Reservation,
  ReserveInput,
  ReserveResult,
  SpendCaps,
  SpendCapsInput,
  SweepResult,
  VerifyReport,
  WriteOptions,
} from '../types.js';
import type { LedgerContext, LedgerFaults } from './context.js';
import { createAccount } from './create-account.js';
import { finalize } from './finalize.js';
import { mint } from './mint.js';
import { getAccount, getBalance, getReservation, listEntries, listEvents, listLots } from './reads.js';
import { refund } from './refund.js';
import { release } from './release.js';
import { reserve } from './reserve.js';
import { sweepExpiredHolds, sweepExpiredLots, sweepIdempotencyKeys } from './sweep.js';
import { verify } from './verify.js';

/** Options of {@link createLedger}. */
export interface CreateLedgerOptions {
  /** The ledger database (`openPgliteLedgerDb` or `openPostgresLedgerDb`), migrated with `migrateLedger`. */
  db: LedgerDb;
  /** Source of time (default the wall clock). */
  clock?: Clock;
  /** Hold lifetime when a reserve names none (default 300 000 ms); at most `holdTtlMsMax`. */
  holdTtlMsDefault?: number;
  /** Longest hold lifetime a reserve may ask for (default 86 400 000 ms, at most 30 days). */
  holdTtlMsMax?: number;
  /** How long idempotency keys are kept (default and minimum 86 400 000 ms, at most 30 days). */
  idempotencyTtlMs?: number;
  /** Retries of a write on serialization failure or deadlock (default 5, 0..20). */
  retryCountMax?: number;
  /** Revenue governance: time from a rule's approval to its activation (default 172 800 000 ms = 48 h, 0..30 days). */
  ruleCooldownMs?: number;
  /** The credit pack catalog (default `defaultCreditPacks`: starter, standard, premium); validated here. */
  creditPacks?: readonly CreditPackConfig[];
  /**
   * Test-only fault injection: `afterLotUpdate(operation)` runs inside each write's transaction after its lot rows
   * were written and before its entries are inserted. Never set it in production.
   */
  faults?: LedgerFaults;
}

/** The ledger: every operation of DESIGN.md §3. See each function for its rules and errors. */
export interface Ledger {
  /** Creates the account of an entity, or returns the existing one (`created: false`). */
  createAccount(input: CreateAccountInput, options?: WriteOptions): Promise<CreateAccountResult>;
  /** One account; throws `AccountNotFoundError`. */
  getAccount(accountId: string): Promise<Account>;
  /** Mints a lot (debt paid first); a source mints once. */
  mint(input: MintInput, options?: WriteOptions): Promise<MintResult>;
  /** Places a hold in consumption order, or throws `InsufficientCreditsError` and changes nothing. */
  reserve(input: ReserveInput, options?: WriteOptions): Promise<ReserveResult>;
  /** Charges a hold with the actual cost (overrun per billing mode) and releases the rest. */
  finalize(input: FinalizeInput, options?: WriteOptions): Promise<FinalizeResult>;
  /** Releases a pending hold (idempotent), last drawn lot first. */
  release(input: { reservationId: string }, options?: WriteOptions): Promise<ReleaseResult>;
  /** Claws back a lot's unspent credit and records its consumed credit as debt. */
  refund(target: RefundTarget, options?: WriteOptions): Promise<RefundResult>;
  /** Balance now (expired lots excluded, swept or not). */
  getBalance(accountId: string): Promise<Balance>;
  /** The account's lots (live ones, or all with `includeEmpty`), in mint order. */
  listLots(accountId: string, options?: { includeEmpty?: boolean }): Promise<Lot[]>;
  /** The account's journal, newest first, cursor-paginated. */
  listEntries(accountId: string, options?: { cursor?: string | null; limit?: number }): Promise<Page<Entry>>;
  /** One hold with its lots; read-time expiry. */
  getReservation(reservationId: string): Promise<Reservation>;
  /** Expires pending holds past their expiry (one batch). */
  sweepExpiredHolds(options?: { batchSizeMax?: number }): Promise<SweepResult>;
  /** Moves the available credit of expired lots to expired (one batch). */
  sweepExpiredLots(options?: { batchSizeMax?: number }): Promise<SweepResult>;
  /** Deletes idempotency keys past their retention (one batch). */
  sweepIdempotencyKeys(options?: { batchSizeMax?: number }): Promise<SweepResult>;
  /** The event outbox, oldest first after the cursor. */
  listEvents(options?: { after?: string | null; limit?: number }): Promise<Page<LedgerEvent>>;
  /** Replays the journal and checks every invariant; never throws on a violation. */
  verify(): Promise<VerifyReport>;
  /** The credit pack catalog. */
  listCreditPacks(): readonly CreditPack[];
  /**
   * Buys a pack with a verified payment: claim, `settle()` with no transaction open, credit; a payment mints once and
   * a replay answers the first result.
   */
  purchasePack(input: PurchasePackInput, options?: PurchasePackOptions): Promise<PurchasePackResult>;
  /** Two-phase purchases: records a verified payment (`verified`) or takes it for this attempt (`owner`), or answers. */
  claimPayment(input: PaymentClaimInput, options?: { leaseMs?: number | undefined }): Promise<PaymentClaimResult>;
  /** `verified` → `settling` (attempts + 1), right before the owner asks the chain; idempotent. */
  markPaymentSettling(reference: string): Promise<PaymentView>;
  /** Any state but `credited` → `settled`, storing the settlement; a no-op on `credited`. */
  recordPaymentSettlement(reference: string, settlement: PaymentSettlement): Promise<PaymentView>;
  /** Mints the payment's lot once (from any state but `credited`) → `credited`; a credited one answers its result. */
  creditPayment(reference: string, settlement?: PaymentSettlement): Promise<PurchasePackResult>;
  /** Any state but `credited` → `failed`, watched until `watchUntil` (null: final). */
  failPayment(reference: string, failure: PaymentFailure, options: { watchUntil: Date | null }): Promise<PaymentView>;
  /** Keeps the state, stores the failure, due again at `retryAt`. */
  postponePayment(reference: string, failure: PaymentFailure, options: { retryAt: Date }): Promise<PaymentView>;
  /** Takes due payments for a reconciler (`FOR UPDATE SKIP LOCKED`), leasing each for `leaseMs`. */
  takeDuePayments(options: { limit: number; leaseMs: number }): Promise<PaymentView[]>;
  /** One payment by id or reference; throws `PaymentNotFoundError`. */
  getPayment(idOrReference: string): Promise<PaymentView>;
  /** Payments newest first, optionally in one status, cursor-paginated. */
  listPayments(options?: ListPaymentsOptions): Promise<PaymentPage>;
  /** How many payments are in each state (all five keys). */
  countPaymentsByStatus(): Promise<Record<PaymentStatus, number>>;
  /** A hold's charge distribution (which rule governed it) and its reversals. */
  getDistribution(reservationId: string): Promise<{ charge: Distribution | null; reversals: Distribution[] }>;
  /** Per revenue pool: distributed, reversed and net over `[from, to)`. */
  distributionTotals(range: { from: Date; to: Date }): Promise<PoolTotal[]>;
  /** Attributes an account to its referrer (earns the referrer share of schema 2 rules). */
  attributeReferral(
    input: { accountId: string; referrerAccountId: string },
    options?: WriteOptions,
  ): Promise<ReferralAttribution>;
  /** Ends an account's referral attribution. */
  endReferral(input: { accountId: string }, options?: WriteOptions): Promise<ReferralAttribution>;
  /** Revenue governance: proposes a rule (a `draft`). */
  proposeRule(input: ProposeRuleInput, options?: WriteOptions): Promise<RevenueRule>;
  /** `draft → pending_approval`. */
  submitRule(input: RuleActionInput, options?: WriteOptions): Promise<RevenueRule>;
  /** `pending_approval → cooling_down` by an admin other than the proposer; active after the cooldown. */
  approveRule(input: RuleActionInput, options?: WriteOptions): Promise<RevenueRule>;
  /** `pending_approval | cooling_down → rejected`, with a reason. */
  rejectRule(input: RuleReasonedActionInput, options?: WriteOptions): Promise<RevenueRule>;
  /** Emergency: `cooling_down → active` now, by an admin other than the proposer and the approver, with a reason. */
  activateRuleNow(input: RuleReasonedActionInput, options?: WriteOptions): Promise<RevenueRule>;
  /** The activation job: activates due rules in order, each superseding the previous. */
  activateDueRules(): Promise<ActivateDueRulesResult>;
  /** One rule as of now (read-time activation). */
  getRule(ruleId: string): Promise<RevenueRule>;
  /** Rules newest first, optionally in one status as of now. */
  listRules(options?: ListRulesOptions): Promise<Page<RevenueRule>>;
  /** The rule in force now. */
  getActiveRule(): Promise<RevenueRule>;
  /** Price book: creates a meter (version 1) or its next version (never an update); emits `meter.versioned`. */
  createMeter(input: MeterInput, options?: WriteOptions): Promise<Meter>;
  /** The version of a meter in force now, or the version asked for; throws `MeterNotFoundError`. */
  getMeter(meterId: string, options?: { version?: number }): Promise<Meter>;
  /** Every meter's version in force now (meters with none in force yet are left out), by id. */
  listMeters(): Promise<Meter[]>;
  /** Every version of a meter, newest first (scheduled ones too); throws `MeterNotFoundError` when it has none. */
  listMeterVersions(meterId: string): Promise<Meter[]>;
  /** Sets (or, with both null, clears) an account's daily and monthly spend caps; emits `spend_caps.updated`. */
  setSpendCaps(input: SpendCapsInput, options?: WriteOptions): Promise<SpendCaps>;
  /** An account's caps and its spend in the current UTC day and month. */
  getSpendCaps(accountId: string): Promise<SpendCaps>;
  /** A rule's audit trail, oldest first. */
  listRuleAudit(ruleId: string): Promise<RevenueRuleAuditEntry[]>;
}

function intOption(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(`${name} ${quoteValue(value)} must be an integer from ${min} to ${max}`, {
      details: { field: name, value: quoteValue(value) },
    });
  }
  return value;
}

/**
 * Creates the ledger over a migrated database. Each write runs in one READ COMMITTED transaction that locks the
 * account row first and then its lots in consumption order, retries serialization failures and deadlocks up to
 * `retryCountMax` times, writes its outbox events in the same transaction and takes an optional idempotency key.
 *
 * @throws {InvalidArgumentError} when an option breaks its rule.
 * @example
 * const { db } = await openPgliteLedgerDb();
 * await migrateLedger(db);
 * const ledger = createLedger({ db });
 * const { account } = await ledger.createAccount({ entityType: 'user', entityId: 'u_42' });
 * await ledger.mint({ accountId: account.id, amountMicro: 5_000_000n, sourceType: 'grant' });
 * const { reservation } = await ledger.reserve({ accountId: account.id, amountMicro: 1_000_000n });
 * await ledger.finalize({ reservationId: reservation.id, actualCostMicro: 750_000n });
 */
export function createLedger(options: CreateLedgerOptions): Ledger {
  if (options === null || typeof options !== 'object' || options.db === null || typeof options.db !== 'object') {
    throw new InvalidArgumentError('createLedger needs { db } (a LedgerDb)');
  }
  const clock = options.clock ?? systemClock;
  if (clock === null || typeof clock !== 'object' || typeof clock.nowMs !== 'function') {
    throw new InvalidArgumentError('clock must have a nowMs() method');
  }
  const holdTtlMsMax = intOption('holdTtlMsMax', options.holdTtlMsMax ?? holdTtlMsMaxDefault, 1, holdTtlMsLimitMax);
  const creditPacks = createCreditPackCatalog(options.creditPacks ?? defaultCreditPacks);
  const ctx: LedgerContext = {
    db: options.db,
    clock,
    holdTtlMsMax,
    holdTtlMsDefault: intOption(
      'holdTtlMsDefault',
      options.holdTtlMsDefault ?? Math.min(holdTtlMsDefault, holdTtlMsMax),
      1,
      holdTtlMsMax,
    ),
    idempotencyTtlMs: intOption(
      'idempotencyTtlMs',
      options.idempotencyTtlMs ?? idempotencyTtlMsDefault,
      idempotencyTtlMsDefault,
      idempotencyTtlMsMax,
    ),
    retryCountMax: intOption('retryCountMax', options.retryCountMax ?? retryCountDefault, 0, retryCountLimitMax),
    ruleCooldownMs: intOption('ruleCooldownMs', options.ruleCooldownMs ?? ruleCooldownMsDefault, 0, ruleCooldownMsMax),
    faults: options.faults ?? {},
  };
  return {
    createAccount: (input, writeOptions) => createAccount(ctx, input, writeOptions),
    getAccount: (accountId) => getAccount(ctx, accountId),
    mint: (input, writeOptions) => mint(ctx, input, writeOptions),
    reserve: (input, writeOptions) => reserve(ctx, input, writeOptions),
    finalize: (input, writeOptions) => finalize(ctx, input, writeOptions),
    release: (input, writeOptions) => release(ctx, input, writeOptions),
    refund: (target, writeOptions) => refund(ctx, target, writeOptions),
    getBalance: (accountId) => getBalance(ctx, accountId),
    listLots: (accountId, listOptions) => listLots(ctx, accountId, listOptions),
    listEntries: (accountId, listOptions) => listEntries(ctx, accountId, listOptions),
    getReservation: (reservationId) => getReservation(ctx, reservationId),
    sweepExpiredHolds: (sweepOptions) => sweepExpiredHolds(ctx, sweepOptions),
    sweepExpiredLots: (sweepOptions) => sweepExpiredLots(ctx, sweepOptions),
    sweepIdempotencyKeys: (sweepOptions) => sweepIdempotencyKeys(ctx, sweepOptions),
    listEvents: (listOptions) => listEvents(ctx, listOptions),
    verify: () => verify(ctx),
    listCreditPacks: () => creditPacks.packs,
    purchasePack: (input, purchaseOptions) => purchasePack(ctx, creditPacks, input, purchaseOptions),
    claimPayment: (input, claimOptions) => claimPayment(ctx, creditPacks, input, claimOptions),
    markPaymentSettling: (reference) => markPaymentSettling(ctx, reference),
    recordPaymentSettlement: (reference, settlement) => recordPaymentSettlement(ctx, reference, settlement),
    creditPayment: (reference, settlement) => creditPayment(ctx, reference, settlement),
    failPayment: (reference, failure, failOptions) => failPayment(ctx, reference, failure, failOptions),
    postponePayment: (reference, failure, postponeOptions) => postponePayment(ctx, reference, failure, postponeOptions),
    takeDuePayments: (takeOptions) => takeDuePayments(ctx, takeOptions),
    getPayment: (idOrReference) => getPayment(ctx, idOrReference),
    listPayments: (listOptions) => listPayments(ctx, listOptions),
    countPaymentsByStatus: () => countPaymentsByStatus(ctx),
    getDistribution: (reservationId) => getDistribution(ctx, reservationId),
    distributionTotals: (range) => distributionTotals(ctx, range),
    attributeReferral: (input, writeOptions) => attributeReferral(ctx, input, writeOptions),
    endReferral: (input, writeOptions) => endReferral(ctx, input, writeOptions),
    proposeRule: (input, writeOptions) => proposeRule(ctx, input, writeOptions),
    submitRule: (input, writeOptions) => submitRule(ctx, input, writeOptions),
    approveRule: (input, writeOptions) => approveRule(ctx, input, writeOptions),
    rejectRule: (input, writeOptions) => rejectRule(ctx, input, writeOptions),
    activateRuleNow: (input, writeOptions) => activateRuleNow(ctx, input, writeOptions),
    activateDueRules: () => activateDueRules(ctx),
    getRule: (ruleId) => getRule(ctx, ruleId),
    listRules: (listOptions) => listRules(ctx, listOptions),
    getActiveRule: () => getActiveRule(ctx),
    listRuleAudit: (ruleId) => listRuleAudit(ctx, ruleId),
    createMeter: (input, writeOptions) => createMeter(ctx, input, writeOptions),
    getMeter: (meterId, meterOptions) => getMeter(ctx, meterId, meterOptions),
    listMeters: () => listMeters(ctx),
    listMeterVersions: (meterId) => listMeterVersions(ctx, meterId),
    setSpendCaps: (input, writeOptions) => setSpendCaps(ctx, input, writeOptions),
    getSpendCaps: (accountId) => getSpendCaps(ctx, accountId),
  };
}
