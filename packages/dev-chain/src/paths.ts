import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The package root: sources live in `src/`, the build in `dist/`, both one level below the root, so
 * the same relative path works from either (tsup bundles each entry into one file in `dist/`).
 */
export const packageRoot: string = fileURLToPath(new URL('..', import.meta.url));

/** Directory of the Solidity sources shipped with the package (`TestNft.sol`, `TestUsdc.sol`). */
export const contractsDir: string = join(packageRoot, 'contracts');

/** Default on-disk cache of compiler output: `<package>/node_modules/.cache/arrakis-dev-chain`. */
export const defaultCacheDir: string = join(packageRoot, 'node_modules', '.cache', 'arrakis-dev-chain');
