import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type CompiledContract, type CompileSolidityOptions, compileSolidity } from './compile.js';
import { DevChainError } from './errors.js';
import { contractsDir } from './paths.js';

/** Names of the contracts shipped in `contracts/`. */
export type TestContractName = 'Multicall3' | 'TestNft' | 'TestUsdc';

/**
 * Compiles the contracts shipped with this package (`contracts/Multicall3.sol`, `contracts/TestNft.sol`,
 * `contracts/TestUsdc.sol`) and returns one by name. Uses the compile cache, so only the first call on a machine pays for solc.
 *
 * @throws {DevChainError} `compile_failed` if solc rejects the sources; `contract_not_found` if the name
 *   is not in the output.
 * @example
 * ```ts
 * const { abi, bytecode } = await compileTestContract('TestUsdc');
 * ```
 */
export async function compileTestContract(
  name: TestContractName,
  options: CompileSolidityOptions = {},
): Promise<CompiledContract> {
  const sourceName = `${name}.sol`;
  const { contracts } = await compileSolidity(
    { [sourceName]: readFileSync(join(contractsDir, sourceName), 'utf8') },
    options,
  );
  const contract = contracts[name];
  if (contract === undefined) {
    throw new DevChainError('contract_not_found', `contract "${name}" not found in ${sourceName}`, {
      details: { found: Object.keys(contracts) },
    });
  }
  return contract;
}
