/**
 * Spend caps, authoritative in SQL. An account may have a daily and a monthly cap (UTC periods). The spend of a
 * period is computed from the holds placed in it: pending unexpired holds count their amount, finalized holds their
 * charge, released and expired holds nothing (so a finalize counts its charge and a release counts the hold back).
 * A reserve reads the caps and the spend right after it locked the account row — every write of the account waits
 * for that lock — so concurrent reserves see each other's holds and can never pass a cap together.
 */
import { statementsOf } from '../db/ledger-db.js';
import { AccountNotFoundError, InvalidArgumentError, SpendCapExceededError } from '../errors.js';
import { assert } from '../ledger/assert.js';
import { type LedgerContext, runWrite, type Tx } from '../ledger/context.js';
import { assertAmountMicro, assertId, assertObject } from '../ledger/validate.js';
import { lockAccount } from '../ledger/work.js';
import { assertActor } from '../rules/validate.js';
import type { SpendCaps, SpendCapsInput, WriteOptions } from '../types.js';

/** The UTC day and month a time falls in. */
export function spendPeriodStarts(now: Date): { dayStart: Date; monthStart: Date } {
  return {
    dayStart: new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate())),
    monthStart: new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)),
  };
}

/** What a hold counts in its period's spend at `$4` (now). */
const holdSpendSql = `case when r.status = 'pending' and r.expires_at > $4::timestamptz then r.amount_micro
  when r.status = 'finalized' then r.charged_micro else 0 end`;
/** The spend since the day (`$2`) and month (`$3`) starts of account `accountSql`. */
const spentSql = (
  accountSql: string,
) => `(select coalesce(sum(${holdSpendSql}) filter (where r.created_at >= $2::timestamptz), 0)::int8 as "daySpentMicro",
    coalesce(sum(${holdSpendSql}), 0)::int8 as "monthSpentMicro"
  from reservations r where r.account_id = ${accountSql} and r.created_at >= $3::timestamptz)`;
/** Caps and spend of a capped account `$1`; no row for an account without caps (the spend is then not computed). */
export const cappedSpendText = `select c.daily_cap_micro as "dailyCapMicro", c.monthly_cap_micro as "monthlyCapMicro",
    s."daySpentMicro", s."monthSpentMicro"
  from spend_caps c cross join lateral ${spentSql('c.account_id')} s where c.account_id = $1`;
/** Caps (if any) and spend of account `$1`. */
const spendText = `select c.daily_cap_micro as "dailyCapMicro", c.monthly_cap_micro as "monthlyCapMicro",
    c.updated_by as "updatedBy", floor(extract(epoch from c.updated_at) * 1000)::int8 as "updatedAtMs",
    s."daySpentMicro", s."monthSpentMicro"
  from (select $1::text as account_id) a left join spend_caps c on c.account_id = a.account_id
  cross join lateral ${spentSql('a.account_id')} s`;

interface SpendRow {
  dailyCapMicro: bigint | string | null;
  monthlyCapMicro: bigint | string | null;
  daySpentMicro: bigint | string;
  monthSpentMicro: bigint | string;
}
const big = (value: bigint | string | number) => BigInt(value);
const bigOrNull = (value: bigint | string | null | undefined) =>
  value === null || value === undefined ? null : BigInt(value);

/**
 * The parameters of {@link cappedSpendText} for an account at `now`.
 *
 * @example
 * const rows = await statements.rows(cappedSpendText, spendParams('acc_1', now));
 */
export function spendParams(accountId: string, now: Date): string[] {
  const { dayStart, monthStart } = spendPeriodStarts(now);
  return [accountId, dayStart.toISOString(), monthStart.toISOString(), now.toISOString()];
}

/**
 * Refuses a hold that would take the spend of the day or the month past its cap (`rows`: the answer of
 * {@link cappedSpendText}; none for an account without caps).
 *
 * @throws {SpendCapExceededError}
 * @example
 * checkSpendCaps(rows, { accountId, amountMicro, now });
 */
export function checkSpendCaps(
  rows: readonly Record<string, unknown>[],
  hold: { accountId: string; amountMicro: bigint; now: Date },
): void {
  const [row] = rows as unknown as SpendRow[];
  if (row === undefined) return;
  const { dayStart, monthStart } = spendPeriodStarts(hold.now);
  const periods = [
    {
      period: 'daily' as const,
      periodStart: dayStart,
      capMicro: bigOrNull(row.dailyCapMicro),
      spentMicro: big(row.daySpentMicro),
    },
    {
      period: 'monthly' as const,
      periodStart: monthStart,
      capMicro: bigOrNull(row.monthlyCapMicro),
      spentMicro: big(row.monthSpentMicro),
    },
  ];
  for (const { period, periodStart, capMicro, spentMicro } of periods) {
    if (capMicro !== null && spentMicro + hold.amountMicro > capMicro) {
      throw new SpendCapExceededError({
        accountId: hold.accountId,
        period,
        periodStart,
        spentMicro,
        capMicro,
        requestedMicro: hold.amountMicro,
      });
    }
  }
}

