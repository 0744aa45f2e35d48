/**
 * zod schemas of the x402 wire format (versions 1 and 2) as the official `@x402/core` 2.x packages produce and
 * expect it, plus the stricter schema of the `exact` EVM requirements this package issues.
 */
import { type Address, getAddress, type Hex, isAddress } from 'viem';
import { z } from 'zod';
import { parseAtomicAmount, parseUint256Field } from './amount.js';
import { type Eip155Network, eip155ChainId } from './networks.js';

/** Longest `maxTimeoutSeconds` this package issues or accepts (one day). */
export const maxTimeoutSecondsMax = 86_400;
/** Default `maxTimeoutSeconds` of issued requirements (the official SDK's default). */
export const maxTimeoutSecondsDefault = 300;
/** Longest EIP-712 domain `name` / `version` accepted in `extra`. */
export const tokenNameBytesMax = 128;
export const tokenVersionBytesMax = 32;

const nonEmpty = z.string().min(1);
const looseRecord = z.record(z.string(), z.unknown());
/** An optional field a facilitator may send as null: read as absent. */
const absentString = z
  .string()
  .nullish()
  .transform((value) => value ?? undefined);
const absentRecord = looseRecord.nullish().transform((value) => value ?? undefined);

/** An EVM address in any valid case (a mixed-case one must carry a correct EIP-55 checksum), checksummed on output. */
export const addressSchema = z
  .string()
  .refine((value) => isAddress(value), {
    message: 'expected a 20-byte hex address (0x…, EIP-55 checksum if mixed case)',
  })
  .transform((value) => getAddress(value) as Address);

/** A CAIP-2 `eip155:<chainId>` network. */
export const eip155NetworkSchema = z
  .string()
  .refine((value) => eip155ChainId(value) !== null, { message: 'expected a CAIP-2 EVM network "eip155:<chainId>"' })
  .transform((value) => value as Eip155Network);

/** A positive amount in the token's smallest unit as a canonical base-10 string (`"1500000"`). */
export const atomicAmountSchema = z.string().refine((value) => {
  const parsed = parseAtomicAmount(value);
  return parsed !== null && parsed > 0n;
}, 'expected a positive integer as a canonical base-10 string (digits only, no sign, no leading zeros, ≤ 2^256 − 1)');

/** `extra` of the `exact` EIP-3009 scheme: the token's EIP-712 domain `name` and `version` (other keys kept). */
export const exactExtraSchema = z.looseObject({
  name: z.string().min(1).max(tokenNameBytesMax),
  version: z.string().min(1).max(tokenVersionBytesMax),
});

/**
 * What this package issues and verifies against: `exact` on an EVM network, paid with an EIP-3009 token.
 * Addresses come out checksummed.
 */
export const exactRequirementsSchema = z.object({
  scheme: z.literal('exact'),
  network: eip155NetworkSchema,
  amount: atomicAmountSchema,
  asset: addressSchema,
  payTo: addressSchema,
  maxTimeoutSeconds: z.number().int().min(1).max(maxTimeoutSecondsMax),
  extra: exactExtraSchema,
});

/** Payment requirements of the `exact` EVM scheme, version 2 shape (see {@link exactRequirementsSchema}). */
export interface PaymentRequirements {
  scheme: 'exact';
  network: Eip155Network;
  /** Amount in the token's smallest unit, base-10 (for a 6-decimal USD token: micro-USD). */
  amount: string;
  asset: Address;
  payTo: Address;
  maxTimeoutSeconds: number;
  extra: { name: string; version: string; [key: string]: unknown };
}

/** Version 2 requirements as any x402 party may send them (the official `PaymentRequirementsV2Schema`). */
export const wireRequirementsV2Schema = z.object({
  scheme: nonEmpty,
  network: z
    .string()
    .min(3)
    .refine((value) => value.includes(':'), 'expected a CAIP-2 network'),
  amount: nonEmpty,
  asset: nonEmpty,
  payTo: nonEmpty,
  maxTimeoutSeconds: z.number().positive(),
  extra: looseRecord.nullish(),
});
export type WireRequirementsV2 = z.infer<typeof wireRequirementsV2Schema>;

/** Version 1 requirements (in the 402 JSON body): the amount is `maxAmountRequired`, the network a name. */
export const wireRequirementsV1Schema = z.object({
  scheme: nonEmpty,
  network: nonEmpty,
  maxAmountRequired: nonEmpty,
  resource: nonEmpty,
  description: z.string(),
  mimeType: z.string().optional(),
  outputSchema: looseRecord.nullish(),
  payTo: nonEmpty,
  maxTimeoutSeconds: z.number().positive(),
  asset: nonEmpty,
  extra: looseRecord.nullish(),
});
export type WireRequirementsV1 = z.infer<typeof wireRequirementsV1Schema>;

const printable = /^[\x20-\x7e]+$/;
/** The resource a version 2 `PaymentRequired` describes. */
export const resourceInfoSchema = z.object({
  url: nonEmpty,
  description: z.string().optional(),
  mimeType: z.string().optional(),
  serviceName: z.string().min(1).max(32).regex(printable).optional(),
  tags: z.array(z.string().min(1).max(32).regex(printable)).max(5).optional(),
  iconUrl: z.string().max(2048).optional(),
});
export type ResourceInfo = z.infer<typeof resourceInfoSchema>;

