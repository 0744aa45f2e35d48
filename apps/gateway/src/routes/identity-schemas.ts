// Wire shapes of the identity routes (anchors, rotations, anchor tokens, verify-anchor, JWKS) and the functions that
// turn identity records into them. Ids (chain, token) are uint256 as base-10 strings (JSON numbers up to 2^53 - 1 are
// accepted too); times are ISO 8601 UTC.
import type { AnchorAuditRecord, AnchorInput, AnchorRecord, RotationRecord } from '@arrakis/identity-trust';
import { rotationReasonLengthMax, uint256Max } from '@arrakis/identity-trust';
import { z } from '@hono/zod-openapi';
import { freeTextSchema } from './free-text.js';
import { ledgerIdMessage, ledgerIdPattern } from './ledger-schemas.js';

/** Longest SIWE message accepted on the wire, in characters. */
export const siweMessageLengthMax = 4096;
/** Longest signature accepted (hex characters with 0x; room for ERC-6492 wrapped signatures). */
export const signatureLengthMax = 8194;

const uintPattern = /^(0|[1-9][0-9]{0,77})$/;

/**
 * A uint256 on the wire: canonical base-10 digits (or a JSON integer up to 2^53 - 1), parsed to a bigint.
 *
 * @example
 * ```ts
 * z.object({ tokenId: uint256Schema('42', 'Token id.') });
 * ```
 */
export function uint256Schema(example: string, description: string) {
  return z
    .union([
      z.string().regex(uintPattern, 'expected canonical base-10 digits'),
      z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    ])
    .transform((value, ctx) => {
      const parsed = BigInt(value);
      if (parsed > uint256Max) {
        ctx.addIssue({ code: 'custom', message: 'must be at most 2^256 - 1' });
        return z.NEVER;
      }
      return parsed;
    })
    .openapi({ type: 'string', example, description, pattern: uintPattern.source });
}

const addressSchema = (description: string) =>
  z
    .string()
    .regex(/^0x[0-9a-fA-F]{40}$/, 'expected a 0x-prefixed 20-byte hex address')
    .openapi({ example: '0x67b61169A24aD254c3900e946b41df8B748dAC70', description });

/** The NFT an anchor is derived from. */
export const NftFieldsSchema = {
  chainId: uint256Schema('8453', 'EIP-155 chain id of the NFT.'),
  contractAddress: addressSchema('The ERC-721 contract (lower case or EIP-55 checksummed).'),
  tokenId: uint256Schema('42', 'Token id.'),
  ownerAddress: addressSchema("The NFT owner's address (lower case or EIP-55 checksummed)."),
};

/** Body of `POST /v1/accounts/{id}/anchor`: the NFT, and for users a wallet proof. */
export const BindAnchorBodySchema = z
  .object({
    ...NftFieldsSchema,
    siweMessage: freeTextSchema({ lengthMax: siweMessageLengthMax }).optional().openapi({
      description:
        "Users: an EIP-4361 message signed by `ownerAddress` for this gateway's SIWE domain, the NFT's chain id, with the resources `urn:arrakis:account:<id>` and `urn:arrakis:anchor:<anchor>`, an expiration at most 10 minutes after issue, and a fresh nonce.",
    }),
    signature: z
      .string()
      .regex(/^0x[0-9a-fA-F]*$/, 'expected 0x-prefixed hex')
      .max(signatureLengthMax)
      .optional(),
  })
  .strict()
  .openapi('BindAnchorRequest');

/** Body of `POST /v1/accounts/{id}/anchor/rotations`: the new NFT and an optional reason. */
export const RotationRequestBodySchema = z
  .object({
    ...NftFieldsSchema,
    reason: freeTextSchema({ lengthMax: rotationReasonLengthMax, trim: true }).optional().openapi({
      example: 'the wallet was lost',
      description: 'Why (1-500 characters, no NUL or unpaired surrogate).',
    }),
  })
  .strict()
  .openapi('AnchorRotationRequest');

/** Body of `POST /api/internal/verify-anchor`. */
export const VerifyAnchorBodySchema = z
  .object({
    accountId: z.string().regex(ledgerIdPattern, ledgerIdMessage),
    anchor: z
      .string()
      .max(80)
      .openapi({ example: `sha256:${'5c'.repeat(32)}` }),
    checkOwnership: z.boolean().optional().openapi({
      description: 'Also read `ownerOf` on chain now (needs `CHAIN_RPC_URL`). Default false.',
    }),
  })
  .strict()
  .openapi('VerifyAnchorRequest');

/** An account's anchor on the wire. */
export const AnchorSchema = z
  .object({
    accountId: z.string(),
    anchor: z.string().openapi({ example: `sha256:${'5c'.repeat(32)}` }),
    epoch: z.number().int().openapi({ description: '1 at binding, +1 per approved rotation.' }),
    chainId: z.string(),
    contractAddress: z.string(),
    tokenId: z.string(),
    ownerAddress: z.string(),
    createdBy: z.string().openapi({ description: 'Who set the current anchor (binder, or rotation requester).' }),
    createdAt: z.string(),
  })
  .openapi('Anchor');

