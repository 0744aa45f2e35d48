import {
  type Address,
  getAddress,
  type Hex,
  hexToBigInt,
  isAddress,
  isAddressEqual,
  recoverTypedDataAddress,
} from 'viem';
import { type Clock, nowSeconds, systemClock } from '../clock.js';
import { InvalidX402OptionError, X402Error } from '../errors.js';
import { parseRequirementsList } from '../requirements.js';
import { parseAtomicAmount } from '../wire/amount.js';
import { type Eip155Network, eip155ChainId, v1NetworkNamesDefault } from '../wire/networks.js';
import {
  type ExactAuthorization,
  type ExactEvmPayload,
  exactEvmPayloadSchema,
  type PaymentPayload,
  type PaymentPayloadV2,
  type PaymentRequirements,
  paymentPayloadV1Schema,
  paymentPayloadV2Schema,
} from '../wire/schemas.js';
import { authorizationMessage, tokenDomain, transferWithAuthorizationTypes } from './typed-data.js';

/** Default safety margin: `validBefore` must be at least this many seconds ahead (the official facilitator's 6 s). */
export const validBeforeMarginSecondsDefault = 6;
/** Largest margin accepted. */
export const validBeforeMarginSecondsMax = 3_600;

/** Half the secp256k1 group order: signatures with a larger `s` are malleable and refused on chain (EIP-2). */
const secp256k1HalfOrder = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n;

/** A payment whose authorization was checked against an offered requirement: what `onPaid` receives. */
export interface VerifiedPayment {
  /**
   * Stable unique key of this payment: `<network>:<asset>:<payer>:<nonce>` (addresses and nonce lower-case),
   * the EIP-3009 uniqueness of `(token, authorizer, nonce)`. Record the payment under it (unique) so it mints once.
   */
  reference: string;
  x402Version: 1 | 2;
  scheme: 'exact';
  network: Eip155Network;
  chainId: number;
  /** Token contract (checksummed). */
  asset: Address;
  /** Who pays: `authorization.from` (checksummed). */
  payer: Address;
  payTo: Address;
  /** The amount in the token's smallest unit (6-decimal USD tokens: micro-USD). */
  amountAtomic: bigint;
  /** EIP-3009 nonce, lower-case 0x + 64 hex. */
  nonce: Hex;
  validAfter: bigint;
  validBefore: bigint;
  signature: Hex;
  /** The authorization as sent (addresses checksummed, numbers as strings). */
  authorization: ExactAuthorization;
  /** The decoded payment payload as the client sent it. */
  payload: PaymentPayload;
  /** The offered requirement this payment matched. */
  requirements: PaymentRequirements;
}

/** Options of {@link verifyExactPayment}. */
export interface VerifyExactPaymentOptions {
  /** The decoded payment payload (JSON of `PAYMENT-SIGNATURE` or `X-PAYMENT`), unvalidated. */
  payload: unknown;
  /** What was offered; the payment must match one of them exactly. */
  requirements: PaymentRequirements | readonly PaymentRequirements[];
  /** Time source of the validity window. Default: the wall clock. */
  clock?: Clock;
  /** `validBefore` must be at least this far ahead, so settlement can still land. Default 6 s. */
  validBeforeMarginSeconds?: number;
  /** v1 network names (payloads of version 1 name their network). Default: `v1NetworkNamesDefault`. */
  v1NetworkNames?: Readonly<Record<string, Eip155Network>>;
  /** `false` skips the validity window (a facilitator looking up an already settled authorization). Default true. */
  checkWindow?: boolean;
}

/**
 * Builds the stable unique key of a payment: `<network>:<asset>:<payer>:<nonce>`, lower-case.
 *
 * @example
 * paymentReference({ network: 'eip155:8453', asset, payer, nonce }); // 'eip155:8453:0x8335…:0x7099…:0x5f3a…'
 */
export function paymentReference(parts: { network: string; asset: string; payer: string; nonce: string }): string {
  return `${parts.network}:${parts.asset.toLowerCase()}:${parts.payer.toLowerCase()}:${parts.nonce.toLowerCase()}`;
}

