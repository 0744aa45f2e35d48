import { fileURLToPath } from 'node:url';

const root = (path: string) => fileURLToPath(new URL(path, import.meta.url));

/**
 * Tests import workspace packages from their sources, so a unit test never runs stale `dist/`.
 * Tests that start real processes (the gateway server, the CLI) use the built output instead.
 */
export const workspaceAlias = [
  {
    find: /^@arrakis\/atomic-counter\/sqlite$/,
    replacement: root('./packages/atomic-counter/src/adapters/sqlite/index.ts'),
  },
  {
    find: /^@arrakis\/atomic-counter\/redis$/,
    replacement: root('./packages/atomic-counter/src/adapters/redis/index.ts'),
  },
  {
    find: /^@arrakis\/atomic-counter\/postgres$/,
    replacement: root('./packages/atomic-counter/src/adapters/postgres/index.ts'),
  },
  { find: /^@arrakis\/atomic-counter\/hono$/, replacement: root('./packages/atomic-counter/src/hono/index.ts') },
  { find: /^@arrakis\/atomic-counter$/, replacement: root('./packages/atomic-counter/src/index.ts') },
  { find: /^@arrakis\/billing-ledger\/money$/, replacement: root('./packages/billing-ledger/src/money/index.ts') },
  { find: /^@arrakis\/billing-ledger\/postgres$/, replacement: root('./packages/billing-ledger/src/db/postgres.ts') },
  { find: /^@arrakis\/billing-ledger\/pglite$/, replacement: root('./packages/billing-ledger/src/db/pglite.ts') },
  { find: /^@arrakis\/billing-ledger\/hono$/, replacement: root('./packages/billing-ledger/src/hono/index.ts') },
  { find: /^@arrakis\/billing-ledger\/http$/, replacement: root('./packages/billing-ledger/src/http/index.ts') },
  { find: /^@arrakis\/billing-ledger$/, replacement: root('./packages/billing-ledger/src/index.ts') },
  { find: /^@arrakis\/dev-chain$/, replacement: root('./packages/dev-chain/src/index.ts') },
  { find: /^@arrakis\/e2e-contracts$/, replacement: root('./packages/e2e-contracts/src/index.ts') },
  {
    find: /^@arrakis\/identity-trust\/postgres$/,
    replacement: root('./packages/identity-trust/src/adapters/postgres/index.ts'),
  },
  { find: /^@arrakis\/identity-trust$/, replacement: root('./packages/identity-trust/src/index.ts') },
  { find: /^@arrakis\/x402\/hono$/, replacement: root('./packages/x402/src/hono/index.ts') },
  { find: /^@arrakis\/x402\/postgres$/, replacement: root('./packages/x402/src/adapters/postgres/index.ts') },
  { find: /^@arrakis\/x402$/, replacement: root('./packages/x402/src/index.ts') },
  { find: /^@arrakis\/gateway$/, replacement: root('./apps/gateway/src/index.ts') },
];
