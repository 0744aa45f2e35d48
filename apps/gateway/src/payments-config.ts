// Payment settings of the gateway (DESIGN.md §6): x402 purchases of credit packs. `config.ts` calls
// `paymentsConfigFrom` once the environment parsed. Off by default; when `X402_ENABLED=true` every setting the
// facilitator needs is required and validated, so a half-configured gateway never starts.

import { paymentLeaseMsDefault, paymentLeaseMsMax, paymentRetryInMsDefault } from '@arrakis/x402';
import { type Address, getAddress, type Hex, isAddress } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { z } from 'zod';
import type { ConfigIssue } from './config.js';

/** Facilitator kinds: `local` verifies in-process and settles on chain itself; `http` calls a facilitator service. */
export const facilitatorKinds = ['local', 'http'] as const;

/** One of {@link facilitatorKinds}. */
export type FacilitatorKind = (typeof facilitatorKinds)[number];

/** Longest accepted `X402_MAX_TIMEOUT_SECONDS`: one day (the x402 library's bound). */
export const x402MaxTimeoutSecondsMax = 86_400;

/** How the gateway reaches its facilitator. */
export type FacilitatorConfig =
  | {
      kind: 'local';
      /** `X402_RPC_URL`: JSON-RPC of the chain the payments settle on. */
      rpcUrl: string;
      /** The settlement signer (pays gas). Its key is a function so the config can be logged without it. */
      signer: { address: Address; key(): Hex };
    }
  | { kind: 'http' /** `X402_FACILITATOR_URL`: base URL of `/verify`, `/settle`, `/supported`. */; url: string };

/** The validated payment settings. */
export type PaymentsConfig =
  | { enabled: false }
  | {
      enabled: true;
      /** `X402_NETWORK`: CAIP-2 id of an EVM chain, `eip155:<chainId>`. */
      network: `eip155:${number}`;
      /** `X402_ASSET`: the EIP-3009 token (6 decimals: one unit = one micro-USD), checksummed. */
      asset: Address;
      /** `X402_TOKEN_NAME` / `X402_TOKEN_VERSION`: the token's EIP-712 domain (default `USD Coin` / `2`). */
      tokenName: string;
      tokenVersion: string;
      /** `X402_PAY_TO`: who receives the payments, checksummed. */
      payTo: Address;
      /** `X402_MAX_TIMEOUT_SECONDS`: how long a signed payment stays valid (default 300). */
      maxTimeoutSeconds: number;
      /**
       * `X402_RPC_URL`: JSON-RPC of `network`, required with either facilitator: the token's `decimals()` is checked
       * at start and the reconciler reads authorizations and receipts (reads only; the local facilitator also
       * settles through it).
       */
      rpcUrl: string;
      facilitator: FacilitatorConfig;
      /** Two-phase settlement timings (`X402_PAYMENT_LEASE_MS`, `X402_PAYMENT_RETRY_MS`, `X402_RECONCILE_INTERVAL_MS`). */
      settlement: PaymentSettlementConfig;
    };

/** How payments are settled and reconciled. */
export interface PaymentSettlementConfig {
  /** How long one attempt owns a payment before another may take it (default 120 000; ≥ the receipt wait). */
  leaseMs: number;
  /** When a postponed payment (RPC down, transaction not mined) is due again (default 15 000). */
  retryMs: number;
  /** Between two reconciler passes (default 15 000; 0 = no reconciler in this process). */
  reconcileIntervalMs: number;
}

const url = z
  .string()
  .trim()
  .refine((v) => URL.canParse(v) && ['http:', 'https:'].includes(new URL(v).protocol), {
    message: 'expected an http(s) URL',
  });

const address = z
  .string()
  .trim()
  .refine((v) => isAddress(v, { strict: true }), {
    message: 'expected a 20-byte hex address (0x + 40 hex digits, EIP-55 checksum when mixed case)',
  })
  .transform((v) => getAddress(v));

const domainField = z
  .string()
  .trim()
  .regex(/^[\x20-\x7e]{1,64}$/, 'expected 1-64 printable ASCII characters');

function milliseconds(min: number, max: number) {
  return z
    .string()
    .trim()
    .regex(/^\d{1,7}$/, 'expected a whole number of milliseconds')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));
}

const paymentsEnvSchema = z.object({
  X402_NETWORK: z
    .string()
    .trim()
    .regex(/^eip155:[1-9][0-9]{0,15}$/, 'expected a CAIP-2 EVM network, eip155:<chainId> (e.g. eip155:8453)')
    .transform((v) => v as `eip155:${number}`),
  X402_ASSET: address,
  X402_TOKEN_NAME: domainField.default('USD Coin'),
  X402_TOKEN_VERSION: domainField.default('2'),
  X402_PAY_TO: address,
  X402_FACILITATOR: z.enum(facilitatorKinds).default('local'),
  X402_FACILITATOR_URL: url.optional(),
  X402_RPC_URL: url.optional(),
  // Never echoed in an issue: the message names the rule, not the value.
  X402_SIGNER_KEY: z
    .string()
    .trim()
    .regex(/^0x[0-9a-fA-F]{64}$/, 'expected a 32-byte hex private key (0x + 64 hex digits)')
    .optional(),
  X402_MAX_TIMEOUT_SECONDS: z
    .string()
    .trim()
    .regex(/^\d{1,6}$/, 'expected a positive integer')
    .transform(Number)
    .pipe(z.number().int().min(1).max(x402MaxTimeoutSecondsMax))
    .default(300),
  X402_PAYMENT_LEASE_MS: milliseconds(1_000, paymentLeaseMsMax).default(paymentLeaseMsDefault),
  X402_PAYMENT_RETRY_MS: milliseconds(100, 3_600_000).default(paymentRetryInMsDefault),
  X402_RECONCILE_INTERVAL_MS: milliseconds(0, 3_600_000).default(paymentRetryInMsDefault),
});

