// Usage extraction from upstream responses, "first found wins": the `X-Usage` header, then the `usage` object of a
// JSON body or of the last SSE event that carries one. The body is observed by a tap fed every chunk the proxy
// forwards, so the response passes through unbuffered; the tap's memory is bounded by `bytesMax`.
import { strict as assert } from 'node:assert';
import { Buffer } from 'node:buffer';

/** Units used per dimension, e.g. `{ input_tokens: 1200n, output_tokens: 340n }`. */
export type Usage = Record<string, bigint>;

/** At most this many dimensions in one usage (header or body); more makes the usage malformed. */
export const usageDimensionsMax = 32;

/** The largest unit count of one dimension (`Number.MAX_SAFE_INTEGER`: exact in JSON, 16 digits in the header). */
export const usageUnitsMax = 9_007_199_254_740_991n;

/** The longest `X-Usage` header value, in characters (32 dimensions of 64-char names and 16 digits fit). */
export const usageHeaderCharsMax = 4096;

/** Default `bytesMax` of {@link usageTap}: the most a JSON body or one SSE event may take to be read (1 MiB). */
export const usageTapBytesMaxDefault = 1024 * 1024;

/** The largest `bytesMax` {@link usageTap} accepts (64 MiB). */
export const usageTapBytesMaxLimit = 64 * 1024 * 1024;

/** A dimension name: lower-case letter, then up to 63 lower-case letters, digits or `_`. */
const dimensionName = /^[a-z][a-z0-9_]{0,63}$/;

/** One `name=units` item of the header, optional spaces or tabs around `=`, canonical digits (no leading zero). */
const headerItem = /^([a-z][a-z0-9_]{0,63})[ \t]*=[ \t]*(0|[1-9][0-9]{0,15})$/;

/** Rules of {@link parseUsageHeader}; `details.rule` of a {@link UsageFormatError}. */
export type UsageFormatRule =
  | 'too_long'
  | 'too_many_dimensions'
  | 'malformed_item'
  | 'duplicate_dimension'
  | 'units_too_large';

/** Details of a {@link UsageFormatError}. */
export interface UsageFormatErrorDetails {
  /** The rule the value broke. */
  rule: UsageFormatRule;
  /** The offending item (`name=units`), when one item is at fault. */
  item?: string;
}

/**
 * Thrown by {@link parseUsageHeader} when an `X-Usage` header is malformed. Stable `code`
 * `usage_format_invalid`; `details.rule` names the rule that failed. The caller decides what to do (the proxy
 * logs it and falls back to the body's usage, see {@link usageFromResponse}).
 *
 * @example
 * ```ts
 * try {
 *   parseUsageHeader('input_tokens=-1');
 * } catch (error) {
 *   if (error instanceof UsageFormatError) console.log(error.details.rule); // "malformed_item"
 * }
 * ```
 */
export class UsageFormatError extends Error {
  override readonly name = 'UsageFormatError';
  readonly code = 'usage_format_invalid' as const;
  readonly details: UsageFormatErrorDetails;
  constructor(message: string, details: UsageFormatErrorDetails) {
    super(message);
    this.details = details;
  }
}

function quote(value: string): string {
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
}

/**
 * Parses an `X-Usage` header value: comma-separated `dimension=units` items (`input_tokens=1200, output_tokens=340`),
 * spaces or tabs allowed around items and `=`. Names match `^[a-z][a-z0-9_]{0,63}$`, units are non-negative integers
 * in canonical decimal (no sign, no leading zero) up to {@link usageUnitsMax}, at most {@link usageDimensionsMax}
 * distinct dimensions. An empty (or blank) value reports no usage and gives `null`.
 *
 * @throws {UsageFormatError} when the value is longer than {@link usageHeaderCharsMax}, has too many items, an item
 * that is not `name=units`, a dimension twice, or units above {@link usageUnitsMax}.
 * @example
 * ```ts
 * parseUsageHeader('input_tokens=1200, output_tokens=340'); // { input_tokens: 1200n, output_tokens: 340n }
 * parseUsageHeader('  '); // null
 * ```
 */
