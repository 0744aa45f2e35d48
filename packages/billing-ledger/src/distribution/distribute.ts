/**
 * Writing and reading distributions. A finalize queues its charge's distribution into the same write statement
 * (one `distributions` row whose shares sum to the charge, CHECKed, and one `distribute` entry per non-zero share on
 * the pool's account); a refund queues reversals the same way.
 */
import { sql } from 'drizzle-orm';
import { execRows, preparedQuery } from '../db/ledger-db.js';
import { type DistributionKind, distributions, entries, referralAttributions, reservations } from '../db/schema.js';
import { InvalidArgumentError, quoteValue } from '../errors.js';
import { assert } from '../ledger/assert.js';
import type { Tx } from '../ledger/context.js';
import { newId } from '../ledger/ids.js';
import type { AccountWork, CteParam, CteRows } from '../ledger/work.js';
import { distributionsPerWriteMax } from '../limits.js';
import { type EffectiveRule, effectiveRuleSql, toEffectiveRule } from '../rules/effective.js';
import type { Distribution, PoolShares } from '../types.js';
import { poolOrder, reverseShares, sharesTotal, systemPoolAccounts, zeroShares } from './shares.js';

/** What a finalize needs to split its charge: the rule in force and the paying account's active referrer. */
export interface ChargeTerms {
  rule: EffectiveRule;
  referrerAccountId: string | null;
}

type ChargeTermsRow = Parameters<typeof toEffectiveRule>[0] & { referrer_account_id: string | null };

/** The rule in force at `now` with the active referrer of the hold's account (rendered once, then prepared). */
const chargeTermsQuery = preparedQuery<ChargeTermsRow>(
  sql`select rule.*, (
      select ${referralAttributions.referrerAccountId} from ${referralAttributions}
      where ${referralAttributions.accountId} = (
          select ${reservations.accountId} from ${reservations} where ${reservations.id} = ${sql.placeholder('reservationId')}
        )
        and ${referralAttributions.active}
    ) as referrer_account_id
    from (${effectiveRuleSql(sql.placeholder('now'))}) as rule`,
);

/**
 * Reads, in one prepared statement, the rule in force at `now` and the active referrer of the account that owns a
 * hold (found by subquery, so the statement can be pipelined with the locks of a finalize).
 *
 * @example
 * const terms = await readChargeTerms(tx, reservationId, now);
 */
export async function readChargeTerms(tx: Tx, reservationId: string, now: Date): Promise<ChargeTerms> {
  const [row] = await chargeTermsQuery(tx, { reservationId, now: now.toISOString() });
  return { rule: toEffectiveRule(row), referrerAccountId: row?.referrer_account_id ?? null };
}

/** A distribution to write. */
export interface DistributionDraft {
  kind: DistributionKind;
  reservationId: string;
  /** For a reversal: the charge it reverses and the refunded lot. */
  reversesId: string | null;
  lotId: string | null;
  rule: Pick<EffectiveRule, 'id' | 'version' | 'schemaVersion'>;
  shares: PoolShares;
  referrerAccountId: string | null;
}

/**
 * Queues distributions into the unit of work of the paying account, in two CTEs of its one write statement: the
 * `distributions` rows and one `distribute` entry per non-zero share (a charge moves consumed → revenue on the
 * pool's account; a reversal revenue → consumed). Returns the distributions as they will be stored.
 *
 * @example
 * const [distribution] = queueDistributions(work, [{ kind: 'charge', reservationId, reversesId: null, lotId: null, rule, shares, referrerAccountId }]);
 */
