import { defineConfig } from 'tsup';

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    sqlite: 'src/adapters/sqlite/index.ts',
    redis: 'src/adapters/redis/index.ts',
    postgres: 'src/adapters/postgres/index.ts',
    hono: 'src/hono/index.ts',
  },
  format: ['esm'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
});
