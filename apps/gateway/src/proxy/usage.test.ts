import { describe, expect, it } from 'vitest';
import {
  parseUsageHeader,
  type Usage,
  UsageFormatError,
  usageDimensionsMax,
  usageFromResponse,
  usageHeaderCharsMax,
  usageTap,
  usageTapBytesMaxDefault,
  usageTapBytesMaxLimit,
  usageUnitsMax,
} from './usage.js';

const encoder = new TextEncoder();

/** Feeds `body` to a fresh tap in the given chunks (cut at `cuts`, sorted byte offsets) and returns its usage. */
function tapChunks(
  contentType: string | null,
  body: string | Uint8Array,
  cuts: number[] = [],
  bytesMax?: number,
): Usage | null {
  const bytes = typeof body === 'string' ? encoder.encode(body) : body;
  const tap = usageTap(contentType, bytesMax === undefined ? {} : { bytesMax });
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    tap.write(bytes.subarray(from, cut));
    from = cut;
  }
  return tap.end();
}

function formatError(fn: () => unknown): UsageFormatError {
  try {
    fn();
  } catch (error) {
    if (error instanceof UsageFormatError) return error;
    throw error;
  }
  throw new Error('expected a UsageFormatError');
}

const sse = 'text/event-stream';
const json = 'application/json';

/**
 * An OpenAI chat completion stream with `stream_options.include_usage`: `usage: null` until the last chunk, whose
 * data spans two lines (so a `\r\n` read as two line breaks would cut it).
 */
const openAiStream = [
  ': keep-alive',
  '',
  'data: {"id":"c1","choices":[{"delta":{"content":"Olá, "}}],"usage":null}',
  '',
  'data: {"id":"c1","choices":[{"delta":{"content":"mundo 🚀"}}],"usage":null}',
  '',
  'data: {"id":"c1","choices":[],',
  'data: "usage":{"prompt_tokens":12,"completion_tokens":34,"total_tokens":46,"prompt_tokens_details":{"cached_tokens":0}}}',
  '',
  'data: [DONE]',
  '',
  '',
].join('\r\n');

const openAiBody = JSON.stringify({
  id: 'c1',
  object: 'chat.completion',
  choices: [{ index: 0, message: { role: 'assistant', content: 'Grüße, 世界 🚀' } }],
  usage: {
    prompt_tokens: 12,
    completion_tokens: 34,
    total_tokens: 46,
    prompt_tokens_details: { cached_tokens: 8 },
    completion_tokens_details: { reasoning_tokens: 0 },
  },
});

describe('parseUsageHeader', () => {
  it('reads comma-separated dimension=units items as bigint units, spaces and tabs allowed around items and "="', () => {
    expect(parseUsageHeader('input_tokens=1200, output_tokens=340')).toEqual({
      input_tokens: 1200n,
      output_tokens: 340n,
    });
    expect(parseUsageHeader(' \tinput_tokens = 1 ,output_tokens\t=\t0 ')).toEqual({
      input_tokens: 1n,
      output_tokens: 0n,
    });
    expect(parseUsageHeader('requests=1')).toEqual({ requests: 1n });
  });

  it('an empty or blank value reports no usage: null', () => {
    expect(parseUsageHeader('')).toBeNull();
    expect(parseUsageHeader('  \t ')).toBeNull();
  });

  it('accepts the limits themselves: 32 dimensions, 64-character names, usageUnitsMax units', () => {
    const items = Array.from({ length: usageDimensionsMax }, (_, i) => `d${i}=${i}`);
    expect(Object.keys(parseUsageHeader(items.join(',')) ?? {})).toHaveLength(usageDimensionsMax);
    const name = `a${'b'.repeat(63)}`;
    expect(parseUsageHeader(`${name}=${usageUnitsMax}`)).toEqual({ [name]: usageUnitsMax });
  });

  it('names like "constructor" are plain own dimensions, not prototype members', () => {
    const usage = parseUsageHeader('constructor=1, tostring=2');
    expect(usage).toEqual({ constructor: 1n, tostring: 2n });
    expect(Object.hasOwn(usage ?? {}, 'constructor')).toBe(true);
  });

  it.each([
    ['input_tokens=-1', 'malformed_item'],
    ['input_tokens=1.5', 'malformed_item'],
    ['input_tokens=1e3', 'malformed_item'],
    ['input_tokens=012', 'malformed_item'],
    ['input_tokens=+1', 'malformed_item'],
    ['input_tokens=', 'malformed_item'],
    ['input_tokens', 'malformed_item'],
    ['=12', 'malformed_item'],
    ['Input_tokens=1', 'malformed_item'],
    ['1tokens=1', 'malformed_item'],
    ['input-tokens=1', 'malformed_item'],
    [`a${'b'.repeat(64)}=1`, 'malformed_item'],
    ['input_tokens=1,', 'malformed_item'],
    ['input_tokens=1,,output_tokens=2', 'malformed_item'],
    ['input_tokens=1 output_tokens=2', 'malformed_item'],
    ['input_tokens=1;output_tokens=2', 'malformed_item'],
    ['input_tokens=1, input_tokens=2', 'duplicate_dimension'],
    [`input_tokens=${usageUnitsMax + 1n}`, 'units_too_large'],
    ['input_tokens=99999999999999999', 'malformed_item'],
  ])('rejects %j with a UsageFormatError (rule %s) quoting the item', (value, rule) => {
    const error = formatError(() => parseUsageHeader(value));
    expect(error.code).toBe('usage_format_invalid');
    expect(error.details.rule).toBe(rule);
    expect(error.name).toBe('UsageFormatError');
  });

  it('the message quotes the bad item and says what was expected', () => {
    const error = formatError(() => parseUsageHeader('input_tokens=12, output_tokens=-3'));
    expect(error.message).toContain('"output_tokens=-3"');
    expect(error.message).toContain('non-negative integer');
    expect(error.details.item).toBe('output_tokens=-3');
  });

  it('rejects more than 32 items and values longer than usageHeaderCharsMax', () => {
    const items = Array.from({ length: usageDimensionsMax + 1 }, (_, i) => `d${i}=1`);
    expect(formatError(() => parseUsageHeader(items.join(','))).details.rule).toBe('too_many_dimensions');
    expect(formatError(() => parseUsageHeader(' '.repeat(usageHeaderCharsMax + 1))).details.rule).toBe('too_long');
  });
});