/** Version 2 `PaymentRequired`, base64 JSON in the `PAYMENT-REQUIRED` header of a 402. */
export const paymentRequiredV2Schema = z.object({
  x402Version: z.literal(2),
  error: z.string().optional(),
  resource: resourceInfoSchema,
  accepts: z.array(wireRequirementsV2Schema).min(1),
  extensions: looseRecord.nullish(),
});
export interface PaymentRequired {
  x402Version: 2;
  error?: string;
  resource: ResourceInfo;
  accepts: PaymentRequirements[];
  extensions?: Record<string, unknown>;
}

/** Version 1 `PaymentRequired`, the 402 JSON body a version 1 client reads. */
export const paymentRequiredV1Schema = z.object({
  x402Version: z.literal(1),
  error: z.string().optional(),
  accepts: z.array(wireRequirementsV1Schema).min(1),
});

/** Version 2 `PaymentPayload` (the decoded `PAYMENT-SIGNATURE` header). */
export const paymentPayloadV2Schema = z.object({
  x402Version: z.literal(2),
  resource: resourceInfoSchema.nullish(),
  accepted: wireRequirementsV2Schema,
  payload: looseRecord,
  extensions: looseRecord.nullish(),
});
export type PaymentPayloadV2 = z.infer<typeof paymentPayloadV2Schema>;

/** Version 1 `PaymentPayload` (the decoded `X-PAYMENT` header). */
export const paymentPayloadV1Schema = z.object({
  x402Version: z.literal(1),
  scheme: nonEmpty,
  network: nonEmpty,
  payload: looseRecord,
});
export type PaymentPayloadV1 = z.infer<typeof paymentPayloadV1Schema>;

/** A decoded payment payload of either version. */
export type PaymentPayload = PaymentPayloadV1 | PaymentPayloadV2;

const uint256String = z.string().refine((value) => parseUint256Field(value) !== null, {
  message: 'expected a uint256 as a canonical base-10 string or 0x hex',
});

/** The EIP-3009 authorization inside an `exact` EVM payload; numbers are strings on the wire. */
export const exactAuthorizationSchema = z.object({
  from: addressSchema,
  to: addressSchema,
  value: uint256String,
  validAfter: uint256String,
  validBefore: uint256String,
  nonce: z
    .string()
    .regex(/^0x[0-9a-fA-F]{64}$/, 'expected the nonce as 0x followed by 32 bytes of hex')
    .transform((value) => value.toLowerCase() as Hex),
});
export type ExactAuthorization = z.infer<typeof exactAuthorizationSchema>;

/** `payload` of the `exact` EVM scheme: a 65-byte ECDSA signature and the signed authorization. */
export const exactEvmPayloadSchema = z.object({
  signature: z
    .string()
    .regex(/^0x[0-9a-fA-F]{130}$/, 'expected a 65-byte signature as 0x followed by 130 hex digits')
    .transform((value) => value as Hex),
  authorization: exactAuthorizationSchema,
});
export type ExactEvmPayload = z.infer<typeof exactEvmPayloadSchema>;

/** The facilitator's answer to `/verify`. */
export const verifyResponseSchema = z.object({
  isValid: z.boolean(),
  invalidReason: absentString,
  invalidMessage: absentString,
  payer: absentString,
  extensions: absentRecord,
  extra: absentRecord,
});
export interface VerifyResponse {
  isValid: boolean;
  invalidReason?: string | undefined;
  invalidMessage?: string | undefined;
  payer?: string | undefined;
  extensions?: Record<string, unknown> | undefined;
  extra?: Record<string, unknown> | undefined;
}

/** The facilitator's answer to `/settle`; also the `PAYMENT-RESPONSE` header's content. */
export const settleResponseSchema = z.object({
  success: z.boolean(),
  errorReason: absentString,
  errorMessage: absentString,
  payer: absentString,
  transaction: z.string(),
  network: z.string(),
  amount: absentString,
  extensions: absentRecord,
  extra: absentRecord,
});
export interface SettleResponse {
  success: boolean;
  errorReason?: string | undefined;
  errorMessage?: string | undefined;
  payer?: string | undefined;
  /** Transaction hash; `""` when settlement failed. */
  transaction: string;
  network: string;
  /** Amount settled, base-10 smallest units. */
  amount?: string | undefined;
  extensions?: Record<string, unknown> | undefined;
  extra?: Record<string, unknown> | undefined;
}

/** A successful settlement: what `settle()` resolves to and what `PAYMENT-RESPONSE` carries. */
export interface Settlement extends SettleResponse {
  success: true;
  /** The transaction hash of the `transferWithAuthorization` call. */
  transaction: string;
  network: string;
  payer: string;
}

/** The facilitator's answer to `/supported`. */
export const supportedResponseSchema = z.object({
  kinds: z.array(
    z.object({
      x402Version: z.number(),
      scheme: z.string(),
      network: z.string(),
      extra: absentRecord,
    }),
  ),
  extensions: z.array(z.string()).default([]),
  signers: z.record(z.string(), z.array(z.string())).default({}),
});
export interface SupportedKind {
  x402Version: number;
  scheme: string;
  network: string;
  extra?: Record<string, unknown> | undefined;
}
export interface SupportedResponse {
  kinds: SupportedKind[];
  extensions: string[];
  signers: Record<string, string[]>;
}

/** Body of `POST /verify` and `POST /settle` on a facilitator. */
export const facilitatorRequestSchema = z.object({
  x402Version: z.union([z.literal(1), z.literal(2)]),
  paymentPayload: looseRecord,
  paymentRequirements: looseRecord,
});
export interface FacilitatorRequest {
  x402Version: 1 | 2;
  paymentPayload: PaymentPayload;
  paymentRequirements: PaymentRequirements | WireRequirementsV1;
}
