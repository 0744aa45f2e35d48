import { resolve } from 'node:path';
import type { Clock, CounterBackend } from '@arrakis/atomic-counter';
import type { LedgerDbHandle } from '@arrakis/billing-ledger';
import { migrateIdentity } from '@arrakis/identity-trust/postgres';
import type { Logger } from 'pino';
import type { GatewayConfig } from '../config.js';
import { loadAnchorKeys } from './anchor-keys.js';
import { createGatewayIdentity, type GatewayIdentity } from './gateway-identity.js';

/**
 * Startup of the identity parts: migrates the identity tables into the ledger's database (own migrations, own
 * tracking table), loads the anchor-token signing keys (`ANCHOR_SIGNING_JWKS`, or `DATA_DIR/anchor-signing-keys.json`
 * created once) and wires the service, the nonce store and the optional chain RPC.
 *
 * @throws when the migrations fail or the signing keys are unusable (the gateway does not start).
 * @example
 * ```ts
 * const identity = await openGatewayIdentity({ config, ledgerDb, counters, clock, logger });
 * ```
 */
export async function openGatewayIdentity(options: {
  config: GatewayConfig;
  ledgerDb: LedgerDbHandle;
  counters: CounterBackend;
  clock: Clock;
  logger: Logger;
}): Promise<GatewayIdentity> {
  const { config, ledgerDb, logger } = options;
  await migrateIdentity(ledgerDb.db, ledgerDb.kind);
  const source = config.identity.anchorTokens.keys;
  const loaded = await loadAnchorKeys(
    source.kind === 'file' ? { kind: 'file', dataDir: resolve(source.dataDir) } : source,
  );
  logger.info(
    {
      source: loaded.source,
      path: loaded.path,
      created: loaded.created,
      signingKid: loaded.ring.signingKey.kid,
      kids: loaded.ring.keys.map((key) => key.kid),
      chainRpc: config.identity.chainRpcUrl === undefined ? 'none' : 'configured',
      trust: {
        enabled: config.identity.trust.enabled,
        thresholdMicro: config.identity.trust.thresholdMicro.toString(),
      },
    },
    'anchor signing keys loaded',
  );
  return createGatewayIdentity({
    db: ledgerDb.db,
    counters: options.counters,
    clock: options.clock,
    config: config.identity,
    keys: loaded.ring,
  });
}
