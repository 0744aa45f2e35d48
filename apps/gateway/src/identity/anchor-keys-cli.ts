// `arrakis-gateway anchor-keys ...`: rotate and retire the anchor-token signing keys kept in DATA_DIR.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { IdentityError, importAnchorKeyRing, type PrivateJwkSet } from '@arrakis/identity-trust';
import { anchorKeyFileName, loadAnchorKeys, retireAnchorKeyFile, rotateAnchorKeyFile } from './anchor-keys.js';

/** Usage of the `anchor-keys` command. */
export const anchorKeysUsage = `Usage:
  arrakis-gateway anchor-keys list   [--data-dir DIR]
  arrakis-gateway anchor-keys rotate [--data-dir DIR] [--alg ES256|EdDSA]
  arrakis-gateway anchor-keys retire --kid=KID [--data-dir DIR]

The anchor-token signing keys in DATA_DIR/${anchorKeyFileName} (when ANCHOR_SIGNING_JWKS is not set). "rotate" puts a
new signing key first and keeps the others (tokens they signed keep verifying); "retire" removes a key that no longer
signs, once its tokens have expired (10 minutes at most). Restart the gateway after each step. Default --data-dir:
$DATA_DIR or ./.data.
`;

/**
 * Runs `anchor-keys list|rotate|retire` and returns the exit code (0 ok, 1 failed, 2 usage).
 *
 * @example
 * ```ts
 * process.exitCode = await anchorKeysCommand(['rotate', '--data-dir', './.data']);
 * ```
 */
export async function anchorKeysCommand(args: string[]): Promise<number> {
  const [action, ...rest] = args;
  let values: { 'data-dir'?: string; alg?: string; kid?: string };
  try {
    values = parseArgs({
      args: rest,
      strict: true,
      allowPositionals: false,
      options: { 'data-dir': { type: 'string' }, alg: { type: 'string' }, kid: { type: 'string' } },
    }).values;
  } catch (error) {
    process.stderr.write(`arrakis-gateway: ${(error as Error).message}\n\n${anchorKeysUsage}`);
    return 2;
  }
  const dataDir = values['data-dir'] ?? process.env.DATA_DIR ?? './.data';
  try {
    switch (action) {
      case 'list': {
        const path = join(dataDir, anchorKeyFileName);
        const ring = await importAnchorKeyRing(JSON.parse(await readFile(path, 'utf8')) as PrivateJwkSet);
        for (const [index, key] of ring.keys.entries()) {
          process.stdout.write(`${key.kid} ${key.alg}${index === 0 ? ' signing' : ' verifying'}\n`);
        }
        return 0;
      }
      case 'rotate': {
        if (values.alg !== undefined && values.alg !== 'ES256' && values.alg !== 'EdDSA') {
          process.stderr.write(`arrakis-gateway: --alg must be ES256 or EdDSA\n\n${anchorKeysUsage}`);
          return 2;
        }
        await loadAnchorKeys({ kind: 'file', dataDir }); // creates the file on first use
        const kid = await rotateAnchorKeyFile(dataDir, values.alg === undefined ? {} : { alg: values.alg });
        process.stdout.write(`${kid}\n`);
        return 0;
      }
      case 'retire': {
        if (values.kid === undefined) {
          process.stderr.write(`arrakis-gateway: --kid is required\n\n${anchorKeysUsage}`);
          return 2;
        }
        await retireAnchorKeyFile(dataDir, values.kid);
        return 0;
      }
      default:
        process.stderr.write(
          `arrakis-gateway: unknown anchor-keys action ${JSON.stringify(action)}\n\n${anchorKeysUsage}`,
        );
        return 2;
    }
  } catch (error) {
    if (error instanceof IdentityError || (error as NodeJS.ErrnoException).code === 'ENOENT') {
      process.stderr.write(`arrakis-gateway: ${(error as Error).message}\n`);
      return 1;
    }
    throw error;
  }
}
