import { defineProject } from 'vitest/config';
import { workspaceAlias } from '../../vitest.shared.js';

export default defineProject({
  resolve: { alias: workspaceAlias },
  test: {
    name: '@arrakis/gateway',
    include: ['**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**'],
    // The process tests (*.e2e.test.ts) run dist/: build it first when stale.
    globalSetup: ['./src/testing/ensure-built.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