export function parseUsageHeader(value: string): Usage | null {
  if (value.length > usageHeaderCharsMax)
    throw new UsageFormatError(`X-Usage is ${value.length} characters long; expected at most ${usageHeaderCharsMax}`, {
      rule: 'too_long',
    });
  if (value.trim() === '') return null;
  const items = value.split(',');
  if (items.length > usageDimensionsMax)
    throw new UsageFormatError(
      `X-Usage has ${items.length} items; expected at most ${usageDimensionsMax} dimension=units items`,
      { rule: 'too_many_dimensions' },
    );
  const usage = new Map<string, bigint>();
  for (const raw of items) {
    const item = raw.trim();
    const match = headerItem.exec(item);
    if (match === null)
      throw new UsageFormatError(
        `X-Usage item ${quote(item)} is not dimension=units (a name matching ^[a-z][a-z0-9_]{0,63}$, a non-negative integer)`,
        { rule: 'malformed_item', item },
      );
    const [, name = '', digits = ''] = match;
    if (usage.has(name))
      throw new UsageFormatError(`X-Usage names dimension "${name}" twice; expected each dimension once`, {
        rule: 'duplicate_dimension',
        item,
      });
    const units = BigInt(digits);
    if (units > usageUnitsMax)
      throw new UsageFormatError(`X-Usage item ${quote(item)} has more than ${usageUnitsMax} units`, {
        rule: 'units_too_large',
        item,
      });
    usage.set(name, units);
  }
  return Object.fromEntries(usage);
}

/** OpenAI names mapped to ours; `null` drops the field (`total_tokens` is derived, never charged). */
const openAiAliases: Readonly<Record<string, string | null>> = {
  prompt_tokens: 'input_tokens',
  completion_tokens: 'output_tokens',
  total_tokens: null,
};

/**
 * Reads the `usage` object of an OpenAI-compatible JSON value. Unit counts are numbers that are non-negative safe
 * integers. A field named `*_tokens` is a unit count: `null` there means absent, any other value that is not a unit
 * count (negative, fractional, huge, a string) makes the whole object invalid, as if no usage were reported (charging
 * the other fields would undercharge silently). Any other field is kept when it is a unit count and ignored otherwise
 * (nested objects like `prompt_tokens_details`, timings like Groq's `queue_time: 0.037`, strings). Two fields naming
 * the same dimension with different units, or more than {@link usageDimensionsMax} dimensions, are invalid too. No
 * dimension at all → `null`.
 */
function usageFromJsonValue(value: unknown): Usage | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const usage = new Map<string, bigint>();
  for (const [field, units] of Object.entries(value)) {
    const isUnitCount = typeof units === 'number' && Number.isSafeInteger(units) && units >= 0;
    if (!isUnitCount) {
      if (field.endsWith('_tokens') && units !== null) return null;
      continue;
    }
    const alias = Object.hasOwn(openAiAliases, field) ? openAiAliases[field] : field;
    if (alias === null || alias === undefined || !dimensionName.test(alias)) continue;
    const previous = usage.get(alias);
    if (previous !== undefined && previous !== BigInt(units)) return null;
    usage.set(alias, BigInt(units));
    if (usage.size > usageDimensionsMax) return null;
  }
  return usage.size === 0 ? null : Object.fromEntries(usage);
}

/** The `usage` of a JSON text whose top level is an object; `null` when it is not JSON or carries no valid usage. */
function usageFromJsonText(text: string): Usage | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return null;
  return Object.hasOwn(parsed, 'usage') ? usageFromJsonValue((parsed as { usage: unknown }).usage) : null;
}

/** An incremental observer of a response body; see {@link usageTap}. */
export interface UsageTap {
  /**
   * Observes the next chunk the proxy forwarded: a `Uint8Array` (a `Buffer` from a Node stream too). Never throws
   * on any content; throws after {@link UsageTap.end}.
   */
  write(chunk: Uint8Array | Buffer): void;
  /** Ends the body and returns the usage found in it, or `null`. Calling it again returns the same result. */
  end(): Usage | null;
  /** Bytes of body text the tap holds right now (JSON: the body so far; SSE: the current partial event). */
  readonly retainedBytes: number;
}

/** Reads a JSON body: keeps it up to `bytesMax` bytes, gives up (and drops what it kept) past that. */
class JsonUsageReader {
  private readonly decoder = new TextDecoder('utf-8');
  private parts: string[] = [];
  private bytes = 0;
  private gaveUp = false;
  constructor(private readonly bytesMax: number) {}

  get retainedBytes(): number {
    return this.gaveUp ? 0 : this.bytes;
  }

  write(chunk: Uint8Array): void {
    if (this.gaveUp) return;
    this.bytes += chunk.byteLength;
    if (this.bytes > this.bytesMax) {
      this.gaveUp = true;
      this.parts = [];
      return;
    }
    this.parts.push(this.decoder.decode(chunk, { stream: true }));
  }

