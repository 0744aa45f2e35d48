/**
 * `@arrakis/billing-ledger/limits` (also exported from the root): every input and size limit of the ledger a caller
 * can hit — ids, names, keys, memos, amounts, lifetimes, page sizes, lots per hold, meters, batch sizes, and the
 * HTTP client's limits that restate them — each named with its unit, `Max`/`Min`/`Default` last. The validators
 * (`assertId`, `assertIdempotencyKey`, …) check against these very values, so an edge (a gateway route, a form) that
 * imports them accepts exactly what the ledger accepts.
 *
 * @example
 * import { idempotencyKeyPattern } from '@arrakis/billing-ledger/limits';
 * idempotencyKeyPattern.test('order 42'); // true
 */

// Ids, names, keys and text (lengths in UTF-16 code units, JavaScript `length`).

/** Longest id (account, lot, reservation, rule), in characters. */
export const idLengthMax = 128;
/** Longest name (entity type, pool id, source type, meter id, pack id), in characters. */
export const nameLengthMax = 64;
/** Longest external id (entity id, source id, payment reference), in characters. */
export const externalIdLengthMax = 255;
/** Longest idempotency key (and idempotency scope), in characters. */
export const idempotencyKeyLengthMax = 255;
/** Longest usage dimension name of a meter (`output_tokens`), in characters. */
export const dimensionLengthMax = 64;
/** Longest memo on a mint, in characters. */
export const memoLengthMax = 1000;
/** Latest expiry a lot may carry, in unix ms (9999-12-31T23:59:59.999Z). */
export const expiresAtMsMax = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/** An id (account, lot, reservation, rule): 1–{@link idLengthMax} characters of `A–Z a–z 0–9 _ . : -`. */
export const idPattern = new RegExp(`^[A-Za-z0-9_.:-]{1,${idLengthMax}}$`);
/** A name (entity type, pool id, …): 1–{@link nameLengthMax} of lower-case `a–z 0–9 _ . : -`, a letter or digit first. */
export const namePattern = new RegExp(`^[a-z0-9][a-z0-9_.:-]{0,${nameLengthMax - 1}}$`);
/** An external id (entity id, source id): 1–{@link externalIdLengthMax} printable ASCII characters, no spaces. */
export const externalIdPattern = new RegExp(`^[\\x21-\\x7e]{1,${externalIdLengthMax}}$`);
/** An idempotency key (or scope): 1–{@link idempotencyKeyLengthMax} printable ASCII characters (U+0020–U+007E). */
export const idempotencyKeyPattern = new RegExp(`^[\\x20-\\x7e]{1,${idempotencyKeyLengthMax}}$`);
/** A usage dimension: 1–{@link dimensionLengthMax} of `a–z 0–9 _`, starting with a letter. */
export const dimensionPattern = new RegExp(`^[a-z][a-z0-9_]{0,${dimensionLengthMax - 1}}$`);

// Money.

/** Largest amount any field accepts unless it says otherwise, in micro-USD: 10^15 (one billion USD). */
export const amountMicroMax = 10n ** 15n;
/** Longest wire amount string read at all, in characters (longer strings are rejected before any parsing). */
export const wireAmountLengthMax = 20;
/** Longest USD decimal string read at all, in characters. */
export const usdStringLengthMax = 32;
/** Most parts one basis-point split may have, in parts. */
export const splitPartsMax = 32;

// Holds, retention and retries (the options of `createLedger`).

/** Hold lifetime when a reserve names none, in ms: 5 minutes. */
export const holdTtlMsDefault = 300_000;
/** Longest hold lifetime a ledger allows by default (the `holdTtlMsMax` option), in ms: 24 hours. */
export const holdTtlMsMaxDefault = 86_400_000;
/** Largest `holdTtlMsMax` a ledger accepts, in ms: 30 days. */
export const holdTtlMsLimitMax = 30 * 86_400_000;
/** How long idempotency keys are kept by default, and at least, in ms: 24 hours. */
export const idempotencyTtlMsDefault = 86_400_000;
/** Longest idempotency key retention accepted, in ms: 30 days. */
export const idempotencyTtlMsMax = 30 * 86_400_000;
/** Retries of a write that hit a serialization failure or deadlock by default, in attempts. */
export const retryCountDefault = 5;
/** Largest `retryCountMax` accepted, in attempts. */
export const retryCountLimitMax = 20;
/** Most lots one hold may draw from, in lots; a reserve that would need more is refused (consolidate credit first). */
export const lotsPerHoldMax = 500;
/** Most distributions one write queues, in distributions (a refund reverses at most this many charges). */
export const distributionsPerWriteMax = 500;

// Pages and lists.

