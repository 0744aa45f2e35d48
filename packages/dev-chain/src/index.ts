export { testNftAbi, testUsdcAbi } from './abis.js';
export { accountCountMax, type DevChainAccount, defaultMnemonic, deriveAccounts } from './accounts.js';
export { hardhatChain } from './chain.js';
export {
  type CompiledContract,
  type CompileSolidityOptions,
  type CompileSolidityResult,
  compileSolidity,
  openZeppelinImportPrefix,
  optimizerRunsDefault,
  sourceFilesMax,
} from './compile.js';
export { DevChainError, type DevChainErrorCode } from './errors.js';
export {
  accountBalanceWeiDefault,
  defaultChainId,
  freeLoopbackPort,
  type HardhatNode,
  nodeStartTimeoutMsDefault,
  type StartHardhatNodeOptions,
  startHardhatNode,
} from './hardhat-node.js';
export { installMulticall3, multicall3Address } from './multicall3.js';
export { compileTestContract, type TestContractName } from './test-contracts.js';
export {
  type DeployedContract,
  type DeployTestNftParameters,
  deployTestNft,
  mintNft,
  nftOwnerOf,
  transferNft,
} from './test-nft.js';
export {
  type DeployedTestUsdc,
  type DeployTestUsdcParameters,
  deployTestUsdc,
  mintUsdc,
  signTransferWithAuthorization,
  testUsdcDomain,
  transferWithAuthorizationTypes,
  usdcBalanceOf,
} from './test-usdc.js';