  end(): Usage | null {
    if (this.gaveUp) return null;
    this.parts.push(this.decoder.decode());
    const text = this.parts.join('');
    this.parts = [];
    return usageFromJsonText(text);
  }
}

/**
 * Reads an SSE body (WHATWG event-stream rules): lines end with `\r\n`, `\n` or `\r` (a `\r\n` may be split across
 * chunks), `:` lines are comments, `data` fields are joined with `\n`, other fields are ignored, an empty line
 * dispatches the event. Keeps only the current `data` line and the current event's data (comments and other fields
 * are never kept), and the last usage seen; an event whose data outgrows `bytesMax` is skipped whole. Unlike a
 * browser, an event cut off by the end of the stream is still read (a truncated JSON payload fails to parse and is
 * ignored anyway).
 */
class SseUsageReader {
  private readonly decoder = new TextDecoder('utf-8');
  /** The current line while it is, or may still become, a `data` line (`unknown`: a prefix of `data:`). */
  private line = '';
  private lineBytes = 0;
  private lineKind: 'unknown' | 'data' | 'ignored' = 'unknown';
  /** The current line has characters (so it is not the empty line that dispatches the event). */
  private lineHasText = false;
  private data = '';
  private dataBytes = 0;
  /** The last chunk of text ended with `\r`: a `\n` opening the next one belongs to the same line break. */
  private pendingCr = false;
  /** The current event outgrew `bytesMax`: its lines are dropped until the empty line that ends it. */
  private skipping = false;
  private lastUsage: Usage | null = null;
  constructor(private readonly bytesMax: number) {}

  get retainedBytes(): number {
    return this.lineBytes + this.dataBytes;
  }

  write(chunk: Uint8Array): void {
    this.push(this.decoder.decode(chunk, { stream: true }));
  }

  end(): Usage | null {
    this.push(this.decoder.decode());
    if (this.lineHasText) this.endLine();
    this.dispatch();
    return this.lastUsage;
  }

  private push(text: string): void {
    let from = 0;
    if (this.pendingCr && text.length > 0) {
      this.pendingCr = false;
      if (text.startsWith('\n')) from = 1;
    }
    const lineBreak = /\r\n|\r|\n/g;
    lineBreak.lastIndex = from;
    // Bounded: each match consumes at least one character of `text`.
    for (let match = lineBreak.exec(text); match !== null; match = lineBreak.exec(text)) {
      this.appendToLine(text.slice(from, match.index));
      this.endLine();
      from = match.index + match[0].length;
      if (match[0] === '\r' && from === text.length) this.pendingCr = true;
    }
    this.appendToLine(text.slice(from));
  }

  private appendToLine(piece: string): void {
    if (piece === '') return;
    this.lineHasText = true;
    if (this.skipping || this.lineKind === 'ignored') return;
    this.line += piece;
    this.lineBytes += Buffer.byteLength(piece, 'utf8');
    if (this.lineKind === 'unknown') {
      if (this.line.startsWith('data:')) this.lineKind = 'data';
      else if (!'data:'.startsWith(this.line)) {
        this.lineKind = 'ignored';
        this.line = '';
        this.lineBytes = 0;
      }
    }
    this.checkBound();
  }

  private endLine(): void {
    const { line, lineBytes, lineKind, lineHasText } = this;
    this.line = '';
    this.lineBytes = 0;
    this.lineKind = 'unknown';
    this.lineHasText = false;
    if (!lineHasText) {
      if (this.skipping) this.skipping = false;
      else this.dispatch();
      return;
    }
    if (this.skipping || (lineKind !== 'data' && line !== 'data')) return;
    // `data`, `data:value` or `data: value`; the prefix is ASCII, one byte a character.
    const prefixChars = line.startsWith('data: ') ? 6 : Math.min(line.length, 5);
    this.data += `${line.slice(prefixChars)}\n`;
    this.dataBytes += lineBytes - prefixChars + 1;
    this.checkBound();
  }

  /** Past `bytesMax` the event is dropped and the rest of it skipped. */
  private checkBound(): void {
    if (this.lineBytes + this.dataBytes <= this.bytesMax) return;
    this.line = '';
    this.lineBytes = 0;
    this.data = '';
    this.dataBytes = 0;
    this.skipping = true;
  }

  private dispatch(): void {
    if (this.data === '') return;
    const payload = this.data.slice(0, -1);
    this.data = '';
    this.dataBytes = 0;
    if (payload.trim() === '[DONE]') return;
    const usage = usageFromJsonText(payload);
    if (usage !== null) this.lastUsage = usage;
  }
}

