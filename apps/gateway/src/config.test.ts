import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateTestKeyPair } from '@arrakis/e2e-contracts';
import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  connectionsPerAddressMaxDefault,
  headersTimeoutMsDefault,
  isLoopbackHost,
  parseConfig,
  requestTimeoutMsDefault,
} from './config.js';

function issuesOf(env: Record<string, string>): { variable: string; message: string }[] {
  try {
    parseConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).issues;
  }
  throw new Error('expected a ConfigError');
}

describe('parseConfig', () => {
  it('has documented defaults for an empty environment (development, dev keys)', () => {
    const config = parseConfig({});
    expect(config).toMatchObject({
      port: 3000,
      host: '127.0.0.1',
      dataDir: './.data',
      databaseUrl: undefined,
      redisUrl: undefined,
      logLevel: 'info',
      nodeEnv: 'development',
      jwt: {
        issuer: 'arrakis-gateway',
        algorithms: ['ES256', 'EdDSA'],
        maxTokenAgeSeconds: 3600,
        keys: { kind: 'dev', dataDir: './.data' },
      },
      rateLimit: {
        ipPerMinute: 600,
        principalPerMinute: 300,
        algorithm: 'fixed-window',
        failurePolicy: 'fail-closed',
        keyPrefix: 'rl',
        trustProxyHops: 0,
      },
      ledger: { sweepIntervalMs: 30_000, dbPoolMax: 10 },
      shutdownTimeoutMs: 10_000,
      readyCheckTimeoutMs: 2000,
    });
  });

  it('reads every variable', async () => {
    const keys = await generateTestKeyPair();
    const config = parseConfig({
      PORT: '8080',
      HOST: '0.0.0.0',
      DATA_DIR: '/var/lib/arrakis',
      DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/test',
      REDIS_URL: 'redis://127.0.0.1:6379',
      LOG_LEVEL: 'warn',
      NODE_ENV: 'production',
      JWT_ISSUER: 'https://auth.example',
      JWT_PUBLIC_JWK: JSON.stringify(keys.publicJwk),
      JWT_ALGORITHMS: 'ES256',
      JWT_MAX_TOKEN_AGE_SECONDS: '900',
      RATE_LIMIT_IP_PER_MINUTE: '120',
      RATE_LIMIT_PRINCIPAL_PER_MINUTE: '60',
      RATE_LIMIT_ALGORITHM: 'token-bucket',
      RATE_LIMIT_FAILURE_POLICY: 'fail-closed',
      RATE_LIMIT_KEY_PREFIX: 'prod:rl',
      TRUST_PROXY_HOPS: '1',
      SHUTDOWN_TIMEOUT_MS: '5000',
      READY_CHECK_TIMEOUT_MS: '500',
      LEDGER_SWEEP_INTERVAL_MS: '0',
      LEDGER_DB_POOL_MAX: '25',
    });
    expect(config.port).toBe(8080);
    expect(config.ledger).toEqual({ sweepIntervalMs: 0, dbPoolMax: 25 });
    expect(config.jwt.keys).toEqual({ kind: 'jwks', jwks: { keys: [keys.publicJwk] } });
    expect(config.jwt.algorithms).toEqual(['ES256']);
    expect(config.rateLimit).toEqual({
      ipPerMinute: 120,
      principalPerMinute: 60,
      algorithm: 'token-bucket',
      failurePolicy: 'fail-closed',
      keyPrefix: 'prod:rl',
      trustProxyHops: 1,
    });
  });

  it('has HTTP limits with defaults (128 connections per address, 10 s head, 30 s request), bounded and consistent', () => {
    expect(parseConfig({}).http).toEqual({
      connectionsPerAddressMax: connectionsPerAddressMaxDefault,
      requestTimeoutMs: requestTimeoutMsDefault,
      headersTimeoutMs: headersTimeoutMsDefault,
    });
    expect([connectionsPerAddressMaxDefault, headersTimeoutMsDefault, requestTimeoutMsDefault]).toEqual([
      128, 10_000, 30_000,
    ]);
    const env = {
      HTTP_CONNECTIONS_PER_ADDRESS_MAX: '0',
      HTTP_REQUEST_TIMEOUT_MS: '2000',
      HTTP_HEADERS_TIMEOUT_MS: '500',
    };
    expect(parseConfig(env).http).toEqual({
      connectionsPerAddressMax: 0,
      requestTimeoutMs: 2000,
      headersTimeoutMs: 500,
    });
    const tooSlow = issuesOf({ HTTP_REQUEST_TIMEOUT_MS: '1000', HTTP_HEADERS_TIMEOUT_MS: '2000' });
    expect(tooSlow).toEqual([
      { variable: 'HTTP_HEADERS_TIMEOUT_MS', message: 'must not exceed HTTP_REQUEST_TIMEOUT_MS (1000), got 2000' },
    ]);
    const outOfRange = {
      HTTP_REQUEST_TIMEOUT_MS: '50',
      HTTP_HEADERS_TIMEOUT_MS: '600001',
      HTTP_CONNECTIONS_PER_ADDRESS_MAX: '-1',
    };
    expect(
      issuesOf(outOfRange)
        .map((i) => i.variable)
        .sort(),
    ).toEqual(['HTTP_CONNECTIONS_PER_ADDRESS_MAX', 'HTTP_HEADERS_TIMEOUT_MS', 'HTTP_REQUEST_TIMEOUT_MS']);
  });

  it('bounds the ledger settings', () => {
    expect(issuesOf({ LEDGER_SWEEP_INTERVAL_MS: '3600001', LEDGER_DB_POOL_MAX: '0' }).map((i) => i.variable)).toEqual([
      'LEDGER_SWEEP_INTERVAL_MS',
      'LEDGER_DB_POOL_MAX',
    ]);
    expect(issuesOf({ LEDGER_SWEEP_INTERVAL_MS: '-5' })[0]?.message).toBe('expected a non-negative integer');
  });

  it('refuses a HOST that is not loopback without an explicit NODE_ENV (the dev default prints an admin token)', () => {
    for (const HOST of ['0.0.0.0', '::', '10.0.0.5', 'gateway.internal']) {
      expect(() => parseConfig({ HOST })).toThrow(/NODE_ENV.*not a loopback address/s);
    }
    for (const HOST of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]']) {
      expect(parseConfig({ HOST }).host).toBe(HOST);
    }
    expect(parseConfig({ HOST: '0.0.0.0', NODE_ENV: 'development' }).nodeEnv).toBe('development');
    expect(isLoopbackHost('128.0.0.1')).toBe(false);
  });

  it('treats empty variables as unset', () => {
    expect(parseConfig({ PORT: '', REDIS_URL: '', JWT_PUBLIC_JWK: ' ' }).port).toBe(3000);
  });

  it('accepts a JWK Set and a JWKS URL', async () => {
    const a = await generateTestKeyPair();
    const b = await generateTestKeyPair({ alg: 'EdDSA' });
    const set = parseConfig({ JWT_PUBLIC_JWK: JSON.stringify({ keys: [a.publicJwk, b.publicJwk] }) });
    expect(set.jwt.keys).toEqual({ kind: 'jwks', jwks: { keys: [a.publicJwk, b.publicJwk] } });
    const url = parseConfig({ NODE_ENV: 'production', JWT_JWKS_URL: 'https://auth.example/.well-known/jwks.json' });
    expect(url.jwt.keys).toEqual({ kind: 'jwks-url', url: 'https://auth.example/.well-known/jwks.json' });
  });

  it('lists every invalid variable with a clear message', () => {
    const issues = issuesOf({
      PORT: 'eighty',
      HOST: '',
      LOG_LEVEL: 'loud',
      REDIS_URL: 'http://127.0.0.1:6379',
      DATABASE_URL: 'not a url',
      RATE_LIMIT_IP_PER_MINUTE: '-1',
      RATE_LIMIT_FAILURE_POLICY: 'maybe',
      JWT_MAX_TOKEN_AGE_SECONDS: '0',
    });
    expect(issues.map((i) => i.variable).sort()).toEqual([
      'DATABASE_URL',
      'JWT_MAX_TOKEN_AGE_SECONDS',
      'LOG_LEVEL',
      'PORT',
      'RATE_LIMIT_FAILURE_POLICY',
      'RATE_LIMIT_IP_PER_MINUTE',
      'REDIS_URL',
    ]);
    expect(issues.find((i) => i.variable === 'PORT')?.message).toBe('expected a non-negative integer');
    expect(issues.find((i) => i.variable === 'REDIS_URL')?.message).toBe(
      'expected a URL with scheme redis: or rediss:',
    );
    try {
      parseConfig({ PORT: '70000' });
    } catch (error) {
      expect((error as Error).message).toMatch(/^invalid configuration:\n {2}PORT: /);
    }
  });

  it('refuses algorithms outside ES256/EdDSA', () => {
    for (const value of ['HS256', 'none', 'RS256', 'ES256,HS256', ' , ']) {
      const issues = issuesOf({ JWT_ALGORITHMS: value });
      expect(
        issues.every((i) => i.variable === 'JWT_ALGORITHMS'),
        value,
      ).toBe(true);
    }
  });

  it('refuses private keys, symmetric keys, non-JSON and keys the allowlist cannot use', async () => {
    const keys = await generateTestKeyPair();
    expect(issuesOf({ JWT_PUBLIC_JWK: JSON.stringify(keys.privateJwk) })[0]?.message).toMatch(/private key material/);
    expect(issuesOf({ JWT_PUBLIC_JWK: JSON.stringify({ kty: 'oct', k: 'c2VjcmV0' }) })[0]?.message).toMatch(
      /matches none of JWT_ALGORITHMS/,
    );
    expect(issuesOf({ JWT_PUBLIC_JWK: '{oops' })[0]?.message).toMatch(/not valid JSON/);
    expect(issuesOf({ JWT_PUBLIC_JWK: JSON.stringify(keys.publicJwk), JWT_ALGORITHMS: 'EdDSA' })[0]?.message).toMatch(
      /matches none of JWT_ALGORITHMS \(EdDSA\)/,
    );
  });

  it('refuses ambiguous or insecure key settings', async () => {
    const keys = await generateTestKeyPair();
    expect(
      issuesOf({ JWT_PUBLIC_JWK: JSON.stringify(keys.publicJwk), JWT_JWKS_URL: 'https://a.example/jwks' })[0]?.message,
    ).toMatch(/not both/);
    expect(issuesOf({ NODE_ENV: 'production' })[0]).toMatchObject({
      variable: 'JWT_PUBLIC_JWK',
      message: expect.stringMatching(/required when NODE_ENV=production/),
    });
    expect(issuesOf({ NODE_ENV: 'production', JWT_JWKS_URL: 'http://a.example/jwks' })[0]?.message).toMatch(/https/);
  });

  it('reads METERS (or METERS_FILE) into the meters to seed, and refuses a bad catalog naming the meter', () => {
    const chat = {
      id: 'chat',
      holdMicro: '20000',
      maxCostMicro: '500000',
      ttlSeconds: 120,
      effectiveAt: '2027-01-01T00:00:00Z',
      unitPrices: [{ dimension: 'output_tokens', priceMicro: '15000000', perUnits: '1000000', unitsMax: '100000' }],
    };
    expect(parseConfig({}).economy.meters).toEqual([]);
    const expected = {
      id: 'chat',
      holdMicro: 20_000n,
      maxCostMicro: 500_000n,
      ttlSeconds: 120,
      effectiveAt: new Date('2027-01-01T00:00:00Z'),
      unitPrices: [{ dimension: 'output_tokens', priceMicro: 15_000_000n, perUnits: 1_000_000n, unitsMax: 100_000n }],
    };
    expect(parseConfig({ METERS: JSON.stringify([chat]) }).economy.meters).toEqual([expected]);
    const file = join(mkdtempSync(join(tmpdir(), 'meters-')), 'meters.json');
    writeFileSync(file, JSON.stringify([chat]));
    expect(parseConfig({ METERS_FILE: file }).economy.meters).toEqual([expected]);

    const bad: [Record<string, string>, string, RegExp][] = [
      [{ METERS: '{oops' }, 'METERS', /invalid meter catalog: .*JSON/],
      [{ METERS: '{}' }, 'METERS', /invalid meter catalog: \(root\)/],
      [{ METERS: JSON.stringify([{ ...chat, holdMicro: '007' }]) }, 'METERS', /0\.holdMicro: .*"007"/],
      [{ METERS: JSON.stringify([{ ...chat, createdBy: 'x' }]) }, 'METERS', /0: Unrecognized key/i],
      [{ METERS: JSON.stringify([chat, chat]) }, 'METERS', /meter "chat" is listed twice/],
      [{ METERS: JSON.stringify([chat]), METERS_FILE: file }, 'METERS', /either METERS or METERS_FILE/],
      [{ METERS_FILE: join(tmpdir(), 'no-such-meters.json') }, 'METERS_FILE', /ENOENT/],
    ];
    for (const [env, variable, message] of bad) {
      const issues = issuesOf(env);
      expect(issues, JSON.stringify(env)).toHaveLength(1);
      expect(issues[0]?.variable).toBe(variable);
      expect(issues[0]?.message).toMatch(message);
    }
  });
});
