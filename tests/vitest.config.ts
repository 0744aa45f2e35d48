import { defineProject } from 'vitest/config';
import { workspaceAlias } from '../vitest.shared.js';

export default defineProject({
  resolve: { alias: workspaceAlias },
  test: {
    name: '@arrakis/tests',
    include: ['**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**'],
    // These tests start real gateway processes from apps/gateway/dist: build it first when stale.
    globalSetup: ['../apps/gateway/src/testing/ensure-built.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
