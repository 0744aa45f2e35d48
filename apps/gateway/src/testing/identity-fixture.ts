// Test support (not part of the build): the gateway's identity parts on a test ledger database, with a fresh
// anchor-token signing key.
import type { Clock, CounterBackend } from '@arrakis/atomic-counter';
import type { LedgerDbHandle } from '@arrakis/billing-ledger';
import { createAnchorKeyRing, generateAnchorSigningKey } from '@arrakis/identity-trust';
import { migrateIdentity } from '@arrakis/identity-trust/postgres';
import type { GatewayConfig } from '../config.js';
import { createGatewayIdentity, type GatewayIdentity } from '../identity/gateway-identity.js';

/**
 * Migrates the identity tables into the ledger's database (a no-op when done) and wires the identity parts with a new
 * ES256 signing key; ownership is checked on chain when the config has `CHAIN_RPC_URL`.
 */
export async function makeTestGatewayIdentity(options: {
  ledgerDb: LedgerDbHandle;
  counters: CounterBackend;
  clock: Clock;
  config: GatewayConfig;
}): Promise<GatewayIdentity> {
  await migrateIdentity(options.ledgerDb.db, options.ledgerDb.kind);
  const { key } = await generateAnchorSigningKey();
  return createGatewayIdentity({
    db: options.ledgerDb.db,
    counters: options.counters,
    clock: options.clock,
    config: options.config.identity,
    keys: createAnchorKeyRing([key]),
  });
}
