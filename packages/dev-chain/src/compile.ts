import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, normalize, sep } from 'node:path';
import type { Abi, Hex } from 'viem';
import { DevChainError } from './errors.js';
import { defaultCacheDir, packageRoot } from './paths.js';

const require = createRequire(import.meta.url);

/** Import prefix resolved from the `@openzeppelin/contracts` npm package this package depends on. */
export const openZeppelinImportPrefix = '@openzeppelin/contracts/';
/** Optimizer runs unless told otherwise. */
export const optimizerRunsDefault = 200;
/** How long a compile waits for another process compiling the same input before compiling itself. */
export const compileLockWaitMsMax = 120_000;
/** How often a waiting compile looks for the other process's output. */
const compileLockPollMs = 100;
/** Most source files one call compiles (the imports resolved from OpenZeppelin are not counted). */
export const sourceFilesMax = 64;

/** Options of {@link compileSolidity}. */
export interface CompileSolidityOptions {
  /** Optimizer runs; `0` turns the optimizer off. Default 200. */
  optimizerRuns?: number;
  /** EVM version (e.g. `'cancun'`). Default: solc's default (`prague` for solc 0.8.30). */
  evmVersion?: string;
  /** Directory of cached output; `false` turns the cache off. Default `<package>/node_modules/.cache/arrakis-dev-chain`. */
  cacheDir?: string | false;
}

/** One compiled contract. */
export interface CompiledContract {
  contractName: string;
  /** The key of `sources` that defines it. */
  sourceName: string;
  abi: Abi;
  /** Creation bytecode, `0x`-prefixed; `0x` for interfaces and abstract contracts. */
  bytecode: Hex;
  /** Runtime bytecode, `0x`-prefixed. */
  deployedBytecode: Hex;
}

/** What {@link compileSolidity} returns. */
export interface CompileSolidityResult {
  /** Contracts defined in the given sources (not the imported ones), by contract name. */
  contracts: Record<string, CompiledContract>;
  /** Full solc version, e.g. `0.8.30+commit.73712a01.Emscripten.clang`. */
  solcVersion: string;
  /** Whether the output came from the on-disk cache. */
  cacheHit: boolean;
}

interface SolcOutputContract {
  abi: Abi;
  evm: { bytecode: { object: string }; deployedBytecode: { object: string } };
}
interface SolcOutput {
  errors?: { severity: 'error' | 'warning' | 'info'; formattedMessage: string; message: string }[];
  contracts?: Record<string, Record<string, SolcOutputContract>>;
}
interface Solc {
  version(): string;
  compile(input: string, callbacks: { import: (path: string) => { contents: string } | { error: string } }): string;
}

function readPackageVersion(name: string): string {
  const path = require.resolve(`${name}/package.json`, { paths: [packageRoot] });
  return (JSON.parse(readFileSync(path, 'utf8')) as { version: string }).version;
}

let solcPromise: Promise<Solc> | undefined;
function loadSolc(): Promise<Solc> {
  // solc-js bundles the compiler as emscripten output (soljson.js); loading it takes about a second,
  // so it is loaded once per process and only when the cache misses.
  solcPromise ??= import('solc').then((module) => ((module as { default?: Solc }).default ?? module) as Solc);
  return solcPromise;
}

function openZeppelinRoot(): string {
  return dirname(require.resolve('@openzeppelin/contracts/package.json', { paths: [packageRoot] }));
}

function resolveImport(path: string): { contents: string } | { error: string } {
  if (!path.startsWith(openZeppelinImportPrefix)) {
    return { error: `only ${openZeppelinImportPrefix}* imports and the given sources resolve, not "${path}"` };
  }
  const root = openZeppelinRoot();
  const file = normalize(join(root, path.slice(openZeppelinImportPrefix.length)));
  if (!file.startsWith(root + sep)) return { error: `import "${path}" leaves ${openZeppelinImportPrefix}` };
  try {
    return { contents: readFileSync(file, 'utf8') };
  } catch {
    return { error: `"${path}" is not in @openzeppelin/contracts ${readPackageVersion('@openzeppelin/contracts')}` };
  }
}

function toHex(object: string): Hex {
  return `0x${object}`;
}

interface CacheEntry {
  solcVersion: string;
  contracts: Record<string, CompiledContract>;
}

function readCache(file: string): CacheEntry | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as CacheEntry;
  } catch {
    return undefined;
  }
}

