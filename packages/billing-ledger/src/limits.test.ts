import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from './errors.js';
import {
  assertExternalId,
  assertId,
  assertIdempotencyKey,
  assertIdempotencyScope,
  assertName,
} from './ledger/validate.js';
import * as limits from './limits.js';
import {
  externalIdLengthMax,
  externalIdPattern,
  idempotencyKeyLengthMax,
  idempotencyKeyPattern,
  idLengthMax,
  idPattern,
  nameLengthMax,
  namePattern,
} from './limits.js';

const numRuns = 2000;

/** Every limit and its meaning today. A change here is a change for every caller: say so in a changeset. */
const expectedLimits: Record<string, number | bigint | string> = {
  idLengthMax: 128,
  nameLengthMax: 64,
  externalIdLengthMax: 255,
  idempotencyKeyLengthMax: 255,
  dimensionLengthMax: 64,
  memoLengthMax: 1000,
  expiresAtMsMax: Date.parse('9999-12-31T23:59:59.999Z'),
  idPattern: '^[A-Za-z0-9_.:-]{1,128}$',
  namePattern: '^[a-z0-9][a-z0-9_.:-]{0,63}$',
  externalIdPattern: '^[\\x21-\\x7e]{1,255}$',
  idempotencyKeyPattern: '^[\\x20-\\x7e]{1,255}$',
  dimensionPattern: '^[a-z][a-z0-9_]{0,63}$',
  amountMicroMax: 10n ** 15n,
  wireAmountLengthMax: 20,
  usdStringLengthMax: 32,
  splitPartsMax: 32,
  holdTtlMsDefault: 300_000,
  holdTtlMsMaxDefault: 86_400_000,
  holdTtlMsLimitMax: 2_592_000_000,
  idempotencyTtlMsDefault: 86_400_000,
  idempotencyTtlMsMax: 2_592_000_000,
  retryCountDefault: 5,
  retryCountLimitMax: 20,
  lotsPerHoldMax: 500,
  distributionsPerWriteMax: 500,
  entriesPageSizeDefault: 50,
  entriesPageSizeMax: 200,
  eventsPageSizeDefault: 100,
  eventsPageSizeMax: 1000,
  cursorLengthMax: 64,
  paymentCursorLengthMax: 256,
  rulesPageSizeDefault: 50,
  rulesPageSizeMax: 200,
  ruleAuditEntriesMax: 100,
  paymentsPageSizeDefault: 50,
  paymentsPageSizeMax: 500,
  metersListMax: 1000,
  meterVersionsListMax: 1000,
  verifyViolationsMax: 1000,
  sweepBatchSizeDefault: 100,
  sweepBatchSizeMax: 1000,
  idempotencySweepBatchSizeDefault: 1000,
  idempotencySweepBatchSizeMax: 10_000,
  duePaymentsBatchSizeMax: 500,
  usageUnitsMaxDefault: 10n ** 9n,
  usageUnitsLimitMax: 10n ** 15n,
  perUnitsMax: 10n ** 12n,
  unitPricesPerMeterMax: 32,
  meterTtlSecondsMax: 2_592_000,
  meterTtlMsMax: 86_400_000,
  ruleActorLengthMax: 256,
  ruleNameLengthMax: 128,
  ruleTextLengthMax: 1000,
  ruleCooldownMsDefault: 172_800_000,
  ruleCooldownMsMax: 2_592_000_000,
  packCreditsMicroMin: 1000n,
  creditPacksMax: 100,
  packLotTtlMsMax: 315_360_000_000,
  paymentLeaseMsDefault: 120_000,
  paymentLeaseMsMax: 3_600_000,
  paymentJsonBytesMax: 16_384,
  paymentJsonDepthMax: 32,
  paymentFieldLengthMax: 255,
  paymentFailureMessageLengthMax: 1000,
  paymentValidBeforeMax: 2n ** 256n - 1n,
  wireIdLengthMax: 128,
  wireHoldTtlMsMax: 86_400_000,
  wireTtlSecondsMax: 2_592_000,
};

/** True when every UTF-16 code unit of `value` is `allowed` (the oracles below are written without RegExp). */
function everyUnitIn(value: string, allowed: (unit: number) => boolean): boolean {
  for (let index = 0; index < value.length; index += 1) {
    if (!allowed(value.charCodeAt(index))) return false;
  }
  return true;
}

const isDigit = (unit: number) => unit >= 0x30 && unit <= 0x39;
const isLower = (unit: number) => unit >= 0x61 && unit <= 0x7a;
const isUpper = (unit: number) => unit >= 0x41 && unit <= 0x5a;
const isIdPunctuation = (unit: number) => '_.:-'.includes(String.fromCharCode(unit));
const lengthIn = (value: string, max: number) => value.length >= 1 && value.length <= max;

/** The rules in plain words: what each limit means, independent of the RegExp that implements it. */
const oracle = {
  /** 1–255 printable ASCII characters, the space included. */
  idempotencyKey: (value: string) => lengthIn(value, 255) && everyUnitIn(value, (u) => u >= 0x20 && u <= 0x7e),
  /** 1–128 of `A–Z a–z 0–9 _ . : -`. */
  id: (value: string) =>
    lengthIn(value, 128) && everyUnitIn(value, (u) => isUpper(u) || isLower(u) || isDigit(u) || isIdPunctuation(u)),
  /** 1–64 of `a–z 0–9 _ . : -`, a letter or digit first. */
  name: (value: string) =>
    lengthIn(value, 64) &&
    everyUnitIn(value, (u) => isLower(u) || isDigit(u) || isIdPunctuation(u)) &&
    !isIdPunctuation(value.charCodeAt(0)),
  /** 1–255 printable ASCII characters without the space. */
  externalId: (value: string) => lengthIn(value, 255) && everyUnitIn(value, (u) => u >= 0x21 && u <= 0x7e),
};

