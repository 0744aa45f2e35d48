import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LedgerKit, openLedgerKit, rejectsWithCode } from '../ledger/test-kit.js';

let kit: LedgerKit;
beforeAll(async () => {
  kit = await openLedgerKit({ ruleCooldownMs: 60_000 });
});
afterAll(() => kit.close());

async function funded(amountMicro: bigint) {
  const accountId = await kit.account();
  const { lot } = await kit.ledger.mint({ accountId, amountMicro, sourceType: 'grant' });
  return { accountId, lotId: lot.id };
}

async function charge(
  accountId: string,
  holdMicro: bigint,
  costMicro: bigint,
  billingMode?: 'live' | 'soft' | 'shadow',
) {
  const { reservation } = await kit.ledger.reserve({ accountId, amountMicro: holdMicro, billingMode });
  return kit.ledger.finalize({ reservationId: reservation.id, actualCostMicro: costMicro });
}

/** Proposes, submits, approves (two admins) and activates a rule now (a third admin, emergency). */
async function activateRule(bps: {
  schemaVersion: 1 | 2;
  commonsBps: number;
  communityBps: number;
  foundationBps: number;
  referrerBps?: number;
  treasuryBps?: number;
}) {
  const draft = await kit.ledger.proposeRule({ name: `rule ${Math.random()}`, ...bps, actor: 'alice' });
  await kit.ledger.submitRule({ ruleId: draft.id, actor: 'alice' });
  await kit.ledger.approveRule({ ruleId: draft.id, actor: 'bob' });
  return kit.ledger.activateRuleNow({ ruleId: draft.id, actor: 'carol', reason: 'test' });
}

