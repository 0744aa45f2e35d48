import { type Address, getAddress, type Hex } from 'viem';
import { parseUint256Field } from '../wire/amount.js';
import { eip155ChainId } from '../wire/networks.js';
import type { ExactAuthorization, PaymentRequirements } from '../wire/schemas.js';

/** EIP-712 types of EIP-3009 `TransferWithAuthorization`. */
export const transferWithAuthorizationTypes = {
  TransferWithAuthorization: [
    { name: 'from', type: 'address' },
    { name: 'to', type: 'address' },
    { name: 'value', type: 'uint256' },
    { name: 'validAfter', type: 'uint256' },
    { name: 'validBefore', type: 'uint256' },
    { name: 'nonce', type: 'bytes32' },
  ],
} as const;

/** The EIP-712 domain of the token named by `requirements`: `extra.name`, `extra.version`, the chain, the asset. */
export function tokenDomain(requirements: PaymentRequirements): {
  name: string;
  version: string;
  chainId: number;
  verifyingContract: Address;
} {
  const chainId = eip155ChainId(requirements.network);
  if (chainId === null) throw new Error(`assertion failed: requirements.network ${requirements.network} is not eip155`);
  return {
    name: requirements.extra.name,
    version: requirements.extra.version,
    chainId,
    verifyingContract: getAddress(requirements.asset),
  };
}

/** The typed-data message of an authorization, numbers as bigints. */
export function authorizationMessage(authorization: ExactAuthorization): {
  from: Address;
  to: Address;
  value: bigint;
  validAfter: bigint;
  validBefore: bigint;
  nonce: Hex;
} {
  const value = parseUint256Field(authorization.value);
  const validAfter = parseUint256Field(authorization.validAfter);
  const validBefore = parseUint256Field(authorization.validBefore);
  if (value === null || validAfter === null || validBefore === null) {
    throw new Error('assertion failed: authorization numbers were validated by exactAuthorizationSchema');
  }
  return { from: authorization.from, to: authorization.to, value, validAfter, validBefore, nonce: authorization.nonce };
}
