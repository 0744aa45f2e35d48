/**
 * Referral attributions: who referred an account. Under a schema 2 rule, an account with an active attribution
 * pays the rule's referrer share of each charge to the referring account.
 */
import { and, eq, sql } from 'drizzle-orm';
import { accounts, referralAttributions } from '../db/schema.js';
import { AccountNotFoundError, InvalidArgumentError } from '../errors.js';
import { type LedgerContext, runWrite } from '../ledger/context.js';
import { assertId, assertObject } from '../ledger/validate.js';
import type { ReferralAttribution, WriteOptions } from '../types.js';

function toAttribution(row: typeof referralAttributions.$inferSelect): ReferralAttribution {
  return {
    accountId: row.accountId,
    referrerAccountId: row.referrerAccountId,
    active: row.active,
    createdAt: row.createdAt,
    endedAt: row.endedAt,
  };
}

/**
 * Attributes an account to the account that referred it (active from now); replaces an earlier attribution.
 * Charges finalized from now on pay the referrer share of a schema 2 rule to the referrer.
 *
 * @throws {InvalidArgumentError} when an id breaks its rule or an account refers itself.
 * @throws {AccountNotFoundError} when either account does not exist.
 * @example
 * await ledger.attributeReferral({ accountId: 'acc_new', referrerAccountId: 'acc_friend' });
 */
export async function attributeReferral(
  ctx: LedgerContext,
  input: { accountId: string; referrerAccountId: string },
  options: WriteOptions = {},
): Promise<ReferralAttribution> {
  assertObject('input', input);
  assertId('accountId', input.accountId);
  assertId('referrerAccountId', input.referrerAccountId);
  if (input.accountId === input.referrerAccountId) {
    throw new InvalidArgumentError(`account ${input.accountId} cannot refer itself`, {
      details: { field: 'referrerAccountId', value: input.referrerAccountId },
    });
  }
  const normalized = { accountId: input.accountId, referrerAccountId: input.referrerAccountId };
  return runWrite(
    ctx,
    {
      scope: 'attributeReferral',
      input: normalized,
      idempotencyKey: options.idempotencyKey,
      idempotencyScope: options.idempotencyScope,
    },
    async ({ tx, now }) => {
      // The paying account's lock, like every write to it (a finalize reads its attribution under this lock).
      const [account] = await tx.select().from(accounts).where(eq(accounts.id, normalized.accountId)).for('update');
      if (account === undefined) throw new AccountNotFoundError(normalized.accountId);
      const [referrer] = await tx
        .select({ id: accounts.id })
        .from(accounts)
        .where(eq(accounts.id, normalized.referrerAccountId));
      if (referrer === undefined) throw new AccountNotFoundError(normalized.referrerAccountId);
      const [row] = await tx
        .insert(referralAttributions)
        .values({ ...normalized, active: true, createdAt: now, endedAt: null })
        .onConflictDoUpdate({
          target: referralAttributions.accountId,
          set: { referrerAccountId: normalized.referrerAccountId, active: true, createdAt: now, endedAt: null },
        })
        .returning();
      return toAttribution(row as typeof referralAttributions.$inferSelect);
    },
  );
}

/**
 * Ends an account's referral attribution (idempotent); later charges pay no referrer share.
 *
 * @throws {InvalidArgumentError} when accountId breaks its rule.
 * @throws {AccountNotFoundError} when the account has no attribution.
 * @example
 * await ledger.endReferral({ accountId: 'acc_new' });
 */
export async function endReferral(
  ctx: LedgerContext,
  input: { accountId: string },
  options: WriteOptions = {},
): Promise<ReferralAttribution> {
  assertObject('input', input);
  assertId('accountId', input.accountId);
  const normalized = { accountId: input.accountId };
  return runWrite(
    ctx,
    {
      scope: 'endReferral',
      input: normalized,
      idempotencyKey: options.idempotencyKey,
      idempotencyScope: options.idempotencyScope,
    },
    async ({ tx, now }) => {
      await tx.select({ id: accounts.id }).from(accounts).where(eq(accounts.id, normalized.accountId)).for('update');
      const [row] = await tx
        .update(referralAttributions)
        .set({
          active: false,
          endedAt: sql`coalesce(${referralAttributions.endedAt}, ${now.toISOString()}::timestamptz)`,
        })
        .where(and(eq(referralAttributions.accountId, normalized.accountId)))
        .returning();
      if (row === undefined) {
        throw new AccountNotFoundError(normalized.accountId, { details: { reason: 'no referral attribution' } });
      }
      return toAttribution(row);
    },
  );
}
