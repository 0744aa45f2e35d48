import { and, asc, eq, lte, ne, or, sql } from 'drizzle-orm';
import type { Address } from 'viem';
import type { Anchor, NormalizedAnchorInput } from '../../anchor/derive-anchor.js';
import { type IdentityDb, sqlStateOf } from '../../db/identity-db.js';
import { identityAnchorAudit, identityAnchorRotations, identityAnchors } from '../../db/schema.js';
import {
  AccountAlreadyAnchoredError,
  AnchorChangedError,
  AnchorInUseError,
  AnchorNotFoundError,
  anchorPrefix,
  InvalidArgumentError,
  RotationExpiredError,
  RotationNotFoundError,
  RotationNotPendingError,
  RotationPendingError,
} from '../../errors.js';
import type {
  AnchorAuditRecord,
  AnchorRecord,
  AnchorStore,
  BindAnchorCommand,
  RotationRecord,
} from '../../ports/anchor-store.js';
import { assertFourEyes } from '../../rotation/four-eyes.js';
import { findAnswer, sweepAnswers, withIdempotency } from './idempotency.js';

/** Most audit rows one `listAudit` call returns. */
export const auditPageLimitMax = 1000;

type AnchorRow = typeof identityAnchors.$inferSelect;
type RotationRow = typeof identityAnchorRotations.$inferSelect;
type AuditRow = typeof identityAnchorAudit.$inferSelect;
type Tx = IdentityDb;

function anchorRecord(row: AnchorRow): AnchorRecord {
  return {
    accountId: row.accountId,
    anchor: row.anchor as Anchor,
    chainId: row.chainId,
    contractAddress: row.contractAddress as Address,
    tokenId: row.tokenId,
    ownerAddress: row.ownerAddress as Address,
    epoch: row.epoch,
    createdBy: row.createdBy,
    createdAt: row.createdAt,
  };
}

function rotationRecord(row: RotationRow): RotationRecord {
  return {
    id: row.id,
    accountId: row.accountId,
    status: row.status,
    fromAnchor: row.fromAnchor as Anchor,
    fromEpoch: row.fromEpoch,
    toAnchor: row.toAnchor as Anchor,
    to: {
      chainId: row.toChainId,
      contractAddress: row.toContractAddress as Address,
      tokenId: row.toTokenId,
      ownerAddress: row.toOwnerAddress as Address,
    },
    reason: row.reason,
    requestedBy: row.requestedBy,
    requestedAt: row.requestedAt,
    expiresAt: row.expiresAt,
    approvedBy: row.approvedBy,
    approvedAt: row.approvedAt,
  };
}

function auditRecord(row: AuditRow): AnchorAuditRecord {
  return {
    id: row.id,
    accountId: row.accountId,
    action: row.action,
    actor: row.actor,
    at: row.at,
    rotationId: row.rotationId,
    oldAnchorPrefix: row.oldAnchorPrefix,
    newAnchorPrefix: row.newAnchorPrefix,
    requestedBy: row.requestedBy,
    requestedAt: row.requestedAt,
  };
}

/** The row (of any account but `exceptAccountId`) holding `anchor` or the same NFT, if any. */
async function holderOf(
  tx: Tx,
  anchor: Anchor,
  nft: NormalizedAnchorInput,
  exceptAccountId?: string,
): Promise<AnchorRow | undefined> {
  const sameAnchorOrNft = or(
    eq(identityAnchors.anchor, anchor),
    and(
      eq(identityAnchors.chainId, nft.chainId),
      sql`lower(${identityAnchors.contractAddress}) = ${nft.contractAddress.toLowerCase()}`,
      eq(identityAnchors.tokenId, nft.tokenId),
    ),
  );
  const [row] = await tx
    .select()
    .from(identityAnchors)
    .where(
      exceptAccountId === undefined
        ? sameAnchorOrNft
        : and(sameAnchorOrNft, ne(identityAnchors.accountId, exceptAccountId)),
    )
    .limit(1);
  return row;
}

/** Runs `body`; a unique violation on the anchor table becomes `anchor_in_use`. */
async function mapUniqueViolation<T>(anchor: Anchor, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (error) {
    if (sqlStateOf(error) === '23505') throw new AnchorInUseError(anchor);
    throw error;
  }
}

/**
 * The {@link AnchorStore} on Postgres (or PGlite) through drizzle: the tables of `migrateIdentity`, one transaction
 * per method with the rows it decides on locked (`FOR UPDATE`), the uniqueness rules kept by unique indexes, the
 * audit written in the same transaction as the change it records.
 *
 * @example
 * await migrateIdentity(db);
 * const store = createPostgresAnchorStore(db);
 * const identity = createIdentityTrust({ store });
 */
