import { InvalidX402OptionError } from './errors.js';
import { encodeBase64Json } from './wire/codec.js';
import {
  exactRequirementsSchema,
  maxTimeoutSecondsDefault,
  type PaymentRequired,
  type PaymentRequirements,
  type ResourceInfo,
  resourceInfoSchema,
  type WireRequirementsV1,
} from './wire/schemas.js';

/** Most requirements one 402 may offer. */
export const requirementsPerResponseMax = 16;

/** Options of {@link exactRequirements}. */
export interface ExactRequirementsOptions {
  /** CAIP-2 network, `eip155:<chainId>` (e.g. `eip155:8453` for Base, `eip155:31337` for a local Hardhat node). */
  network: string;
  /** The EIP-3009 token contract (e.g. USDC). */
  asset: string;
  /** Who receives the payment. */
  payTo: string;
  /** Price in the token's smallest unit (6-decimal USD tokens: micro-USD). A bigint > 0, never a float. */
  amountAtomic: bigint;
  /** The token's EIP-712 domain name, e.g. `"USD Coin"` (Base USDC) or `"USDC"` (Base Sepolia USDC). */
  tokenName: string;
  /** The token's EIP-712 domain version, e.g. `"2"`. */
  tokenVersion: string;
  /** How long the client's signed authorization stays valid, 1..86 400 s. Default 300. */
  maxTimeoutSeconds?: number;
  /** More keys for `extra` (kept next to `name` and `version`). */
  extra?: Record<string, unknown>;
}

/**
 * Builds the `exact` payment requirements for an amount — what a 402 offers and what a payment is verified
 * against. Use it per request for dynamic prices, e.g. the smallest credit pack that covers a shortfall.
 *
 * @throws {InvalidX402OptionError} when the network is not `eip155:<chainId>`, an address is invalid, the amount
 *   is not a bigint > 0 (≤ 2^256 − 1), or the timeout or token domain is out of bounds.
 * @example
 * const requirements = exactRequirements({
 *   network: 'eip155:8453',
 *   asset: '0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913',
 *   payTo: '0x5B38Da6a701c568545dCfcB03FcB875f56beddC4',
 *   amountAtomic: 5_000_000n, // 5 USDC
 *   tokenName: 'USD Coin',
 *   tokenVersion: '2',
 * });
 */
export function exactRequirements(options: ExactRequirementsOptions): PaymentRequirements {
  if (options === null || typeof options !== 'object') {
    throw new InvalidX402OptionError('exactRequirements() needs an options object');
  }
  const { amountAtomic } = options;
  if (typeof amountAtomic !== 'bigint' || amountAtomic <= 0n) {
    throw new InvalidX402OptionError(
      `amountAtomic ${typeof amountAtomic === 'bigint' ? `${amountAtomic}n` : JSON.stringify(amountAtomic)} must be a bigint > 0 (the price in the token's smallest unit)`,
    );
  }
  return parseRequirements(
    {
      scheme: 'exact',
      network: options.network,
      amount: amountAtomic.toString(),
      asset: options.asset,
      payTo: options.payTo,
      maxTimeoutSeconds: options.maxTimeoutSeconds ?? maxTimeoutSecondsDefault,
      extra: { ...(options.extra ?? {}), name: options.tokenName, version: options.tokenVersion },
    },
    'exactRequirements()',
  );
}

/** What stays the same across prices: {@link ExactRequirementsOptions} without the amount. */
export type ExactPaymentTermsOptions = Omit<ExactRequirementsOptions, 'amountAtomic'>;

/** Fixed payment terms (network, token, recipient) that price any amount. */
export interface ExactPaymentTerms {
  /** The terms as given, validated. */
  readonly options: Readonly<ExactPaymentTermsOptions>;
  /**
   * The requirements for one amount (a bigint > 0 in the token's smallest unit).
   *
   * @throws {InvalidX402OptionError} when the amount is not a bigint > 0.
   */
  forAmount(amountAtomic: bigint): PaymentRequirements;
}

/**
 * Validates fixed payment terms once (e.g. from the gateway's config) and prices any amount with them — for
 * example, the 402 of a reservation that finds too few credits offers the smallest pack covering the shortfall.
 *
 * @throws {InvalidX402OptionError} when a term is invalid (checked now, with a probe amount of 1).
 * @example
 * const terms = exactPaymentTerms({ network: 'eip155:8453', asset: USDC, payTo, tokenName: 'USD Coin', tokenVersion: '2' });
 * const pack = smallestPackCovering(shortfallMicro); // the caller's catalog
 * const requirements = terms.forAmount(pack.priceMicro); // 6-decimal USD token: atomic units = micro-USD
 */