/** Page of `listEntries` when no limit is given, in entries. */
export const entriesPageSizeDefault = 50;
/** Largest page of `listEntries`, in entries. */
export const entriesPageSizeMax = 200;
/** Page of `listEvents` when no limit is given, in events. */
export const eventsPageSizeDefault = 100;
/** Largest page of `listEvents`, in events. */
export const eventsPageSizeMax = 1000;
/** Longest cursor string accepted, in characters (a cursor this ledger issues is ≤ 30). */
export const cursorLengthMax = 64;
/** Longest payments cursor accepted, in characters (one this ledger issues is ≤ 240: an id is at most 128). */
export const paymentCursorLengthMax = 256;
/** Page of `listRules` when no limit is given, in rules. */
export const rulesPageSizeDefault = 50;
/** Largest page of `listRules`, in rules. */
export const rulesPageSizeMax = 200;
/** Audit rows `listRuleAudit` returns at most, in rows (a rule has at most five transitions). */
export const ruleAuditEntriesMax = 100;
/** Page of `listPayments` when no limit is given, in payments. */
export const paymentsPageSizeDefault = 50;
/** Largest page of `listPayments`, in payments. */
export const paymentsPageSizeMax = 500;
/** Most meters `listMeters` answers, in meters. */
export const metersListMax = 1000;
/** Most versions `listMeterVersions` answers (newest first), in versions. */
export const meterVersionsListMax = 1000;
/** Violations `verify()` lists before the report is cut, in violations (one more `report_truncated` says so). */
export const verifyViolationsMax = 1000;

// Batches of the sweepers and the payment reconciler.

/** Batch of a sweeper call when none is given, in holds or lots. */
export const sweepBatchSizeDefault = 100;
/** Largest batch of a sweeper call, in holds or lots. */
export const sweepBatchSizeMax = 1000;
/** Batch of `sweepIdempotencyKeys` when none is given, in keys. */
export const idempotencySweepBatchSizeDefault = 1000;
/** Largest batch of `sweepIdempotencyKeys`, in keys. */
export const idempotencySweepBatchSizeMax = 10_000;
/** Most payments one `takeDuePayments` call takes, in payments. */
export const duePaymentsBatchSizeMax = 500;

// Meters (the price book).

/** Most units one usage may report in a dimension when its price names no `unitsMax`, in units: 10^9. */
export const usageUnitsMaxDefault = 1_000_000_000n;
/** Largest `unitsMax` a unit price may name, in units: 10^15. */
export const usageUnitsLimitMax = 1_000_000_000_000_000n;
/** Largest `perUnits` of a unit price, in units: 10^12. */
export const perUnitsMax = 1_000_000_000_000n;
/** Most unit prices one meter may have (and so dimensions one usage may name), in prices. */
export const unitPricesPerMeterMax = 32;
/** Longest meter `ttlSeconds` accepted by validation, in seconds: 30 days (`holdTtlMsMax` also bounds it at reserve). */
export const meterTtlSecondsMax = 30 * 86_400;
/** Longest hold `meter()` (`@arrakis/billing-ledger/hono`) accepts as `ttlMs`, in ms: the ledger's default maximum. */
export const meterTtlMsMax = holdTtlMsMaxDefault;

// Revenue rules.

/** Longest rule actor (an admin token's `sub`), in characters. */
export const ruleActorLengthMax = 256;
/** Longest rule name, in characters. */
export const ruleNameLengthMax = 128;
/** Longest rule notes, rejection reason or emergency reason, in characters. */
export const ruleTextLengthMax = 1000;
/** Cooldown between a rule's approval and its activation by default, in ms: 48 hours. */
export const ruleCooldownMsDefault = 172_800_000;
/** Longest cooldown a ledger accepts, in ms: 30 days. */
export const ruleCooldownMsMax = 30 * 86_400_000;

// Credit packs and payments.

/** Fewest credits a pack may mint, in micro-USD: 1 000 ($0.001). */
export const packCreditsMicroMin = 1_000n;
/** Most packs a catalog holds, in packs. */
export const creditPacksMax = 100;
/** Longest lot lifetime a pack may give, in ms: 10 years. */
export const packLotTtlMsMax = 10 * 365 * 86_400_000;
/** How long a claim or a reconciler's take holds a payment when no `leaseMs` is given, in ms: 2 minutes. */
export const paymentLeaseMsDefault = 120_000;
/** Longest lease a claim or a take may ask for, in ms: 1 hour. */
export const paymentLeaseMsMax = 3_600_000;
/** Largest serialized JSON a payment's `request` or `settlement` may hold, in UTF-8 bytes: 16 KiB. */
export const paymentJsonBytesMax = 16_384;
/** Deepest nesting a payment's `request` or `settlement` JSON may have, in levels. */
export const paymentJsonDepthMax = 32;
/** Longest payer, network, asset, recipient, nonce, transaction or failure code accepted, in characters. */
export const paymentFieldLengthMax = 255;
/** Longest failure message stored with a failed or postponed payment, in characters. */
export const paymentFailureMessageLengthMax = 1000;
/** Largest `validBefore` accepted, in unix seconds (an EIP-3009 `uint256`). */
export const paymentValidBeforeMax = 2n ** 256n - 1n;

// The ledger over HTTP (`@arrakis/billing-ledger/http`): the gateway's wire limits that restate the ledger's.

/** Longest id (account, reservation, meter) the HTTP client sends in a path or body, in characters. */
export const wireIdLengthMax = idLengthMax;
/** Longest hold asked for over HTTP, in ms: the ledger's default maximum (the gateway's `ttlSeconds` maximum). */
export const wireHoldTtlMsMax = holdTtlMsMaxDefault;
/** Longest hold or meter ttl the HTTP client decodes, in seconds: 30 days (the ledger's `holdTtlMsLimitMax`). */
export const wireTtlSecondsMax = holdTtlMsLimitMax / 1000;
