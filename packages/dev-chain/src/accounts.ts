import { pbkdf2Sync } from 'node:crypto';
import { type Address, type Hex, toHex } from 'viem';
import { HDKey, mnemonicToAccount, privateKeyToAddress } from 'viem/accounts';
import { DevChainError } from './errors.js';

/** Hardhat's well-known default mnemonic: its accounts are public, never use them outside tests. */
export const defaultMnemonic = 'test test test test test test test test test test test junk';

/** Most accounts one node can be asked for. */
export const accountCountMax = 100;

/** A funded account of the dev chain. */
export interface DevChainAccount {
  address: Address;
  privateKey: Hex;
}

/**
 * Derives `count` accounts from a BIP-39 mnemonic on the Ethereum path `m/44'/60'/0'/0/<index>`, the
 * same accounts Hardhat derives for that mnemonic.
 *
 * @throws {DevChainError} `invalid_option` when `count` is not an integer in 1..100 or the mnemonic is
 *   not a valid BIP-39 English mnemonic.
 * @example
 * ```ts
 * const [deployer, payer] = deriveAccounts(defaultMnemonic, 2);
 * ```
 */
export function deriveAccounts(mnemonic: string, count: number): DevChainAccount[] {
  if (!Number.isInteger(count) || count < 1 || count > accountCountMax) {
    throw new DevChainError('invalid_option', `accountCount must be an integer in 1..${accountCountMax}, got ${count}`);
  }
  let first: Address;
  try {
    // viem validates the mnemonic (word list and checksum); it hashes the seed on every call, so it is
    // used once and the rest are derived from one seed below.
    first = mnemonicToAccount(mnemonic).address;
  } catch (cause) {
    throw new DevChainError('invalid_option', 'mnemonic is not a valid BIP-39 English mnemonic', { cause });
  }
  // BIP-39 seed: PBKDF2-HMAC-SHA512(mnemonic, "mnemonic" + passphrase, 2048 rounds, 64 bytes).
  const seed = new Uint8Array(pbkdf2Sync(mnemonic.normalize('NFKD'), 'mnemonic', 2048, 64, 'sha512'));
  const master = HDKey.fromMasterSeed(seed);
  const accounts: DevChainAccount[] = [];
  for (let index = 0; index < count; index++) {
    const hdKey = master.derive(`m/44'/60'/0'/0/${index}`);
    if (hdKey.privateKey === null) throw new Error(`assertion failed: no private key at index ${index}`);
    const privateKey = toHex(hdKey.privateKey);
    accounts.push({ address: privateKeyToAddress(privateKey), privateKey });
  }
  if (accounts[0]?.address !== first) throw new Error('assertion failed: seed derivation disagrees with viem');
  return accounts;
}
