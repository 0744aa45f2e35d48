import { defineConfig } from 'drizzle-kit';

/** drizzle-kit reads this to generate (`db:generate`) and check (`db:check`) the committed SQL migrations. */
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/adapters/postgres/schema.ts',
  out: './drizzle',
  strict: true,
  verbose: true,
});
