// vitest globalSetup of @arrakis/gateway: the process tests run dist/, so build it when it is missing or older
// than the sources (root `pnpm test` builds first, so this is a no-op there).
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../../', import.meta.url));

function newestSourceMs(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSourceMs(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts'))
      newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

function mtimeMs(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

/** Builds the gateway and its workspace dependencies with turbo when dist/ is stale. */
export function setup(): void {
  const sources = Math.max(
    newestSourceMs(join(root, 'apps/gateway/src')),
    newestSourceMs(join(root, 'packages/atomic-counter/src')),
    newestSourceMs(join(root, 'packages/billing-ledger/src')),
    newestSourceMs(join(root, 'packages/identity-trust/src')),
    newestSourceMs(join(root, 'packages/x402/src')),
    mtimeMs(join(root, 'packages/billing-ledger/package.json')),
    mtimeMs(join(root, 'apps/gateway/package.json')),
    mtimeMs(join(root, 'apps/gateway/tsup.config.ts')),
  );
  const built = Math.min(
    mtimeMs(join(root, 'apps/gateway/dist/server.js')),
    mtimeMs(join(root, 'apps/gateway/dist/cli.js')),
    mtimeMs(join(root, 'packages/atomic-counter/dist/index.js')),
    mtimeMs(join(root, 'packages/billing-ledger/dist/index.js')),
    mtimeMs(join(root, 'packages/identity-trust/dist/index.js')),
    mtimeMs(join(root, 'packages/x402/dist/index.js')),
  );
  if (built >= sources) return;
  execFileSync(
    join(root, 'node_modules/.bin/turbo'),
    ['run', 'build', '--filter=@arrakis/gateway...', '--output-logs=errors-only'],
    {
      cwd: root,
      stdio: 'inherit',
      env: {
        ...process.env,
        PATH: `${join(root, 'node_modules/.bin')}:${process.env.PATH ?? ''}`,
        TURBO_TELEMETRY_DISABLED: '1',
      },
    },
  );
}
