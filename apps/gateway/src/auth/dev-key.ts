import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type CryptoKey, calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';

/** File name of the dev key pair inside `DATA_DIR`. */
export const devKeyFileName = 'dev-jwk.json';

/** The dev signing key pair: ES256, kept in `DATA_DIR/dev-jwk.json` (a private JWK, mode 0600). */
export interface DevKey {
  alg: 'ES256';
  /** RFC 7638 thumbprint of the public key. */
  kid: string;
  privateKey: CryptoKey;
  /** Public JWK with `kid`, `alg`, `use`. */
  publicJwk: JWK;
  /** Absolute or relative path of the key file. */
  path: string;
  /** True when this call generated the key (first start). */
  created: boolean;
}

/** Thrown when `dev-jwk.json` exists but is not an ES256 private JWK. */
export class DevKeyError extends Error {
  override readonly name = 'DevKeyError';
  readonly code = 'invalid_dev_key' as const;
}

function publicPart(jwk: JWK): JWK {
  return { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y, kid: jwk.kid, alg: jwk.alg, use: 'sig' };
}

async function readDevKey(path: string): Promise<DevKey> {
  const text = await readFile(path, 'utf8');
  let jwk: JWK;
  try {
    jwk = JSON.parse(text) as JWK;
  } catch (cause) {
    throw new DevKeyError(`${path} is not valid JSON; delete it to generate a new dev key`, { cause });
  }
  if (
    jwk === null ||
    typeof jwk !== 'object' ||
    jwk.kty !== 'EC' ||
    jwk.crv !== 'P-256' ||
    typeof jwk.d !== 'string' ||
    typeof jwk.kid !== 'string'
  ) {
    throw new DevKeyError(`${path} is not an ES256 private JWK with a kid; delete it to generate a new dev key`);
  }
  const privateKey = await importJWK({ ...jwk, alg: 'ES256' }, 'ES256');
  if (privateKey instanceof Uint8Array) throw new DevKeyError(`${path} holds a symmetric key`);
  return {
    alg: 'ES256',
    kid: jwk.kid,
    privateKey,
    publicJwk: publicPart({ ...jwk, alg: 'ES256' }),
    path,
    created: false,
  };
}

/**
 * Loads the dev key pair from `dataDir`, or generates it once (ES256, file mode 0600) when absent. Two processes
 * starting together end up with the same key: the file is written aside and hard-linked into place, so it never
 * appears half-written and never gets overwritten.
 *
 * Dev keys are for development only: the server never uses them with `NODE_ENV=production`.
 *
 * @throws {DevKeyError} when the file exists but is not a usable key.
 * @example
 * ```ts
 * const key = await loadOrCreateDevKey('./.data');
 * console.log(key.kid, key.created ? 'generated' : 'reused');
 * ```
 */
export async function loadOrCreateDevKey(dataDir: string): Promise<DevKey> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const path = join(dataDir, devKeyFileName);
  try {
    return await readDevKey(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const kid = await calculateJwkThumbprint(await exportJWK(publicKey));
  const jwk: JWK = { ...(await exportJWK(privateKey)), kid, alg: 'ES256', use: 'sig' };
  const temporary = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(temporary, `${JSON.stringify(jwk, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  try {
    await link(temporary, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    // Another process won the race: use its key.
    return await readDevKey(path);
  } finally {
    await unlink(temporary);
  }
  return { ...(await readDevKey(path)), created: true };
}
