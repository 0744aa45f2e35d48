// The price book a deployment seeds from its configuration: `METERS` (a JSON array of meter bodies, the shape
// `POST /v1/meters` takes) or `METERS_FILE` (a path to the same JSON). The shape is validated when the config is
// parsed, so a bad catalog stops the process with a message naming the meter; the ledger's price rules (no empty
// price list, no duplicate dimension, no price above 10^15 at unitsMax) are checked when the meters are seeded, still
// before the gateway listens (`seedMeters`).
import { readFileSync } from 'node:fs';
import type { MeterInput } from '@arrakis/billing-ledger';
import { z } from 'zod';
import type { ConfigIssue } from './config.js';
import { MeterBodySchema, meterInputOf } from './routes/meter-schemas.js';

/** Longest `METERS` value (or `METERS_FILE` content) accepted, in characters. */
export const metersJsonLengthMax = 200_000;
/** Most meters one configuration may list. */
export const metersConfigMax = 200;

/** One configured meter: the terms and prices of the version the config wants in force (`createdBy` is `config`). */
export type MeterConfig = Omit<MeterInput, 'createdBy'>;

function readMetersJson(env: Record<string, string | undefined>): { variable: string; raw: string } | undefined {
  const inline = env.METERS?.trim();
  const file = env.METERS_FILE?.trim();
  if (inline !== undefined && inline !== '') {
    if (file !== undefined && file !== '') throw new Error('set either METERS or METERS_FILE, not both');
    return { variable: 'METERS', raw: inline };
  }
  if (file === undefined || file === '') return undefined;
  return { variable: 'METERS_FILE', raw: readFileSync(file, 'utf8') };
}

function messageOf(error: unknown): string {
  if (error instanceof z.ZodError) {
    return error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`).join('; ');
  }
  return error instanceof Error ? error.message : String(error);
}

/**
 * Reads `METERS` or `METERS_FILE` (default: no meters), adding an issue per problem: not JSON, not an array of at
 * most {@link metersConfigMax} meter bodies, a meter id listed twice.
 *
 * @example
 * const meters = metersConfigFrom(process.env, issues);
 */
export function metersConfigFrom(env: Record<string, string | undefined>, issues: ConfigIssue[]): MeterConfig[] {
  let variable = env.METERS?.trim() ? 'METERS' : 'METERS_FILE';
  try {
    const source = readMetersJson(env);
    if (source === undefined) return [];
    variable = source.variable;
    if (source.raw.length > metersJsonLengthMax) throw new Error(`longer than ${metersJsonLengthMax} characters`);
    const bodies = z.array(MeterBodySchema).max(metersConfigMax).parse(JSON.parse(source.raw));
    const seen = new Set<string>();
    for (const body of bodies) {
      if (seen.has(body.id)) throw new Error(`meter "${body.id}" is listed twice`);
      seen.add(body.id);
    }
    return bodies.map((body) => {
      const { createdBy: _createdBy, ...config } = meterInputOf(body, 'config');
      return config;
    });
  } catch (error) {
    issues.push({ variable, message: `invalid meter catalog: ${messageOf(error)}` });
    return [];
  }
}
