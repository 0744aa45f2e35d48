/**
 * Pure rules of revenue distribution: how a charge is split by a rule, and how part of a charge is given back
 * when the lot it consumed is refunded. Both keep every share ≥ 0 and make the shares sum exactly to the amount.
 */
import type { RevenuePool } from '../db/schema.js';
import { assert } from '../ledger/assert.js';
import { minMicro } from '../ledger/lots.js';
import { splitBps } from '../money/index.js';
import type { EffectiveRule } from '../rules/effective.js';
import type { PoolShares } from '../types.js';

/** The system account that receives each pool's share (the referrer pool goes to the referring account). */
export const systemPoolAccounts: Readonly<Record<Exclude<RevenuePool, 'referrer'>, string>> = Object.freeze({
  commons: 'acc_system_commons',
  community: 'acc_system_community',
  foundation: 'acc_system_foundation',
  treasury: 'acc_system_treasury',
});

/** Pools in the order their entries are written (foundation, the remainder, last). */
export const poolOrder: readonly RevenuePool[] = ['commons', 'community', 'referrer', 'treasury', 'foundation'];

/**
 * Zero shares.
 *
 * @example
 * const shares = zeroShares();
 */
export function zeroShares(): PoolShares {
  return { commons: 0n, community: 0n, foundation: 0n, referrer: 0n, treasury: 0n };
}

/**
 * The sum of the shares.
 *
 * @example
 * sharesTotal(shares) === chargeMicro;
 */
export function sharesTotal(shares: PoolShares): bigint {
  let total = 0n;
  for (const pool of poolOrder) total += shares[pool];
  return total;
}

/**
 * Splits a charge by a rule: each pool's share is `floor(charge × bps / 10 000)` and the foundation takes the
 * remainder. A schema 1 rule uses commons, community and foundation only. A schema 2 rule adds treasury, and
 * referrer when the paying account has an active referrer (`hasReferrer`); without one, the referrer's bps stay
 * with the foundation (the remainder).
 *
 * @example
 * splitCharge(1_000_001n, rule, { hasReferrer: false });
 * // { commons: 50000n, community: 700000n, foundation: 250001n, referrer: 0n, treasury: 0n } for 500/7000/2500
 */
export function splitCharge(chargeMicro: bigint, rule: EffectiveRule, options: { hasReferrer: boolean }): PoolShares {
  assert(chargeMicro >= 0n, 'a charge is not negative', { chargeMicro: `${chargeMicro}` });
  const referrerBps = rule.schemaVersion === 2 && options.hasReferrer ? rule.referrerBps : 0;
  const treasuryBps = rule.schemaVersion === 2 ? rule.treasuryBps : 0;
  const foundationBps =
    rule.foundationBps +
    (rule.schemaVersion === 2 ? rule.referrerBps - referrerBps + rule.treasuryBps - treasuryBps : 0);
  const parts = splitBps(
    chargeMicro,
    {
      commons: rule.commonsBps,
      community: rule.communityBps,
      referrer: referrerBps,
      treasury: treasuryBps,
      foundation: foundationBps,
    },
    'foundation',
  );
  const shares: PoolShares = {
    commons: parts.commons as bigint,
    community: parts.community as bigint,
    foundation: parts.foundation as bigint,
    referrer: parts.referrer as bigint,
    treasury: parts.treasury as bigint,
  };
  assert(sharesTotal(shares) === chargeMicro, 'a split sums to the charge', { chargeMicro: `${chargeMicro}` });
  return shares;
}

/**
 * The shares given back when `amountMicro` of a charge is reversed (a refunded lot had paid that much of it).
 * `charge` is the charge's split; `reversed` what earlier reversals already gave back. When the amount is all that
 * is left of the charge, the reversal is exactly the remaining shares, so a fully reversed charge nets to zero in
 * every pool. Otherwise each pool gives back `floor(amount × share / charge)`, at most what it has left, and the
 * rest comes from the foundation, then from other pools that still have something left.
 *
 * @example
 * reverseShares(300n, { ...zeroShares(), commons: 100n, foundation: 900n }, zeroShares()); // commons 30, foundation 270
 */
export function reverseShares(amountMicro: bigint, charge: PoolShares, reversed: PoolShares): PoolShares {
  const chargeMicro = sharesTotal(charge);
  const remaining = zeroShares();
  for (const pool of poolOrder) {
    remaining[pool] = charge[pool] - reversed[pool];
    assert(remaining[pool] >= 0n, 'a pool never gives back more than it received', { pool });
  }
  const remainingMicro = sharesTotal(remaining);
  assert(amountMicro > 0n && amountMicro <= remainingMicro, 'a reversal gives back at most what is left of a charge', {
    amountMicro: `${amountMicro}`,
    remainingMicro: `${remainingMicro}`,
  });
  if (amountMicro === remainingMicro) return remaining;
  const back = zeroShares();
  let restMicro = amountMicro;
  for (const pool of poolOrder) {
    if (pool === 'foundation') continue;
    const proportional = (amountMicro * charge[pool]) / chargeMicro;
    back[pool] = minMicro(proportional, remaining[pool]);
    restMicro -= back[pool];
  }
  // The rest: the foundation first (the remainder pool), then any pool with something left, in pool order.
  for (const pool of ['foundation', ...poolOrder] as RevenuePool[]) {
    if (restMicro === 0n) break;
    const room = remaining[pool] - back[pool];
    const take = minMicro(room, restMicro);
    back[pool] += take;
    restMicro -= take;
  }
  assert(restMicro === 0n, 'a reversal is fully allocated', { amountMicro: `${amountMicro}` });
  assert(sharesTotal(back) === amountMicro, 'reversed shares sum to the amount', { amountMicro: `${amountMicro}` });
  return back;
}
