/**
 * The verifier: reads the whole ledger in one REPEATABLE READ, read-only snapshot, replays the journal and checks
 * every invariant. It reports; it never throws on a violation (it throws only when the database cannot be read).
 */
import { asc, eq, gt, sql } from 'drizzle-orm';
import { execRows } from '../db/ledger-db.js';
import {
  accounts,
  distributions,
  type EntryKind,
  entries,
  events,
  type LotBucket,
  lots,
  type RevenuePool,
  reservationLots,
  reservations,
  revenuePools,
  revenueRules,
} from '../db/schema.js';
import { type DistributionRow, toDistribution } from '../distribution/distribute.js';
import { sharesTotal, systemPoolAccounts } from '../distribution/shares.js';
import { verifyMeteredCharges } from '../meters/verify-charges.js';
import type { Distribution, Entry, Lot, VerifyReport, VerifyViolation } from '../types.js';
import type { LedgerContext } from './context.js';
import { bucketField, generalPoolId, minMicro } from './lots.js';
import { lotRefundedEventType } from './refund.js';

/** Violations listed before the report is cut (one more `report_truncated` violation says so). */
export const verifyViolationsMax = 1000;
/** Entries read per query while replaying the journal. */
export const verifyEntriesBatchSize = 5000;

/** The bucket moves each entry kind may make (`from>to`). */
export const legalMoves: Readonly<Record<EntryKind, readonly string[]>> = {
  mint: ['external>available'],
  reserve: ['available>reserved'],
  release: ['reserved>available'],
  consume: ['reserved>consumed', 'available>consumed'],
  expire_lot: ['available>expired'],
  expire_hold: ['reserved>available'],
  refund: ['available>refunded'],
  adjust: ['available>consumed'],
  distribute: ['consumed>revenue', 'revenue>consumed'],
};
const kindsWithHold: readonly EntryKind[] = ['reserve', 'release', 'consume', 'expire_hold'];
const kindsWithoutHold: readonly EntryKind[] = ['mint', 'expire_lot', 'refund', 'adjust'];

type Buckets = Record<LotBucket, bigint>;
const emptyBuckets = (): Buckets => ({ available: 0n, reserved: 0n, consumed: 0n, expired: 0n, refunded: 0n });

interface HoldFlows {
  reservedByLot: Map<string, bigint>;
  returnedByLot: Map<string, bigint>;
  released: bigint;
  expiredHold: bigint;
  consumedFromHold: bigint;
  consumedExtra: bigint;
  foreignLot: boolean;
}

const add = (map: Map<string, bigint>, key: string, amount: bigint) => map.set(key, (map.get(key) ?? 0n) + amount);

/**
 * Replays the journal and checks every invariant: lot buckets (identity, non-negative, equal to the replay of their
 * entries, one mint of the original), entry kinds against their bucket moves, `available_after_micro` against the
 * replayed balance of the account at the entry's time, holds (their lots add up, pending holds equal the lots'
 * reserved buckets, each hold's entries match its status, finalized amounts follow the billing mode, charges equal
 * consume entries), and account debt (≥ 0, equal to refunds' debt minus paydowns).
 *
 * @example
 * const report = await ledger.verify();
 * if (!report.ok) console.error(report.violations);
 */
