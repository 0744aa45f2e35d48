import { sql } from 'drizzle-orm';
import {
  check,
  index,
  integer,
  jsonb,
  numeric,
  pgTable,
  smallint,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';
import type { JsonValue, PaymentStatus, SettlementRequest } from '../../ports/payment-state-store.js';
import type { Settlement } from '../../wire/schemas.js';

/**
 * `x402_payments`: one row per payment, living through the states of `PaymentStatus`
 * (`verified → settling → settled → credited`, or `failed`). `reference` (`<network>:<asset>:<payer>:<nonce>`) is
 * the primary key and `(network, asset, payer, nonce)` is unique — EIP-3009's own uniqueness — so one signed
 * authorization can be recorded, and have an effect, once.
 *
 * `reconcile_after` is when the row next needs attention: the lease of the attempt holding it
 * (`verified`/`settling`/`settled`), a postponed retry, or the `validBefore` of a watched failure; `null` when
 * nothing remains to do (`credited`, a final `failed`).
 */
export const x402Payments = pgTable(
  'x402_payments',
  {
    reference: text('reference').primaryKey(),
    network: text('network').notNull(),
    asset: text('asset').notNull(),
    payer: text('payer').notNull(),
    nonce: text('nonce').notNull(),
    payTo: text('pay_to').notNull(),
    amountAtomic: numeric('amount_atomic', { precision: 78, scale: 0, mode: 'bigint' }).notNull(),
    validBefore: numeric('valid_before', { precision: 78, scale: 0, mode: 'bigint' }).notNull(),
    x402Version: smallint('x402_version').notNull(),
    signature: text('signature').notNull(),
    /** The settlement transaction once known (sent, or found on chain). */
    transaction: text('transaction'),
    /** The successful settlement (`settled`, `credited`). */
    settlement: jsonb('settlement').$type<Settlement>(),
    /** The effect's result (`credited`). */
    result: jsonb('result').$type<JsonValue>(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull(),
    status: text('status').$type<PaymentStatus>().notNull().default('verified'),
    /** What is needed to settle again: the x402 payload and the requirement it matched. */
    request: jsonb('request').$type<SettlementRequest>(),
    failureCode: text('failure_code'),
    failureMessage: text('failure_message'),
    /** Settlement attempts that took the row (`verified → settling`). */
    attempts: integer('attempts').notNull().default(0),
    reconcileAfter: timestamp('reconcile_after', { withTimezone: true, mode: 'date' }),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    creditedAt: timestamp('credited_at', { withTimezone: true, mode: 'date' }),
  },
  (table) => [
    uniqueIndex('x402_payments_authorization_key').on(table.network, table.asset, table.payer, table.nonce),
    index('x402_payments_payer_idx').on(table.payer, table.createdAt),
    index('x402_payments_due_idx').on(table.reconcileAfter).where(sql`${table.reconcileAfter} is not null`),
    check('x402_payments_status', sql`${table.status} in ('verified', 'settling', 'settled', 'credited', 'failed')`),
    check('x402_payments_credited_settlement', sql`${table.status} <> 'credited' or ${table.settlement} is not null`),
    check('x402_payments_settled_settlement', sql`${table.status} <> 'settled' or ${table.settlement} is not null`),
    check('x402_payments_failed_reason', sql`${table.status} <> 'failed' or ${table.failureCode} is not null`),
    check('x402_payments_attempts_nonnegative', sql`${table.attempts} >= 0`),
    check('x402_payments_amount_positive', sql`${table.amountAtomic} > 0`),
    check('x402_payments_version', sql`${table.x402Version} in (1, 2)`),
    check('x402_payments_nonce_format', sql`${table.nonce} ~ '^0x[0-9a-f]{64}$'`),
    check(
      'x402_payments_reference_format',
      sql`${table.reference} = ${table.network} || ':' || ${table.asset} || ':' || ${table.payer} || ':' || ${table.nonce}`,
    ),
  ],
);
