import { BaseError, ContractFunctionRevertedError, ContractFunctionZeroDataError } from 'viem';
import { X402Error } from '../errors.js';

/**
 * The short message of a viem error (its `shortMessage`), else the error's message.
 *
 * @example
 * shortMessage(new Error('socket hang up')); // 'socket hang up'
 */
export function shortMessage(error: unknown): string {
  if (
    error !== null &&
    typeof error === 'object' &&
    'shortMessage' in error &&
    typeof error.shortMessage === 'string'
  ) {
    return error.shortMessage;
  }
  return error instanceof Error ? error.message : String(error);
}

/**
 * The error of a chain read or write the RPC could not answer: `X402Error` `facilitator_unavailable` (HTTP 502)
 * with the RPC error as `cause`. The outcome is unknown, so callers must not record a failure.
 *
 * @example
 * throw rpcUnavailable('resolve', error);
 */
export function rpcUnavailable(operation: string, cause: unknown): X402Error {
  return new X402Error('facilitator_unavailable', `the chain RPC failed during ${operation}: ${shortMessage(cause)}`, {
    cause,
  });
}

/**
 * Whether a failed contract call was answered by the chain (the call reverted, or the address has no code)
 * rather than failed in transport.
 *
 * @example
 * if (isContractAnswer(error)) throw new InvalidX402OptionError(`asset ${asset} has no decimals()`);
 */
export function isContractAnswer(error: unknown): boolean {
  if (!(error instanceof BaseError)) return false;
  return (
    error.walk(
      (inner) => inner instanceof ContractFunctionZeroDataError || inner instanceof ContractFunctionRevertedError,
    ) !== null
  );
}
