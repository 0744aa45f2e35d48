import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from './config.js';
import { paymentsSummary } from './payments-config.js';

// Hardhat's first public test key and account (never holds real funds).
const signerKey = '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80';
const signerAddress = '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266';
const asset = '0x5FbDB2315678afecb367f032d93F642f64180aa3';
const payTo = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8';

const local = {
  NODE_ENV: 'test',
  X402_ENABLED: 'true',
  X402_NETWORK: 'eip155:31337',
  X402_ASSET: asset,
  X402_PAY_TO: payTo,
  X402_RPC_URL: 'http://127.0.0.1:8545',
  X402_SIGNER_KEY: signerKey,
};

function issuesOf(env: Record<string, string>): { variable: string; message: string }[] {
  try {
    parseConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).issues;
  }
  throw new Error(`accepted ${JSON.stringify(env)}`);
}

describe('X402_* configuration', () => {
  it('is off by default, and other X402_* variables are ignored while off', () => {
    expect(parseConfig({ NODE_ENV: 'test' }).payments).toEqual({ enabled: false });
    expect(parseConfig({ NODE_ENV: 'test', X402_ENABLED: 'false', X402_ASSET: 'nonsense' }).payments).toEqual({
      enabled: false,
    });
  });

  it('reads a local facilitator setup with defaults for the token domain and the timeout', () => {
    const payments = parseConfig({ ...local, X402_ASSET: asset.toLowerCase() }).payments;
    if (!payments.enabled) throw new Error('payments should be on');
    expect(payments).toMatchObject({
      network: 'eip155:31337',
      asset, // checksummed
      payTo,
      tokenName: 'USD Coin',
      tokenVersion: '2',
      maxTimeoutSeconds: 300,
      facilitator: { kind: 'local', rpcUrl: 'http://127.0.0.1:8545', signer: { address: signerAddress } },
    });
    if (payments.facilitator.kind !== 'local') throw new Error('local facilitator expected');
    expect(payments.facilitator.signer.key()).toBe(signerKey);
  });

  it('never exposes the signer key when the config is serialised or summarised', () => {
    const config = parseConfig(local);
    const serialised = JSON.stringify(config, (_key, value) => (typeof value === 'bigint' ? value.toString() : value));
    expect(serialised).toContain(signerAddress);
    expect(serialised).not.toContain(signerKey.slice(2));
    expect(JSON.stringify(paymentsSummary(config.payments))).not.toContain(signerKey.slice(2));
    expect(paymentsSummary(config.payments)).toMatchObject({ facilitator: { kind: 'local', signer: signerAddress } });
  });

  it('reads an http facilitator', () => {
    const payments = parseConfig({
      ...local,
      X402_SIGNER_KEY: '',
      X402_FACILITATOR: 'http',
      X402_FACILITATOR_URL: 'https://facilitator.example/x402',
      X402_TOKEN_NAME: 'USDC',
      X402_MAX_TIMEOUT_SECONDS: '120',
    }).payments;
    expect(payments).toMatchObject({
      enabled: true,
      tokenName: 'USDC',
      maxTimeoutSeconds: 120,
      rpcUrl: 'http://127.0.0.1:8545',
      facilitator: { kind: 'http', url: 'https://facilitator.example/x402' },
    });
  });

  it('needs X402_RPC_URL with either facilitator, and reads the settlement timings', () => {
    const http = { X402_FACILITATOR: 'http', X402_FACILITATOR_URL: 'https://facilitator.example/x402' };
    expect(issuesOf({ ...local, ...http, X402_RPC_URL: '' }).map((i) => i.variable)).toEqual(['X402_RPC_URL']);
    const defaults = parseConfig(local).payments;
    expect(defaults).toMatchObject({ settlement: { leaseMs: 120_000, retryMs: 15_000, reconcileIntervalMs: 15_000 } });
    const tuned = parseConfig({
      ...local,
      X402_PAYMENT_LEASE_MS: '5000',
      X402_PAYMENT_RETRY_MS: '500',
      X402_RECONCILE_INTERVAL_MS: '0',
    }).payments;
    expect(tuned).toMatchObject({ settlement: { leaseMs: 5_000, retryMs: 500, reconcileIntervalMs: 0 } });
    const bads: Record<string, string>[] = [
      { X402_PAYMENT_LEASE_MS: '999' },
      { X402_PAYMENT_RETRY_MS: 'soon' },
      { X402_RECONCILE_INTERVAL_MS: '-1' },
    ];
    for (const bad of bads) {
      expect(issuesOf({ ...local, ...bad }).map((i) => i.variable)).toEqual(Object.keys(bad));
    }
  });

  it('requires what the facilitator needs once enabled, naming each variable', () => {
    expect(issuesOf({ NODE_ENV: 'test', X402_ENABLED: 'true' }).map((i) => i.variable)).toEqual([
      'X402_NETWORK',
      'X402_ASSET',
      'X402_PAY_TO',
    ]);
    expect(issuesOf({ ...local, X402_RPC_URL: '', X402_SIGNER_KEY: '' }).map((i) => i.variable)).toEqual([
      'X402_RPC_URL',
      'X402_SIGNER_KEY',
    ]);
    expect(issuesOf({ ...local, X402_FACILITATOR: 'http' }).map((i) => i.variable)).toEqual(['X402_FACILITATOR_URL']);
    expect(
      issuesOf({
        ...local,
        NODE_ENV: 'production',
        JWT_JWKS_URL: 'https://keys.example/jwks.json',
        X402_FACILITATOR: 'http',
        X402_FACILITATOR_URL: 'http://facilitator.example',
      }),
    ).toEqual([{ variable: 'X402_FACILITATOR_URL', message: 'must be an https URL when NODE_ENV=production' }]);
  });

  it('refuses malformed values, naming the variable and never echoing the key', () => {
    const bad: Record<string, string>[] = [
      { X402_ENABLED: 'yes' },
      { X402_NETWORK: 'base-sepolia' },
      { X402_NETWORK: 'eip155:0' },
      { X402_ASSET: '0x1234' },
      { X402_ASSET: '0x5fbDB2315678afecb367f032d93F642f64180aa3' }, // bad EIP-55 checksum
      { X402_PAY_TO: 'alice' },
      { X402_FACILITATOR: 'remote' },
      { X402_RPC_URL: 'ws://127.0.0.1:8545' },
      { X402_SIGNER_KEY: `${signerKey}00` },
      { X402_SIGNER_KEY: `0x${'0'.repeat(64)}` }, // not a valid secp256k1 key
      { X402_MAX_TIMEOUT_SECONDS: '0' },
      { X402_MAX_TIMEOUT_SECONDS: '86401' },
      { X402_TOKEN_NAME: 'x'.repeat(65) },
    ];
    for (const env of bad) {
      const issues = issuesOf({ ...local, ...env });
      expect(issues.map((i) => i.variable)).toEqual(Object.keys(env));
      expect(JSON.stringify(issues)).not.toContain(signerKey.slice(2, 20));
    }
  });
});
