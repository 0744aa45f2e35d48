import { InvalidX402OptionError } from '../errors.js';

/** A CAIP-2 EVM network id, `eip155:<chainId>`. */
export type Eip155Network = `eip155:${number}`;

const eip155Pattern = /^eip155:([1-9][0-9]{0,15})$/;

/**
 * The chain id of a CAIP-2 `eip155:<chainId>` network, or `null` when `network` is not one (leading zeros, a
 * namespace other than eip155, a chain id beyond 2^53 − 1).
 *
 * @example
 * eip155ChainId('eip155:8453'); // 8453
 * eip155ChainId('base');        // null
 */
export function eip155ChainId(network: unknown): number | null {
  if (typeof network !== 'string') return null;
  const match = eip155Pattern.exec(network);
  if (match === null) return null;
  const chainId = Number(match[1]);
  return Number.isSafeInteger(chainId) ? chainId : null;
}

/**
 * x402 version 1 names of well-known EVM networks and their CAIP-2 ids. Version 1 payloads name the network
 * (`"base-sepolia"`); version 2 uses CAIP-2 (`"eip155:84532"`). Extend it with the paywall's `v1NetworkNames`
 * option for other chains (a v1 client must know the same name).
 */
export const v1NetworkNamesDefault: Readonly<Record<string, Eip155Network>> = Object.freeze({
  ethereum: 'eip155:1',
  sepolia: 'eip155:11155111',
  base: 'eip155:8453',
  'base-sepolia': 'eip155:84532',
  polygon: 'eip155:137',
  'polygon-amoy': 'eip155:80002',
  avalanche: 'eip155:43114',
  'avalanche-fuji': 'eip155:43113',
  celo: 'eip155:42220',
});

/** Longest v1 network name accepted. */
export const v1NetworkNameBytesMax = 64;
const v1NamePattern = /^[a-z0-9][a-z0-9-]{0,63}$/;

/**
 * Validates and merges extra v1 network names over {@link v1NetworkNamesDefault}.
 *
 * @throws {InvalidX402OptionError} when a name is not lower-case letters, digits and dashes (≤ 64) or a value is not `eip155:<chainId>`.
 * @example
 * resolveV1NetworkNames({ 'arrakis-local': 'eip155:31337' });
 */
export function resolveV1NetworkNames(
  extra: Record<string, string> | undefined,
): Readonly<Record<string, Eip155Network>> {
  if (extra === undefined) return v1NetworkNamesDefault;
  if (extra === null || typeof extra !== 'object' || Array.isArray(extra)) {
    throw new InvalidX402OptionError('v1NetworkNames must be an object of { name: "eip155:<chainId>" }');
  }
  const merged: Record<string, Eip155Network> = { ...v1NetworkNamesDefault };
  for (const [name, network] of Object.entries(extra)) {
    if (!v1NamePattern.test(name)) {
      throw new InvalidX402OptionError(
        `v1 network name ${JSON.stringify(name)} must be 1–${v1NetworkNameBytesMax} lower-case letters, digits or dashes`,
      );
    }
    if (eip155ChainId(network) === null) {
      throw new InvalidX402OptionError(
        `v1 network ${JSON.stringify(name)} maps to ${JSON.stringify(network)}, expected "eip155:<chainId>"`,
      );
    }
    merged[name] = network as Eip155Network;
  }
  return Object.freeze(merged);
}

/** The v1 name of a CAIP-2 network in `names`, or `null` when it has none. */
export function v1NameOf(network: string, names: Readonly<Record<string, Eip155Network>>): string | null {
  for (const [name, value] of Object.entries(names)) if (value === network) return name;
  return null;
}