export function queueDistributions(work: AccountWork, drafts: readonly DistributionDraft[]): Distribution[] {
  assert(drafts.length > 0 && drafts.length <= distributionsPerWriteMax, 'a write queues 1..max distributions', {
    count: `${drafts.length}`,
  });
  let shareCount = 0;
  const queued = drafts.map((draft) => {
    const amountMicro = sharesTotal(draft.shares);
    assert(amountMicro > 0n, 'a distribution moves a positive amount', { reservationId: draft.reservationId });
    assert(draft.shares.referrer === 0n || draft.referrerAccountId !== null, 'a referrer share has a referrer', {
      reservationId: draft.reservationId,
    });
    for (const pool of poolOrder) if (draft.shares[pool] > 0n) shareCount += 1;
    const id = newId('dst');
    const distribution: Distribution = {
      id,
      kind: draft.kind,
      reservationId: draft.reservationId,
      accountId: work.account.id,
      reversesId: draft.reversesId,
      lotId: draft.lotId,
      amountMicro,
      ruleId: draft.rule.id,
      ruleVersion: draft.rule.version,
      ruleSchemaVersion: draft.rule.schemaVersion,
      shares: { ...draft.shares },
      referrerAccountId: draft.shares.referrer > 0n ? draft.referrerAccountId : null,
      createdAt: work.now,
    };
    work.emit('distribution.posted', id, {
      distributionId: id,
      kind: draft.kind,
      reservationId: draft.reservationId,
      accountId: work.account.id,
      reversesId: draft.reversesId,
      lotId: draft.lotId,
      amountMicro: amountMicro.toString(),
      ruleId: draft.rule.id,
      ruleVersion: draft.rule.version,
      ruleSchemaVersion: draft.rule.schemaVersion,
      shares: Object.fromEntries(poolOrder.map((pool) => [pool, draft.shares[pool].toString()])),
      referrerAccountId: distribution.referrerAccountId,
    });
    return distribution;
  });
  // Both CTEs read the same rows: bound once (by the first body rendered), then the second reuses the FROM item.
  let bound: { from: string; now: string } | undefined;
  const bind = (param: CteParam, rows: CteRows) => {
    bound ??= {
      from: rows(
        distributionColumns.map(([name]) => name),
        distributionColumns.map(([, type, value]) => [queued.map(value), type] as const),
      ).from,
      now: param(work.now.toISOString(), 'timestamptz'),
    };
    return bound;
  };
  work.addRawWrite(
    'new_distributions',
    (param, rows) => {
      const { from, now } = bind(param, rows);
      return `insert into distributions (id, kind, reservation_id, account_id, reverses_id, lot_id, amount_micro, rule_id,
          rule_version, rule_schema_version, commons_micro, community_micro, foundation_micro, referrer_micro,
          treasury_micro, referrer_account_id, created_at)
        select v.id, v.kind, v.reservation_id, v.account_id, v.reverses_id, v.lot_id, v.amount, v.rule_id, v.rule_version,
          v.schema_version, v.commons, v.community, v.foundation, v.referrer, v.treasury, v.referrer_account_id, ${now}
        from ${from} order by v.ord returning 1`;
    },
    queued.length,
  );
  // One `distribute` entry per non-zero share, in pool order (a charge moves consumed → revenue on the pool's
  // account; a reversal revenue → consumed), written from the same rows.
  work.addRawWrite(
    'new_distribution_entries',
    (param, rows) => {
      const { from, now } = bind(param, rows);
      const shares = poolOrder
        .map((pool, index) => {
          const account = pool === 'referrer' ? 'v.referrer_account_id' : `'${systemPoolAccounts[pool]}'`;
          return `(${index}, '${pool}', ${account}, v.${pool})`;
        })
        .join(', ');
      return `insert into entries (account_id, lot_id, reservation_id, kind, amount_micro, from_bucket, to_bucket,
          available_after_micro, distribution_id, rule_id, rule_version, rule_schema_version, memo, created_at)
        select s.account_id, null, v.reservation_id, 'distribute', s.amount,
          case when v.kind = 'charge' then 'consumed' else 'revenue' end,
          case when v.kind = 'charge' then 'revenue' else 'consumed' end,
          null, v.id, v.rule_id, v.rule_version, v.schema_version, s.pool, ${now}
        from ${from} cross join lateral (values ${shares}) as s(n, pool, account_id, amount)
        where s.amount > 0 order by v.ord, s.n returning 1`;
    },
    shareCount,
  );
  return queued;
}

/** The columns of the rows {@link queueDistributions} writes: name, type, value of the n-th distribution. */
const distributionColumns: readonly (readonly [string, string, (d: Distribution, n: number) => unknown])[] = [
  ['ord', 'int4', (_, n) => n],
  ['id', 'text', (d) => d.id],
  ['kind', 'text', (d) => d.kind],
  ['reservation_id', 'text', (d) => d.reservationId],
  ['account_id', 'text', (d) => d.accountId],
  ['reverses_id', 'text', (d) => d.reversesId],
  ['lot_id', 'text', (d) => d.lotId],
  ['amount', 'int8', (d) => d.amountMicro.toString()],
  ['rule_id', 'text', (d) => d.ruleId],
  ['rule_version', 'int4', (d) => d.ruleVersion],
  ['schema_version', 'int4', (d) => d.ruleSchemaVersion],
  ...poolOrder.map((pool) => [pool, 'int8', (d: Distribution) => d.shares[pool].toString()] as const),
  ['referrer_account_id', 'text', (d) => d.referrerAccountId],
];

/** A `distributions` row as the driver returns it (snake_case, bigints possibly as strings). */
export type DistributionRow = {
  id: string;
  kind: string;
  reservation_id: string;
  account_id: string;
  reverses_id: string | null;
  lot_id: string | null;
  amount_micro: bigint | string;
  rule_id: string;
  rule_version: number | string;
  rule_schema_version: number | string;
  commons_micro: bigint | string;
  community_micro: bigint | string;
  foundation_micro: bigint | string;
  referrer_micro: bigint | string;
  treasury_micro: bigint | string;
  referrer_account_id: string | null;
  created_at: Date | string;
};

/**
 * Maps a raw `distributions` row to a {@link Distribution}.
 *
 * @example
 * const distribution = toDistribution(row);
 */
