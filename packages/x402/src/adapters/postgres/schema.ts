import { sql } from 'drizzle-orm';
import { check, index, jsonb, numeric, pgTable, smallint, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';
import type { JsonValue } from '../../ports/payment-claim-store.js';
import type { Settlement } from '../../wire/schemas.js';

/**
 * `x402_payments`: one row per settled payment, written in the same transaction as the payment's effect.
 * `reference` (`<network>:<asset>:<payer>:<nonce>`) is the primary key and `(network, asset, payer, nonce)` is
 * unique — EIP-3009's own uniqueness — so one signed authorization can be recorded, and have an effect, once.
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
    /** Set before commit, in the claiming transaction; every committed row has it. */
    transaction: text('transaction'),
    settlement: jsonb('settlement').$type<Settlement>(),
    result: jsonb('result').$type<JsonValue>(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull(),
  },
  (table) => [
    uniqueIndex('x402_payments_authorization_key').on(table.network, table.asset, table.payer, table.nonce),
    index('x402_payments_payer_idx').on(table.payer, table.createdAt),
    check('x402_payments_amount_positive', sql`${table.amountAtomic} > 0`),
    check('x402_payments_version', sql`${table.x402Version} in (1, 2)`),
    check('x402_payments_nonce_format', sql`${table.nonce} ~ '^0x[0-9a-f]{64}$'`),
    check(
      'x402_payments_reference_format',
      sql`${table.reference} = ${table.network} || ':' || ${table.asset} || ':' || ${table.payer} || ':' || ${table.nonce}`,
    ),
  ],
);