/** The body formats the tap reads, from the media type of a `Content-Type` (parameters and case ignored). */
function bodyFormatOf(contentType: string | null): 'json' | 'sse' | 'none' {
  if (contentType === null) return 'none';
  const mediaType = (contentType.split(';')[0] ?? '').trim().toLowerCase();
  if (mediaType === 'text/event-stream') return 'sse';
  if (mediaType === 'application/json' || /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+\+json$/.test(mediaType))
    return 'json';
  return 'none';
}

/**
 * An incremental observer of a response body the proxy forwards unbuffered: feed it every chunk with `write`, call
 * `end` when the body is over (or cut off) to get the usage it carried.
 * - `application/json` (and `*+json`): the `usage` object of the top-level object. The body is kept up to
 *   `bytesMax` bytes; past that the tap drops it and `end` gives `null`.
 * - `text/event-stream`: the `usage` of the last `data:` event that carries a valid one (`[DONE]`, comments, non-JSON
 *   events and `"usage": null` ignored). Only the current partial event is kept; an event over `bytesMax` is skipped.
 * - anything else, or no `Content-Type`: not read, `end` gives `null`.
 *
 * OpenAI names are mapped (`prompt_tokens` → `input_tokens`, `completion_tokens` → `output_tokens`, `total_tokens`
 * dropped), other non-negative integer fields keep their names, nested objects and non-integer fields are ignored; a
 * `*_tokens` field that is negative, fractional, huge or not a number makes the usage object invalid (ignored as a
 * whole; in SSE the previous valid one stays). UTF-8 is decoded in stream mode, so a character split across chunks
 * is read whole; the tap never throws on what the upstream sends.
 *
 * @throws {RangeError} when `bytesMax` is not an integer in 1…{@link usageTapBytesMaxLimit}.
 * @example
 * ```ts
 * const tap = usageTap(upstream.headers.get('content-type'));
 * for await (const chunk of upstream.body) {
 *   tap.write(chunk);
 *   client.write(chunk);
 * }
 * const usage = tap.end(); // e.g. { input_tokens: 12n, output_tokens: 34n } or null
 * ```
 */
export function usageTap(contentType: string | null, options: { bytesMax?: number } = {}): UsageTap {
  const bytesMax = options.bytesMax ?? usageTapBytesMaxDefault;
  if (!Number.isSafeInteger(bytesMax) || bytesMax < 1 || bytesMax > usageTapBytesMaxLimit)
    throw new RangeError(`usageTap: bytesMax is ${bytesMax}; expected an integer in 1…${usageTapBytesMaxLimit}`);
  const format = bodyFormatOf(contentType);
  const reader =
    format === 'json' ? new JsonUsageReader(bytesMax) : format === 'sse' ? new SseUsageReader(bytesMax) : null;
  let result: { usage: Usage | null } | null = null;
  return {
    write(chunk: Uint8Array | Buffer): void {
      assert(result === null, 'usageTap: write() after end()');
      // A Buffer is a Uint8Array at run time; @types/node 20 types its `slice` differently, hence the union and cast.
      reader?.write(chunk as Uint8Array);
    },
    end(): Usage | null {
      result ??= { usage: reader === null ? null : reader.end() };
      return result.usage;
    },
    get retainedBytes(): number {
      return result === null && reader !== null ? reader.retainedBytes : 0;
    },
  };
}

/**
 * The usage to charge, first found wins: the `X-Usage` header (see {@link parseUsageHeader}), then the body's usage
 * from a {@link usageTap}, else `null`. A malformed header is not usage: it is passed to `onHeaderError` (to log
 * and count) and the body's usage is used instead. An empty header reports nothing and falls through too.
 *
 * @example
 * ```ts
 * const usage = usageFromResponse({
 *   header: response.headers.get('x-usage'),
 *   tapResult: tap.end(),
 *   onHeaderError: (error) => log.warn({ err: error }, 'malformed X-Usage'),
 * });
 * ```
 */
export function usageFromResponse(params: {
  header: string | null;
  tapResult: Usage | null;
  onHeaderError?: (error: UsageFormatError) => void;
}): Usage | null {
  if (params.header !== null) {
    try {
      const fromHeader = parseUsageHeader(params.header);
      if (fromHeader !== null) return fromHeader;
    } catch (error) {
      if (!(error instanceof UsageFormatError)) throw error;
      params.onHeaderError?.(error);
    }
  }
  return params.tapResult;
}