export function toDistribution(row: DistributionRow): Distribution {
  const schemaVersion = Number(row.rule_schema_version);
  assert(schemaVersion === 1 || schemaVersion === 2, 'a distribution records schema 1 or 2', { id: row.id });
  assert(row.kind === 'charge' || row.kind === 'reversal', 'a distribution is a charge or a reversal', { id: row.id });
  return {
    id: row.id,
    kind: row.kind,
    reservationId: row.reservation_id,
    accountId: row.account_id,
    reversesId: row.reverses_id,
    lotId: row.lot_id,
    amountMicro: BigInt(row.amount_micro),
    ruleId: row.rule_id,
    ruleVersion: Number(row.rule_version),
    ruleSchemaVersion: schemaVersion,
    shares: {
      commons: BigInt(row.commons_micro),
      community: BigInt(row.community_micro),
      foundation: BigInt(row.foundation_micro),
      referrer: BigInt(row.referrer_micro),
      treasury: BigInt(row.treasury_micro),
    },
    referrerAccountId: row.referrer_account_id,
    createdAt: row.created_at instanceof Date ? row.created_at : new Date(row.created_at),
  };
}

/**
 * The distributions of a hold: its charge (or null) and the reversals of it, oldest first.
 *
 * @example
 * const { charge, reversals } = await readDistributionsOfReservation(tx, reservationId);
 */
export async function readDistributionsOfReservation(
  tx: Tx,
  reservationId: string,
): Promise<{ charge: Distribution | null; reversals: Distribution[] }> {
  const rows = await execRows<DistributionRow>(
    tx,
    sql`select * from ${distributions} where ${distributions.reservationId} = ${reservationId}
      order by case when kind = 'charge' then 0 else 1 end, created_at, id`,
  );
  const all = rows.map(toDistribution);
  const charges = all.filter((d) => d.kind === 'charge');
  assert(charges.length <= 1, 'a hold has at most one charge distribution', { reservationId });
  return { charge: charges[0] ?? null, reversals: all.filter((d) => d.kind === 'reversal') };
}

/**
 * The reversals a refund of `lotId` writes: for every charge the lot paid part of (its `consume` entries), the part
 * it paid is given back by the pools in proportion to that charge's shares (see `reverseShares`), recorded against
 * the rule that governed the charge. Charges without a distribution (nothing to give back) are skipped.
 *
 * @throws {InvalidArgumentError} when the lot paid for more than {@link distributionsPerWriteMax} charges.
 * @example
 * const drafts = await reversalDraftsForLot(tx, lot.id);
 */
export async function reversalDraftsForLot(tx: Tx, lotId: string): Promise<DistributionDraft[]> {
  const consumed = await execRows<{ reservation_id: string; consumed_micro: bigint | string }>(
    tx,
    sql`select ${entries.reservationId} as reservation_id, sum(${entries.amountMicro}) as consumed_micro
      from ${entries}
      where ${entries.lotId} = ${lotId} and ${entries.kind} = 'consume' and ${entries.reservationId} is not null
      group by ${entries.reservationId} order by ${entries.reservationId}`,
  );
  if (consumed.length === 0) return [];
  if (consumed.length > distributionsPerWriteMax) {
    throw new InvalidArgumentError(
      `lot ${quoteValue(lotId)} paid for ${consumed.length} charges; a refund reverses at most ${distributionsPerWriteMax}`,
      { details: { lotId, charges: consumed.length, distributionsPerWriteMax } },
    );
  }
  const rows = await execRows<DistributionRow>(
    tx,
    sql`select * from ${distributions} where ${distributions.reservationId} in (${sql.join(
      consumed.map((row) => sql`${row.reservation_id}`),
      sql`, `,
    )})`,
  );
  const all = rows.map(toDistribution);
  const chargeByReservation = new Map(all.filter((d) => d.kind === 'charge').map((d) => [d.reservationId, d]));
  const reversedByCharge = new Map<string, PoolShares>();
  for (const reversal of all) {
    if (reversal.kind !== 'reversal' || reversal.reversesId === null) continue;
    const sum = reversedByCharge.get(reversal.reversesId) ?? zeroShares();
    for (const pool of poolOrder) sum[pool] += reversal.shares[pool];
    reversedByCharge.set(reversal.reversesId, sum);
  }
  const drafts: DistributionDraft[] = [];
  for (const row of consumed) {
    const charge = chargeByReservation.get(row.reservation_id);
    if (charge === undefined) continue;
    const amountMicro = BigInt(row.consumed_micro);
    drafts.push({
      kind: 'reversal',
      reservationId: charge.reservationId,
      reversesId: charge.id,
      lotId,
      rule: { id: charge.ruleId, version: charge.ruleVersion, schemaVersion: charge.ruleSchemaVersion },
      shares: reverseShares(amountMicro, charge.shares, reversedByCharge.get(charge.id) ?? zeroShares()),
      referrerAccountId: charge.referrerAccountId,
    });
  }
  return drafts;
}