async function readSpend(tx: Tx, accountId: string, now: Date): Promise<SpendCaps> {
  const [row] = await statementsOf(tx).rows<
    SpendRow & { updatedBy: string | null; updatedAtMs: bigint | string | null } & Record<string, unknown>
  >(spendText, spendParams(accountId, now));
  assert(row !== undefined, 'the spend query answers one row', { accountId });
  const { dayStart, monthStart } = spendPeriodStarts(now);
  const dailyCapMicro = bigOrNull(row.dailyCapMicro);
  const monthlyCapMicro = bigOrNull(row.monthlyCapMicro);
  return {
    accountId,
    dailyCapMicro,
    monthlyCapMicro,
    updatedBy: row.updatedBy,
    updatedAt: row.updatedAtMs === null ? null : new Date(Number(row.updatedAtMs)),
    daily: { period: 'daily', periodStart: dayStart, spentMicro: big(row.daySpentMicro), capMicro: dailyCapMicro },
    monthly: {
      period: 'monthly',
      periodStart: monthStart,
      spentMicro: big(row.monthSpentMicro),
      capMicro: monthlyCapMicro,
    },
  };
}

const upsertCapsText = `insert into spend_caps (account_id, daily_cap_micro, monthly_cap_micro, updated_by, updated_at)
  values ($1, $2::int8, $3::int8, $4, $5::timestamptz)
  on conflict (account_id) do update set daily_cap_micro = excluded.daily_cap_micro,
    monthly_cap_micro = excluded.monthly_cap_micro, updated_by = excluded.updated_by, updated_at = excluded.updated_at
  returning 1 as written`;
const capsEventText = `insert into events (type, account_id, subject_id, payload, created_at)
  values ('spend_caps.updated', $1, $1, $2::text::jsonb, $3::timestamptz) returning 1 as written`;

function capOf(field: string, value: unknown): bigint | null {
  if (value === null) return null;
  assertAmountMicro(field, value);
  return value;
}

/**
 * Sets an account's daily and monthly spend caps (null: no cap in that period; both null clears them). Takes effect
 * for the next reserve; holds already placed stay. Emits `spend_caps.updated` with the actor.
 *
 * @throws {InvalidAmountError} when a cap is not null or a bigint in 1..10^15.
 * @throws {InvalidArgumentError} when the account id or actor breaks its rule.
 * @throws {AccountNotFoundError}
 * @example
 * await ledger.setSpendCaps({ accountId, dailyCapMicro: 5_000_000n, monthlyCapMicro: null, actor: 'alice' });
 */
export async function setSpendCaps(
  ctx: LedgerContext,
  input: SpendCapsInput,
  options: WriteOptions = {},
): Promise<SpendCaps> {
  assertObject('input', input);
  assertId('accountId', input.accountId);
  if (input.dailyCapMicro === undefined || input.monthlyCapMicro === undefined) {
    throw new InvalidArgumentError(
      'setSpendCaps needs dailyCapMicro and monthlyCapMicro (a bigint, or null for no cap)',
      {
        details: { field: input.dailyCapMicro === undefined ? 'dailyCapMicro' : 'monthlyCapMicro' },
      },
    );
  }
  const normalized = {
    accountId: input.accountId,
    dailyCapMicro: capOf('dailyCapMicro', input.dailyCapMicro),
    monthlyCapMicro: capOf('monthlyCapMicro', input.monthlyCapMicro),
    actor: input.actor,
  };
  assertActor(normalized.actor);
  return runWrite(
    ctx,
    {
      scope: 'setSpendCaps',
      input: normalized,
      idempotencyKey: options.idempotencyKey,
      idempotencyScope: options.idempotencyScope,
    },
    async ({ tx, now }) => {
      await lockAccount(tx, normalized.accountId);
      const statements = statementsOf(tx);
      const daily = normalized.dailyCapMicro?.toString() ?? null;
      const monthly = normalized.monthlyCapMicro?.toString() ?? null;
      if (daily === null && monthly === null) {
        await statements.rows('delete from spend_caps where account_id = $1 returning 1 as deleted', [
          normalized.accountId,
        ]);
      } else {
        await statements.rows(upsertCapsText, [
          normalized.accountId,
          daily,
          monthly,
          normalized.actor,
          now.toISOString(),
        ]);
      }
      const payload = {
        accountId: normalized.accountId,
        dailyCapMicro: daily,
        monthlyCapMicro: monthly,
        actor: normalized.actor,
      };
      await statements.rows(capsEventText, [normalized.accountId, JSON.stringify(payload), now.toISOString()]);
      return readSpend(tx, normalized.accountId, now);
    },
  );
}

/**
 * An account's caps and its spend in the current UTC day and month.
 *
 * @throws {InvalidArgumentError}
 * @throws {AccountNotFoundError}
 * @example
 * const { daily, monthly } = await ledger.getSpendCaps(accountId);
 */
export async function getSpendCaps(ctx: LedgerContext, accountId: string): Promise<SpendCaps> {
  assertId('accountId', accountId);
  const now = new Date(ctx.clock.nowMs());
  const [exists] = await statementsOf(ctx.db).rows('select 1 as found from accounts where id = $1', [accountId]);
  if (exists === undefined) throw new AccountNotFoundError(accountId);
  return readSpend(ctx.db, accountId, now);
}