describe('usageTap on JSON bodies', () => {
  it('maps an OpenAI usage object: prompt_tokens → input_tokens, completion_tokens → output_tokens, total and nested objects dropped', () => {
    expect(tapChunks(json, openAiBody)).toEqual({ input_tokens: 12n, output_tokens: 34n });
  });

  it('keeps other integer fields under their own names and already-mapped names as they are', () => {
    const body = JSON.stringify({ usage: { input_tokens: 5, output_tokens: 7, images: 2, total_tokens: 12 } });
    expect(tapChunks(json, body)).toEqual({ input_tokens: 5n, output_tokens: 7n, images: 2n });
  });

  it('ignores non-integer and non-numeric fields that are not *_tokens (timings, strings, nulls, objects)', () => {
    const groq = {
      usage: {
        queue_time: 0.037,
        prompt_tokens: 18,
        prompt_time: 0.0001,
        completion_tokens: 556,
        completion_time: 0.46,
        total_tokens: 574,
        total_time: 0.46,
        tier: 'default',
        cached_tokens: null,
        BadName: 3,
      },
    };
    expect(tapChunks(json, JSON.stringify(groq))).toEqual({ input_tokens: 18n, output_tokens: 556n });
  });

  it.each([
    ['a negative count', '{"usage":{"prompt_tokens":-5,"completion_tokens":10}}'],
    ['a fractional count', '{"usage":{"prompt_tokens":1.5,"completion_tokens":10}}'],
    [
      'a huge count (past 2^53, inexact in JSON)',
      '{"usage":{"prompt_tokens":12345678901234567890,"completion_tokens":1}}',
    ],
    ['an overflowing count', '{"usage":{"prompt_tokens":1e400,"completion_tokens":1}}'],
    ['a string count', '{"usage":{"prompt_tokens":"12","completion_tokens":1}}'],
    ['a boolean count', '{"usage":{"prompt_tokens":true,"completion_tokens":1}}'],
    ['two fields for one dimension that disagree', '{"usage":{"prompt_tokens":3,"input_tokens":4}}'],
  ])('a usage object with %s in a *_tokens field is invalid as a whole: null', (_, body) => {
    expect(tapChunks(json, body)).toBeNull();
  });

  it('two fields for one dimension that agree are one dimension', () => {
    expect(tapChunks(json, '{"usage":{"prompt_tokens":3,"input_tokens":3}}')).toEqual({ input_tokens: 3n });
  });

  it('more than 32 dimensions is invalid: null; 32 is fine', () => {
    const usage = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`d${i}`, i]));
    expect(tapChunks(json, JSON.stringify({ usage: usage(usageDimensionsMax) }))).not.toBeNull();
    expect(tapChunks(json, JSON.stringify({ usage: usage(usageDimensionsMax + 1) }))).toBeNull();
  });

  it.each([
    ['not JSON', 'upstream error: <html>'],
    ['truncated JSON', openAiBody.slice(0, -2)],
    ['an array at the top level', '[{"usage":{"prompt_tokens":1}}]'],
    ['no usage', '{"choices":[]}'],
    ['usage null', '{"usage":null}'],
    ['usage an array', '{"usage":[1,2]}'],
    ['usage with only total_tokens', '{"usage":{"total_tokens":46}}'],
    ['an empty body', ''],
  ])('%s → null', (_, body) => {
    expect(tapChunks(json, body)).toBeNull();
  });

  it('reads JSON media types with parameters, in any case, and +json types; a leading BOM is skipped', () => {
    const body = '{"usage":{"prompt_tokens":1}}';
    expect(tapChunks('application/json; charset=utf-8', body)).toEqual({ input_tokens: 1n });
    expect(tapChunks('Application/JSON', body)).toEqual({ input_tokens: 1n });
    expect(tapChunks('application/vnd.api+json', body)).toEqual({ input_tokens: 1n });
    expect(tapChunks(json, `\uFEFF${body}`)).toEqual({ input_tokens: 1n });
  });

  it('does not read other media types or a missing Content-Type, and keeps nothing for them', () => {
    const body = '{"usage":{"prompt_tokens":1}}';
    for (const contentType of ['text/plain', 'application/octet-stream', 'application/jsonx', null]) {
      const tap = usageTap(contentType);
      tap.write(encoder.encode(body));
      expect(tap.retainedBytes).toBe(0);
      expect(tap.end()).toBeNull();
    }
  });

  it('gives the same usage for the body cut in two at every byte position (multi-byte characters split)', () => {
    const bytes = encoder.encode(openAiBody);
    expect(bytes.length).toBeGreaterThan(openAiBody.length); // it has multi-byte characters
    for (let cut = 0; cut <= bytes.length; cut++)
      expect(tapChunks(json, bytes, [cut])).toEqual({ input_tokens: 12n, output_tokens: 34n });
    expect(
      tapChunks(
        json,
        bytes,
        Array.from({ length: bytes.length }, (_, i) => i),
      ),
    ).toEqual({
      input_tokens: 12n,
      output_tokens: 34n,
    });
  });

  it('keeps a body of exactly bytesMax bytes and gives up (dropping what it kept) at bytesMax + 1', () => {
    const bytes = encoder.encode(openAiBody);
    expect(tapChunks(json, bytes, [10], bytes.length)).toEqual({ input_tokens: 12n, output_tokens: 34n });
    const tap = usageTap(json, { bytesMax: bytes.length - 1 });
    tap.write(bytes.subarray(0, 10));
    expect(tap.retainedBytes).toBe(10);
    tap.write(bytes.subarray(10));
    expect(tap.retainedBytes).toBe(0);
    expect(tap.end()).toBeNull();
  });

  it('never retains more than bytesMax, however long the body runs', () => {
    const bytesMax = 4096;
    const tap = usageTap(json, { bytesMax });
    const chunk = encoder.encode(`{"pad":"${'x'.repeat(1000)}`);
    for (let i = 0; i < 100; i++) {
      tap.write(chunk);
      expect(tap.retainedBytes).toBeLessThanOrEqual(bytesMax);
    }
    expect(tap.end()).toBeNull();
  });

  it('defaults bytesMax to 1 MiB', () => {
    expect(usageTapBytesMaxDefault).toBe(1024 * 1024);
    const pad = 'x'.repeat(usageTapBytesMaxDefault - 100);
    const fits = `{"pad":"${pad}","usage":{"prompt_tokens":1}}`;
    expect(tapChunks(json, fits)).toEqual({ input_tokens: 1n });
    const over = `{"pad":"${pad}${'x'.repeat(200)}","usage":{"prompt_tokens":1}}`;
    expect(tapChunks(json, over)).toBeNull();
  });
});

