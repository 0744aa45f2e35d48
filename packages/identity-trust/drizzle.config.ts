import { defineConfig } from 'drizzle-kit';

/**
 * drizzle-kit reads this to generate (`db:generate`) and check (`db:check`) the committed SQL migrations. The
 * identity tables live in the same database as the ledger's, so they keep their own migrations folder and their own
 * tracking table (`drizzle.__identity_migrations`).
 */
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/db/schema.ts',
  out: './drizzle',
  strict: true,
  verbose: true,
  migrations: { schema: 'drizzle', table: '__identity_migrations' },
});
