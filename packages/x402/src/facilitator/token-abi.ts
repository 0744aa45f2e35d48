import { parseAbi } from 'viem';

/**
 * The parts of an EIP-3009 token (e.g. USDC) this package calls: `authorizationState`, `balanceOf`, `decimals`,
 * `transferWithAuthorization` with the signature split into (v, r, s) — the form every EIP-3009 token has — and
 * the `AuthorizationUsed` and `Transfer` events.
 */
export const eip3009Abi = parseAbi([
  'function authorizationState(address authorizer, bytes32 nonce) view returns (bool)',
  'function balanceOf(address account) view returns (uint256)',
  'function decimals() view returns (uint8)',
  'function transferWithAuthorization(address from, address to, uint256 value, uint256 validAfter, uint256 validBefore, bytes32 nonce, uint8 v, bytes32 r, bytes32 s)',
  'event AuthorizationUsed(address indexed authorizer, bytes32 indexed nonce)',
  'event Transfer(address indexed from, address indexed to, uint256 value)',
]);
