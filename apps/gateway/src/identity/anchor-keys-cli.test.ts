import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadAnchorKeys } from './anchor-keys.js';
import { anchorKeysCommand } from './anchor-keys-cli.js';

let dataDir: string;
let out: string[];
let err: string[];
beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'arrakis-anchor-cli-'));
  out = [];
  err = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    out.push(String(chunk));
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    err.push(String(chunk));
    return true;
  });
});
afterEach(async () => {
  vi.restoreAllMocks();
  await rm(dataDir, { recursive: true, force: true });
});

describe('arrakis-gateway anchor-keys', () => {
  it('rotate, list, retire', async () => {
    const first = (await loadAnchorKeys({ kind: 'file', dataDir })).ring.signingKey.kid;
    expect(await anchorKeysCommand(['rotate', '--data-dir', dataDir, '--alg', 'EdDSA'])).toBe(0);
    const second = out.join('').trim();
    expect(second).not.toBe(first);
    out.length = 0;
    expect(await anchorKeysCommand(['list', '--data-dir', dataDir])).toBe(0);
    expect(out.join('')).toBe(`${second} EdDSA signing\n${first} ES256 verifying\n`);
    // `--kid=…`: a base64url kid may start with '-', which parseArgs would read as an option after a space.
    expect(await anchorKeysCommand(['retire', '--data-dir', dataDir, `--kid=${first}`])).toBe(0);
    expect((await loadAnchorKeys({ kind: 'file', dataDir })).ring.keys.map((k) => k.kid)).toEqual([second]);
  });

  it('refuses to retire the signing key, bad options and unknown actions', async () => {
    const kid = (await loadAnchorKeys({ kind: 'file', dataDir })).ring.signingKey.kid;
    expect(await anchorKeysCommand(['retire', '--data-dir', dataDir, `--kid=${kid}`])).toBe(1);
    expect(err.join('')).toContain('signing key');
    expect(await anchorKeysCommand(['retire', '--data-dir', dataDir])).toBe(2);
    expect(await anchorKeysCommand(['rotate', '--data-dir', dataDir, '--alg', 'HS256'])).toBe(2);
    expect(await anchorKeysCommand(['explode'])).toBe(2);
    expect(await anchorKeysCommand(['list', '--nope'])).toBe(2);
    expect(await anchorKeysCommand(['list', '--data-dir', join(dataDir, 'missing')])).toBe(1);
  });
});
