import { eq } from 'drizzle-orm';
import { getAddress } from 'viem';
import { type Clock, systemClock } from '../../clock.js';
import { InvalidX402OptionError, X402Error } from '../../errors.js';
import type {
  JsonValue,
  PaymentClaimInput,
  PaymentClaimOutcome,
  PaymentClaimStore,
  RecordedPayment,
} from '../../ports/payment-claim-store.js';
import { paymentReference, type VerifiedPayment } from '../../verify/verify-exact.js';
import type { Settlement } from '../../wire/schemas.js';
import type { AnyPgDatabase } from './migrate.js';
import { x402Payments } from './schema.js';

/** The transaction handed to an effect: the `tx` of the database's own `transaction()`. */
export type PgTransactionOf<TDb extends AnyPgDatabase> = Parameters<Parameters<TDb['transaction']>[0]>[0];

/** Options of {@link postgresPaymentClaimStore}. */
export interface PostgresPaymentClaimStoreOptions<TDb extends AnyPgDatabase> {
  /** A drizzle Postgres database (postgres.js or PGlite driver) where `migrateX402(db)` has run. */
  db: TDb;
  /** Time source of `created_at`. Default: the wall clock. */
  clock?: Clock;
}

type Row = typeof x402Payments.$inferSelect;

function toRecorded(row: Row): RecordedPayment {
  if (row.transaction === null || row.settlement === null) {
    throw new Error(`assertion failed: committed x402 payment ${row.reference} has no settlement`);
  }
  return {
    reference: row.reference,
    network: row.network,
    asset: getAddress(row.asset),
    payer: getAddress(row.payer),
    payTo: getAddress(row.payTo),
    nonce: row.nonce,
    amountAtomic: row.amountAtomic,
    validBefore: row.validBefore,
    x402Version: row.x402Version === 1 ? 1 : 2,
    transaction: row.transaction,
    settlement: row.settlement,
    result: row.result ?? null,
    recordedAtMs: row.createdAt.getTime(),
  };
}

function assertPayment(payment: VerifiedPayment): void {
  if (payment === null || typeof payment !== 'object') throw new InvalidX402OptionError('claim(): payment is required');
  const expected = paymentReference({
    network: payment.network,
    asset: payment.asset,
    payer: payment.payer,
    nonce: payment.nonce,
  });
  if (payment.reference !== expected) {
    throw new InvalidX402OptionError(
      `claim(): payment.reference ${JSON.stringify(payment.reference)} is not ${JSON.stringify(expected)}`,
    );
  }
  if (typeof payment.amountAtomic !== 'bigint' || payment.amountAtomic <= 0n) {
    throw new InvalidX402OptionError('claim(): payment.amountAtomic must be a bigint > 0');
  }
}

/**
 * A {@link PaymentClaimStore} on Postgres (or PGlite) through drizzle: the table `x402_payments` (create it with
 * `migrateX402(db)`). `claim` runs in one READ COMMITTED transaction:
 * `INSERT … ON CONFLICT DO NOTHING` of the payment under its unique reference → the effect (with the same `tx`)
 * → `settle()` → the settlement and result written to the row → commit. A concurrent duplicate blocks on the
 * unique key until the first commits (then replays its result) or rolls back (then claims it itself).
 *
 * @throws {InvalidX402OptionError} when `db` is not a drizzle database.
 * @example
 * const store = postgresPaymentClaimStore({ db });
 * app.post('/credits', x402Paywall({
 *   requirements, facilitator,
 *   onPaid: onPaidWithClaimStore(store, async ({ tx, payment }) => {
 *     const [lot] = await tx.insert(credits).values({ owner: payment.payer, amountMicro: payment.amountAtomic }).returning();
 *     return { lotId: lot.id };
 *   }),
 * }), (c) => c.json(c.get('x402').result, 201));
 */
export function postgresPaymentClaimStore<TDb extends AnyPgDatabase>(
  options: PostgresPaymentClaimStoreOptions<TDb>,
): PaymentClaimStore<PgTransactionOf<TDb>> {
  if (options === null || typeof options !== 'object')
    throw new InvalidX402OptionError('postgresPaymentClaimStore() needs an options object');
  const { db } = options;
  if (db === null || typeof db !== 'object' || typeof (db as { transaction?: unknown }).transaction !== 'function') {
    throw new InvalidX402OptionError('postgresPaymentClaimStore(): db must be a drizzle Postgres database');
  }
  const clock = options.clock ?? systemClock;

  return {
    async claim<TResult extends JsonValue>(
      input: PaymentClaimInput<PgTransactionOf<TDb>, TResult>,
    ): Promise<PaymentClaimOutcome<TResult>> {
      const { payment, settle, effect } = input;
      assertPayment(payment);
      if (typeof settle !== 'function' || typeof effect !== 'function') {
        throw new InvalidX402OptionError('claim(): settle and effect must be functions');
      }
      return db.transaction(
        async (tx) => {
          const inserted = await tx
            .insert(x402Payments)
            .values({
              reference: payment.reference,
              network: payment.network,
              asset: payment.asset.toLowerCase(),
              payer: payment.payer.toLowerCase(),
              nonce: payment.nonce.toLowerCase(),
              payTo: payment.payTo.toLowerCase(),
              amountAtomic: payment.amountAtomic,
              validBefore: payment.validBefore,
              x402Version: payment.x402Version,
              signature: payment.signature,
              createdAt: new Date(clock.nowMs()),
            })
            .onConflictDoNothing()
            .returning({ reference: x402Payments.reference });
          if (inserted.length === 0) {
            const [row] = await tx.select().from(x402Payments).where(eq(x402Payments.reference, payment.reference));
            if (row === undefined) {
              throw new X402Error(
                'nonce_already_used',
                `nonce ${payment.nonce} of ${payment.payer} is recorded under another reference`,
              );
            }
            if (row.payTo !== payment.payTo.toLowerCase() || row.amountAtomic !== payment.amountAtomic) {
              throw new X402Error(
                'nonce_already_used',
                `nonce ${payment.nonce} of ${payment.payer} was already used by another authorization (${row.amountAtomic} to ${row.payTo})`,
                { details: { reference: payment.reference } },
              );
            }
            const recorded = toRecorded(row);
            return {
              reference: payment.reference,
              result: recorded.result as TResult,
              settlement: recorded.settlement,
              replayed: true,
            };
          }
          const result = await effect(tx as PgTransactionOf<TDb>, payment);
          const settlement: Settlement = await settle();
          if (
            settlement?.success !== true ||
            typeof settlement.transaction !== 'string' ||
            settlement.transaction === ''
          ) {
            throw new Error('assertion failed: settle() resolved without a successful settlement');
          }
          await tx
            .update(x402Payments)
            .set({ transaction: settlement.transaction, settlement, result: result ?? null })
            .where(eq(x402Payments.reference, payment.reference));
          return { reference: payment.reference, result, settlement, replayed: false };
        },
        { isolationLevel: 'read committed' },
      );
    },

    async find(reference: string): Promise<RecordedPayment | null> {
      if (typeof reference !== 'string' || reference.length === 0 || reference.length > 512) {
        throw new InvalidX402OptionError('find(): reference must be a non-empty string of at most 512 characters');
      }
      const [row] = await db.select().from(x402Payments).where(eq(x402Payments.reference, reference));
      return row === undefined ? null : toRecorded(row);
    },
  };
}
