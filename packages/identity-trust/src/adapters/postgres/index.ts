/**
 * `@arrakis/identity-trust/postgres`: the anchor store on Postgres or PGlite through drizzle, its schema and its
 * migrations (own folder, own tracking table `drizzle.__identity_migrations`, so they share a database with the
 * ledger's).
 */

export type { IdentityDb } from '../../db/identity-db.js';
export {
  identityMigrationLockKey,
  identityMigrationsFolder,
  identityMigrationsSchema,
  identityMigrationsTable,
  migrateIdentity,
} from '../../db/migrate.js';
export type { AuditAction, RotationStatus } from '../../db/schema.js';
export {
  auditActions,
  identityAnchorAudit,
  identityAnchorRotations,
  identityAnchors,
  identityIdempotencyKeys,
  rotationStatuses,
} from '../../db/schema.js';
export { auditPageLimitMax, createPostgresAnchorStore } from './anchor-store.js';
