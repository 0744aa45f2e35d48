import { and, eq } from 'drizzle-orm';
import { accounts } from '../db/schema.js';
import { InvalidArgumentError } from '../errors.js';
import type { CreateAccountInput, CreateAccountResult, WriteOptions } from '../types.js';
import { assert } from './assert.js';
import { type LedgerContext, runWrite } from './context.js';
import { newId } from './ids.js';
import { assertExternalId, assertName, assertObject, isSystemEntityType } from './validate.js';

/**
 * Creates the account of an entity, or returns the existing one (`created: false`): `(entityType, entityId)` is
 * unique, so concurrent creates of the same entity make one account.
 *
 * @throws {InvalidArgumentError} when entityType or entityId breaks its rule, or entityType is `system` (or a variant).
 * @throws {IdempotencyKeyReusedError} when the key was used with another request.
 * @example
 * const { account, created } = await ledger.createAccount({ entityType: 'user', entityId: 'u_42' });
 */
export async function createAccount(
  ctx: LedgerContext,
  input: CreateAccountInput,
  options: WriteOptions = {},
): Promise<CreateAccountResult> {
  assertObject('input', input);
  assertName('entityType', input.entityType);
  if (isSystemEntityType(input.entityType)) {
    throw new InvalidArgumentError(
      `entityType ${JSON.stringify(input.entityType)} is reserved for the ledger's own accounts`,
      { details: { field: 'entityType', value: input.entityType } },
    );
  }
  assertExternalId('entityId', input.entityId);
  const normalized = { entityType: input.entityType, entityId: input.entityId };
  return runWrite(
    ctx,
    {
      scope: 'createAccount',
      input: normalized,
      idempotencyKey: options.idempotencyKey,
      idempotencyScope: options.idempotencyScope,
    },
    async ({ tx, now }) => {
      const [inserted] = await tx
        .insert(accounts)
        .values({ id: newId('acc'), ...normalized, debtMicro: 0n, createdAt: now })
        .onConflictDoNothing({ target: [accounts.entityType, accounts.entityId] })
        .returning();
      if (inserted !== undefined) return { account: inserted, created: true };
      const [existing] = await tx
        .select()
        .from(accounts)
        .where(and(eq(accounts.entityType, normalized.entityType), eq(accounts.entityId, normalized.entityId)));
      assert(existing !== undefined, 'a conflicting account must be readable', normalized);
      return { account: existing, created: false };
    },
  );
}
