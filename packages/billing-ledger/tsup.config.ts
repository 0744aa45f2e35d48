import { defineConfig } from 'tsup';

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    money: 'src/money/index.ts',
    limits: 'src/limits.ts',
    postgres: 'src/db/postgres.ts',
    pglite: 'src/db/pglite.ts',
    hono: 'src/hono/index.ts',
    http: 'src/http/index.ts',
    cli: 'src/cli.ts',
  },
  format: ['esm'],
  dts: {
    entry: {
      index: 'src/index.ts',
      money: 'src/money/index.ts',
      limits: 'src/limits.ts',
      postgres: 'src/db/postgres.ts',
      pglite: 'src/db/pglite.ts',
      hono: 'src/hono/index.ts',
      http: 'src/http/index.ts',
    },
  },
  clean: true,
  sourcemap: true,
  target: 'node20',
});
