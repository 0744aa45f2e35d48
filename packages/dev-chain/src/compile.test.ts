import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compileSolidity } from './compile.js';
import { DevChainError } from './errors.js';

const token = `// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {Answer} from "./Answer.sol";
contract Spice is ERC20, Answer {
    constructor() ERC20("Spice", "SPC") { _mint(msg.sender, answer()); }
}
`;
const answer = `// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;
abstract contract Answer { function answer() public pure returns (uint256) { return 42; } }
`;

async function compileError(promise: Promise<unknown>): Promise<DevChainError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(DevChainError);
  return error as DevChainError;
}

describe('compileSolidity', () => {
  const cacheDir = mkdtempSync(join(tmpdir(), 'dev-chain-compile-test-'));
  afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

  it('compiles sources that import OpenZeppelin and each other, then serves the same output from the cache', async () => {
    const cold = await compileSolidity({ 'Spice.sol': token, 'Answer.sol': answer }, { cacheDir });
    expect(cold.cacheHit).toBe(false);
    expect(cold.solcVersion).toMatch(/^0\.8\.30\+commit\./);
    // Only contracts of the given sources, abstract ones with empty bytecode.
    expect(Object.keys(cold.contracts).sort()).toEqual(['Answer', 'Spice']);
    const spice = cold.contracts.Spice;
    expect(spice?.sourceName).toBe('Spice.sol');
    expect(spice?.bytecode).toMatch(/^0x6080[0-9a-f]+$/);
    expect(spice?.deployedBytecode).toMatch(/^0x6080[0-9a-f]+$/);
    expect(spice?.abi.filter((item) => item.type === 'function').map((item) => item.name)).toEqual(
      expect.arrayContaining(['answer', 'balanceOf', 'transfer', 'totalSupply']),
    );
    expect(cold.contracts.Answer?.bytecode).toBe('0x');
    expect(readdirSync(join(cacheDir, 'solc'))).toHaveLength(1);

    const warm = await compileSolidity({ 'Answer.sol': answer, 'Spice.sol': token }, { cacheDir });
    expect(warm.cacheHit).toBe(true);
    expect(warm.contracts).toEqual(cold.contracts);
    expect(warm.solcVersion).toBe(cold.solcVersion);

    // Other settings are another cache entry.
    const unoptimized = await compileSolidity({ 'Answer.sol': answer }, { cacheDir, optimizerRuns: 0 });
    expect(unoptimized.cacheHit).toBe(false);
    const uncached = await compileSolidity({ 'Answer.sol': answer }, { cacheDir: false });
    expect(uncached.cacheHit).toBe(false);
    expect(readdirSync(join(cacheDir, 'solc'))).toHaveLength(2);
  });

  it('compiles once when two callers ask for the same input at the same time', async () => {
    const shared = mkdtempSync(join(tmpdir(), 'dev-chain-compile-lock-test-'));
    try {
      const source = { 'Once.sol': 'pragma solidity ^0.8.24;\ncontract Once { uint256 public x = 1; }' };
      const results = await Promise.all([
        compileSolidity(source, { cacheDir: shared }),
        compileSolidity(source, { cacheDir: shared }),
      ]);
      expect(results.map((result) => result.cacheHit).sort()).toEqual([false, true]);
      expect(results[0]?.contracts).toEqual(results[1]?.contracts);
      expect(readdirSync(join(shared, 'solc'))).toHaveLength(1); // the lock file is gone
    } finally {
      rmSync(shared, { recursive: true, force: true });
    }
  });

  it("throws compile_failed with solc's messages", async () => {
    const syntax = await compileError(
      compileSolidity({ 'Broken.sol': 'pragma solidity ^0.8.24;\ncontract Broken {' }, { cacheDir }),
    );
    expect(syntax.code).toBe('compile_failed');
    expect(syntax.message).toMatch(/ParserError/);
    expect(syntax.message).toMatch(/Broken\.sol/);
    expect(syntax.details?.errors).toEqual([expect.stringMatching(/ParserError/)]);

    const types = await compileError(
      compileSolidity(
        {
          'Typed.sol':
            'pragma solidity ^0.8.24;\ncontract Typed { function f() external pure returns (uint256) { return "no"; } }',
        },
        { cacheDir },
      ),
    );
    expect(types.message).toMatch(/TypeError/);
  });

  it('resolves only OpenZeppelin and the given sources', async () => {
    const missing = await compileError(
      compileSolidity(
        { 'A.sol': 'pragma solidity ^0.8.24;\nimport "solmate/tokens/ERC20.sol";\ncontract A {}' },
        { cacheDir },
      ),
    );
    expect(missing.code).toBe('compile_failed');
    expect(missing.message).toMatch(/solmate\/tokens\/ERC20\.sol/);

    const outside = await compileError(
      compileSolidity(
        {
          'B.sol': 'pragma solidity ^0.8.24;\nimport "@openzeppelin/contracts/../../../../etc/passwd";\ncontract B {}',
        },
        { cacheDir },
      ),
    );
    expect(outside.code).toBe('compile_failed');

    const notInPackage = await compileError(
      compileSolidity(
        {
          'C.sol': 'pragma solidity ^0.8.24;\nimport "@openzeppelin/contracts/token/ERC20/NoSuch.sol";\ncontract C {}',
        },
        { cacheDir },
      ),
    );
    expect(notInPackage.message).toMatch(/not in @openzeppelin\/contracts 5\.7\.0/);
  });

  it('refuses two contracts with the same name and bad options', async () => {
    const twice = await compileError(
      compileSolidity(
        {
          'X.sol': 'pragma solidity ^0.8.24;\ncontract Same {}',
          'Y.sol': 'pragma solidity ^0.8.24;\ncontract Same {}',
        },
        { cacheDir },
      ),
    );
    expect(twice.code).toBe('compile_failed');
    expect(twice.message).toMatch(/"Same" is defined in both "X\.sol" and "Y\.sol"/);

    expect((await compileError(compileSolidity({}, { cacheDir }))).code).toBe('invalid_option');
    expect((await compileError(compileSolidity({ 'A.sol': answer }, { optimizerRuns: -1 }))).code).toBe(
      'invalid_option',
    );
  });
});
