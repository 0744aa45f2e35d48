// The one wire rule of every free-text field (reasons, notes, names, SIWE messages): bounded length, and no NUL or lone
// UTF-16 surrogate, checked at the edge so a bad value is a 400 `validation_failed` naming the field before any store
// is touched. The libraries apply the same rule (`isStorableText` in @arrakis/billing-ledger and
// @arrakis/identity-trust) for their other callers.
import { isStorableText } from '@arrakis/billing-ledger';
import { z } from '@hono/zod-openapi';

/** The issue code of a free text with a NUL or a lone surrogate (in `details.issues[].code`). */
export const invalidTextIssueCode = 'invalid_text';

/** Options of {@link freeTextSchema}. */
export interface FreeTextSchemaOptions {
  /** Longest text, in UTF-16 code units (JavaScript `length`). */
  lengthMax: number;
  /** Shortest text after trimming when `trim`; default 1. */
  lengthMin?: number;
  /** Trim surrounding white space first (default false). */
  trim?: boolean;
  /** Message of a too-short text. */
  requiredMessage?: string;
}

/**
 * A free-text field: `lengthMin`–`lengthMax` characters (after trimming when `trim`), refused with a
 * `validation_failed` issue of code `invalid_text` when it holds a NUL or an unpaired UTF-16 surrogate (a JSON body can
 * carry one as `"\ud800"`): Postgres refuses a NUL in `text` and a lone surrogate in `jsonb`, and turns a lone
 * surrogate in `text` into U+FFFD.
 *
 * @example
 * ```ts
 * z.object({ reason: freeTextSchema({ lengthMax: 500, trim: true }).openapi({ example: 'welcome credit' }) });
 * ```
 */
export function freeTextSchema(options: FreeTextSchemaOptions) {
  const lengthMin = options.lengthMin ?? 1;
  const base = options.trim === true ? z.string().trim() : z.string();
  return base
    .min(lengthMin, options.requiredMessage)
    .max(options.lengthMax)
    .refine(isStorableText, {
      message: 'must not contain a NUL character or an unpaired UTF-16 surrogate',
      params: { code: invalidTextIssueCode },
    });
}
