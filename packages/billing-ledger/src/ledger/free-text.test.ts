import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LedgerKit, openLedgerKit, rejectsWithCode } from './test-kit.js';

let kit: LedgerKit;
beforeAll(async () => {
  kit = await openLedgerKit();
});
afterAll(() => kit.close());

const split = { schemaVersion: 1, commonsBps: 500, communityBps: 7000, foundationBps: 2500 } as const;
const unstorable = ['a NUL \u0000 here', 'a lone high \ud800 surrogate', 'a lone low \udfff surrogate'];

async function ruleCount(): Promise<number> {
  const [row] = await kit.rows<{ n: bigint | number | string }>(sql`select count(*) as n from revenue_rules`);
  return Number(row?.n);
}

describe('free text the database could not store as given is refused before any write', () => {
  it('a mint memo with a NUL or a lone surrogate: invalid_argument, nothing written (with or without a key)', async () => {
    const accountId = await kit.account();
    const before = await kit.counts();
    for (const [index, memo] of unstorable.entries()) {
      const input = { accountId, amountMicro: 1_000n, sourceType: 'grant', memo };
      const error = await rejectsWithCode(kit.ledger.mint(input), 'invalid_argument');
      expect(error.message).toMatch(/memo .* must not contain a NUL character or an unpaired UTF-16 surrogate/);
      await rejectsWithCode(kit.ledger.mint(input, { idempotencyKey: `memo-${index}` }), 'invalid_argument');
    }
    expect(await kit.counts()).toEqual(before);
    const stored = await kit.ledger.mint({ accountId, amountMicro: 1_000n, sourceType: 'grant', memo: 'ok 🎉' });
    const entries = await kit.ledger.listEntries(accountId);
    expect(entries.items.find((e) => e.lotId === stored.lot.id)?.memo).toBe('ok 🎉');
  });

  it('a rule name, notes, actor, or a reject / emergency reason with a NUL or a lone surrogate: invalid_argument', async () => {
    const rulesBefore = await ruleCount();
    for (const text of unstorable) {
      await rejectsWithCode(kit.ledger.proposeRule({ ...split, name: text, actor: 'alice' }), 'invalid_argument');
      await rejectsWithCode(
        kit.ledger.proposeRule({ ...split, name: 'fine', notes: text, actor: 'alice' }),
        'invalid_argument',
      );
      await rejectsWithCode(kit.ledger.proposeRule({ ...split, name: 'fine', actor: `al${text}` }), 'invalid_argument');
    }
    expect(await ruleCount()).toBe(rulesBefore);
    const rule = await kit.ledger.proposeRule({ ...split, name: 'free text', actor: 'alice' });
    const pending = await kit.ledger.submitRule({ ruleId: rule.id, actor: 'alice' });
    for (const reason of unstorable) {
      await rejectsWithCode(kit.ledger.rejectRule({ ruleId: rule.id, actor: 'bob', reason }), 'invalid_argument');
      await rejectsWithCode(
        kit.ledger.activateRuleNow({ ruleId: rule.id, actor: 'carol', reason }),
        'invalid_argument',
      );
    }
    expect(await kit.ledger.getRule(rule.id)).toEqual(pending);
    expect(await kit.ledger.listRuleAudit(rule.id)).toHaveLength(2);
  });
});
