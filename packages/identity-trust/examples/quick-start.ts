// Quick start for @arrakis/identity-trust: bind an NFT anchor to an account, let the trust policy decide, rotate the
// anchor with four eyes, issue and verify an anchor token, and check a Sign-In with Ethereum wallet proof.
// CI runs it through examples/quick-start.test.ts (`node_modules/.bin/vitest run packages/identity-trust/examples`).
import { pathToFileURL } from 'node:url';
import { memoryBackend, nonceStore } from '@arrakis/atomic-counter';
import {
  createAnchorKeyRing,
  createIdentityTrust,
  createWalletProofMessage,
  deriveAnchor,
  evaluateTrust,
  FourEyesViolationError,
  generateAnchorSigningKey,
  issueAnchorToken,
  verifyAnchorToken,
  verifyWalletProof,
} from '@arrakis/identity-trust';
import { createPostgresAnchorStore, migrateIdentity } from '@arrakis/identity-trust/postgres';
import { PGlite } from '@electric-sql/pglite';
import { drizzle } from 'drizzle-orm/pglite';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';

export async function quickStart() {
  // The identity tables live in your Postgres database (here PGlite in memory), next to the ledger's.
  const client = await PGlite.create();
  const db = drizzle({ client });
  await migrateIdentity(db, 'pglite');
  const identity = createIdentityTrust({ store: createPostgresAnchorStore(db) });

  // An anchor is a hash of (chain id, contract, token id, owner); one NFT, one account.
  const owner = privateKeyToAccount(generatePrivateKey());
  const nft = {
    chainId: 8453n,
    contractAddress: '0x0000000000000000000000000000000000000a11',
    tokenId: 42n,
    ownerAddress: owner.address,
  };
  const anchor = deriveAnchor(nft);

  // Before binding, the owner proves control of the address with a signed EIP-4361 message (single-use nonce).
  const nonces = nonceStore({ backend: memoryBackend(), ttlMs: 10 * 60_000 });
  const subject = { domain: 'api.example.com', address: owner.address, chainId: 8453n, accountId: 'acc_1', anchor };
  const message = createWalletProofMessage({ ...subject, uri: 'https://api.example.com/v1/accounts/acc_1/anchor' });
  const signature = await owner.signMessage({ message });
  const proof = await verifyWalletProof({ message, signature, expected: subject, nonces });
  const replay = await verifyWalletProof({ message, signature, expected: subject, nonces }).catch((e: Error) => e);

  // Graduated trust: $150 needs an anchor.
  const before = evaluateTrust({ amountMicro: 150_000_000n, anchor: null, operation: 'reserve' });
  const { record } = await identity.bindAnchor({ accountId: 'acc_1', nft, actor: 'support-1' });
  const after = await identity.evaluate({ accountId: 'acc_1', amountMicro: 150_000_000n, operation: 'reserve' });

  // Four-eyes rotation: requested by one admin, approved by another (neither created the anchor).
  const rotation = await identity.requestRotation({
    accountId: 'acc_1',
    nft: { ...nft, tokenId: 43n },
    actor: 'admin-alice',
  });
  const selfApproval = await identity
    .approveRotation({ rotationId: rotation.id, actor: 'admin-alice' })
    .catch((e: unknown) => e);
  const approved = await identity.approveRotation({ rotationId: rotation.id, actor: 'admin-bob' });

  // Anchor tokens: short-lived JWTs a sibling service verifies with the issuer's JWKS.
  const ring = createAnchorKeyRing([(await generateAnchorSigningKey()).key]);
  const { token } = await issueAnchorToken({
    key: ring.signingKey,
    issuer: 'arrakis-gateway',
    audience: 'arrakis-services',
    accountId: 'acc_1',
    anchor: approved.anchor.anchor,
    epoch: approved.anchor.epoch,
    nowMs: Date.now(),
  });
  const claims = await verifyAnchorToken(token, {
    keys: ring.jwks(), // a sibling service passes new URL('https://gateway/.well-known/jwks.json')
    issuer: 'arrakis-gateway',
    audience: 'arrakis-services',
    accountId: 'acc_1',
  });
  const audit = await identity.listAudit('acc_1');
  await client.close();

  return {
    proofAddress: proof.address,
    replayCode: (replay as { details?: { reason?: string } }).details?.reason,
    allowedBefore: before.allowed,
    allowedAfter: after.allowed,
    boundAnchor: record.anchor === anchor,
    selfApprovalRefused: selfApproval instanceof FourEyesViolationError,
    epochAfterRotation: approved.anchor.epoch,
    tokenEpoch: claims.epoch,
    auditActions: audit.map((row) => row.action),
    ownerAddress: owner.address,
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(await quickStart());
}