function fail(
  code: ConstructorParameters<typeof X402Error>[0],
  message: string,
  details?: Record<string, unknown>,
): never {
  throw new X402Error(code, message, details === undefined ? {} : { details });
}

function issuesOf(error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] }): string[] {
  return error.issues.map((issue) => `${issue.path.map(String).join('.') || '(root)'}: ${issue.message}`);
}

function sameAddress(a: string, b: string): boolean {
  return isAddress(a, { strict: false }) && isAddress(b, { strict: false }) && isAddressEqual(a, b);
}

/** Whether every key of `expected` is deep-equal in `actual` (the official `extra` subset rule). */
function containsSubset(expected: unknown, actual: unknown): boolean {
  if (expected === null || typeof expected !== 'object' || Array.isArray(expected)) {
    return JSON.stringify(expected) === JSON.stringify(actual);
  }
  if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return false;
  return Object.entries(expected).every(([key, value]) =>
    containsSubset(value, (actual as Record<string, unknown>)[key]),
  );
}

/** Picks the offered requirement a version 2 payload's `accepted` echoes, failing with the most specific code. */
function selectV2(
  accepted: PaymentPayloadV2['accepted'],
  offered: readonly PaymentRequirements[],
): PaymentRequirements {
  let candidates = offered.filter((r) => r.scheme === accepted.scheme);
  if (candidates.length === 0) {
    fail('unsupported_scheme', `scheme ${JSON.stringify(accepted.scheme)} is not offered; expected "exact"`, {
      scheme: accepted.scheme,
    });
  }
  candidates = candidates.filter((r) => r.network === accepted.network);
  if (candidates.length === 0) {
    fail('network_mismatch', `network ${JSON.stringify(accepted.network)} is not offered`, {
      network: accepted.network,
      expected: offered.map((r) => r.network),
    });
  }
  candidates = candidates.filter((r) => sameAddress(r.asset, accepted.asset));
  if (candidates.length === 0) {
    fail('asset_mismatch', `asset ${JSON.stringify(accepted.asset)} is not offered on ${accepted.network}`, {
      asset: accepted.asset,
    });
  }
  candidates = candidates.filter((r) => sameAddress(r.payTo, accepted.payTo));
  if (candidates.length === 0) {
    fail('pay_to_mismatch', `accepted.payTo ${JSON.stringify(accepted.payTo)} is not the offered recipient`, {
      payTo: accepted.payTo,
    });
  }
  const priced = candidates.filter((r) => r.amount === accepted.amount);
  if (priced.length === 0) {
    fail('amount_mismatch', `accepted.amount ${JSON.stringify(accepted.amount)} is not the offered amount`, {
      amount: accepted.amount,
      expected: candidates.map((r) => r.amount),
    });
  }
  const exact = priced.filter(
    (r) => r.maxTimeoutSeconds === accepted.maxTimeoutSeconds && containsSubset(r.extra, accepted.extra ?? undefined),
  );
  const selected = exact[0];
  if (selected === undefined) {
    fail('requirements_mismatch', 'accepted differs from the offered requirement in maxTimeoutSeconds or extra', {
      maxTimeoutSeconds: accepted.maxTimeoutSeconds,
    });
  }
  return selected;
}

