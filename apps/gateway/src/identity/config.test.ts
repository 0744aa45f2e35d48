import { generateAnchorSigningKey } from '@arrakis/identity-trust';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../config.js';

function issuesOf(env: Record<string, string>): string[] {
  try {
    parseConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.issues.map((i) => i.variable);
    throw error;
  }
  return [];
}

describe('identity configuration', () => {
  it('has documented defaults', () => {
    const config = parseConfig({ DATA_DIR: '/tmp/x' });
    expect(config.identity).toEqual({
      trust: { enabled: true, thresholdMicro: 100_000_000n },
      anchorTokens: { audience: 'arrakis-services', ttlSeconds: 300, keys: { kind: 'file', dataDir: '/tmp/x' } },
      rotationTtlMs: 86_400_000,
      chainRpcUrl: undefined,
      siwe: { domain: 'localhost', scheme: undefined },
    });
  });

  it('reads every variable', async () => {
    const { privateJwk } = await generateAnchorSigningKey();
    const config = parseConfig({
      TRUST_POLICY_ENABLED: 'false',
      TRUST_THRESHOLD_MICRO: '5000000',
      ANCHOR_TOKEN_AUDIENCE: 'spend-svc',
      ANCHOR_TOKEN_TTL_SECONDS: '600',
      ANCHOR_SIGNING_JWKS: JSON.stringify({ keys: [privateJwk] }),
      ANCHOR_ROTATION_TTL_SECONDS: '3600',
      CHAIN_RPC_URL: 'http://127.0.0.1:8545',
      SIWE_DOMAIN: 'api.example.com',
      SIWE_SCHEME: 'https',
    });
    expect(config.identity).toEqual({
      trust: { enabled: false, thresholdMicro: 5_000_000n },
      anchorTokens: { audience: 'spend-svc', ttlSeconds: 600, keys: { kind: 'env', keys: [privateJwk] } },
      rotationTtlMs: 3_600_000,
      chainRpcUrl: 'http://127.0.0.1:8545',
      siwe: { domain: 'api.example.com', scheme: 'https' },
    });
  });

  it.each([
    ['TRUST_POLICY_ENABLED', 'yes'],
    ['TRUST_THRESHOLD_MICRO', '1e8'],
    ['TRUST_THRESHOLD_MICRO', '-1'],
    ['TRUST_THRESHOLD_MICRO', '1000000000000001'],
    ['ANCHOR_TOKEN_TTL_SECONDS', '601'],
    ['ANCHOR_TOKEN_TTL_SECONDS', '0'],
    ['ANCHOR_ROTATION_TTL_SECONDS', '59'],
    ['CHAIN_RPC_URL', 'ftp://node'],
    ['SIWE_DOMAIN', 'https://api.example.com'],
    ['ANCHOR_SIGNING_JWKS', '{'],
    ['ANCHOR_SIGNING_JWKS', '{"keys":[]}'],
    ['ANCHOR_SIGNING_JWKS', '{"keys":[{"kty":"EC","kid":"public-only"}]}'],
  ])('refuses %s=%s', (variable, value) => {
    expect(issuesOf({ [variable]: value })).toContain(variable);
  });
});