export function createPostgresAnchorStore(db: IdentityDb): AnchorStore {
  if (db === null || typeof db !== 'object' || typeof (db as { transaction?: unknown }).transaction !== 'function') {
    throw new InvalidArgumentError('createPostgresAnchorStore needs a drizzle PgDatabase');
  }

  async function bindInTx(tx: Tx, command: BindAnchorCommand): Promise<{ record: AnchorRecord; created: boolean }> {
    const { accountId, anchor, nft, actor, now } = command;
    const [current] = await tx
      .select()
      .from(identityAnchors)
      .where(eq(identityAnchors.accountId, accountId))
      .for('update');
    if (current !== undefined) {
      if (current.anchor === anchor) return { record: anchorRecord(current), created: false };
      throw new AccountAlreadyAnchoredError(accountId, current.anchor);
    }
    const inserted = await tx
      .insert(identityAnchors)
      .values({
        accountId,
        anchor,
        chainId: nft.chainId,
        contractAddress: nft.contractAddress,
        tokenId: nft.tokenId,
        ownerAddress: nft.ownerAddress,
        epoch: 1,
        createdBy: actor,
        createdAt: now,
      })
      .onConflictDoNothing()
      .returning();
    const row = inserted[0];
    if (row === undefined) {
      // A unique index refused the row: the anchor or its NFT is taken (or a concurrent bind of this account won).
      const holder = await holderOf(tx, anchor, nft);
      const [mine] = await tx.select().from(identityAnchors).where(eq(identityAnchors.accountId, accountId));
      if (mine !== undefined && mine.anchor === anchor) return { record: anchorRecord(mine), created: false };
      if (mine !== undefined && (holder === undefined || holder.accountId === accountId)) {
        throw new AccountAlreadyAnchoredError(accountId, mine.anchor);
      }
      throw new AnchorInUseError(anchor);
    }
    await tx.insert(identityAnchorAudit).values({
      accountId,
      action: 'anchor_bound',
      actor,
      at: now,
      oldAnchorPrefix: null,
      newAnchorPrefix: anchorPrefix(anchor),
    });
    return { record: anchorRecord(row), created: true };
  }

  return {
    async getAnchor(accountId) {
      const [row] = await db.select().from(identityAnchors).where(eq(identityAnchors.accountId, accountId));
      return row === undefined ? null : anchorRecord(row);
    },

    async bind(command) {
      return mapUniqueViolation(command.anchor, () =>
        db.transaction((tx) => withIdempotency(tx, command.idempotency, command.now, () => bindInTx(tx, command))),
      );
    },

    async requestRotation(command) {
      const { rotationId, accountId, toAnchor, to, reason, actor, now, expiresAt } = command;
      // The key is claimed first, then the anchor row locked, so two requests for one account run one after the other.
      return db.transaction((tx) =>
        withIdempotency(tx, command.idempotency, now, async () => {
          const [current] = await tx
            .select()
            .from(identityAnchors)
            .where(eq(identityAnchors.accountId, accountId))
            .for('update');
          if (current === undefined) throw new AnchorNotFoundError(accountId);
          assertFourEyes({ step: 'request', actor, anchorCreator: current.createdBy });
          if (current.anchor === toAnchor) {
            throw new InvalidArgumentError("the requested anchor is already the account's current anchor", {
              details: { accountId },
            });
          }
          const holder = await holderOf(tx, toAnchor, to, accountId);
          if (holder !== undefined) throw new AnchorInUseError(toAnchor);
          await tx
            .update(identityAnchorRotations)
            .set({ status: 'expired' })
            .where(
              and(
                eq(identityAnchorRotations.accountId, accountId),
                eq(identityAnchorRotations.status, 'pending'),
                lte(identityAnchorRotations.expiresAt, now),
              ),
            );
          const [pending] = await tx
            .select()
            .from(identityAnchorRotations)
            .where(
              and(eq(identityAnchorRotations.accountId, accountId), eq(identityAnchorRotations.status, 'pending')),
            );
          if (pending !== undefined) {
            // The same request repeated (same requester, same target): answer the pending one, write nothing.
            if (pending.requestedBy === actor && pending.toAnchor === toAnchor) return rotationRecord(pending);
            throw new RotationPendingError(accountId, pending.id);
          }
          const [row] = await tx
            .insert(identityAnchorRotations)
            .values({
              id: rotationId,
              accountId,
              status: 'pending',
              fromAnchor: current.anchor,
              fromEpoch: current.epoch,
              toAnchor,
              toChainId: to.chainId,
              toContractAddress: to.contractAddress,
              toTokenId: to.tokenId,
              toOwnerAddress: to.ownerAddress,
              reason,
              requestedBy: actor,
              requestedAt: now,
              expiresAt,
            })
            .returning();
          await tx.insert(identityAnchorAudit).values({
            accountId,
            action: 'rotation_requested',
            actor,
            at: now,
            rotationId,
            oldAnchorPrefix: anchorPrefix(current.anchor),
            newAnchorPrefix: anchorPrefix(toAnchor),
          });
          return rotationRecord(row as RotationRow);
        }),
      );
    },

    async approveRotation(command) {
      const { rotationId, actor, now } = command;
      let expired: RotationRow | undefined;
      let target: Anchor | undefined;
      // The expired path answers undefined: the expiry commits, the key is released, the error is thrown after.
      const approve = () =>
        db.transaction((tx) =>
          withIdempotency(tx, command.idempotency, now, async () => {
            const [rotation] = await tx
              .select()
              .from(identityAnchorRotations)
              .where(eq(identityAnchorRotations.id, rotationId))
              .for('update');
            if (rotation === undefined) throw new RotationNotFoundError(rotationId);
            if (rotation.status === 'approved' && rotation.approvedBy === actor) {
              // The same approval repeated: answer it again.
              const [current] = await tx
                .select()
                .from(identityAnchors)
                .where(eq(identityAnchors.accountId, rotation.accountId));
              if (current !== undefined && current.anchor === rotation.toAnchor) {
                return { rotation: rotationRecord(rotation), anchor: anchorRecord(current) };
              }
            }
            if (rotation.status !== 'pending') throw new RotationNotPendingError(rotationId, rotation.status);
            if (rotation.expiresAt.getTime() <= now.getTime()) {
              // Committed, then reported: an expired request never lingers as pending.
              await tx
                .update(identityAnchorRotations)
                .set({ status: 'expired' })
                .where(eq(identityAnchorRotations.id, rotationId));
              expired = rotation;
              return undefined;
            }
            const [current] = await tx
              .select()
              .from(identityAnchors)
              .where(eq(identityAnchors.accountId, rotation.accountId))
              .for('update');
            if (current === undefined) throw new AnchorNotFoundError(rotation.accountId);
            if (current.epoch !== rotation.fromEpoch || current.anchor !== rotation.fromAnchor) {
              throw new AnchorChangedError(rotationId, rotation.fromEpoch, current.epoch);
            }
            assertFourEyes({
              step: 'approve',
              actor,
              anchorCreator: current.createdBy,
              requester: rotation.requestedBy,
            });
            const toAnchor = rotation.toAnchor as Anchor;
            target = toAnchor;
            const holder = await holderOf(
              tx,
              toAnchor,
              {
                chainId: rotation.toChainId,
                contractAddress: rotation.toContractAddress as Address,
                tokenId: rotation.toTokenId,
                ownerAddress: rotation.toOwnerAddress as Address,
              },
              rotation.accountId,
            );
            if (holder !== undefined) throw new AnchorInUseError(toAnchor);
            const [updated] = await tx
              .update(identityAnchors)
              .set({
                anchor: toAnchor,
                chainId: rotation.toChainId,
                contractAddress: rotation.toContractAddress,
                tokenId: rotation.toTokenId,
                ownerAddress: rotation.toOwnerAddress,
                epoch: current.epoch + 1,
                createdBy: rotation.requestedBy,
                createdAt: now,
              })
              .where(and(eq(identityAnchors.accountId, rotation.accountId), eq(identityAnchors.epoch, current.epoch)))
              .returning();
            if (updated === undefined) throw new AnchorChangedError(rotationId, rotation.fromEpoch, current.epoch + 1);
            const [approved] = await tx
              .update(identityAnchorRotations)
              .set({ status: 'approved', approvedBy: actor, approvedAt: now })
              .where(eq(identityAnchorRotations.id, rotationId))
              .returning();
            await tx.insert(identityAnchorAudit).values({
              accountId: rotation.accountId,
              action: 'rotation_approved',
              actor,
              at: now,
              rotationId,
              oldAnchorPrefix: anchorPrefix(rotation.fromAnchor),
              newAnchorPrefix: anchorPrefix(toAnchor),
              requestedBy: rotation.requestedBy,
              requestedAt: rotation.requestedAt,
            });
            return { rotation: rotationRecord(approved as RotationRow), anchor: anchorRecord(updated) };
          }),
        );
      let outcome: Awaited<ReturnType<typeof approve>>;
      try {
        outcome = await approve();
      } catch (error) {
        // A concurrent bind of another account took the new anchor (or its NFT) after our check.
        if (sqlStateOf(error) === '23505' && target !== undefined) throw new AnchorInUseError(target);
        throw error;
      }
      if (outcome === undefined) {
        const row = expired as RotationRow;
        throw new RotationExpiredError(rotationId, row.expiresAt);
      }
      return outcome;
    },

    async getRotation(rotationId) {
      const [row] = await db.select().from(identityAnchorRotations).where(eq(identityAnchorRotations.id, rotationId));
      return row === undefined ? null : rotationRecord(row);
    },

    findAnswer: (claim, now) => findAnswer(db, claim, now),
    sweepAnswers: (input) => sweepAnswers(db, input),

    async listAudit(accountId, options) {
      const limit = options.limit;
      if (!Number.isSafeInteger(limit) || limit < 1 || limit > auditPageLimitMax) {
        throw new InvalidArgumentError(`limit ${limit} must be an integer in [1, ${auditPageLimitMax}]`);
      }
      const rows = await db
        .select()
        .from(identityAnchorAudit)
        .where(eq(identityAnchorAudit.accountId, accountId))
        .orderBy(asc(identityAnchorAudit.id))
        .limit(limit);
      return rows.map(auditRecord);
    },
  };
}
