import { defineConfig } from 'vitest/config';

// One workspace config: every package, the gateway and the cross-package tests are projects.
// The JSON report is what .ci/run counts from.
export default defineConfig({
  test: {
    projects: ['packages/*', 'apps/*', 'tests'],
    reporters: ['default', 'json'],
    outputFile: { json: '.vitest-report.json' },
  },
});