/**
 * Reads the x402 variables, adding an issue per problem (secrets never appear in a message):
 * `X402_ENABLED` (`true`/`false`, default false); when true: `X402_NETWORK`, `X402_ASSET`, `X402_PAY_TO` (required),
 * `X402_RPC_URL` (required: reads), `X402_TOKEN_NAME`, `X402_TOKEN_VERSION`, `X402_MAX_TIMEOUT_SECONDS`,
 * `X402_PAYMENT_LEASE_MS`, `X402_PAYMENT_RETRY_MS`, `X402_RECONCILE_INTERVAL_MS`, `X402_FACILITATOR` (`local`
 * default, needs `X402_SIGNER_KEY`; `http` needs `X402_FACILITATOR_URL`, https in production). Other `X402_*`
 * variables are ignored while payments are off.
 *
 * @example
 * const payments = paymentsConfigFrom(process.env, issues);
 * if (payments.enabled) console.log(payments.network, payments.facilitator.kind);
 */
export function paymentsConfigFrom(env: Record<string, string | undefined>, issues: ConfigIssue[]): PaymentsConfig {
  const enabledRaw = env.X402_ENABLED?.trim() ?? '';
  if (enabledRaw !== '' && enabledRaw !== 'true' && enabledRaw !== 'false') {
    issues.push({ variable: 'X402_ENABLED', message: `expected true or false, got "${enabledRaw.slice(0, 16)}"` });
    return { enabled: false };
  }
  if (enabledRaw !== 'true') return { enabled: false };
  const present = Object.fromEntries(
    Object.entries(env).filter(([k, v]) => k.startsWith('X402_') && v !== undefined && v.trim() !== ''),
  );
  const result = paymentsEnvSchema.safeParse(present);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const variable = String(issue.path[0] ?? 'X402_ENABLED');
      const message =
        issue.code === 'invalid_type' && issue.input === undefined ? 'required when X402_ENABLED=true' : issue.message;
      issues.push({ variable, message });
    }
    return { enabled: false };
  }
  const e = result.data;
  let facilitator: FacilitatorConfig | undefined;
  if (e.X402_RPC_URL === undefined) {
    issues.push({
      variable: 'X402_RPC_URL',
      message: 'required when X402_ENABLED=true (decimals check, reconciler; the local facilitator settles through it)',
    });
  }
  if (e.X402_FACILITATOR === 'local') {
    if (e.X402_SIGNER_KEY === undefined)
      issues.push({ variable: 'X402_SIGNER_KEY', message: 'required when X402_FACILITATOR=local' });
    if (e.X402_RPC_URL !== undefined && e.X402_SIGNER_KEY !== undefined) {
      const key = e.X402_SIGNER_KEY.toLowerCase() as Hex;
      let signerAddress: Address | undefined;
      try {
        signerAddress = privateKeyToAccount(key).address;
      } catch {
        issues.push({ variable: 'X402_SIGNER_KEY', message: 'not a valid secp256k1 private key' });
      }
      if (signerAddress !== undefined) {
        facilitator = { kind: 'local', rpcUrl: e.X402_RPC_URL, signer: { address: signerAddress, key: () => key } };
      }
    }
  } else if (e.X402_FACILITATOR_URL === undefined) {
    issues.push({ variable: 'X402_FACILITATOR_URL', message: 'required when X402_FACILITATOR=http' });
  } else if (env.NODE_ENV === 'production' && !e.X402_FACILITATOR_URL.startsWith('https:')) {
    issues.push({ variable: 'X402_FACILITATOR_URL', message: 'must be an https URL when NODE_ENV=production' });
  } else {
    facilitator = { kind: 'http', url: e.X402_FACILITATOR_URL };
  }
  if (facilitator === undefined || e.X402_RPC_URL === undefined) return { enabled: false };
  return {
    enabled: true,
    network: e.X402_NETWORK,
    asset: e.X402_ASSET,
    tokenName: e.X402_TOKEN_NAME,
    tokenVersion: e.X402_TOKEN_VERSION,
    payTo: e.X402_PAY_TO,
    maxTimeoutSeconds: e.X402_MAX_TIMEOUT_SECONDS,
    rpcUrl: e.X402_RPC_URL,
    facilitator,
    settlement: {
      leaseMs: e.X402_PAYMENT_LEASE_MS,
      retryMs: e.X402_PAYMENT_RETRY_MS,
      reconcileIntervalMs: e.X402_RECONCILE_INTERVAL_MS,
    },
  };
}

/**
 * What may be logged of the payment settings: everything but the signer key.
 *
 * @example
 * logger.info({ payments: paymentsSummary(config.payments) }, 'listening');
 */
export function paymentsSummary(config: PaymentsConfig): Record<string, unknown> {
  if (!config.enabled) return { enabled: false };
  const facilitator =
    config.facilitator.kind === 'local'
      ? { kind: 'local', rpcUrl: config.facilitator.rpcUrl, signer: config.facilitator.signer.address }
      : { kind: 'http', url: config.facilitator.url };
  return {
    enabled: true,
    network: config.network,
    asset: config.asset,
    payTo: config.payTo,
    maxTimeoutSeconds: config.maxTimeoutSeconds,
    rpcUrl: config.rpcUrl,
    facilitator,
    settlement: config.settlement,
  };
}