/** A rotation request on the wire. */
export const RotationSchema = z
  .object({
    rotationId: z.string(),
    accountId: z.string(),
    status: z.enum(['pending', 'approved', 'expired']),
    fromAnchor: z.string(),
    toAnchor: z.string(),
    reason: z.string().nullable(),
    requestedBy: z.string(),
    requestedAt: z.string(),
    expiresAt: z.string(),
    approvedBy: z.string().nullable(),
    approvedAt: z.string().nullable(),
  })
  .openapi('AnchorRotation');

/** An approved rotation with the account's new anchor. */
export const ApprovedRotationSchema = RotationSchema.extend({ anchor: AnchorSchema }).openapi('ApprovedAnchorRotation');

/** One anchor audit row on the wire (anchors as their first 8 hex digits). */
export const AuditRowSchema = z
  .object({
    id: z.string(),
    action: z.enum(['anchor_bound', 'rotation_requested', 'rotation_approved']),
    actor: z.string(),
    at: z.string(),
    rotationId: z.string().nullable(),
    oldAnchorPrefix: z.string().nullable().openapi({ description: 'First 8 hex digits of the anchor before.' }),
    newAnchorPrefix: z.string().nullable().openapi({ description: 'First 8 hex digits of the anchor after.' }),
    requestedBy: z.string().nullable(),
    requestedAt: z.string().nullable(),
  })
  .openapi('AnchorAuditRow');

/** `GET /v1/accounts/{id}/anchor/audit`. */
export const AuditListSchema = z.object({ audit: z.array(AuditRowSchema) }).openapi('AnchorAudit');

/** `POST /v1/accounts/{id}/anchor-token`. */
export const AnchorTokenSchema = z
  .object({
    token: z.string().openapi({ description: 'A JWT (`typ: anchor+jwt`) verifiable with `/.well-known/jwks.json`.' }),
    expiresAt: z.string(),
  })
  .openapi('AnchorToken');

/** 200 of `POST /api/internal/verify-anchor`. */
export const VerifiedAnchorSchema = z
  .object({
    verified: z.literal(true),
    anchorHash: z.string(),
    epoch: z.number().int(),
    ownershipChecked: z.boolean(),
    checkedAt: z.string(),
  })
  .openapi('VerifiedAnchor');

/** 403 of `POST /api/internal/verify-anchor`. */
export const NotVerifiedAnchorSchema = z
  .object({
    error: z.literal('anchor_not_verified'),
    message: z.string(),
    verified: z.literal(false),
    reason: z.enum(['no_anchor', 'anchor_mismatch', 'ownership_lost']),
    checkedAt: z.string(),
  })
  .openapi('NotVerifiedAnchor');

/** `GET /.well-known/jwks.json`. */
export const JwksSchema = z.object({ keys: z.array(z.record(z.string(), z.unknown())) }).openapi('JsonWebKeySet');

/**
 * The NFT of a request body as the library's input.
 *
 * @example
 * ```ts
 * await identity.service.bindAnchor({ accountId, nft: nftOf(body), actor });
 * ```
 */
export function nftOf(body: {
  chainId: bigint;
  contractAddress: string;
  tokenId: bigint;
  ownerAddress: string;
}): AnchorInput {
  return {
    chainId: body.chainId,
    contractAddress: body.contractAddress,
    tokenId: body.tokenId,
    ownerAddress: body.ownerAddress,
  };
}

/**
 * An anchor record as its wire body (ids as base-10 strings, times ISO 8601).
 *
 * @example
 * ```ts
 * return c.json(anchorBody(record), 200);
 * ```
 */
export function anchorBody(record: AnchorRecord): z.infer<typeof AnchorSchema> {
  return {
    accountId: record.accountId,
    anchor: record.anchor,
    epoch: record.epoch,
    chainId: record.chainId.toString(),
    contractAddress: record.contractAddress,
    tokenId: record.tokenId.toString(),
    ownerAddress: record.ownerAddress,
    createdBy: record.createdBy,
    createdAt: record.createdAt.toISOString(),
  };
}

/**
 * A rotation record as its wire body.
 *
 * @example
 * ```ts
 * return c.json(rotationBody(rotation), 202);
 * ```
 */
export function rotationBody(rotation: RotationRecord): z.infer<typeof RotationSchema> {
  return {
    rotationId: rotation.id,
    accountId: rotation.accountId,
    status: rotation.status,
    fromAnchor: rotation.fromAnchor,
    toAnchor: rotation.toAnchor,
    reason: rotation.reason,
    requestedBy: rotation.requestedBy,
    requestedAt: rotation.requestedAt.toISOString(),
    expiresAt: rotation.expiresAt.toISOString(),
    approvedBy: rotation.approvedBy,
    approvedAt: rotation.approvedAt?.toISOString() ?? null,
  };
}

/**
 * An audit row as its wire body.
 *
 * @example
 * ```ts
 * return c.json({ audit: rows.map(auditBody) }, 200);
 * ```
 */
export function auditBody(row: AnchorAuditRecord): z.infer<typeof AuditRowSchema> {
  return {
    id: row.id.toString(),
    action: row.action,
    actor: row.actor,
    at: row.at.toISOString(),
    rotationId: row.rotationId,
    oldAnchorPrefix: row.oldAnchorPrefix,
    newAnchorPrefix: row.newAnchorPrefix,
    requestedBy: row.requestedBy,
    requestedAt: row.requestedAt?.toISOString() ?? null,
  };
}
