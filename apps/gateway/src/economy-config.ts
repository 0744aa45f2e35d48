// Configuration of what the gateway sells and how revenue rules are governed: the credit pack catalog
// (`CREDIT_PACKS`, JSON), the price book to seed (`METERS` / `METERS_FILE`, see `meters-config.ts`) and the revenue
// rule cooldown (`REVENUE_RULE_COOLDOWN_SECONDS`). They are validated at start, so a bad catalog stops the process
// with a message naming the pack or meter.
import {
  type CreditPackConfig,
  createCreditPackCatalog,
  defaultCreditPacks,
  LedgerError,
} from '@arrakis/billing-ledger';
import { parseMicro } from '@arrakis/billing-ledger/money';
import { z } from 'zod';
import type { ConfigIssue } from './config.js';
import { type MeterConfig, metersConfigFrom } from './meters-config.js';

/** Longest revenue rule cooldown accepted: 30 days. */
export const ruleCooldownSecondsMax = 30 * 86_400;
/** Longest `CREDIT_PACKS` value accepted. */
export const creditPacksJsonLengthMax = 20_000;

const packSchema = z
  .object({
    id: z.string(),
    priceMicro: z.string(),
    bonusBps: z.number().int(),
    lotTtlSeconds: z.number().int().positive().optional(),
  })
  .strict();

/** The economy's settings. */
export interface EconomyConfig {
  creditPacks: readonly CreditPackConfig[];
  /** Meters seeded at start (`METERS` / `METERS_FILE`); empty by default. */
  meters: readonly MeterConfig[];
  ruleCooldownMs: number;
}

/**
 * Reads `CREDIT_PACKS` (a JSON array of `{id, priceMicro: "<micro-USD>", bonusBps, lotTtlSeconds?}`; default the
 * starter/standard/premium catalog), `METERS` / `METERS_FILE` (default none) and `REVENUE_RULE_COOLDOWN_SECONDS`
 * (default 172 800 = 48 h), adding an issue per problem.
 *
 * @example
 * const economy = economyConfigFrom(process.env, issues);
 */
export function economyConfigFrom(env: Record<string, string | undefined>, issues: ConfigIssue[]): EconomyConfig {
  let creditPacks: readonly CreditPackConfig[] = defaultCreditPacks;
  const raw = env.CREDIT_PACKS?.trim();
  if (raw !== undefined && raw !== '') {
    try {
      if (raw.length > creditPacksJsonLengthMax) throw new Error(`longer than ${creditPacksJsonLengthMax} characters`);
      const parsed = z.array(packSchema).parse(JSON.parse(raw));
      creditPacks = parsed.map((pack) => ({
        id: pack.id,
        priceMicro: parseMicro(pack.priceMicro),
        bonusBps: pack.bonusBps,
        lotTtlMs: pack.lotTtlSeconds === undefined ? null : pack.lotTtlSeconds * 1000,
      }));
      createCreditPackCatalog(creditPacks);
    } catch (error) {
      const message =
        error instanceof z.ZodError
          ? error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`).join('; ')
          : error instanceof LedgerError || error instanceof Error
            ? error.message
            : String(error);
      issues.push({ variable: 'CREDIT_PACKS', message: `invalid credit pack catalog: ${message}` });
    }
  }
  let ruleCooldownMs = 172_800_000;
  const cooldown = env.REVENUE_RULE_COOLDOWN_SECONDS?.trim();
  if (cooldown !== undefined && cooldown !== '') {
    const seconds = /^[0-9]{1,9}$/.test(cooldown) ? Number(cooldown) : Number.NaN;
    if (!Number.isInteger(seconds) || seconds > ruleCooldownSecondsMax) {
      issues.push({
        variable: 'REVENUE_RULE_COOLDOWN_SECONDS',
        message: `expected an integer from 0 to ${ruleCooldownSecondsMax}, got "${cooldown}"`,
      });
    } else {
      ruleCooldownMs = seconds * 1000;
    }
  }
  return { creditPacks, meters: metersConfigFrom(env, issues), ruleCooldownMs };
}
