// The trust policy at the gateway's money routes (DESIGN.md §5): reserves, admin grants and finalizes whose amount
// is above the threshold need an anchor (403 `identity_anchor_required`); a finalize whose service token presents
// another anchor than the account's is refused (403 `anchor_mismatch`). The routes call these helpers; the rules
// live in @arrakis/identity-trust.
import type { Reservation } from '@arrakis/billing-ledger';
import {
  type Anchor,
  AnchorMismatchError,
  assertAnchor,
  type TrustOperation,
  verifyAnchorToken,
} from '@arrakis/identity-trust';
import type { Context } from 'hono';
import { decodeJwt } from 'jose';
import type { AppDeps } from '../deps.js';

/** Header carrying an anchor token (issued by `POST /v1/accounts/:id/anchor-token`) on a service's finalize. */
export const anchorTokenHeader = 'x-anchor-token';
/** Claim of a service bearer token naming the anchor it acts for. */
export const serviceAnchorClaim = 'anchor';

/**
 * Applies the trust policy before a reserve or an admin grant: above the threshold the account needs an anchor. The
 * anchor is read only when the amount makes it matter.
 *
 * @throws {IdentityAnchorRequiredError} `identity_anchor_required` (403).
 * @example
 * ```ts
 * await enforceTrust(ctx.deps, { accountId: account.id, amountMicro: body.amountMicro, operation: 'reserve' });
 * ```
 */
export async function enforceTrust(
  deps: Pick<AppDeps, 'identity'>,
  input: { accountId: string; amountMicro: bigint; operation: TrustOperation },
): Promise<void> {
  await deps.identity.service.assertTrusted(input);
}

/**
 * True when the trust policy could refuse an amount of at most `upperBoundMicro` (undefined: any amount) — so the
 * routes read a hold or a meter for the check only when its answer can matter (policy on, bound above the threshold).
 *
 * @example
 * ```ts
 * if (trustMayRefuse(ctx.deps, input.actualCostMicro)) await enforceFinalizeTrust(ctx.deps, hold, costMicro);
 * ```
 */
export function trustMayRefuse(deps: Pick<AppDeps, 'identity'>, upperBoundMicro?: bigint): boolean {
  const { enabled, thresholdMicro } = deps.identity.config.trust;
  return enabled && (upperBoundMicro === undefined || upperBoundMicro > thresholdMicro);
}

/**
 * The most a finalize with cost `costMicro` can charge a hold, by its billing mode: `shadow` charges nothing, `live`
 * at most the hold (`min(cost, hold)`), `soft` the whole cost (the overrun from other credit).
 *
 * @example
 * ```ts
 * chargeBoundMicro({ billingMode: 'live', amountMicro: 1000n }, 1500n); // 1000n
 * ```
 */
export function chargeBoundMicro(
  reservation: Pick<Reservation, 'billingMode' | 'amountMicro'>,
  costMicro: bigint,
): bigint {
  switch (reservation.billingMode) {
    case 'shadow':
      return 0n;
    case 'live':
      return costMicro < reservation.amountMicro ? costMicro : reservation.amountMicro;
    case 'soft':
      return costMicro;
  }
}

/**
 * Applies the trust policy before a finalize (operation `finalize`): a charge above the threshold needs an anchor on
 * the hold's account, whatever the hold was. The amount checked is {@link chargeBoundMicro} of the cost.
 *
 * @throws {IdentityAnchorRequiredError} `identity_anchor_required` (403).
 * @example
 * ```ts
 * await enforceFinalizeTrust(ctx.deps, reservation, 2_000_000n);
 * ```
 */
export async function enforceFinalizeTrust(
  deps: Pick<AppDeps, 'identity'>,
  reservation: Pick<Reservation, 'accountId' | 'billingMode' | 'amountMicro'>,
  costMicro: bigint,
): Promise<void> {
  const amountMicro = chargeBoundMicro(reservation, costMicro);
  await enforceTrust(deps, { accountId: reservation.accountId, amountMicro, operation: 'finalize' });
}

/** The anchor a request presents: its bearer token's `anchor` claim, and/or a verified `X-Anchor-Token`. */
interface PresentedAnchor {
  anchor: Anchor;
  /** The account an anchor token was issued for (unknown for a bearer claim). */
  accountId: string | undefined;
}

async function presentedAnchors(
  deps: Pick<AppDeps, 'identity' | 'config' | 'clock'>,
  c: Context,
): Promise<PresentedAnchor[]> {
  const presented: PresentedAnchor[] = [];
  const authorization = c.req.header('authorization');
  if (authorization !== undefined) {
    // The auth middleware verified this very token before the handler ran; here only its claims are read.
    const bearer = authorization.replace(/^Bearer\s+/i, '');
    const claim = decodeJwt(bearer)[serviceAnchorClaim];
    if (claim !== undefined) {
      assertAnchor(claim, 'token claim "anchor"');
      presented.push({ anchor: claim, accountId: undefined });
    }
  }
  const anchorToken = c.req.header(anchorTokenHeader);
  if (anchorToken !== undefined) {
    const claims = await verifyAnchorToken(anchorToken, {
      keys: deps.identity.keys.resolver,
      issuer: deps.config.jwt.issuer,
      audience: deps.identity.config.anchorTokens.audience,
      clock: deps.clock,
    });
    presented.push({ anchor: claims.anchor, accountId: claims.accountId });
  }
  return presented;
}

/**
 * At finalize: when the request presents an anchor (the service token's `anchor` claim, or an anchor token in
 * `X-Anchor-Token`) and the reservation's account has an anchor, they must be the same; an anchor token must also
 * have been issued for that account. Nothing is read when no anchor is presented.
 *
 * @throws {AnchorMismatchError} `anchor_mismatch` (403).
 * @throws {AnchorTokenInvalidError} / {@link AnchorTokenExpiredError} (401) for an unusable `X-Anchor-Token`.
 * @example
 * ```ts
 * await enforceFinalizeAnchor(ctx.deps, c, id);
 * ```
 */
export async function enforceFinalizeAnchor(
  deps: Pick<AppDeps, 'identity' | 'config' | 'clock' | 'ledger'>,
  c: Context,
  reservationId: string,
): Promise<void> {
  const presented = await presentedAnchors(deps, c);
  if (presented.length === 0) return;
  const { accountId } = await deps.ledger.getReservation(reservationId);
  for (const item of presented) {
    if (item.accountId !== undefined && item.accountId !== accountId) {
      throw new AnchorMismatchError(accountId, 'other_account');
    }
  }
  const current = await deps.identity.service.getAnchor(accountId);
  if (current === null) return;
  for (const item of presented) {
    if (item.anchor !== current.anchor) throw new AnchorMismatchError(accountId, 'account_has_other_anchor');
  }
}
