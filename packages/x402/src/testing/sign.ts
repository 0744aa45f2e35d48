/**
 * Test helpers: sign EIP-3009 authorizations with viem local accounts and build x402 payloads, so tests can
 * forge every kind of bad payment. Not exported from the package.
 */
import { randomBytes } from 'node:crypto';
import { type Address, getAddress, type Hex, type LocalAccount } from 'viem';
import { transferWithAuthorizationTypes } from '../verify/typed-data.js';
import { encodeBase64Json } from '../wire/codec.js';
import { eip155ChainId } from '../wire/networks.js';
import type { PaymentPayloadV1, PaymentPayloadV2, PaymentRequirements } from '../wire/schemas.js';

export function randomNonce(): Hex {
  return `0x${randomBytes(32).toString('hex')}`;
}

export interface AuthorizationFields {
  from: Address;
  to: Address;
  value: bigint;
  validAfter: bigint;
  validBefore: bigint;
  nonce: Hex;
}

export interface SignOptions {
  /** Overrides of the signed message. */
  message?: Partial<AuthorizationFields>;
  /** Overrides of the EIP-712 domain (to sign for another token, version or chain). */
  domain?: Partial<{ name: string; version: string; chainId: number; verifyingContract: Address }>;
  /** Now, in seconds (for validBefore = now + maxTimeoutSeconds). Default: the wall clock. */
  nowSeconds?: number;
}

/** Signs a TransferWithAuthorization for `requirements` and returns the message and the signature. */
export async function signAuthorization(
  account: LocalAccount,
  requirements: PaymentRequirements,
  options: SignOptions = {},
) {
  const now = options.nowSeconds ?? Math.floor(Date.now() / 1000);
  const message: AuthorizationFields = {
    from: account.address,
    to: getAddress(requirements.payTo),
    value: BigInt(requirements.amount),
    validAfter: 0n,
    validBefore: BigInt(now + requirements.maxTimeoutSeconds),
    nonce: randomNonce(),
    ...options.message,
  };
  const domain = {
    name: requirements.extra.name,
    version: requirements.extra.version,
    chainId: eip155ChainId(requirements.network) ?? 0,
    verifyingContract: getAddress(requirements.asset),
    ...options.domain,
  };
  if (account.signTypedData === undefined) throw new Error('account cannot sign typed data');
  const signature = await account.signTypedData({
    domain,
    types: transferWithAuthorizationTypes,
    primaryType: 'TransferWithAuthorization',
    message,
  });
  return { message, signature };
}

export function wireAuthorization(message: AuthorizationFields) {
  return {
    from: message.from,
    to: message.to,
    value: message.value.toString(),
    validAfter: message.validAfter.toString(),
    validBefore: message.validBefore.toString(),
    nonce: message.nonce,
  };
}

/** A signed version 2 payload for `requirements` (accepted = requirements, echoed verbatim). */
export async function signPayloadV2(
  account: LocalAccount,
  requirements: PaymentRequirements,
  options: SignOptions & { accepted?: Partial<PaymentRequirements> } = {},
): Promise<PaymentPayloadV2> {
  const { message, signature } = await signAuthorization(account, requirements, options);
  return {
    x402Version: 2,
    resource: { url: 'http://local.test/paid' },
    accepted: { ...requirements, ...options.accepted },
    payload: { signature, authorization: wireAuthorization(message) },
  };
}

/** A signed version 1 payload for `requirements` under the v1 network `name`. */
export async function signPayloadV1(
  account: LocalAccount,
  requirements: PaymentRequirements,
  name: string,
  options: SignOptions = {},
): Promise<PaymentPayloadV1> {
  const { message, signature } = await signAuthorization(account, requirements, options);
  return {
    x402Version: 1,
    scheme: 'exact',
    network: name,
    payload: { signature, authorization: wireAuthorization(message) },
  };
}

export function header(payload: unknown): string {
  return encodeBase64Json(payload);
}
