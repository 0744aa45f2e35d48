/**
 * The writes of the identity service (bind, rotation request, rotation approval) with their idempotency keys: each
 * builds its claim from its normalized input, answers a stored replay before any work outside the store (the
 * on-chain ownership read), and hands the claim to the store, which keeps it in the write's transaction.
 */
import { randomUUID } from 'node:crypto';
import { type AnchorInput, anchorOfNormalized, normalizeAnchorInput } from '../anchor/derive-anchor.js';
import type { OwnershipVerifier } from '../chain/verify-ownership.js';
import { InvalidArgumentError, quoteValue } from '../errors.js';
import {
  type IdempotencyClaim,
  type IdempotentOperation,
  type IdentityWriteOptions,
  idempotencyClaimOf,
} from '../idempotency/idempotency.js';
import type { AnchorRecord, AnchorStore, RotationRecord } from '../ports/anchor-store.js';
import { checkFreeText } from '../text/free-text.js';

/** Longest actor name (a token subject), in characters. */
export const actorLengthMax = 256;
/** Longest rotation reason, in characters. */
export const rotationReasonLengthMax = 500;

/** What a bind answers: the account's anchor, and whether this call bound it. */
export interface BindAnchorResult {
  record: AnchorRecord;
  created: boolean;
}

/** An approved rotation and the account's new anchor. */
export interface ApproveRotationResult {
  rotation: RotationRecord;
  anchor: AnchorRecord;
}

/** What the writes share. */
export interface AnchorWritesContext {
  store: AnchorStore;
  ownership: OwnershipVerifier | undefined;
  now: () => Date;
  rotationTtlMs: number;
  idempotencyTtlMs: number;
}

/**
 * An actor: 1–256 characters without surrounding spaces, a NUL or a lone surrogate.
 *
 * @throws {InvalidArgumentError}
 * @example
 * ```ts
 * assertActor('root');
 * ```
 */
export function assertActor(actor: unknown): asserts actor is string {
  if (typeof actor !== 'string' || actor.length === 0 || actor.length > actorLengthMax || actor.trim() !== actor) {
    throw new InvalidArgumentError(
      `actor ${quoteValue(actor)} must be 1-${actorLengthMax} characters without surrounding spaces`,
      { details: { field: 'actor' } },
    );
  }
  checkFreeText('actor', actor);
}

/**
 * An account id: 1–255 visible ASCII characters.
 *
 * @throws {InvalidArgumentError}
 * @example
 * ```ts
 * assertAccountId('acc_1');
 * ```
 */
export function assertAccountId(accountId: unknown): asserts accountId is string {
  if (typeof accountId !== 'string' || !/^[\x21-\x7e]{1,255}$/.test(accountId)) {
    throw new InvalidArgumentError(`accountId ${quoteValue(accountId)} must be 1-255 visible ASCII characters`, {
      details: { field: 'accountId' },
    });
  }
}

function checkReason(reason: unknown): asserts reason is string | null {
  if (reason === null) return;
  if (typeof reason !== 'string' || reason.length > rotationReasonLengthMax) {
    throw new InvalidArgumentError(`reason must be at most ${rotationReasonLengthMax} characters`, {
      details: { field: 'reason' },
    });
  }
  checkFreeText('reason', reason);
}

function checkRotationId(rotationId: unknown): asserts rotationId is string {
  if (typeof rotationId !== 'string' || !/^[\x21-\x7e]{1,64}$/.test(rotationId)) {
    throw new InvalidArgumentError(`rotationId ${quoteValue(rotationId)} must be 1-64 visible ASCII characters`);
  }
}

async function replayOf<T>(ctx: AnchorWritesContext, claim: IdempotencyClaim | undefined, at: Date) {
  if (claim === undefined) return undefined;
  const answer = await ctx.store.findAnswer(claim, at);
  return answer === null ? undefined : (answer.result as T);
}

function claimOf(
  ctx: AnchorWritesContext,
  operation: IdempotentOperation,
  input: unknown,
  options: IdentityWriteOptions,
  at: Date,
): IdempotencyClaim | undefined {
  return idempotencyClaimOf(operation, input, options, at, ctx.idempotencyTtlMs);
}

function bindPlan(
  ctx: AnchorWritesContext,
  input: { accountId: string; nft: AnchorInput; actor: string },
  options: IdentityWriteOptions,
) {
  assertAccountId(input.accountId);
  assertActor(input.actor);
  const nft = normalizeAnchorInput(input.nft);
  const at = ctx.now();
  const claim = claimOf(ctx, 'bind', { accountId: input.accountId, nft, actor: input.actor }, options, at);
  return { nft, at, claim };
}