describe('usageTap on SSE bodies', () => {
  it('reads the usage of the last event that carries one; usage null events and [DONE] are ignored', () => {
    expect(tapChunks(sse, openAiStream)).toEqual({ input_tokens: 12n, output_tokens: 34n });
  });

  it('the last usage wins over earlier ones', () => {
    const body = 'data: {"usage":{"prompt_tokens":1}}\n\ndata: {"usage":{"prompt_tokens":2,"completion_tokens":5}}\n\n';
    expect(tapChunks(sse, body)).toEqual({ input_tokens: 2n, output_tokens: 5n });
  });

  it('an invalid or non-JSON later event does not erase the last valid usage', () => {
    const body = [
      'data: {"usage":{"prompt_tokens":2}}',
      '',
      'data: {"usage":{"prompt_tokens":-1}}',
      '',
      'data: not json',
      '',
      'data: {"usage":null}',
      '',
      'data: [DONE]',
      '',
      '',
    ].join('\n');
    expect(tapChunks(sse, body)).toEqual({ input_tokens: 2n });
  });

  it('a stream of [DONE], comments and events without usage gives null', () => {
    expect(tapChunks(sse, ': hi\n\ndata: {"choices":[]}\n\ndata: [DONE]\n\n')).toBeNull();
    expect(tapChunks(sse, '')).toBeNull();
  });

  it.each([
    ['\\n', '\n'],
    ['\\r\\n', '\r\n'],
    ['\\r', '\r'],
  ])('reads %s line endings', (_, eol) => {
    const body = ['event: message', 'id: 7', 'data: {"usage":{"prompt_tokens":4}}', '', ''].join(eol);
    expect(tapChunks(sse, body)).toEqual({ input_tokens: 4n });
  });

  it('joins multi-line data fields with \\n; data without a space after the colon and a bare "data" line count', () => {
    const body = 'data: {"usage":\ndata:{"prompt_tokens":4,\ndata\ndata:  "completion_tokens":5}}\n\n';
    expect(tapChunks(sse, body)).toEqual({ input_tokens: 4n, output_tokens: 5n });
  });

  it('ignores comment lines and other fields inside an event', () => {
    const body =
      'data: {"usage":\n: a comment {"usage":{"prompt_tokens":9}}\nretry: 10\ndat: x\ndata: {"prompt_tokens":4}}\n\n';
    expect(tapChunks(sse, body)).toEqual({ input_tokens: 4n });
  });

  it('a \\r\\n split across chunks is one line break, not two (which would cut the event early)', () => {
    const body = 'data: {"usage":\r\ndata: {"prompt_tokens":4}}\r\n\r\n';
    const cut = body.indexOf('\r') + 1;
    expect(tapChunks(sse, body, [cut])).toEqual({ input_tokens: 4n });
    // ... also when an empty chunk, or a chunk holding half a character, comes between.
    expect(tapChunks(sse, body, [cut, cut])).toEqual({ input_tokens: 4n });
  });

  it('reads an event cut off by the end of the stream when its data is whole; a truncated one is ignored', () => {
    expect(tapChunks(sse, 'data: {"usage":{"prompt_tokens":4}}')).toEqual({ input_tokens: 4n });
    expect(tapChunks(sse, 'data: {"usage":{"prompt_tokens":4}}\n')).toEqual({ input_tokens: 4n });
    expect(tapChunks(sse, 'data: {"usage":{"prompt_tokens":1}}\n\ndata: {"usage":{"prompt_tok')).toEqual({
      input_tokens: 1n,
    });
  });

  it('gives the same usage for the stream cut in two at every byte position, and cut into single bytes', () => {
    const bytes = encoder.encode(openAiStream);
    expect(bytes.length).toBeGreaterThan(openAiStream.length);
    for (let cut = 0; cut <= bytes.length; cut++)
      expect(tapChunks(sse, bytes, [cut])).toEqual({ input_tokens: 12n, output_tokens: 34n });
    expect(
      tapChunks(
        sse,
        bytes,
        Array.from({ length: bytes.length }, (_, i) => i),
      ),
    ).toEqual({
      input_tokens: 12n,
      output_tokens: 34n,
    });
  });

  it('counts an event by its UTF-8 bytes: a 4-byte character split across chunks still fits exactly bytesMax', () => {
    const data = '{"c":"🚀🚀","usage":{"prompt_tokens":4}}';
    const body = `data: ${data}\n\n`;
    // The line is held whole while it arrives ("data: " and the value), then the value and its "\n".
    const bytesMax = encoder.encode(`data: ${data}`).length;
    const bytes = encoder.encode(body);
    const rocket = bytes.indexOf(0xf0);
    for (let cut = rocket; cut <= rocket + 8; cut++)
      expect(tapChunks(sse, bytes, [cut], bytesMax)).toEqual({ input_tokens: 4n });
    expect(tapChunks(sse, bytes, [rocket + 2], bytesMax - 1)).toBeNull();
  });

  it('skips an event over bytesMax whole and reads the events after it', () => {
    const big = `data: {"usage":{"prompt_tokens":9},"pad":"${'x'.repeat(500)}"}\n\n`;
    const small = 'data: {"usage":{"prompt_tokens":4}}\n\n';
    expect(tapChunks(sse, `${small}${big}`, [], 200)).toEqual({ input_tokens: 4n });
    expect(tapChunks(sse, `${big}${small}`, [], 200)).toEqual({ input_tokens: 4n });
    // The same with the big event's line arriving in many chunks.
    const body = encoder.encode(`${big}${small}`);
    const cuts = Array.from({ length: 60 }, (_, i) => i * 10 + 1);
    expect(tapChunks(sse, body, cuts, 200)).toEqual({ input_tokens: 4n });
  });

  it('keeps neither comments nor other fields however long, only the current data (memory bounded by the event)', () => {
    const tap = usageTap(sse, { bytesMax: 64 });
    tap.write(encoder.encode(': '));
    for (let i = 0; i < 100; i++) tap.write(encoder.encode('x'.repeat(100)));
    expect(tap.retainedBytes).toBe(0);
    tap.write(encoder.encode('\nid: '));
    for (let i = 0; i < 100; i++) tap.write(encoder.encode('7'.repeat(100)));
    expect(tap.retainedBytes).toBe(0);
    tap.write(encoder.encode('\ndata: {"usage":{"prompt_tokens":4}}\n'));
    expect(tap.retainedBytes).toBe('{"usage":{"prompt_tokens":4}}\n'.length);
    tap.write(encoder.encode('\n'));
    expect(tap.retainedBytes).toBe(0);
    expect(tap.end()).toEqual({ input_tokens: 4n });
  });

  it('a long stream of events keeps retainedBytes at most bytesMax after every chunk', () => {
    const bytesMax = 256;
    const tap = usageTap(sse, { bytesMax });
    for (let i = 0; i < 200; i++) {
      const pad = 'é'.repeat(i % 150);
      tap.write(encoder.encode(`data: {"pad":"${pad}",`));
      expect(tap.retainedBytes).toBeLessThanOrEqual(bytesMax);
      tap.write(encoder.encode(`"usage":{"prompt_tokens":${i}}}\n\n`));
      expect(tap.retainedBytes).toBeLessThanOrEqual(bytesMax);
    }
    // The last event (pad of 49 two-byte characters) fits.
    expect(tap.end()).toEqual({ input_tokens: 199n });
  });

  it('reads text/event-stream with parameters', () => {
    expect(tapChunks('Text/Event-Stream; charset=utf-8', 'data: {"usage":{"prompt_tokens":4}}\n\n')).toEqual({
      input_tokens: 4n,
    });
  });
});

