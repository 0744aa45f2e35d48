export type {
  Anchor,
  AnchorInput,
  DeriveAnchorErrorType,
  DeriveAnchorParameters,
  DeriveAnchorReturnType,
  NormalizedAnchorInput,
} from './anchor/derive-anchor.js';
export {
  anchorOfNormalized,
  anchorVersion,
  assertAnchor,
  deriveAnchor,
  isAnchor,
  normalizeAnchorInput,
  uint256Max,
} from './anchor/derive-anchor.js';
export type {
  OwnershipClient,
  OwnershipResult,
  OwnershipVerifier,
  OwnershipVerifierOptions,
  VerifyOwnershipOptions,
} from './chain/verify-ownership.js';
export {
  createOwnershipVerifier,
  erc721OwnerOfAbi,
  rpcTimeoutMsDefault,
  verifyOwnership,
} from './chain/verify-ownership.js';
export type {
  AnchorMismatchReason,
  AnchorTokenRejection,
  FourEyesRule,
  IdentityErrorCode,
  IdentityErrorDetails,
  IdentityErrorOptions,
  IdentityHttpStatus,
  OwnershipRejection,
  WalletProofRejection,
} from './errors.js';
export {
  AccountAlreadyAnchoredError,
  AnchorChangedError,
  AnchorInUseError,
  AnchorMismatchError,
  AnchorNotFoundError,
  AnchorTokenExpiredError,
  AnchorTokenInvalidError,
  anchorPrefix,
  ChainUnavailableError,
  FourEyesViolationError,
  IdempotencyKeyReusedError,
  IdentityAnchorRequiredError,
  IdentityError,
  InvalidAddressError,
  InvalidAnchorError,
  InvalidArgumentError,
  InvalidSigningKeyError,
  identityErrorHttpStatus,
  OwnershipNotVerifiedError,
  RotationExpiredError,
  RotationNotFoundError,
  RotationNotPendingError,
  RotationPendingError,
  UnsupportedChainError,
  WalletProofInvalidError,
} from './errors.js';
export type {
  IdempotencyClaim,
  IdempotentOperation,
  IdentityWriteOptions,
} from './idempotency/idempotency.js';
export {
  idempotencyKeyLengthMax,
  idempotencyTtlMsDefault,
  idempotencyTtlMsMax,
  idempotencyTtlMsMin,
} from './idempotency/idempotency.js';
export type {
  AnchorAuditAction,
  AnchorAuditRecord,
  AnchorRecord,
  AnchorStore,
  ApproveRotationCommand,
  BindAnchorCommand,
  RequestRotationCommand,
  RotationRecord,
  RotationStatus,
  StoredAnswer,
} from './ports/anchor-store.js';
export type { Clock } from './ports/clock.js';
export { systemClock } from './ports/clock.js';
export type { NonceClaimer } from './ports/nonce-claimer.js';
export type { FourEyesCheck } from './rotation/four-eyes.js';
export { assertFourEyes } from './rotation/four-eyes.js';
export type { ApproveRotationResult, BindAnchorResult } from './service/anchor-writes.js';
export { actorLengthMax, rotationReasonLengthMax } from './service/anchor-writes.js';
export type { AnchorVerification, IdentityTrust, IdentityTrustOptions } from './service/identity-trust.js';
export {
  auditLimitDefault,
  createIdentityTrust,
  idempotencySweepBatchSizeDefault,
  idempotencySweepBatchSizeMax,
  rotationTtlMsDefault,
  rotationTtlMsMax,
  rotationTtlMsMin,
} from './service/identity-trust.js';
export type {
  CreateWalletProofMessageOptions,
  MessageVerifierClient,
  VerifiedWalletProof,
  VerifyWalletProofOptions,
  WalletProofSubject,
} from './siwe/wallet-proof.js';
export {
  accountResource,
  anchorResource,
  createWalletProofMessage,
  verifyWalletProof,
  walletProofClockSkewMs,
  walletProofLifetimeMsMax,
  walletProofMessageLengthMax,
  walletProofNonceScope,
  walletProofStatement,
} from './siwe/wallet-proof.js';
export { checkFreeText, isStorableText } from './text/free-text.js';
export type {
  AnchorClaims,
  AnchorTokenVerifier,
  AnchorTokenVerifierOptions,
  IssueAnchorTokenOptions,
  VerifyAnchorTokenOptions,
} from './tokens/anchor-token.js';
export {
  anchorTokenClockToleranceSecondsDefault,
  anchorTokenLengthMax,
  anchorTokenTtlSecondsDefault,
  anchorTokenTtlSecondsMax,
  anchorTokenType,
  createAnchorTokenVerifier,
  issueAnchorToken,
  verifyAnchorToken,
} from './tokens/anchor-token.js';
export { canonicalEs256Token, hasCanonicalSignature, malleateEs256Signature } from './tokens/canonical-signature.js';
export type { AnchorKeyRing, AnchorSigningKey, AnchorTokenAlgorithm, PrivateJwkSet } from './tokens/key-ring.js';
export {
  anchorTokenAlgorithms,
  createAnchorKeyRing,
  generateAnchorSigningKey,
  importAnchorKeyRing,
  importAnchorSigningKey,
  keyRingSizeMax,
  retireAnchorKey,
  rotateAnchorKeySet,
} from './tokens/key-ring.js';
export type {
  IssuedUpstreamToken,
  IssueUpstreamTokenOptions,
  UpstreamClaims,
  UpstreamTokenErrorCode,
  UpstreamTokenRejection,
  VerifyUpstreamTokenOptions,
} from './tokens/upstream-token.js';
export {
  issueUpstreamToken,
  UpstreamTokenError,
  UpstreamTokenExpiredError,
  UpstreamTokenInvalidError,
  upstreamHoldMicroLengthMax,
  upstreamHoldMicroMax,
  upstreamTokenClaimLengthMax,
  upstreamTokenClockToleranceSecondsDefault,
  upstreamTokenClockToleranceSecondsMax,
  upstreamTokenIdLengthMax,
  upstreamTokenLengthMax,
  upstreamTokenTtlSecondsMax,
  upstreamTokenType,
  verifyUpstreamToken,
} from './tokens/upstream-token.js';
export type {
  TrustAllowReason,
  TrustDecision,
  TrustInput,
  TrustOperation,
  TrustPolicy,
  TrustPolicyOptions,
} from './trust/evaluate-trust.js';
export {
  assertTrusted,
  createTrustPolicy,
  defaultTrustPolicy,
  evaluateTrust,
  needsAnchor,
  trustAmountMicroMax,
  trustOperations,
  trustThresholdMicroDefault,
} from './trust/evaluate-trust.js';