const charsOf = (text: string) => fc.constantFrom(...text);
const printableAscii = fc.integer({ min: 0x20, max: 0x7e }).map((unit) => String.fromCharCode(unit));
const idChars = charsOf('ABCXYZabcxyz0189_.:-');
const nameChars = charsOf('abcxyz0189_.:-');
/** Characters just outside the rules: controls, DEL, NBSP, non-ASCII, a lone surrogate, an astral pair. */
const strayChar = fc.oneof(
  charsOf(' ~\u0000\t\n\r\u001f\u007f\u0080\u00a0\u00e9\u2028\uffff\ud800\udc00'),
  fc.constant('😀'),
  printableAscii,
  fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
);
/** Lengths 0..300, the edges of every rule drawn often. */
const length = fc.oneof(
  fc.integer({ min: 0, max: 300 }),
  fc.constantFrom(0, 1, 63, 64, 65, 127, 128, 129, 254, 255, 256),
);

/**
 * Strings of 0..300 characters: all of `alphabet`, or of it with a few stray characters spliced in (so an answer
 * turns on one character or on the length), or arbitrary text.
 */
function textAround(alphabet: fc.Arbitrary<string>): fc.Arbitrary<string> {
  const pure = length.chain((n) => fc.array(alphabet, { minLength: n, maxLength: n })).map((chars) => chars.join(''));
  const spliced = fc
    .tuple(pure, fc.array(fc.tuple(fc.nat(), strayChar), { minLength: 1, maxLength: 3 }))
    .map(([base, strays]) =>
      strays.reduce((text, [at, stray]) => {
        const cut = at % (text.length + 1);
        return `${text.slice(0, cut)}${stray}${text.slice(cut + 1)}`;
      }, base),
    );
  return fc.oneof(pure, spliced, fc.string({ unit: strayChar, maxLength: 300 }));
}

/** True when `check` accepts `value`; false when it refuses it with an `InvalidArgumentError` (anything else fails). */
function accepts(check: (value: unknown) => void, value: unknown): boolean {
  try {
    check(value);
    return true;
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidArgumentError);
    return false;
  }
}

describe('limits: one module owns every input limit, and each keeps its meaning', () => {
  it('has the names and values of today (a changed value is a change for every caller)', () => {
    const actual = Object.fromEntries(
      Object.entries(limits).map(([name, value]) => [name, value instanceof RegExp ? value.source : value]),
    );
    expect(actual).toEqual(expectedLimits);
  });

  it('idempotency keys and scopes: the ledger accepts exactly what idempotencyKeyPattern matches (printable ASCII, spaces too)', () => {
    fc.assert(
      fc.property(textAround(printableAscii), (value) => {
        const matches = idempotencyKeyPattern.test(value);
        expect(matches).toBe(oracle.idempotencyKey(value));
        expect(accepts(assertIdempotencyKey, value)).toBe(matches);
        expect(accepts(assertIdempotencyScope, value)).toBe(matches);
      }),
      { numRuns },
    );
  });

  it('ids: assertId accepts exactly what idPattern matches', () => {
    fc.assert(
      fc.property(textAround(idChars), (value) => {
        const matches = idPattern.test(value);
        expect(matches).toBe(oracle.id(value));
        expect(accepts((v) => assertId('accountId', v), value)).toBe(matches);
      }),
      { numRuns },
    );
  });

  it('names: assertName accepts exactly what namePattern matches', () => {
    fc.assert(
      fc.property(textAround(nameChars), (value) => {
        const matches = namePattern.test(value);
        expect(matches).toBe(oracle.name(value));
        expect(accepts((v) => assertName('poolId', v), value)).toBe(matches);
      }),
      { numRuns },
    );
  });

  it('external ids: assertExternalId accepts exactly what externalIdPattern matches', () => {
    fc.assert(
      fc.property(textAround(printableAscii), (value) => {
        const matches = externalIdPattern.test(value);
        expect(matches).toBe(oracle.externalId(value));
        expect(accepts((v) => assertExternalId('entityId', v), value)).toBe(matches);
      }),
      { numRuns },
    );
  });

  it('at the edges: inner, leading and trailing spaces are keys; 0 or max + 1 characters, controls and non-ASCII are not', () => {
    for (const key of ['order 42', ' order', 'order ', ' ', 'k'.repeat(idempotencyKeyLengthMax), '~!"#']) {
      expect(accepts(assertIdempotencyKey, key), JSON.stringify(key)).toBe(true);
    }
    const badKeys = ['', 'k'.repeat(idempotencyKeyLengthMax + 1), 'a\tb', 'a\u007fb', 'a\nb', 'kl\u00e9', 'a\u0000'];
    for (const key of [...badKeys, undefined, null, 42, ['k']]) {
      expect(accepts(assertIdempotencyKey, key), JSON.stringify(key)).toBe(false);
    }
    expect(accepts((v) => assertId('id', v), 'a'.repeat(idLengthMax))).toBe(true);
    expect(accepts((v) => assertId('id', v), 'a'.repeat(idLengthMax + 1))).toBe(false);
    expect(accepts((v) => assertName('name', v), 'a'.repeat(nameLengthMax))).toBe(true);
    expect(accepts((v) => assertName('name', v), 'a'.repeat(nameLengthMax + 1))).toBe(false);
    expect(accepts((v) => assertExternalId('id', v), 'a'.repeat(externalIdLengthMax))).toBe(true);
    expect(accepts((v) => assertExternalId('id', v), 'a b')).toBe(false);
  });
});
