/**
 * `@arrakis/x402/postgres`: the `x402_payments` table, its migrations, and the Postgres `PaymentClaimStore`.
 */
export type { PgTransactionOf, PostgresPaymentClaimStoreOptions } from './claim-store.js';
export { postgresPaymentClaimStore } from './claim-store.js';
export type { AnyPgDatabase } from './migrate.js';
export {
  migrateX402,
  x402MigrationLockKey,
  x402MigrationsFolder,
  x402MigrationsSchema,
  x402MigrationsTable,
} from './migrate.js';
export { x402Payments } from './schema.js';
