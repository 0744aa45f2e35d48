import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type AnchorKeyRing,
  type AnchorTokenAlgorithm,
  generateAnchorSigningKey,
  InvalidSigningKeyError,
  importAnchorKeyRing,
  type PrivateJwkSet,
  retireAnchorKey,
  rotateAnchorKeySet,
} from '@arrakis/identity-trust';
import type { AnchorKeySource } from './config.js';

/** File name of the anchor-token signing keys inside `DATA_DIR` (a private JWK Set, mode 0600; the first key signs). */
export const anchorKeyFileName = 'anchor-signing-keys.json';

/** The loaded key ring and where it came from. */
export interface LoadedAnchorKeys {
  ring: AnchorKeyRing;
  source: AnchorKeySource['kind'];
  /** The key file (file source only). */
  path: string | undefined;
  /** True when this call generated the file (first start). */
  created: boolean;
}

async function readKeyFile(path: string): Promise<PrivateJwkSet> {
  const text = await readFile(path, 'utf8');
  try {
    return JSON.parse(text) as PrivateJwkSet;
  } catch (cause) {
    throw new InvalidSigningKeyError(`${path} is not valid JSON; restore it from a backup or delete it`, { cause });
  }
}

/**
 * Loads the anchor-token signing keys: from `ANCHOR_SIGNING_JWKS`, or from `DATA_DIR/anchor-signing-keys.json`,
 * generated once (ES256) when absent. Two processes starting together get the same file: it is written aside and
 * hard-linked into place, so it never appears half-written and is never overwritten.
 *
 * @throws {InvalidSigningKeyError} when the keys are unusable.
 * @example
 * ```ts
 * const { ring } = await loadAnchorKeys(config.identity.anchorTokens.keys);
 * ```
 */
export async function loadAnchorKeys(source: AnchorKeySource): Promise<LoadedAnchorKeys> {
  if (source.kind === 'env') {
    return { ring: await importAnchorKeyRing({ keys: source.keys }), source: 'env', path: undefined, created: false };
  }
  await mkdir(source.dataDir, { recursive: true, mode: 0o700 });
  const path = join(source.dataDir, anchorKeyFileName);
  try {
    return { ring: await importAnchorKeyRing(await readKeyFile(path)), source: 'file', path, created: false };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const { privateJwk } = await generateAnchorSigningKey({ alg: 'ES256' });
  const temporary = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(temporary, `${JSON.stringify({ keys: [privateJwk] }, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  let created = true;
  try {
    await link(temporary, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    created = false; // another process won the race: use its file
  } finally {
    await unlink(temporary);
  }
  return { ring: await importAnchorKeyRing(await readKeyFile(path)), source: 'file', path, created };
}

async function replaceKeyFile(path: string, set: PrivateJwkSet): Promise<void> {
  const temporary = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(temporary, `${JSON.stringify(set, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  await rename(temporary, path);
}

/**
 * Rotation step 1 on the key file: a new key is put first (the gateway signs with it after its next start); the old
 * ones stay and keep verifying. Returns the new `kid`.
 *
 * @throws {InvalidSigningKeyError} when the file is unusable; ENOENT when there is none.
 * @example
 * ```ts
 * const kid = await rotateAnchorKeyFile('./.data');
 * ```
 */
export async function rotateAnchorKeyFile(
  dataDir: string,
  options: { alg?: AnchorTokenAlgorithm } = {},
): Promise<string> {
  const path = join(dataDir, anchorKeyFileName);
  const current = await readKeyFile(path);
  await importAnchorKeyRing(current); // refuse to rotate a broken file
  const { set, kid } = await rotateAnchorKeySet(current, options);
  await replaceKeyFile(path, set);
  return kid;
}

/**
 * Rotation step 2 on the key file: removes a key that no longer signs, once the tokens it signed have expired
 * (10 minutes at most after the rotation).
 *
 * @throws {InvalidSigningKeyError} when `kid` is the signing key or is not in the file.
 * @example
 * ```ts
 * await retireAnchorKeyFile('./.data', oldKid);
 * ```
 */
export async function retireAnchorKeyFile(dataDir: string, kid: string): Promise<void> {
  const path = join(dataDir, anchorKeyFileName);
  await replaceKeyFile(path, retireAnchorKey(await readKeyFile(path), kid));
}