describe('usageTap lifecycle', () => {
  it('end() is idempotent and write() after end() is a programming error', () => {
    const tap = usageTap(sse);
    tap.write(encoder.encode('data: {"usage":{"prompt_tokens":4}}\n\n'));
    expect(tap.end()).toEqual({ input_tokens: 4n });
    expect(tap.end()).toEqual({ input_tokens: 4n });
    expect(tap.retainedBytes).toBe(0);
    expect(() => tap.write(new Uint8Array(1))).toThrow(/write\(\) after end\(\)/);
  });

  it('accepts Buffer chunks', () => {
    const tap = usageTap(json);
    tap.write(Buffer.from('{"usage":{"prompt_tokens":4}}'));
    expect(tap.end()).toEqual({ input_tokens: 4n });
  });

  it.each([0, -1, 1.5, Number.NaN, usageTapBytesMaxLimit + 1])('rejects bytesMax %s when built', (bytesMax) => {
    expect(() => usageTap(json, { bytesMax })).toThrow(RangeError);
  });
});

describe('usageFromResponse', () => {
  const tapResult = { input_tokens: 1n };

  it('the X-Usage header wins over the body', () => {
    expect(usageFromResponse({ header: 'output_tokens=3', tapResult })).toEqual({ output_tokens: 3n });
  });

  it('no header, or an empty one, falls through to the body; neither → null', () => {
    expect(usageFromResponse({ header: null, tapResult })).toEqual(tapResult);
    expect(usageFromResponse({ header: ' ', tapResult })).toEqual(tapResult);
    expect(usageFromResponse({ header: null, tapResult: null })).toBeNull();
  });

  it('a malformed header is reported to onHeaderError and the body usage is used', () => {
    const errors: UsageFormatError[] = [];
    const usage = usageFromResponse({
      header: 'output_tokens=-3',
      tapResult,
      onHeaderError: (error) => errors.push(error),
    });
    expect(usage).toEqual(tapResult);
    expect(errors.map((error) => error.details.rule)).toEqual(['malformed_item']);
    expect(usageFromResponse({ header: 'output_tokens=-3', tapResult: null })).toBeNull();
  });
});