/**
 * The answer an earlier {@link bindAnchor} with the same key and scope gave, or `null` (no key, or a key not used yet).
 * A caller that does work of its own before binding (a wallet proof claims its nonce once) asks first on a repeat.
 *
 * @throws {IdempotencyKeyReusedError} when the key was used for another bind.
 * @example
 * ```ts
 * const replay = await findBindReplay(ctx, { accountId, nft, actor }, { idempotencyKey: 'k1' });
 * ```
 */
export async function findBindReplay(
  ctx: AnchorWritesContext,
  input: { accountId: string; nft: AnchorInput; actor: string },
  options: IdentityWriteOptions,
): Promise<BindAnchorResult | null> {
  const { at, claim } = bindPlan(ctx, input, options);
  return (await replayOf<BindAnchorResult>(ctx, claim, at)) ?? null;
}

/**
 * Binds an anchor (see `IdentityTrust.bindAnchor`); with a key, a repeat answers the first answer.
 *
 * @throws {IdempotencyKeyReusedError} when the key was used for another bind.
 * @example
 * ```ts
 * await bindAnchor(ctx, { accountId, nft, actor: 'root' }, { idempotencyKey: 'k1', idempotencyScope: 'admin:root' });
 * ```
 */
export async function bindAnchor(
  ctx: AnchorWritesContext,
  input: { accountId: string; nft: AnchorInput; actor: string },
  options: IdentityWriteOptions = {},
): Promise<BindAnchorResult> {
  const { nft, at, claim } = bindPlan(ctx, input, options);
  const replay = await replayOf<BindAnchorResult>(ctx, claim, at);
  if (replay !== undefined) return replay;
  if (ctx.ownership !== undefined) await ctx.ownership.assertOwnership(nft);
  const { accountId, actor } = input;
  return ctx.store.bind({ accountId, anchor: anchorOfNormalized(nft), nft, actor, now: at, idempotency: claim });
}

/**
 * Requests a rotation (see `IdentityTrust.requestRotation`); with a key, a repeat answers the first answer.
 *
 * @throws {IdempotencyKeyReusedError} when the key was used for another request.
 * @example
 * ```ts
 * await requestRotation(ctx, { accountId, nft, actor: 'alice', reason: 'lost wallet' });
 * ```
 */
export async function requestRotation(
  ctx: AnchorWritesContext,
  input: { accountId: string; nft: AnchorInput; actor: string; reason?: string | null },
  options: IdentityWriteOptions = {},
): Promise<RotationRecord> {
  const { accountId, actor, reason = null } = input;
  assertAccountId(accountId);
  assertActor(actor);
  checkReason(reason);
  const to = normalizeAnchorInput(input.nft);
  const at = ctx.now();
  const claim = claimOf(ctx, 'request_rotation', { accountId, nft: to, actor, reason }, options, at);
  const replay = await replayOf<RotationRecord>(ctx, claim, at);
  if (replay !== undefined) return replay;
  if (ctx.ownership !== undefined) await ctx.ownership.assertOwnership(to);
  return ctx.store.requestRotation({
    rotationId: `rot_${randomUUID().replaceAll('-', '')}`,
    accountId,
    toAnchor: anchorOfNormalized(to),
    to,
    reason,
    actor,
    now: at,
    expiresAt: new Date(at.getTime() + ctx.rotationTtlMs),
    idempotency: claim,
  });
}

/**
 * Approves a rotation (see `IdentityTrust.approveRotation`); with a key, a repeat answers the first answer.
 *
 * @throws {IdempotencyKeyReusedError} when the key was used for another approval.
 * @example
 * ```ts
 * await approveRotation(ctx, { rotationId, actor: 'bob' });
 * ```
 */
export async function approveRotation(
  ctx: AnchorWritesContext,
  input: { rotationId: string; actor: string },
  options: IdentityWriteOptions = {},
): Promise<ApproveRotationResult> {
  const { rotationId, actor } = input;
  checkRotationId(rotationId);
  assertActor(actor);
  const at = ctx.now();
  const claim = claimOf(ctx, 'approve_rotation', { rotationId, actor }, options, at);
  const replay = await replayOf<ApproveRotationResult>(ctx, claim, at);
  if (replay !== undefined) return replay;
  if (ctx.ownership !== undefined) {
    // The new NFT must still belong to the claimed owner when the rotation takes effect.
    const pending = await ctx.store.getRotation(rotationId);
    if (pending !== null && pending.status === 'pending') await ctx.ownership.assertOwnership(pending.to);
  }
  return ctx.store.approveRotation({ rotationId, actor, now: at, idempotency: claim });
}