/** Checks the authorization against one requirement; returns the recovered-and-checked payment parts. */
async function checkAuthorization(
  exact: ExactEvmPayload,
  requirements: PaymentRequirements,
  window: { now: bigint; marginSeconds: bigint } | null,
): Promise<void> {
  const message = authorizationMessage(exact.authorization);
  if (!isAddressEqual(message.to, requirements.payTo)) {
    fail('pay_to_mismatch', `authorization pays ${message.to}, expected ${requirements.payTo}`, {
      to: message.to,
      payTo: requirements.payTo,
    });
  }
  const amount = parseAtomicAmount(requirements.amount);
  if (amount === null) throw new Error('assertion failed: offered amount was validated');
  if (message.value !== amount) {
    fail('amount_mismatch', `authorization value ${message.value} is not exactly the required ${amount}`, {
      valueAtomic: message.value.toString(),
      amountAtomic: amount.toString(),
    });
  }
  if (window !== null) {
    if (message.validAfter >= window.now) {
      fail(
        'authorization_not_yet_valid',
        `authorization is valid only after ${message.validAfter} (now ${window.now})`,
        {
          validAfter: message.validAfter.toString(),
          now: window.now.toString(),
        },
      );
    }
    if (message.validBefore < window.now + window.marginSeconds) {
      fail(
        'authorization_expired',
        `authorization expired: validBefore ${message.validBefore} is not at least ${window.marginSeconds} s after now ${window.now}`,
        { validBefore: message.validBefore.toString(), now: window.now.toString() },
      );
    }
  }
  const signature = exact.signature;
  const s = hexToBigInt(`0x${signature.slice(66, 130)}`);
  const v = Number.parseInt(signature.slice(130, 132), 16);
  if (s > secp256k1HalfOrder || !(v === 27 || v === 28 || v === 0 || v === 1)) {
    fail('invalid_signature', 'signature is not a canonical 65-byte ECDSA signature (high s or bad v)', { v });
  }
  let recovered: Address;
  try {
    recovered = await recoverTypedDataAddress({
      domain: tokenDomain(requirements),
      types: transferWithAuthorizationTypes,
      primaryType: 'TransferWithAuthorization',
      message,
      signature,
    });
  } catch (cause) {
    throw new X402Error('invalid_signature', 'signature does not recover to an address', { cause });
  }
  if (!isAddressEqual(recovered, message.from)) {
    fail(
      'invalid_signature',
      `signature recovers to ${recovered}, not to authorization.from ${message.from}, for token ${requirements.asset} ("${requirements.extra.name}" v${requirements.extra.version}) on ${requirements.network}`,
      { recovered, from: message.from },
    );
  }
}

/**
 * Verifies an x402 `exact` EVM payment (version 2 `PAYMENT-SIGNATURE` or version 1 `X-PAYMENT` payload) against
 * the offered requirements, without I/O: payload shape (zod), scheme, network, asset, recipient, exact amount,
 * the `validAfter`/`validBefore` window against the clock, a canonical 65-byte signature, and the EIP-712
 * `TransferWithAuthorization` signature recovered with viem against the token's domain (`extra.name`,
 * `extra.version`, chain id, asset). Whether the nonce is unused is for the facilitator (on chain) and the
 * payment record (in the database).
 *
 * Checks run in this order, and the first failure is thrown: `unsupported_version`, `malformed_payment`,
 * `unsupported_scheme`, `network_mismatch`, `asset_mismatch`, `pay_to_mismatch`, `amount_mismatch`,
 * `requirements_mismatch`, `authorization_not_yet_valid`, `authorization_expired`, `invalid_signature`.
 *
 * @throws {X402Error} with the code of the first failed check.
 * @throws {InvalidX402OptionError} when `requirements` or an option is invalid.
 * @example
 * const payload = decodeBase64Json(c.req.header('PAYMENT-SIGNATURE')!);
 * const payment = await verifyExactPayment({ payload, requirements, clock });
 * payment.reference; // 'eip155:8453:0x8335…:0x7099…:0x5f3a…'
 */
