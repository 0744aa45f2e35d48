/**
 * The verifier: reads the whole ledger in one REPEATABLE READ, read-only snapshot, replays the journal and checks
 * every invariant. It reports; it never throws on a violation (it throws only when the database cannot be read).
 *
 * It streams: each check is one query (`verify/*.ts`) read through a cursor a page at a time
 * ({@link verifyPageSizeMax} rows); sums over the journal (a lot's replayed buckets, a hold's entries, a
 * distribution's shares, an account's paydowns) and running balances are computed by the database. The process
 * holds one page, the violations found (at most {@link verifyViolationsMax}) and, while it replays one account, the
 * expiring lots of that account that still hold credit — never the ledger.
 */

import { verifyMeteredCharges } from '../meters/verify-charges.js';
import type { VerifyReport } from '../types.js';
import type { LedgerContext } from './context.js';
import { verifyDebt } from './verify/debt.js';
import { verifyDistributions } from './verify/distributions.js';
import { verifyEntries } from './verify/entries.js';
import { verifyHolds } from './verify/holds.js';
import { verifyLots } from './verify/lots.js';
import { planForFullReads, verifyPageSizeMax } from './verify/pages.js';
import { verifyPayments } from './verify/payments.js';
import { verifyReplay } from './verify/replay.js';
import { ViolationLog } from './verify/report.js';

export { legalMoves } from './verify/entries.js';
export { verifyPageSizeMax, verifyPagesPerQueryMax } from './verify/pages.js';

/** Options of {@link verify} (for tests: the ledger's `verify()` uses the defaults). */
export interface VerifyOptions {
  /** Rows per page of every query (default {@link verifyPageSizeMax}). */
  pageSizeMax?: number;
}

/**
 * Replays the journal and checks every invariant: lot buckets (identity, non-negative, equal to the replay of their
 * entries, one mint of the original), entry kinds against their bucket moves, `available_after_micro` against the
 * replayed balance of the account at the entry's time, holds (their lots add up, pending holds equal the lots'
 * reserved buckets, each hold's entries match its status, finalized amounts follow the billing mode, charges equal
 * consume entries), distributions (shares equal their entries, one charge per charged hold, reversals within what a
 * pool received), account debt (≥ 0, equal to refunds' debt minus paydowns), charges by usage (priced again) and
 * payments (every `purchase` lot minted by one credited payment, every credited payment with its lot).
 * Memory is bounded by the page size, not by the ledger (see the module comment).
 *
 * @example
 * const report = await ledger.verify();
 * if (!report.ok) console.error(report.violations);
 */
export async function verify(ctx: LedgerContext, options: VerifyOptions = {}): Promise<VerifyReport> {
  const { pageSizeMax = verifyPageSizeMax } = options;
  const checkedAt = new Date(ctx.clock.nowMs());
  return ctx.db.transaction(
    async (tx) => {
      const log = new ViolationLog();
      await planForFullReads(tx);
      const lots = await verifyLots(tx, log.report, pageSizeMax);
      const entries = await verifyEntries(tx, log.report, pageSizeMax);
      await verifyReplay(tx, log.report, pageSizeMax);
      const reservations = await verifyHolds(tx, log.report, pageSizeMax);
      const distributions = await verifyDistributions(tx, log.report, pageSizeMax);
      const accounts = await verifyDebt(tx, log.report, pageSizeMax);
      const meteredCharges = await verifyMeteredCharges(tx, log.report, pageSizeMax);
      const payments = await verifyPayments(tx, log.report, pageSizeMax);
      const violations = log.violations();
      return {
        ok: violations.length === 0,
        checkedAt,
        counts: { accounts, lots, reservations, entries, distributions, meteredCharges, payments },
        violations,
      };
    },
    { isolationLevel: 'repeatable read', accessMode: 'read only' },
  );
}