describe('distribution at finalize', () => {
  it('splits the charge by the rule in force, in the same transaction, with one distribute entry per share', async () => {
    const { accountId } = await funded(10_000_000n);
    const before = await kit.ledger.distributionTotals({ from: new Date(0), to: new Date('9999-12-31T00:00:00Z') });
    const result = await charge(accountId, 2_000_000n, 1_000_001n);
    expect(result.distribution).toMatchObject({
      kind: 'charge',
      reservationId: result.reservation.id,
      accountId,
      amountMicro: 1_000_001n,
      ruleId: 'rule_initial',
      ruleVersion: 1,
      ruleSchemaVersion: 1,
      shares: { commons: 50_000n, community: 700_000n, foundation: 250_001n, referrer: 0n, treasury: 0n },
      referrerAccountId: null,
    });
    const rows = await kit.rows<{ account_id: string; amount_micro: string; from_bucket: string; to_bucket: string }>(
      sql`select account_id, amount_micro::text, from_bucket, to_bucket from entries
          where distribution_id = ${result.distribution?.id} order by account_id`,
    );
    expect(rows).toEqual([
      { account_id: 'acc_system_commons', amount_micro: '50000', from_bucket: 'consumed', to_bucket: 'revenue' },
      { account_id: 'acc_system_community', amount_micro: '700000', from_bucket: 'consumed', to_bucket: 'revenue' },
      { account_id: 'acc_system_foundation', amount_micro: '250001', from_bucket: 'consumed', to_bucket: 'revenue' },
    ]);
    const after = await kit.ledger.distributionTotals({ from: new Date(0), to: new Date('9999-12-31T00:00:00Z') });
    const net = (totals: typeof after, pool: string) => totals.find((t) => t.pool === pool)?.netMicro ?? 0n;
    expect(net(after, 'community') - net(before, 'community')).toBe(700_000n);
    expect((await kit.ledger.getDistribution(result.reservation.id)).charge).toEqual(result.distribution);
    // A repeat of the finalize answers the same distribution and writes nothing more.
    const again = await kit.ledger.finalize({ reservationId: result.reservation.id, actualCostMicro: 1_000_001n });
    expect(again.distribution).toEqual(result.distribution);
    const [{ n } = { n: '' }] = await kit.rows<{ n: string }>(
      sql`select count(*)::text as n from distributions where reservation_id = ${result.reservation.id}`,
    );
    expect(n).toBe('1');
  });

  it('distributes what a soft overrun charged, nothing for shadow holds or a zero cost', async () => {
    const { accountId } = await funded(1_000n);
    const soft = await charge(accountId, 100n, 150n, 'soft');
    expect(soft.chargedMicro).toBe(150n);
    expect(soft.distribution?.amountMicro).toBe(150n);
    const shadow = await charge(accountId, 100n, 80n, 'shadow');
    expect(shadow.distribution).toBeNull();
    expect((await kit.ledger.getDistribution(shadow.reservation.id)).charge).toBeNull();
    const free = await charge(accountId, 100n, 0n);
    expect(free.distribution).toBeNull();
    await rejectsWithCode(kit.ledger.getDistribution('res_missing'), 'reservation_not_found');
    await rejectsWithCode(kit.ledger.distributionTotals({ from: new Date(2), to: new Date(1) }), 'invalid_argument');
  });

  it('records the rule that governed each charge: a rule change between two finalizes shows in their rows', async () => {
    const { accountId } = await funded(10_000_000n);
    const first = await charge(accountId, 1_000_000n, 1_000_000n);
    const rule = await activateRule({
      schemaVersion: 2,
      commonsBps: 1000,
      communityBps: 5000,
      foundationBps: 2000,
      referrerBps: 1000,
      treasuryBps: 1000,
    });
    const second = await charge(accountId, 1_000_000n, 1_000_000n);
    expect(first.distribution?.ruleId).not.toBe(second.distribution?.ruleId);
    expect(second.distribution).toMatchObject({ ruleId: rule.id, ruleVersion: rule.version, ruleSchemaVersion: 2 });
    expect(first.distribution?.ruleVersion).toBeLessThan(rule.version);
    expect(first.distribution?.ruleSchemaVersion).toBe(1);
    // No referrer: the referrer's bps stay with the foundation.
    expect(second.distribution?.shares).toEqual({
      commons: 100_000n,
      community: 500_000n,
      foundation: 300_000n,
      referrer: 0n,
      treasury: 100_000n,
    });
    const rows = await kit.rows<{ reservation_id: string; rule_version: number; rule_schema_version: number }>(
      sql`select reservation_id, rule_version, rule_schema_version from distributions
          where reservation_id in (${first.reservation.id}, ${second.reservation.id}) order by rule_schema_version`,
    );
    expect(rows.map((r) => [r.reservation_id, Number(r.rule_schema_version)])).toEqual([
      [first.reservation.id, 1],
      [second.reservation.id, 2],
    ]);

    // With an active referral, a schema 2 rule pays the referrer share to the referrer's account.
    const referrer = await kit.account();
    await kit.ledger.attributeReferral({ accountId, referrerAccountId: referrer });
    const third = await charge(accountId, 1_000_000n, 1_000_000n);
    expect(third.distribution).toMatchObject({
      referrerAccountId: referrer,
      shares: { commons: 100_000n, community: 500_000n, foundation: 200_000n, referrer: 100_000n, treasury: 100_000n },
    });
    const referrerEntries = await kit.ledger.listEntries(referrer);
    expect(referrerEntries.items).toMatchObject([
      { kind: 'distribute', amountMicro: 100_000n, toBucket: 'revenue', availableAfterMicro: null, lotId: null },
    ]);
    await kit.ledger.endReferral({ accountId });
    const fourth = await charge(accountId, 1_000_000n, 1_000_000n);
    expect(fourth.distribution?.referrerAccountId).toBeNull();
    await rejectsWithCode(
      kit.ledger.attributeReferral({ accountId, referrerAccountId: accountId }),
      'invalid_argument',
    );
    await rejectsWithCode(
      kit.ledger.attributeReferral({ accountId, referrerAccountId: 'acc_nobody' }),
      'account_not_found',
    );
    expect((await kit.ledger.verify()).violations).toEqual([]);
  });

  it('reverses the distributions of the charges a refunded lot paid for, in proportion, and verify stays clean', async () => {
    const accountId = await kit.account();
    const { lot: a } = await kit.ledger.mint({
      accountId,
      amountMicro: 300n,
      sourceType: 'deposit',
      sourceId: `p-${accountId}-a`,
    });
    const { lot: b } = await kit.ledger.mint({
      accountId,
      amountMicro: 300n,
      sourceType: 'deposit',
      sourceId: `p-${accountId}-b`,
    });
    const one = await charge(accountId, 200n, 200n); // all from lot a
    const two = await charge(accountId, 250n, 250n); // 100 from a, 150 from b
    const refundA = await kit.ledger.refund({ lotId: a.id });
    expect(refundA.debtAddedMicro).toBe(300n);
    expect(refundA.reversals.map((r) => [r.reservationId, r.amountMicro, r.reversesId])).toEqual(
      [
        [one.reservation.id, 200n, one.distribution?.id],
        [two.reservation.id, 100n, two.distribution?.id],
      ].sort((x, y) => String(x[0]).localeCompare(String(y[0]))),
    );
    // A charge paid entirely by the refunded lot is reversed exactly.
    const reversalOfOne = refundA.reversals.find((r) => r.reservationId === one.reservation.id);
    expect(reversalOfOne?.shares).toEqual(one.distribution?.shares);
    const refundB = await kit.ledger.refund({ lotId: b.id });
    const reversalOfTwo = [...refundA.reversals, ...refundB.reversals].filter(
      (r) => r.reservationId === two.reservation.id,
    );
    const net = { ...two.distribution?.shares };
    for (const reversal of reversalOfTwo) {
      for (const [pool, micro] of Object.entries(reversal.shares))
        net[pool as keyof typeof net] = (net[pool as keyof typeof net] as bigint) - micro;
    }
    expect(Object.values(net)).toEqual([0n, 0n, 0n, 0n, 0n]);
    const { reversals } = await kit.ledger.getDistribution(two.reservation.id);
    expect(reversals).toHaveLength(2);
    expect((await kit.ledger.verify()).violations).toEqual([]);
  });

  it('is covered by verify: a distribute entry that does not match its distribution is reported', async () => {
    const { accountId } = await funded(1_000n);
    const result = await charge(accountId, 100n, 100n);
    const distribution = result.distribution;
    expect(distribution).not.toBeNull();
    await kit.rows(
      sql`insert into entries (account_id, lot_id, reservation_id, kind, amount_micro, from_bucket, to_bucket,
            available_after_micro, distribution_id, rule_id, rule_version, rule_schema_version, memo, created_at)
          values ('acc_system_commons', null, ${result.reservation.id}, 'distribute', 1, 'consumed', 'revenue', null,
            ${distribution?.id}, ${distribution?.ruleId}, ${distribution?.ruleVersion}, ${distribution?.ruleSchemaVersion},
            'commons', now())`,
    );
    const report = await kit.ledger.verify();
    expect(report.ok).toBe(false);
    expect(report.violations).toContainEqual(
      expect.objectContaining({ rule: 'distribution_entries_mismatch', subjectId: distribution?.id }),
    );
    // Distributions are facts: the database refuses to change them.
    await expect(
      kit.rows(sql`update distributions set commons_micro = 0 where id = ${distribution?.id}`),
    ).rejects.toThrow(/append-only|commons/);
  });
});
