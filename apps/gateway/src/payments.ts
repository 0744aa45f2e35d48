// The gateway's x402 payment parts, built from its configuration without I/O (viem clients connect lazily).
import {
  type AuthorizationResolver,
  type Clock,
  type ExactPaymentTerms,
  exactPaymentTerms,
  type Facilitator,
  httpFacilitator,
  localFacilitator,
  rpcAuthorizationResolver,
} from '@arrakis/x402';
import type { PaymentSettlementConfig, PaymentsConfig } from './payments-config.js';

/** What the purchase route, the reserve shortfall 402 and the payment reconciler use when payments are on. */
export interface GatewayPayments {
  /** Network, token, payTo and timeout; `terms.forAmount(priceMicro)` prices a pack (6-decimal token = micro-USD). */
  terms: ExactPaymentTerms;
  /** Verifies and settles payments (`localFacilitator` or `httpFacilitator`). */
  facilitator: Facilitator;
  /** Reads the chain (`X402_RPC_URL`): what became of an authorization, the token's decimals. */
  resolver: AuthorizationResolver;
  /** Lease, retry delay and reconciler interval of two-phase settlements. */
  settlement: PaymentSettlementConfig;
  /** Time source of the validity windows (the gateway's clock). */
  clock: Clock;
}

/**
 * Builds the payment terms, the facilitator and the chain resolver from enabled payment settings: `local` →
 * `localFacilitator({ rpcUrl, signerKey })` (settles on chain with the configured signer), `http` →
 * `httpFacilitator({ url })`; the resolver reads `X402_RPC_URL` with either. Does no I/O.
 *
 * @throws {InvalidX402OptionError} when the settings are inconsistent (they were validated by `parseConfig`).
 * @example
 * const payments = config.payments.enabled ? createGatewayPayments(config.payments, clock) : undefined;
 */
export function createGatewayPayments(
  config: Extract<PaymentsConfig, { enabled: true }>,
  clock: Clock,
): GatewayPayments {
  const terms = exactPaymentTerms({
    network: config.network,
    asset: config.asset,
    payTo: config.payTo,
    tokenName: config.tokenName,
    tokenVersion: config.tokenVersion,
    maxTimeoutSeconds: config.maxTimeoutSeconds,
  });
  const facilitator =
    config.facilitator.kind === 'local'
      ? localFacilitator({
          rpcUrl: config.facilitator.rpcUrl,
          signerKey: config.facilitator.signer.key(),
          networks: [config.network],
          clock,
        })
      : httpFacilitator({ url: config.facilitator.url });
  const resolver = rpcAuthorizationResolver({ rpcUrl: config.rpcUrl }, { clock });
  return { terms, facilitator, resolver, settlement: config.settlement, clock };
}

/**
 * The deps with their payment parts resolved: `deps.payments` when given, else built from `config.payments` when
 * enabled; `undefined` when payments are off. Used by `createApp` (no I/O).
 *
 * @example
 * const ctx = { deps: withPayments(deps), ... };
 */
export function withPayments<
  T extends { config: { payments: PaymentsConfig }; clock: Clock; payments?: GatewayPayments | undefined },
>(deps: T): T {
  const settings = deps.config.payments;
  if (!settings.enabled) return { ...deps, payments: undefined };
  return { ...deps, payments: deps.payments ?? createGatewayPayments(settings, deps.clock) };
}
