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
export type { IdentityContractContext, IdentityContractTokens } from './gateway-identity-contract.js';
export { contractAnchorTokenTtlSecondsMax, describeIdentityContract } from './gateway-identity-contract.js';
export type { LedgerContractContext, LedgerContractTokens } from './gateway-ledger-contract.js';
export { contractEventPagesMax, describeLedgerContract, nonCanonicalAmounts } from './gateway-ledger-contract.js';
export type {
  RevenueContractContext,
  RevenueRuleAuditBody,
  RevenueRuleBody,
  RevenueRulePageBody,
} from './gateway-revenue-contract.js';
export {
  describeRevenueRuleContract,
  revenueContractPaths,
  revenueRuleAuditBodySchema,
  revenueRuleBodySchema,
  revenueRulePageBodySchema,
  revenueRuleStatuses,
} from './gateway-revenue-contract.js';
export type {
  CreateAccountRequest,
  GatewayCallOptions,
  GatewayClient,
  GatewayClientOptions,
  GatewayRawResponse,
  GatewayRequestOptions,
  GatewayResult,
  GatewayWriteOptions,
  GrantRequest,
  ReserveRequest,
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
  AccountBody,
  BalanceBody,
  DependencyState,
  DistributionBody,
  EntryBody,
  EntryPageBody,
  ErrorBody,
  EventPageBody,
  FinalizeBody,
  GatewayAudience,
  GrantBody,
  HealthBody,
  LedgerEventBody,
  LotBody,
  LotListBody,
  OpenApiDocument,
  ReadyBody,
  ReleaseBody,
  ReservationBody,
  ReserveBody,
  WhoamiBody,
} from './schemas.js';
export {
  accountBodySchema,
  balanceBodySchema,
  dependencyStateSchema,
  distributionBodySchema,
  entryBodySchema,
  entryBuckets,
  entryKinds,
  entryPageBodySchema,
  errorBodySchema,
  eventPageBodySchema,
  finalizeBodySchema,
  gatewayAudiences,
  grantBodySchema,
  healthBodySchema,
  ledgerEventBodySchema,
  lotBodySchema,
  lotListBodySchema,
  microStringSchema,
  openApiDocumentSchema,
  readyBodySchema,
  releaseBodySchema,
  reservationBodySchema,
  reservationStatuses,
  reserveBodySchema,
  revenuePools,
  whoamiBodySchema,
} from './schemas.js';
