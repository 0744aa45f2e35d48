export type {
  ContractClock,
  CounterAdvanceOptionsLike,
  CounterBackendContext,
  CounterBackendLike,
  CounterExpiryLike,
  DescribeCounterBackendOptions,
  MakeCounterBackend,
} from './counter-backend-contract.js';
export {
  contractAdvancesConcurrent,
  contractCounterValueMax,
  contractExpiryWaitMsMax,
  contractIncrementsConcurrent,
  contractKeyBytesMax,
  contractRealTtlMs,
  contractSetIfAbsentConcurrent,
  describeCounterBackend,
} from './counter-backend-contract.js';
export type { GatewayContractOptions, GatewayContractSigner, GatewayContractTokens } from './gateway-contract.js';
export { describeGatewayContract, gatewayContractPaths } from './gateway-contract.js';
export type {
  GatewayCallOptions,
  GatewayClient,
  GatewayClientOptions,
  GatewayRawResponse,
  GatewayRequestOptions,
  GatewayResult,
} from './http-client.js';
export {
  createGatewayClient,
  GatewayResponseError,
  gatewayRequestTimeoutMsDefault,
  gatewayResponseBytesMax,
} from './http-client.js';
export type {
  ForgedClaims,
  MintAudienceTokenOptions,
  MintTestTokenOptions,
  TestKeyPair,
  TestSigningAlgorithm,
} from './jwt.js';
export {
  defaultTestIssuer,
  forgeAlgNoneToken,
  forgeHs256WithPublicKeyToken,
  garbageToken,
  generateTestKeyPair,
  mintAdminToken,
  mintExpiredToken,
  mintServiceToken,
  mintTestToken,
  mintUserToken,
  mintWrongAudienceToken,
  TestTokenOptionError,
  tamperTokenClaims,
  testTokenTtlSecondsMax,
} from './jwt.js';
export type {
  DependencyState,
  ErrorBody,
  GatewayAudience,
  HealthBody,
  OpenApiDocument,
  ReadyBody,
  WhoamiBody,
} from './schemas.js';
export {
  dependencyStateSchema,
  errorBodySchema,
  gatewayAudiences,
  healthBodySchema,
  openApiDocumentSchema,
  readyBodySchema,
  whoamiBodySchema,
} from './schemas.js';
