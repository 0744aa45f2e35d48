import { type Clock, type CounterBackend, nonceStore } from '@arrakis/atomic-counter';
import {
  type AnchorKeyRing,
  createIdentityTrust,
  createOwnershipVerifier,
  createTrustPolicy,
  type IdentityTrust,
  type NonceClaimer,
  type OwnershipVerifier,
  walletProofLifetimeMsMax,
} from '@arrakis/identity-trust';
import { createPostgresAnchorStore, type IdentityDb } from '@arrakis/identity-trust/postgres';
import type { IdentityConfig } from './config.js';

/** Key namespace of the wallet-proof nonces in the counter backend (apart from rate-limit keys). */
export const siweNoncePrefix = 'siwe-nonce';

/** Everything the identity routes and the trust checks need. */
export interface GatewayIdentity {
  /** Anchors, rotations, trust decisions, over the identity tables in the ledger's database. */
  service: IdentityTrust;
  /** Signing keys of anchor tokens; their public part is `/.well-known/jwks.json`. */
  keys: AnchorKeyRing;
  /** Where wallet-proof nonces are claimed once (the gateway's counter backend: shared by every instance). */
  nonces: NonceClaimer;
  /** Set when `CHAIN_RPC_URL` is: reads `ownerOf` on chain. */
  ownership: OwnershipVerifier | undefined;
  config: IdentityConfig;
}

/** Options of {@link createGatewayIdentity}. */
export interface CreateGatewayIdentityOptions {
  /** The ledger's database, migrated with `migrateIdentity` too. */
  db: IdentityDb;
  counters: CounterBackend;
  clock: Clock;
  config: IdentityConfig;
  keys: AnchorKeyRing;
  /** Default: built from `config.chainRpcUrl` when set. */
  ownership?: OwnershipVerifier;
}

/**
 * Wires the identity parts of the gateway. Does no I/O (the key ring is loaded and the tables migrated by the caller).
 *
 * @example
 * ```ts
 * await migrateIdentity(ledgerDb.db, ledgerDb.kind);
 * const { ring } = await loadAnchorKeys(config.identity.anchorTokens.keys);
 * const identity = createGatewayIdentity({ db: ledgerDb.db, counters, clock, config: config.identity, keys: ring });
 * ```
 */
export function createGatewayIdentity(options: CreateGatewayIdentityOptions): GatewayIdentity {
  const { config, clock } = options;
  const ownership =
    options.ownership ??
    (config.chainRpcUrl === undefined ? undefined : createOwnershipVerifier({ rpcUrl: config.chainRpcUrl }));
  const service = createIdentityTrust({
    store: createPostgresAnchorStore(options.db),
    clock,
    policy: createTrustPolicy({ enabled: config.trust.enabled, thresholdMicro: config.trust.thresholdMicro }),
    rotationTtlMs: config.rotationTtlMs,
    ...(ownership === undefined ? {} : { ownership }),
  });
  const nonces = nonceStore({
    backend: options.counters,
    ttlMs: walletProofLifetimeMsMax,
    prefix: siweNoncePrefix,
    scope: 'siwe',
    clock,
  });
  return { service, keys: options.keys, nonces, ownership, config };
}