export async function verifyExactPayment(options: VerifyExactPaymentOptions): Promise<VerifiedPayment> {
  const offered = parseRequirementsList(options.requirements, 'verifyExactPayment().requirements');
  const clock = options.clock ?? systemClock;
  const marginSeconds = options.validBeforeMarginSeconds ?? validBeforeMarginSecondsDefault;
  if (!Number.isInteger(marginSeconds) || marginSeconds < 0 || marginSeconds > validBeforeMarginSecondsMax) {
    throw new InvalidX402OptionError(
      `validBeforeMarginSeconds ${JSON.stringify(marginSeconds)} must be an integer in 0..${validBeforeMarginSecondsMax}`,
    );
  }
  const names = options.v1NetworkNames ?? v1NetworkNamesDefault;
  const raw = options.payload;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    fail('malformed_payment', 'payment payload must be a JSON object');
  }
  const version = (raw as { x402Version?: unknown }).x402Version;
  if (version !== 1 && version !== 2) {
    if (version === undefined) fail('malformed_payment', 'payment payload has no x402Version');
    fail('unsupported_version', `x402Version ${JSON.stringify(version)} is not supported; expected 2 (or 1)`, {
      x402Version: version,
    });
  }

  let payload: PaymentPayload;
  let scheme: string;
  let candidates: PaymentRequirements[];
  if (version === 2) {
    const parsed = paymentPayloadV2Schema.safeParse(raw);
    if (!parsed.success) {
      fail('malformed_payment', 'payment payload is not a version 2 PaymentPayload', {
        issues: issuesOf(parsed.error),
      });
    }
    payload = parsed.data;
    scheme = parsed.data.accepted.scheme;
    if (scheme !== 'exact')
      fail('unsupported_scheme', `scheme ${JSON.stringify(scheme)} is not supported; expected "exact"`);
    candidates = [selectV2(parsed.data.accepted, offered)];
  } else {
    const parsed = paymentPayloadV1Schema.safeParse(raw);
    if (!parsed.success) {
      fail('malformed_payment', 'payment payload is not a version 1 PaymentPayload', {
        issues: issuesOf(parsed.error),
      });
    }
    payload = parsed.data;
    scheme = parsed.data.scheme;
    if (scheme !== 'exact')
      fail('unsupported_scheme', `scheme ${JSON.stringify(scheme)} is not supported; expected "exact"`);
    const network = eip155ChainId(parsed.data.network) !== null ? parsed.data.network : names[parsed.data.network];
    if (network === undefined) {
      fail('network_mismatch', `version 1 network ${JSON.stringify(parsed.data.network)} is not a known network name`, {
        network: parsed.data.network,
      });
    }
    candidates = offered.filter((r) => r.network === network);
    if (candidates.length === 0) {
      fail('network_mismatch', `network ${JSON.stringify(parsed.data.network)} (${network}) is not offered`, {
        network: parsed.data.network,
      });
    }
  }

  const exactParsed = exactEvmPayloadSchema.safeParse(payload.payload);
  if (!exactParsed.success) {
    fail('malformed_payment', 'payload is not an exact EVM payload (signature + EIP-3009 authorization)', {
      issues: issuesOf(exactParsed.error),
    });
  }
  const exact = exactParsed.data;
  const window =
    options.checkWindow === false ? null : { now: nowSeconds(clock), marginSeconds: BigInt(marginSeconds) };

  // Version 2 names one requirement; version 1 may fit several (one per token on the network): the first that
  // verifies wins, and the first candidate's failure is reported when none does.
  let firstError: unknown;
  let selected: PaymentRequirements | undefined;
  for (const candidate of candidates) {
    try {
      await checkAuthorization(exact, candidate, window);
      selected = candidate;
      break;
    } catch (error) {
      firstError ??= error;
    }
  }
  if (selected === undefined) throw firstError;

  const message = authorizationMessage(exact.authorization);
  const chainId = eip155ChainId(selected.network);
  if (chainId === null) throw new Error('assertion failed: offered network is eip155');
  return {
    reference: paymentReference({
      network: selected.network,
      asset: selected.asset,
      payer: message.from,
      nonce: message.nonce,
    }),
    x402Version: version,
    scheme: 'exact',
    network: selected.network,
    chainId,
    asset: getAddress(selected.asset),
    payer: getAddress(message.from),
    payTo: getAddress(selected.payTo),
    amountAtomic: message.value,
    nonce: message.nonce,
    validAfter: message.validAfter,
    validBefore: message.validBefore,
    signature: exact.signature,
    authorization: exact.authorization,
    payload,
    requirements: selected,
  };
}
