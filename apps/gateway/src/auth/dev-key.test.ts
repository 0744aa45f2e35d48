import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DevKeyError, devKeyFileName, loadOrCreateDevKey } from './dev-key.js';
import { mintToken, TokenOptionError } from './tokens.js';

let dataDir: string;
beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'arrakis-devkey-'));
});
afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

describe('loadOrCreateDevKey', () => {
  it('creates an ES256 private JWK with mode 0600 once, then reuses it', async () => {
    const nested = join(dataDir, 'a', 'b');
    const first = await loadOrCreateDevKey(nested);
    expect(first.created).toBe(true);
    expect(first.alg).toBe('ES256');
    const file = join(nested, devKeyFileName);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const jwk = JSON.parse(await readFile(file, 'utf8'));
    expect(jwk).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig', kid: first.kid });
    expect(typeof jwk.d).toBe('string');
    expect(first.publicJwk.d).toBeUndefined();

    const second = await loadOrCreateDevKey(nested);
    expect(second.created).toBe(false);
    expect(second.kid).toBe(first.kid);
    expect(second.publicJwk).toEqual(first.publicJwk);
  });

  it('gives every concurrent caller the same key', async () => {
    const keys = await Promise.all(Array.from({ length: 8 }, () => loadOrCreateDevKey(dataDir)));
    expect(new Set(keys.map((k) => k.kid)).size).toBe(1);
    expect(keys.filter((k) => k.created).length).toBe(1);
  });

  it('refuses a corrupt or foreign key file with a hint', async () => {
    await writeFile(join(dataDir, devKeyFileName), '{"kty":"oct","k":"c2VjcmV0"}');
    await expect(loadOrCreateDevKey(dataDir)).rejects.toThrow(DevKeyError);
    await writeFile(join(dataDir, devKeyFileName), 'nope');
    await expect(loadOrCreateDevKey(dataDir)).rejects.toThrow(/delete it to generate a new dev key/);
  });
});

describe('mintToken', () => {
  it('signs a token the dev key set verifies, with the claims the gateway requires', async () => {
    const key = await loadOrCreateDevKey(dataDir);
    const nowMs = Date.UTC(2026, 0, 1);
    const { token, expiresAtMs } = await mintToken({
      privateKey: key.privateKey,
      kid: key.kid,
      alg: 'ES256',
      issuer: 'arrakis-gateway',
      audience: 'arrakis-admin',
      sub: 'alice',
      scopes: ['admin', 'rules:approve'],
      ttlSeconds: 900,
      nowMs,
    });
    expect(expiresAtMs).toBe(nowMs + 900_000);
    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet({ keys: [key.publicJwk] }), {
      algorithms: ['ES256'],
      currentDate: new Date(nowMs),
    });
    expect(protectedHeader).toEqual({ alg: 'ES256', kid: key.kid, typ: 'JWT' });
    expect(payload).toEqual({
      iss: 'arrakis-gateway',
      aud: 'arrakis-admin',
      sub: 'alice',
      scope: 'admin rules:approve',
      iat: nowMs / 1000,
      exp: nowMs / 1000 + 900,
    });
  });

  it('refuses bad options before signing', async () => {
    const key = await loadOrCreateDevKey(dataDir);
    const base = {
      privateKey: key.privateKey,
      kid: key.kid,
      alg: 'ES256' as const,
      issuer: 'arrakis-gateway',
      audience: 'arrakis-api' as const,
      sub: 'alice',
      ttlSeconds: 60,
      nowMs: Date.now(),
    };
    await expect(mintToken({ ...base, audience: 'arrakis-root' as 'arrakis-api' })).rejects.toThrow(TokenOptionError);
    await expect(mintToken({ ...base, sub: '' })).rejects.toThrow(/sub must be/);
    await expect(mintToken({ ...base, sub: 'x'.repeat(257) })).rejects.toThrow(/sub must be/);
    await expect(mintToken({ ...base, scopes: ['has space'] })).rejects.toThrow(/scope/);
    await expect(mintToken({ ...base, ttlSeconds: 0 })).rejects.toThrow(/ttlSeconds/);
    await expect(mintToken({ ...base, ttlSeconds: 86_401 })).rejects.toThrow(/ttlSeconds/);
  });
});
