/**
 * `@arrakis/x402/postgres`: the `x402_payments` table, its migrations, and the Postgres `PaymentStateStore`.
 */
export type { AnyPgDatabase, PgTransactionOf } from './migrate.js';
export {
  migrateX402,
  x402MigrationLockKey,
  x402MigrationsFolder,
  x402MigrationsSchema,
  x402MigrationsTable,
} from './migrate.js';
export { x402Payments } from './schema.js';
export type { PostgresPaymentStateStoreOptions } from './state-store.js';
export { postgresPaymentStateStore } from './state-store.js';
