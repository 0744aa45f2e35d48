import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateAnchorSigningKey } from '@arrakis/identity-trust';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { anchorKeyFileName, loadAnchorKeys, retireAnchorKeyFile, rotateAnchorKeyFile } from './anchor-keys.js';

let dataDir: string;
beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'arrakis-anchor-keys-'));
});
afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

describe('anchor signing keys', () => {
  it('are generated once in DATA_DIR (mode 0600) and reused', async () => {
    const first = await loadAnchorKeys({ kind: 'file', dataDir });
    expect(first.created).toBe(true);
    expect(first.ring.keys.length).toBe(1);
    expect(first.ring.signingKey.alg).toBe('ES256');
    const path = join(dataDir, anchorKeyFileName);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const second = await loadAnchorKeys({ kind: 'file', dataDir });
    expect(second.created).toBe(false);
    expect(second.ring.signingKey.kid).toBe(first.ring.signingKey.kid);
  });

  it('two processes starting together end up with one key', async () => {
    const [a, b] = await Promise.all([
      loadAnchorKeys({ kind: 'file', dataDir }),
      loadAnchorKeys({ kind: 'file', dataDir }),
    ]);
    expect(a.ring.signingKey.kid).toBe(b.ring.signingKey.kid);
    expect([a.created, b.created].filter(Boolean).length).toBe(1);
  });

  it('rotate puts a new signing key first and keeps the old one; retire removes it', async () => {
    const before = await loadAnchorKeys({ kind: 'file', dataDir });
    const oldKid = before.ring.signingKey.kid;
    const newKid = await rotateAnchorKeyFile(dataDir, { alg: 'EdDSA' });
    const during = await loadAnchorKeys({ kind: 'file', dataDir });
    expect(during.ring.signingKey.kid).toBe(newKid);
    expect(during.ring.signingKey.alg).toBe('EdDSA');
    expect(during.ring.jwks().keys.map((k) => k.kid)).toEqual([newKid, oldKid]);
    await expect(retireAnchorKeyFile(dataDir, newKid)).rejects.toMatchObject({ code: 'invalid_signing_key' });
    await retireAnchorKeyFile(dataDir, oldKid);
    const after = await loadAnchorKeys({ kind: 'file', dataDir });
    expect(after.ring.jwks().keys.map((k) => k.kid)).toEqual([newKid]);
    expect((await stat(join(dataDir, anchorKeyFileName))).mode & 0o777).toBe(0o600);
  });

  it('come from ANCHOR_SIGNING_JWKS when set', async () => {
    const { privateJwk } = await generateAnchorSigningKey();
    const loaded = await loadAnchorKeys({ kind: 'env', keys: [privateJwk] });
    expect(loaded).toMatchObject({ source: 'env', path: undefined, created: false });
    expect(loaded.ring.signingKey.kid).toBe(privateJwk.kid);
  });

  it('refuse a broken key file instead of replacing it', async () => {
    const path = join(dataDir, anchorKeyFileName);
    await writeFile(path, '{ not json');
    await expect(loadAnchorKeys({ kind: 'file', dataDir })).rejects.toMatchObject({ code: 'invalid_signing_key' });
    expect(await readFile(path, 'utf8')).toBe('{ not json');
    await writeFile(path, JSON.stringify({ keys: [{ kty: 'oct', k: 'AAAA', kid: 'x' }] }));
    await expect(loadAnchorKeys({ kind: 'file', dataDir })).rejects.toMatchObject({ code: 'invalid_signing_key' });
  });
});