export function exactPaymentTerms(options: ExactPaymentTermsOptions): ExactPaymentTerms {
  if (options === null || typeof options !== 'object') {
    throw new InvalidX402OptionError('exactPaymentTerms() needs an options object');
  }
  const frozen = Object.freeze({ ...options });
  exactRequirements({ ...frozen, amountAtomic: 1n });
  return {
    options: frozen,
    forAmount: (amountAtomic: bigint) => exactRequirements({ ...frozen, amountAtomic }),
  };
}

/**
 * Validates payment requirements (e.g. read from config) and returns them frozen with checksummed addresses.
 *
 * @throws {InvalidX402OptionError} when `value` is not `exact` EVM requirements (see `exactRequirementsSchema`).
 * @example
 * const requirements = parseRequirements(JSON.parse(process.env.X402_REQUIREMENTS!));
 */
export function parseRequirements(value: unknown, where = 'requirements'): PaymentRequirements {
  const parsed = exactRequirementsSchema.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
    throw new InvalidX402OptionError(`${where}: invalid payment requirements (${issues.join('; ')})`, {
      details: { issues },
    });
  }
  const requirements = parsed.data as PaymentRequirements;
  Object.freeze(requirements.extra);
  return Object.freeze(requirements);
}

/** Validates a non-empty list of at most {@link requirementsPerResponseMax} requirements. */
export function parseRequirementsList(value: unknown, where = 'requirements'): readonly PaymentRequirements[] {
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0 || list.length > requirementsPerResponseMax) {
    throw new InvalidX402OptionError(
      `${where}: expected 1..${requirementsPerResponseMax} payment requirements, got ${list.length}`,
    );
  }
  return Object.freeze(list.map((item, index) => parseRequirements(item, `${where}[${index}]`)));
}

/** Options of {@link createPaymentRequired}. */
export interface CreatePaymentRequiredOptions {
  requirements: PaymentRequirements | readonly PaymentRequirements[];
  /** The resource being paid for; `url` at least (the paywall uses the request URL). */
  resource: ResourceInfo;
  /** Why payment is (still) required: an error code, e.g. `'amount_mismatch'`; omitted on a first 402. */
  error?: string;
}

/**
 * Builds a version 2 `PaymentRequired` (the content of the `PAYMENT-REQUIRED` header).
 *
 * @throws {InvalidX402OptionError} when a requirement or the resource info is invalid.
 * @example
 * const required = createPaymentRequired({ requirements, resource: { url: c.req.url } });
 * return c.json({ error: 'insufficient_credits', message }, 402, paymentRequiredHeaders(required));
 */
export function createPaymentRequired(options: CreatePaymentRequiredOptions): PaymentRequired {
  const accepts = parseRequirementsList(options.requirements, 'createPaymentRequired().requirements');
  const resource = resourceInfoSchema.safeParse(options.resource);
  if (!resource.success) {
    throw new InvalidX402OptionError(`createPaymentRequired(): invalid resource (${resource.error.message})`);
  }
  return {
    x402Version: 2,
    ...(options.error === undefined ? {} : { error: options.error }),
    resource: resource.data,
    accepts: [...accepts],
  };
}

/**
 * The headers of a 402 that asks for payment: `PAYMENT-REQUIRED` (base64 JSON) and `Cache-Control: no-store`.
 *
 * @example
 * return c.json(body, 402, paymentRequiredHeaders(createPaymentRequired({ requirements, resource })));
 */
export function paymentRequiredHeaders(paymentRequired: PaymentRequired): Record<string, string> {
  return { 'PAYMENT-REQUIRED': encodeBase64Json(paymentRequired), 'Cache-Control': 'no-store' };
}

/**
 * The version 1 form of `exact` requirements (what a version 1 client reads from the 402 JSON body).
 *
 * @example
 * toV1Requirements(requirements, { network: 'base', resource: { url: 'https://api.example/credits' } });
 */
export function toV1Requirements(
  requirements: PaymentRequirements,
  options: { network: string; resource: ResourceInfo },
): WireRequirementsV1 {
  return {
    scheme: requirements.scheme,
    network: options.network,
    maxAmountRequired: requirements.amount,
    resource: options.resource.url,
    description: options.resource.description ?? '',
    mimeType: options.resource.mimeType ?? 'application/json',
    payTo: requirements.payTo,
    maxTimeoutSeconds: requirements.maxTimeoutSeconds,
    asset: requirements.asset,
    extra: { ...requirements.extra },
  };
}
