// The upstream services the metered proxy forwards to (`ANY /v1/upstreams/{id}/{path...}`): `UPSTREAMS` (a JSON
// array) or `UPSTREAMS_FILE` (a path to the same JSON). The shape is validated when the config is parsed, one issue
// per bad field naming the upstream; that every `meterId` exists is checked once the ledger is open, before the
// gateway listens (`checkUpstreamMeters`).
import { readFileSync } from 'node:fs';
import { type Ledger, MeterNotFoundError } from '@arrakis/billing-ledger';
import { z } from 'zod';
import { ConfigError, type ConfigIssue } from './config.js';
import {
  upstreamBodyBytesMaxDefault,
  upstreamBodyBytesMaxLimit,
  upstreamFirstByteTimeoutMsDefault,
  upstreamsConfigMax,
  upstreamsJsonLengthMax,
  upstreamTimeoutMsDefault,
  upstreamTimeoutMsMax,
  upstreamTimeoutMsMin,
  upstreamUrlLengthMax,
} from './proxy/limits.js';
import { ledgerNamePattern } from './routes/ledger-schemas.js';

/** What the proxy does with a call whose upstream reported no usage. */
export const missingUsageActions = ['release', 'charge-hold'] as const;

/** One of {@link missingUsageActions}: `release` gives the hold back; `charge-hold` charges the whole hold. */
export type MissingUsageAction = (typeof missingUsageActions)[number];

/** One validated upstream. */
export interface UpstreamConfig {
  /** The `{id}` of `/v1/upstreams/{id}/…` (a ledger name) and the `aud` of the tokens the upstream receives. */
  id: string;
  /** Base URL, http(s), without query, fragment, credentials or trailing slash: `{url}/{path}` is forwarded to. */
  url: string;
  /** The meter every call reserves through (pool, billing mode, hold, prices). */
  meterId: string;
  /** The whole call (response head and body) must end within this; default 60 000, at most 600 000. */
  timeoutMs: number;
  /** The response head must arrive within this; default 30 000 (or `timeoutMs` when shorter), at most `timeoutMs`. */
  firstByteTimeoutMs: number;
  /** Largest request body forwarded; default 1 MiB, at most 64 MiB. Longer bodies are a 413. */
  bodyBytesMax: number;
  /** A call with no usage reported: `release` (default) or `charge-hold`. */
  onMissingUsage: MissingUsageAction;
  /** Pay-per-call x402 on this upstream (accepted and stored; default false). */
  payPerCall: boolean;
}

const integer = (min: number, max: number) => z.number().int('expected an integer').min(min).max(max);

const urlSchema = z
  .string()
  .max(upstreamUrlLengthMax)
  .refine((v) => URL.canParse(v) && ['http:', 'https:'].includes(new URL(v).protocol), {
    message: 'expected an http(s) URL',
  })
  .refine((v) => !v.includes('?') && !v.includes('#'), { message: 'must have no query string or fragment' })
  .refine((v) => !URL.canParse(v) || (new URL(v).username === '' && new URL(v).password === ''), {
    message: 'must carry no credentials',
  })
  .transform((v) => v.replace(/\/+$/, ''));

const upstreamSchema = z
  .object({
    id: z
      .string()
      .regex(ledgerNamePattern, 'expected 1-64 characters of a-z 0-9 _ . : - starting with a letter or digit'),
    url: urlSchema,
    meterId: z
      .string()
      .regex(ledgerNamePattern, 'expected 1-64 characters of a-z 0-9 _ . : - starting with a letter or digit'),
    timeoutMs: integer(upstreamTimeoutMsMin, upstreamTimeoutMsMax).optional(),
    firstByteTimeoutMs: integer(upstreamTimeoutMsMin, upstreamTimeoutMsMax).optional(),
    bodyBytesMax: integer(0, upstreamBodyBytesMaxLimit).optional(),
    onMissingUsage: z.enum(missingUsageActions).optional(),
    payPerCall: z.boolean().optional(),
  })
  .strict();

type UpstreamBody = z.infer<typeof upstreamSchema>;

function readUpstreamsJson(env: Record<string, string | undefined>): { variable: string; raw: string } | undefined {
  const inline = env.UPSTREAMS?.trim();
  const file = env.UPSTREAMS_FILE?.trim();
  if (inline !== undefined && inline !== '') {
    if (file !== undefined && file !== '') throw new Error('set either UPSTREAMS or UPSTREAMS_FILE, not both');
    return { variable: 'UPSTREAMS', raw: inline };
  }
  if (file === undefined || file === '') return undefined;
  return { variable: 'UPSTREAMS_FILE', raw: readFileSync(file, 'utf8') };
}

/** The label of upstream `index` in an issue: its position, and its id when it has a readable one. */
function upstreamLabel(entries: unknown[], index: number): string {
  const id = (entries[index] as { id?: unknown } | null)?.id;
  return typeof id === 'string' && id.length <= 64 ? `upstream ${index} (${JSON.stringify(id)})` : `upstream ${index}`;
}

