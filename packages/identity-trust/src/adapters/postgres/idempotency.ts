/**
 * The idempotency protocol of the Postgres anchor store (see `AnchorStore`): the first statement of a write's
 * transaction inserts the `(scope, key)` row with the request hash and no response. A concurrent duplicate blocks on
 * the primary key until the first transaction ends; if it committed, the duplicate reads the row and answers its
 * response (or `IdempotencyKeyReusedError` when the request differs); if it rolled back, the duplicate inserts and
 * runs. The write stores its answer in the same transaction, so a key's answer exists exactly when its write does.
 */
import { and, eq, gt, lte, sql } from 'drizzle-orm';
import type { IdentityDb } from '../../db/identity-db.js';
import { identityIdempotencyKeys as keys } from '../../db/schema.js';
import { IdempotencyKeyReusedError } from '../../errors.js';
import { decodeStoredAnswer, encodeStoredAnswer, type IdempotencyClaim } from '../../idempotency/idempotency.js';
import type { StoredAnswer } from '../../ports/anchor-store.js';

function answerOf(claim: IdempotencyClaim, row: { requestHash: string; response: string | null }): StoredAnswer {
  if (row.requestHash !== claim.requestHash) {
    throw new IdempotencyKeyReusedError({ scope: claim.scope, idempotencyKey: claim.key });
  }
  // Invariant: a row another transaction can read was committed with its answer (its writer stores it before COMMIT).
  if (row.response === null) throw new Error(`idempotency row ${claim.scope}/${claim.key} has no answer`);
  return { result: decodeStoredAnswer(row.response) };
}

/**
 * The answer stored under the claim's key by a committed write, unexpired at `now`; `null` when there is none.
 *
 * @throws {IdempotencyKeyReusedError} when the key holds another request's answer.
 * @example
 * ```ts
 * const answer = await findAnswer(db, claim, now);
 * ```
 */
export async function findAnswer(db: IdentityDb, claim: IdempotencyClaim, now: Date): Promise<StoredAnswer | null> {
  const [row] = await db
    .select({ requestHash: keys.requestHash, response: keys.response })
    .from(keys)
    .where(and(eq(keys.scope, claim.scope), eq(keys.key, claim.key), gt(keys.expiresAt, now)));
  return row === undefined ? null : answerOf(claim, row);
}

/** Claims the key in `tx` (a new row, or an expired one taken over); the stored answer when another write holds it. */
async function claimKey(tx: IdentityDb, claim: IdempotencyClaim, now: Date): Promise<StoredAnswer | null> {
  const fresh = { requestHash: claim.requestHash, response: null, createdAt: now, expiresAt: claim.expiresAt };
  const claimed = await tx
    .insert(keys)
    .values({ scope: claim.scope, key: claim.key, ...fresh })
    .onConflictDoUpdate({ target: [keys.scope, keys.key], set: fresh, setWhere: lte(keys.expiresAt, now) })
    .returning({ scope: keys.scope });
  if (claimed.length === 1) return null;
  const [row] = await tx
    .select({ requestHash: keys.requestHash, response: keys.response })
    .from(keys)
    .where(and(eq(keys.scope, claim.scope), eq(keys.key, claim.key)));
  if (row === undefined) throw new Error(`idempotency row ${claim.scope}/${claim.key} vanished while claimed`);
  return answerOf(claim, row);
}

/**
 * Runs `write` in `tx` under the claim: answers the stored result of an earlier write with the key, or runs `write`
 * and stores its result before the transaction commits. A `write` that answers `undefined` (it committed a side effect
 * and reports a failure after the transaction) releases the key instead. Without a claim, runs `write` alone.
 *
 * @throws {IdempotencyKeyReusedError} when the key holds another request's answer.
 * @example
 * ```ts
 * return db.transaction((tx) => withIdempotency(tx, command.idempotency, command.now, () => bindInTx(tx, command)));
 * ```
 */
export async function withIdempotency<T>(
  tx: IdentityDb,
  claim: IdempotencyClaim | undefined,
  now: Date,
  write: () => Promise<T>,
): Promise<T> {
  if (claim === undefined) return write();
  const stored = await claimKey(tx, claim, now);
  if (stored !== null) return stored.result as T;
  const result = await write();
  const where = and(eq(keys.scope, claim.scope), eq(keys.key, claim.key));
  if (result === undefined) {
    await tx.delete(keys).where(where);
    return result;
  }
  const updated = await tx
    .update(keys)
    .set({ response: encodeStoredAnswer(result) })
    .where(where)
    .returning({ scope: keys.scope });
  if (updated.length !== 1) throw new Error(`idempotency row ${claim.scope}/${claim.key} vanished while claimed`);
  return result;
}

/**
 * Deletes up to `batchSizeMax` answers that expired at `now` (oldest first, rows another transaction holds are
 * skipped), and returns how many. Call again while `count` equals the batch size.
 *
 * @example
 * ```ts
 * const { count } = await sweepAnswers(db, { now: new Date(), batchSizeMax: 1000 });
 * ```
 */
export async function sweepAnswers(
  db: IdentityDb,
  input: { now: Date; batchSizeMax: number },
): Promise<{ count: number }> {
  const expired = db
    .select({ scope: keys.scope, key: keys.key })
    .from(keys)
    .where(lte(keys.expiresAt, input.now))
    .orderBy(keys.expiresAt)
    .limit(input.batchSizeMax)
    .for('update', { skipLocked: true });
  const deleted = await db
    .delete(keys)
    .where(sql`(${keys.scope}, ${keys.key}) in ${expired}`)
    .returning({ scope: keys.scope });
  return { count: deleted.length };
}