export async function verify(ctx: LedgerContext): Promise<VerifyReport> {
  const checkedAt = new Date(ctx.clock.nowMs());
  return ctx.db.transaction(
    async (tx) => {
      const violations: VerifyViolation[] = [];
      let truncated = false;
      const report = (rule: string, subjectId: string, message: string, details?: Record<string, string>) => {
        if (violations.length >= verifyViolationsMax) {
          truncated = true;
          return;
        }
        violations.push(details === undefined ? { rule, subjectId, message } : { rule, subjectId, message, details });
      };

      const accountRows = await tx.select().from(accounts).orderBy(asc(accounts.id));
      const lotRows = await tx.select().from(lots).orderBy(asc(lots.seq));
      const reservationRows = await tx.select().from(reservations).orderBy(asc(reservations.id));
      const partRows = await tx
        .select()
        .from(reservationLots)
        .orderBy(asc(reservationLots.reservationId), asc(reservationLots.position));
      const refundEvents = await tx
        .select({ accountId: events.accountId, subjectId: events.subjectId, payload: events.payload })
        .from(events)
        .where(eq(events.type, lotRefundedEventType));

      const distributionRows = (
        await execRows<DistributionRow>(tx, sql`select * from ${distributions} order by created_at, id`)
      ).map(toDistribution);
      const ruleRows = await tx
        .select({ id: revenueRules.id, version: revenueRules.version, schemaVersion: revenueRules.schemaVersion })
        .from(revenueRules);
      const accountById = new Map(accountRows.map((a) => [a.id, a]));
      const distributionById = new Map<string, Distribution>(distributionRows.map((d) => [d.id, d]));
      /** Per distribution: the shares its `distribute` entries moved, by pool (signed: + into revenue). */
      const entrySharesByDistribution = new Map<string, Map<RevenuePool, bigint>>();
      const lotById = new Map<string, Lot>(lotRows.map((l) => [l.id, l]));
      const reservationById = new Map(reservationRows.map((r) => [r.id, r]));

      // 1. Lot buckets: non-negative and adding up to the original.
      for (const lot of lotRows) {
        if (!accountById.has(lot.accountId)) report('lot_account_missing', lot.id, `lot ${lot.id} has no account`);
        for (const field of Object.values(bucketField)) {
          if (lot[field] < 0n) report('lot_bucket_negative', lot.id, `${field} is ${lot[field]}`, { field });
        }
        const total = lot.availableMicro + lot.reservedMicro + lot.consumedMicro + lot.expiredMicro + lot.refundedMicro;
        if (total !== lot.originalMicro || lot.originalMicro <= 0n) {
          report('lot_bucket_sum', lot.id, `buckets add up to ${total}, original is ${lot.originalMicro}`, {
            totalMicro: `${total}`,
            originalMicro: `${lot.originalMicro}`,
          });
        }
      }

      // 2. Holds: their lots add up, are numbered 0..n-1, belong to the account and the pool (or general).
      const partsByReservation = new Map<string, (typeof partRows)[number][]>();
      for (const part of partRows) {
        const list = partsByReservation.get(part.reservationId) ?? [];
        list.push(part);
        partsByReservation.set(part.reservationId, list);
      }
      const pendingReservedByLot = new Map<string, bigint>();
      for (const reservation of reservationRows) {
        const parts = partsByReservation.get(reservation.id) ?? [];
        let total = 0n;
        parts.forEach((part, index) => {
          total += part.amountMicro;
          if (part.position !== index) {
            report(
              'reservation_lots_positions',
              reservation.id,
              `position ${part.position} where ${index} was expected`,
            );
          }
          const lot = lotById.get(part.lotId);
          if (
            lot === undefined ||
            lot.accountId !== reservation.accountId ||
            (lot.poolId !== reservation.poolId && lot.poolId !== generalPoolId)
          ) {
            report(
              'reservation_lot_foreign',
              reservation.id,
              `lot ${part.lotId} is not a lot this hold may draw from`,
              {
                lotId: part.lotId,
              },
            );
          }
          if (reservation.status === 'pending') add(pendingReservedByLot, part.lotId, part.amountMicro);
        });
        if (total !== reservation.amountMicro) {
          report(
            'reservation_lots_sum',
            reservation.id,
            `hold lots add up to ${total}, the hold is ${reservation.amountMicro}`,
            {
              totalMicro: `${total}`,
              amountMicro: `${reservation.amountMicro}`,
            },
          );
        }
      }
      // 3. Pending holds account for every lot's reserved bucket.
      for (const lot of lotRows) {
        const pending = pendingReservedByLot.get(lot.id) ?? 0n;
        if (pending !== lot.reservedMicro) {
          report('lot_reserved_mismatch', lot.id, `reserved is ${lot.reservedMicro}, pending holds hold ${pending}`, {
            reservedMicro: `${lot.reservedMicro}`,
            pendingHoldsMicro: `${pending}`,
          });
        }
      }

      // 4. Replay the journal in id order.
      const replayed = new Map<string, Buckets>();
      const mintedByLot = new Map<string, bigint>();
      const flowsByHold = new Map<string, HoldFlows>();
      const debtPaidByAccount = new Map<string, bigint>();
      const accountLots = new Map<string, Lot[]>();
      for (const lot of lotRows) {
        const list = accountLots.get(lot.accountId) ?? [];
        list.push(lot);
        accountLots.set(lot.accountId, list);
      }
      let entryCount = 0;
      let afterId: bigint | null = null;
      for (;;) {
        const batch: Entry[] = await tx
          .select()
          .from(entries)
          .where(afterId === null ? undefined : gt(entries.id, afterId))
          .orderBy(asc(entries.id))
          .limit(verifyEntriesBatchSize);
        for (const entry of batch) {
          entryCount += 1;
          checkEntry(entry);
        }
        const last = batch[batch.length - 1];
        if (last === undefined || batch.length < verifyEntriesBatchSize) break;
        afterId = last.id;
      }

      function checkEntry(entry: Entry): void {
        const subject = `entry:${entry.id}`;
        const move = `${entry.fromBucket}>${entry.toBucket}`;
        if (entry.amountMicro <= 0n)
          report('entry_amount_invalid', subject, `amount ${entry.amountMicro} must be positive`);
        if (!legalMoves[entry.kind]?.includes(move)) {
          report('entry_move_illegal', subject, `a ${entry.kind} entry may not move ${move}`, {
            kind: entry.kind,
            move,
          });
        }
        if (kindsWithHold.includes(entry.kind) && entry.reservationId === null) {
          report('entry_reservation_missing', subject, `a ${entry.kind} entry must name its hold`);
        }
        if (kindsWithoutHold.includes(entry.kind) && entry.reservationId !== null) {
          report('entry_reservation_unexpected', subject, `a ${entry.kind} entry must not name a hold`);
        }
        if ((entry.kind === 'distribute') !== (entry.availableAfterMicro === null)) {
          report('entry_available_after_invalid', subject, 'only distribute entries carry no available balance');
        }
        if (entry.kind === 'distribute') {
          checkDistributeEntry(entry, subject);
          return;
        }
        if (entry.lotId === null) {
          report('entry_lot_missing', subject, `a ${entry.kind} entry must name its lot`);
          return;
        }
        const lot = lotById.get(entry.lotId);
        if (lot === undefined) {
          report('entry_lot_missing', subject, `lot ${entry.lotId} does not exist`);
          return;
        }
        if (lot.accountId !== entry.accountId) {
          report('entry_account_mismatch', subject, `entry account ${entry.accountId}, lot account ${lot.accountId}`);
        }
        const buckets = replayed.get(lot.id) ?? emptyBuckets();
        replayed.set(lot.id, buckets);
        if (entry.fromBucket === 'revenue' || entry.toBucket === 'revenue') {
          report('entry_move_illegal', subject, 'revenue moves only on distribute entries');
          return;
        }
        if (entry.fromBucket !== 'external') {
          buckets[entry.fromBucket] -= entry.amountMicro;
          if (buckets[entry.fromBucket] < 0n) {
            report(
              'entry_overdraws_bucket',
              subject,
              `${entry.fromBucket} of lot ${lot.id} goes to ${buckets[entry.fromBucket]}`,
            );
          }
        }
        if (entry.toBucket !== 'external') buckets[entry.toBucket] += entry.amountMicro;
        if (entry.kind === 'mint') add(mintedByLot, lot.id, entry.amountMicro);
        if (entry.kind === 'adjust') add(debtPaidByAccount, entry.accountId, entry.amountMicro);

        // available_after: the account's available balance (unexpired lots) at the entry's time.
        const at = entry.createdAt.getTime();
        let available = 0n;
        for (const other of accountLots.get(entry.accountId) ?? []) {
          if (other.expiresAt !== null && other.expiresAt.getTime() <= at) continue;
          available += replayed.get(other.id)?.available ?? 0n;
        }
        if (available !== entry.availableAfterMicro) {
          report(
            'available_after_mismatch',
            subject,
            `available_after is ${entry.availableAfterMicro}, replay gives ${available}`,
            {
              accountId: entry.accountId,
              recordedMicro: `${entry.availableAfterMicro}`,
              replayedMicro: `${available}`,
            },
          );
        }

        if (entry.reservationId !== null) {
          const reservation = reservationById.get(entry.reservationId);
          if (reservation === undefined || reservation.accountId !== entry.accountId) {
            report('entry_reservation_missing', subject, `hold ${entry.reservationId} does not exist on this account`);
            return;
          }
          const flows: HoldFlows = flowsByHold.get(reservation.id) ?? {
            reservedByLot: new Map(),
            returnedByLot: new Map(),
            released: 0n,
            expiredHold: 0n,
            consumedFromHold: 0n,
            consumedExtra: 0n,
            foreignLot: false,
          };
          flowsByHold.set(reservation.id, flows);
          const holdLot = (partsByReservation.get(reservation.id) ?? []).some((part) => part.lotId === lot.id);
          if (entry.kind === 'reserve') add(flows.reservedByLot, lot.id, entry.amountMicro);
          if (entry.kind === 'release' || entry.kind === 'expire_hold' || move === 'reserved>consumed') {
            add(flows.returnedByLot, lot.id, entry.amountMicro);
          }
          if (entry.kind === 'release') flows.released += entry.amountMicro;
          if (entry.kind === 'expire_hold') flows.expiredHold += entry.amountMicro;
          if (move === 'reserved>consumed') flows.consumedFromHold += entry.amountMicro;
          if (entry.kind === 'consume' && move === 'available>consumed') flows.consumedExtra += entry.amountMicro;
          else if (!holdLot) flows.foreignLot = true;
        }
      }

      function checkDistributeEntry(entry: Entry, subject: string): void {
        const distribution = entry.distributionId === null ? undefined : distributionById.get(entry.distributionId);
        if (distribution === undefined || entry.lotId !== null) {
          report('distribution_entry_invalid', subject, 'a distribute entry names an existing distribution and no lot');
          return;
        }
        const pool = entry.memo as RevenuePool;
        const expectedAccount =
          pool === 'referrer'
            ? distribution.referrerAccountId
            : (systemPoolAccounts as Record<string, string>)[pool as string];
        const direction = distribution.kind === 'charge' ? 'consumed>revenue' : 'revenue>consumed';
        if (
          !revenuePools.includes(pool) ||
          expectedAccount !== entry.accountId ||
          `${entry.fromBucket}>${entry.toBucket}` !== direction ||
          entry.reservationId !== distribution.reservationId ||
          entry.ruleId !== distribution.ruleId ||
          entry.ruleVersion !== distribution.ruleVersion ||
          entry.ruleSchemaVersion !== distribution.ruleSchemaVersion
        ) {
          report('distribution_entry_invalid', subject, `entry does not match distribution ${distribution.id}`, {
            distributionId: distribution.id,
          });
          return;
        }
        const byPool = entrySharesByDistribution.get(distribution.id) ?? new Map<RevenuePool, bigint>();
        byPool.set(pool, (byPool.get(pool) ?? 0n) + entry.amountMicro);
        entrySharesByDistribution.set(distribution.id, byPool);
      }

      // 5. Lots equal the replay of their entries; one mint of the original.
      for (const lot of lotRows) {
        const buckets = replayed.get(lot.id) ?? emptyBuckets();
        for (const [bucket, field] of Object.entries(bucketField) as [keyof Buckets, keyof Lot][]) {
          if (buckets[bucket] !== lot[field]) {
            report('lot_replay_mismatch', lot.id, `${bucket} is ${lot[field]}, the journal gives ${buckets[bucket]}`, {
              bucket,
              storedMicro: `${lot[field]}`,
              replayedMicro: `${buckets[bucket]}`,
            });
          }
        }
        const minted = mintedByLot.get(lot.id) ?? 0n;
        if (minted !== lot.originalMicro) {
          report('lot_mint_mismatch', lot.id, `mint entries add up to ${minted}, original is ${lot.originalMicro}`);
        }
      }

      // 6. Each hold's entries match its status and, when finalized, its recorded amounts.
      for (const reservation of reservationRows) {
        const id = reservation.id;
        const parts = partsByReservation.get(id) ?? [];
        const flows = flowsByHold.get(id);
        const reservedByLot = flows?.reservedByLot ?? new Map<string, bigint>();
        const returnedByLot = flows?.returnedByLot ?? new Map<string, bigint>();
        if (flows?.foreignLot)
          report('reservation_entries_mismatch', id, 'an entry of this hold touches a lot it did not draw from');
        for (const part of parts) {
          if ((reservedByLot.get(part.lotId) ?? 0n) !== part.amountMicro) {
            report(
              'reservation_entries_mismatch',
              id,
              `reserve entries on lot ${part.lotId} do not add up to ${part.amountMicro}`,
            );
          }
          const returned = returnedByLot.get(part.lotId) ?? 0n;
          const expected = reservation.status === 'pending' ? 0n : part.amountMicro;
          if (returned !== expected) {
            report(
              'reservation_entries_mismatch',
              id,
              `lot ${part.lotId}: ${returned} left the hold, ${expected} expected`,
            );
          }
        }
        if (reservedByLot.size !== parts.length) {
          report('reservation_entries_mismatch', id, 'reserve entries name lots the hold did not record');
        }
        const released = flows?.released ?? 0n;
        const expiredHold = flows?.expiredHold ?? 0n;
        const fromHold = flows?.consumedFromHold ?? 0n;
        const extra = flows?.consumedExtra ?? 0n;
        const charged = fromHold + extra;
        const finalizedFields = [
          reservation.actualCostMicro,
          reservation.chargedMicro,
          reservation.overrunMicro,
          reservation.uncollectedMicro,
        ];
        if (reservation.status !== 'finalized') {
          if (charged !== 0n)
            report('reservation_charged_mismatch', id, `a ${reservation.status} hold has ${charged} consumed`);
          if (finalizedFields.some((v) => v !== null))
            report('reservation_outcome_invalid', id, 'only finalized holds record amounts');
          if (reservation.status !== 'expired' && expiredHold !== 0n) {
            report('reservation_entries_mismatch', id, `a ${reservation.status} hold has expire_hold entries`);
          }
          if (reservation.status !== 'released' && released !== 0n) {
            report('reservation_entries_mismatch', id, `a ${reservation.status} hold has release entries`);
          }
          continue;
        }
        if (expiredHold !== 0n) report('reservation_entries_mismatch', id, 'a finalized hold has expire_hold entries');
        const [actual, recordedCharged, overrun, uncollected] = finalizedFields;
        if (actual == null || recordedCharged == null || overrun == null || uncollected == null) {
          report(
            'reservation_outcome_invalid',
            id,
            'a finalized hold must record cost, charge, overrun and uncollected',
          );
          continue;
        }
        if (recordedCharged !== charged) {
          report(
            'reservation_charged_mismatch',
            id,
            `charged ${recordedCharged}, consume entries add up to ${charged}`,
            {
              chargedMicro: `${recordedCharged}`,
              consumedMicro: `${charged}`,
            },
          );
        }
        const expectedOverrun = actual > reservation.amountMicro ? actual - reservation.amountMicro : 0n;
        const fromHoldExpected = reservation.billingMode === 'shadow' ? 0n : minMicro(actual, reservation.amountMicro);
        const rules: [boolean, string][] = [
          [overrun === expectedOverrun, `overrun ${overrun} should be ${expectedOverrun}`],
          [fromHold === fromHoldExpected, `${fromHold} consumed from the hold, ${fromHoldExpected} expected`],
        ];
        if (reservation.billingMode === 'shadow') {
          rules.push([
            charged === 0n && uncollected === 0n,
            'a shadow hold charges nothing and leaves nothing uncollected',
          ]);
        } else {
          rules.push([recordedCharged + uncollected === actual, 'charged + uncollected must equal the cost']);
          if (reservation.billingMode === 'live')
            rules.push([extra === 0n, 'a live hold never charges beyond the hold']);
          else rules.push([extra <= expectedOverrun, 'a soft hold charges at most the overrun beyond the hold']);
        }
        for (const [holds, message] of rules) if (!holds) report('reservation_outcome_invalid', id, message);
      }

      // 7. Distributions: shares sum to the amount and equal their entries; a charge per charged hold, of exactly
      // the charge, under an existing rule version; reversals never give back more than a pool received.
      const ruleById = new Map(ruleRows.map((r) => [r.id, r]));
      const chargeByReservation = new Map<string, Distribution>();
      const reversedByCharge = new Map<string, Map<RevenuePool, bigint>>();
      for (const distribution of distributionRows) {
        const id = distribution.id;
        if (sharesTotal(distribution.shares) !== distribution.amountMicro) {
          report(
            'distribution_shares_sum',
            id,
            `shares add up to ${sharesTotal(distribution.shares)}, amount is ${distribution.amountMicro}`,
          );
        }
        const byPool = entrySharesByDistribution.get(id) ?? new Map<RevenuePool, bigint>();
        for (const pool of revenuePools) {
          if (distribution.shares[pool] < 0n) report('distribution_share_negative', id, `${pool} share is negative`);
          if ((byPool.get(pool) ?? 0n) !== distribution.shares[pool]) {
            report(
              'distribution_entries_mismatch',
              id,
              `${pool}: entries move ${byPool.get(pool) ?? 0n}, share is ${distribution.shares[pool]}`,
              { pool },
            );
          }
        }
        const rule = ruleById.get(distribution.ruleId);
        if (
          rule === undefined ||
          rule.version !== distribution.ruleVersion ||
          rule.schemaVersion !== distribution.ruleSchemaVersion
        ) {
          report(
            'distribution_rule_mismatch',
            id,
            `rule ${distribution.ruleId} v${distribution.ruleVersion} does not exist as recorded`,
          );
        }
        const reservation = reservationById.get(distribution.reservationId);
        if (reservation === undefined || reservation.accountId !== distribution.accountId) {
          report(
            'distribution_reservation_invalid',
            id,
            `hold ${distribution.reservationId} is not the paying account's`,
          );
          continue;
        }
        if (distribution.kind === 'charge') {
          if (chargeByReservation.has(reservation.id))
            report('distribution_duplicate', id, `hold ${reservation.id} has two charges`);
          chargeByReservation.set(reservation.id, distribution);
          if (reservation.status !== 'finalized' || reservation.chargedMicro !== distribution.amountMicro) {
            report(
              'distribution_amount_mismatch',
              id,
              `distributes ${distribution.amountMicro}, hold ${reservation.id} charged ${reservation.chargedMicro}`,
            );
          }
        } else {
          const charge = distribution.reversesId === null ? undefined : distributionById.get(distribution.reversesId);
          if (
            charge === undefined ||
            charge.kind !== 'charge' ||
            charge.reservationId !== distribution.reservationId ||
            charge.ruleId !== distribution.ruleId
          ) {
            report(
              'distribution_reversal_invalid',
              id,
              `reverses ${distribution.reversesId}, which is not this hold's charge`,
            );
            continue;
          }
          const sum = reversedByCharge.get(charge.id) ?? new Map<RevenuePool, bigint>();
          for (const pool of revenuePools) sum.set(pool, (sum.get(pool) ?? 0n) + distribution.shares[pool]);
          reversedByCharge.set(charge.id, sum);
        }
      }
      for (const [chargeId, sum] of reversedByCharge) {
        const charge = distributionById.get(chargeId);
        for (const pool of revenuePools) {
          if (charge !== undefined && (sum.get(pool) ?? 0n) > charge.shares[pool]) {
            report(
              'distribution_over_reversed',
              chargeId,
              `${pool} gave back ${sum.get(pool)}, received ${charge.shares[pool]}`,
              { pool },
            );
          }
        }
      }
      for (const reservation of reservationRows) {
        const charged = reservation.chargedMicro ?? 0n;
        if (reservation.status === 'finalized' && charged > 0n && !chargeByReservation.has(reservation.id)) {
          report('distribution_missing', reservation.id, `hold charged ${charged} and distributed nothing`);
        }
      }

      // 8. Debt: never negative; equals the consumed credit of refunded lots minus what later mints paid down.
      const debtAddedByAccount = new Map<string, bigint>();
      for (const event of refundEvents) {
        const payload = (typeof event.payload === 'string' ? JSON.parse(event.payload) : event.payload) as Record<
          string,
          unknown
        >;
        const added = payload.debtAddedMicro;
        if (event.accountId === null || typeof added !== 'string' || !/^[0-9]{1,20}$/.test(added)) {
          report(
            'event_payload_invalid',
            event.subjectId,
            'a lot.refunded event must carry its account and debtAddedMicro',
          );
          continue;
        }
        add(debtAddedByAccount, event.accountId, BigInt(added));
      }
      for (const account of accountRows) {
        if (account.debtMicro < 0n) report('account_debt_negative', account.id, `debt is ${account.debtMicro}`);
        const expected = (debtAddedByAccount.get(account.id) ?? 0n) - (debtPaidByAccount.get(account.id) ?? 0n);
        if (expected !== account.debtMicro) {
          report(
            'account_debt_mismatch',
            account.id,
            `debt is ${account.debtMicro}, refunds minus paydowns give ${expected}`,
            {
              debtMicro: `${account.debtMicro}`,
              expectedMicro: `${expected}`,
            },
          );
        }
      }

      // 9. Charges by usage equal the cost their meter version gives the usage.
      const meteredCharges = await verifyMeteredCharges(tx, reservationRows, report);

      if (truncated) {
        violations.push({
          rule: 'report_truncated',
          subjectId: '*',
          message: `more than ${verifyViolationsMax} violations; the rest were not listed`,
        });
      }
      return {
        ok: violations.length === 0,
        checkedAt,
        counts: {
          accounts: accountRows.length,
          lots: lotRows.length,
          reservations: reservationRows.length,
          entries: entryCount,
          distributions: distributionRows.length,
          meteredCharges,
        },
        violations,
      };
    },
    { isolationLevel: 'repeatable read', accessMode: 'read only' },
  );
}