function upstreamOf(body: UpstreamBody, where: string, issues: ConfigIssue[], variable: string): UpstreamConfig {
  const timeoutMs = body.timeoutMs ?? upstreamTimeoutMsDefault;
  const firstByteTimeoutMs = body.firstByteTimeoutMs ?? Math.min(upstreamFirstByteTimeoutMsDefault, timeoutMs);
  if (firstByteTimeoutMs > timeoutMs) {
    issues.push({
      variable,
      message: `${where}: firstByteTimeoutMs: must not exceed timeoutMs (${timeoutMs}), got ${firstByteTimeoutMs}`,
    });
  }
  return {
    id: body.id,
    url: body.url,
    meterId: body.meterId,
    timeoutMs,
    firstByteTimeoutMs,
    bodyBytesMax: body.bodyBytesMax ?? upstreamBodyBytesMaxDefault,
    onMissingUsage: body.onMissingUsage ?? 'release',
    payPerCall: body.payPerCall ?? false,
  };
}

/** Validates the parsed JSON: an array of at most {@link upstreamsConfigMax} upstreams with unique ids. */
function upstreamsOf(parsed: unknown, variable: string, issues: ConfigIssue[]): UpstreamConfig[] {
  if (!Array.isArray(parsed)) {
    issues.push({ variable, message: 'expected a JSON array of upstreams [{id, url, meterId, …}]' });
    return [];
  }
  if (parsed.length > upstreamsConfigMax) {
    issues.push({ variable, message: `lists ${parsed.length} upstreams; at most ${upstreamsConfigMax}` });
    return [];
  }
  const upstreams: UpstreamConfig[] = [];
  const seen = new Set<string>();
  parsed.forEach((entry, index) => {
    const where = upstreamLabel(parsed, index);
    const result = upstreamSchema.safeParse(entry);
    if (!result.success) {
      for (const issue of result.error.issues) {
        const field = issue.path.map(String).join('.');
        issues.push({ variable, message: `${where}: ${field === '' ? '' : `${field}: `}${issue.message}` });
      }
      return;
    }
    if (seen.has(result.data.id)) {
      issues.push({ variable, message: `${where}: id: "${result.data.id}" is listed twice` });
      return;
    }
    seen.add(result.data.id);
    upstreams.push(upstreamOf(result.data, where, issues, variable));
  });
  return upstreams;
}

/**
 * Reads `UPSTREAMS` or `UPSTREAMS_FILE` (default: no upstreams, the proxy route is off), adding an issue per problem:
 * not JSON, longer than {@link upstreamsJsonLengthMax}, not an array of at most {@link upstreamsConfigMax}
 * upstreams, a bad or unknown field (each named with the upstream's position and id), an id listed twice,
 * `firstByteTimeoutMs` above `timeoutMs`.
 *
 * @example
 * ```ts
 * const issues: ConfigIssue[] = [];
 * const upstreams = upstreamsConfigFrom(
 *   { UPSTREAMS: '[{"id":"llm","url":"http://127.0.0.1:9000","meterId":"chat"}]' },
 *   issues,
 * );
 * upstreams[0]?.timeoutMs; // 60000
 * ```
 */
export function upstreamsConfigFrom(env: Record<string, string | undefined>, issues: ConfigIssue[]): UpstreamConfig[] {
  let variable = env.UPSTREAMS?.trim() ? 'UPSTREAMS' : 'UPSTREAMS_FILE';
  let parsed: unknown;
  try {
    const source = readUpstreamsJson(env);
    if (source === undefined) return [];
    variable = source.variable;
    if (source.raw.length > upstreamsJsonLengthMax) throw new Error(`longer than ${upstreamsJsonLengthMax} characters`);
    parsed = JSON.parse(source.raw);
  } catch (error) {
    const reason = error instanceof SyntaxError ? `not valid JSON (${error.message})` : (error as Error).message;
    issues.push({ variable, message: reason });
    return [];
  }
  return upstreamsOf(parsed, variable, issues);
}

/**
 * Checks that the meter of every upstream exists in the ledger. Call it at start, after the meters are seeded and
 * before the gateway listens: a call through an upstream whose meter is missing could never be held.
 *
 * @throws {ConfigError} with one `UPSTREAMS` issue per upstream whose `meterId` does not exist.
 * @example
 * ```ts
 * await seedMeters({ ledger, meters: config.economy.meters, logger, nowMs: clock.nowMs() });
 * await checkUpstreamMeters(ledger, config.upstreams);
 * ```
 */
export async function checkUpstreamMeters(
  ledger: Pick<Ledger, 'getMeter'>,
  upstreams: readonly Pick<UpstreamConfig, 'id' | 'meterId'>[],
): Promise<void> {
  const issues: ConfigIssue[] = [];
  for (const upstream of upstreams) {
    try {
      await ledger.getMeter(upstream.meterId);
    } catch (error) {
      if (!(error instanceof MeterNotFoundError)) throw error;
      issues.push({
        variable: 'UPSTREAMS',
        message: `upstream "${upstream.id}": meter "${upstream.meterId}" does not exist (create it with POST /v1/meters or METERS)`,
      });
    }
  }
  if (issues.length > 0) throw new ConfigError(issues);
}