function writeCache(file: string, entry: CacheEntry): void {
  try {
    mkdirSync(dirname(file), { recursive: true });
    // Write then rename, so a concurrent reader (another test worker) never sees half a file.
    const temporary = `${file}.${process.pid}.${Date.now()}.tmp`;
    writeFileSync(temporary, JSON.stringify(entry));
    renameSync(temporary, file);
  } catch {
    // a read-only or missing cache directory only costs a recompile next time
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Takes the compile lock of `cacheFile` (an exclusive lock file beside it), or waits while another
 * process holds it: test files run in parallel workers, and on a fresh machine they would all start
 * the same cold compile at once. Returns a release function, or the cache entry the other process wrote.
 */
async function lockOrWait(cacheFile: string): Promise<{ release: () => void } | { entry: CacheEntry }> {
  const lockFile = `${cacheFile}.lock`;
  try {
    mkdirSync(dirname(lockFile), { recursive: true });
  } catch {
    return { release: () => {} };
  }
  const deadline = Date.now() + compileLockWaitMsMax;
  for (;;) {
    try {
      closeSync(openSync(lockFile, 'wx'));
      const release = () => {
        try {
          unlinkSync(lockFile);
        } catch {
          // already removed
        }
      };
      // The previous holder may have just written the output and released the lock.
      const written = readCache(cacheFile);
      if (written !== undefined) {
        release();
        return { entry: written };
      }
      return { release };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') return { release: () => {} };
    }
    const entry = readCache(cacheFile);
    if (entry !== undefined) return { entry };
    let lockAgeMs = 0;
    try {
      lockAgeMs = Date.now() - statSync(lockFile).mtimeMs;
    } catch {
      continue; // released in the meantime: try to take it
    }
    // A lock older than the wait limit belongs to a process that died while compiling.
    if (lockAgeMs > compileLockWaitMsMax || Date.now() > deadline) {
      try {
        unlinkSync(lockFile);
      } catch {
        // another waiter removed it
      }
      continue;
    }
    await sleep(compileLockPollMs);
  }
}

/**
 * Compiles Solidity sources with solc-js (the compiler is bundled in the npm package, nothing is
 * downloaded). Imports of `@openzeppelin/contracts/...` resolve from the pinned npm package; other
 * imports must be keys of `sources`. Output is cached on disk, keyed by a hash of the compiler input,
 * the solc version and the OpenZeppelin version.
 *
 * @param sources Source files by name, e.g. `{ 'Token.sol': 'pragma solidity ^0.8.24; ...' }`.
 * @throws {DevChainError} `invalid_option` for no or too many sources or a bad optimizer setting;
 *   `compile_failed` with solc's messages (in the message and in `details.errors`) when solc reports errors.
 * @example
 * ```ts
 * const { contracts } = await compileSolidity({
 *   'Greeter.sol': 'pragma solidity ^0.8.24; contract Greeter { function hi() external pure returns (uint256) { return 1; } }',
 * });
 * const { abi, bytecode } = contracts.Greeter!;
 * ```
 */
export async function compileSolidity(
  sources: Record<string, string>,
  options: CompileSolidityOptions = {},
): Promise<CompileSolidityResult> {
  const sourceNames = Object.keys(sources).sort();
  if (sourceNames.length === 0 || sourceNames.length > sourceFilesMax) {
    throw new DevChainError(
      'invalid_option',
      `sources must have 1..${sourceFilesMax} files, got ${sourceNames.length}`,
    );
  }
  const optimizerRuns = options.optimizerRuns ?? optimizerRunsDefault;
  if (!Number.isInteger(optimizerRuns) || optimizerRuns < 0) {
    throw new DevChainError('invalid_option', `optimizerRuns must be a non-negative integer, got ${optimizerRuns}`);
  }
  const input = {
    language: 'Solidity',
    sources: Object.fromEntries(sourceNames.map((name) => [name, { content: sources[name] }])),
    settings: {
      optimizer: { enabled: optimizerRuns > 0, runs: optimizerRuns === 0 ? optimizerRunsDefault : optimizerRuns },
      ...(options.evmVersion === undefined ? {} : { evmVersion: options.evmVersion }),
      outputSelection: Object.fromEntries(
        sourceNames.map((name) => [name, { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] }]),
      ),
    },
  };
  const inputJson = JSON.stringify(input);
  const solcPackageVersion = readPackageVersion('solc');
  const cacheDir = options.cacheDir ?? defaultCacheDir;
  const cacheFile =
    cacheDir === false
      ? undefined
      : join(
          cacheDir,
          'solc',
          `${createHash('sha256')
            .update(
              `solc@${solcPackageVersion}\n@openzeppelin/contracts@${readPackageVersion('@openzeppelin/contracts')}\n`,
            )
            .update(inputJson)
            .digest('hex')}.json`,
        );
  if (cacheFile === undefined) return compile(inputJson, sourceNames);
  const cached = readCache(cacheFile);
  if (cached !== undefined) return { ...cached, cacheHit: true };
  const lock = await lockOrWait(cacheFile);
  if ('entry' in lock) return { ...lock.entry, cacheHit: true };
  try {
    const result = await compile(inputJson, sourceNames);
    writeCache(cacheFile, { solcVersion: result.solcVersion, contracts: result.contracts });
    return result;
  } finally {
    lock.release();
  }
}

async function compile(inputJson: string, sourceNames: string[]): Promise<CompileSolidityResult> {
  const solc = await loadSolc();
  const output = JSON.parse(solc.compile(inputJson, { import: resolveImport })) as SolcOutput;
  const errors = (output.errors ?? []).filter((entry) => entry.severity === 'error');
  if (errors.length > 0) {
    throw new DevChainError(
      'compile_failed',
      `solc ${solc.version()} reported ${errors.length} error(s):\n${errors.map((entry) => entry.formattedMessage).join('\n')}`,
      { details: { errors: errors.map((entry) => entry.formattedMessage) } },
    );
  }

  const contracts: Record<string, CompiledContract> = {};
  for (const sourceName of sourceNames) {
    for (const [contractName, compiled] of Object.entries(output.contracts?.[sourceName] ?? {})) {
      const previous = contracts[contractName];
      if (previous !== undefined) {
        throw new DevChainError(
          'compile_failed',
          `contract name "${contractName}" is defined in both "${previous.sourceName}" and "${sourceName}"; rename one`,
          { details: { contractName, sourceNames: [previous.sourceName, sourceName] } },
        );
      }
      const bytecode = compiled.evm.bytecode.object;
      if (bytecode.includes('__$')) {
        throw new DevChainError(
          'compile_failed',
          `contract "${contractName}" needs external libraries linked; dev-chain does not link libraries`,
          { details: { contractName, sourceName } },
        );
      }
      contracts[contractName] = {
        contractName,
        sourceName,
        abi: compiled.abi,
        bytecode: toHex(bytecode),
        deployedBytecode: toHex(compiled.evm.deployedBytecode.object),
      };
    }
  }
  return { contracts, solcVersion: solc.version(), cacheHit: false };
}
