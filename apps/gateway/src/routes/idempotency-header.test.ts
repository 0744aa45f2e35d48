import { idempotencyKeyLengthMax, idempotencyKeyPattern } from '@arrakis/billing-ledger';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf, type LedgerAppFixture, makeLedgerAppFixture } from '../testing/ledger-fixture.js';
import { IdempotencyHeaderSchema } from './ledger-schemas.js';

const backend = process.env.DATABASE_URL ? 'Postgres' : 'PGlite';

/** The rule in plain words: 1–255 printable ASCII characters (U+0020–U+007E), the space included. */
function isPrintableAsciiKey(key: string): boolean {
  if (key.length < 1 || key.length > 255) return false;
  for (let index = 0; index < key.length; index += 1) {
    const unit = key.charCodeAt(index);
    if (unit < 0x20 || unit > 0x7e) return false;
  }
  return true;
}

/** Characters on both sides of the rule: printable ASCII (space included), controls, DEL, non-ASCII. */
const keyChar = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0x20, max: 0x7e }).map((unit) => String.fromCharCode(unit)) },
  { weight: 1, arbitrary: fc.constantFrom('\u0000', '\u0001', '\t', '\u001f', '\u007f', '\u00e9', '\u00a0', '😀') },
);
const keyText = fc.oneof(
  fc.string({ unit: keyChar, maxLength: 300 }),
  fc.constantFrom(254, 255, 256).chain((n) => fc.string({ unit: keyChar, minLength: n, maxLength: n })),
);

describe('the Idempotency-Key header follows the ledger rule (idempotencyKeyPattern)', () => {
  it("the header schema accepts exactly the keys the ledger's idempotencyKeyPattern matches (what assertIdempotencyKey takes)", () => {
    fc.assert(
      fc.property(keyText, (key) => {
        const parsed = IdempotencyHeaderSchema.safeParse({ 'idempotency-key': key });
        expect(parsed.success).toBe(idempotencyKeyPattern.test(key));
        expect(parsed.success).toBe(isPrintableAsciiKey(key));
      }),
      { numRuns: 1000 },
    );
  });

  it('a refused key names the rule: 1-255 printable ASCII characters', () => {
    const parsed = IdempotencyHeaderSchema.safeParse({ 'idempotency-key': 'bad\u0001key' });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.message).toBe(`expected 1-${idempotencyKeyLengthMax} printable ASCII characters`);
  });
});

describe(`POST with an Idempotency-Key on ${backend}`, () => {
  let f: LedgerAppFixture;
  beforeAll(async () => {
    f = await makeLedgerAppFixture();
  });
  afterAll(async () => {
    await f.close();
  });

  const grant = (accountId: string, key: string, amountMicro = '1000') =>
    f.post(`/v1/accounts/${accountId}/grants`, {
      token: f.tokens.admin,
      json: { amountMicro, reason: 'idempotency header test' },
      headers: { 'idempotency-key': key },
    });

  it('a key with inner spaces is taken: 201, a repeat answers the first grant, another body is a 409', async () => {
    const { accountId } = await f.userAccount('spaced-key');
    const key = 'order 42 / attempt 1';
    const first = await grant(accountId, key);
    expect(first.status).toBe(201);
    const firstBody: unknown = await first.json();
    const again = await grant(accountId, key);
    expect(again.status).toBe(201);
    expect(await again.json()).toEqual(firstBody);
    await errorOf(await grant(accountId, key, '2000'), 409, 'idempotency_key_reused');
    expect((await f.ledger.getBalance(accountId)).availableMicro).toBe(1000n);
  });

  it('the longest key (255 characters, spaces inside) is taken', async () => {
    const { accountId } = await f.userAccount('longest-key');
    const key = `k${' k'.repeat((idempotencyKeyLengthMax - 1) / 2)}`;
    expect(key).toHaveLength(idempotencyKeyLengthMax);
    expect((await grant(accountId, key)).status).toBe(201);
  });

  it('spaces at either end are trimmed by the HTTP layer: the same key as without them', async () => {
    const { accountId } = await f.userAccount('trimmed-key');
    const first = await grant(accountId, 'trim-me please');
    expect(first.status).toBe(201);
    const padded = await grant(accountId, '  trim-me please ');
    expect(padded.status).toBe(201);
    expect(await padded.json()).toEqual(await first.json());
  });

  it('a key with a control character, a non-ASCII character or 256 characters is a 400 validation_failed; nothing changes', async () => {
    const { accountId } = await f.userAccount('bad-key');
    const before = await f.snapshot(accountId);
    for (const key of [
      'bad\u0001key',
      'tab\tinside',
      'del\u007f',
      'kl\u00e9',
      'k'.repeat(idempotencyKeyLengthMax + 1),
    ]) {
      const body = await errorOf(await grant(accountId, key), 400, 'validation_failed');
      expect(body.details, JSON.stringify(key)).toMatchObject({ target: 'header' });
    }
    expect(await f.snapshot(accountId)).toEqual(before);
  });
});
