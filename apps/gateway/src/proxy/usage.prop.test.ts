import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Usage, usageTap } from './usage.js';

const numRuns = 300;
const encoder = new TextEncoder();

/** Feeds `bytes` to a fresh tap cut at `cuts`; checks `retainedBytes ≤ bytesMax` after every chunk. */
function tapChunks(contentType: string, bytes: Uint8Array, cuts: number[], bytesMax?: number): Usage | null {
  const tap = usageTap(contentType, bytesMax === undefined ? {} : { bytesMax });
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    tap.write(bytes.subarray(from, cut));
    from = cut;
    if (bytesMax !== undefined) expect(tap.retainedBytes).toBeLessThanOrEqual(bytesMax);
  }
  return tap.end();
}

/** A chunking: cuts anywhere (as fractions, so any length works; repeats give empty chunks), or fixed-size chunks. */
type Chunking = { fractions: number[] } | { chunkBytes: number };
const cutFractions: fc.Arbitrary<Chunking> = fc.oneof(
  fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 24 }).map((fractions) => ({ fractions })),
  fc.integer({ min: 1, max: 8 }).map((chunkBytes) => ({ chunkBytes })),
);

/** Sorted cut offsets in 0…length. */
function cutsOf(chunking: Chunking, length: number): number[] {
  if ('chunkBytes' in chunking)
    return Array.from({ length: Math.ceil(length / chunking.chunkBytes) }, (_, i) => i * chunking.chunkBytes);
  return chunking.fractions.map((f) => Math.floor(f * length)).sort((a, b) => a - b);
}

/** Names the generator sets itself (the mapped ones, total, the nested details). */
const reservedNames = [
  'input_tokens',
  'output_tokens',
  'prompt_tokens',
  'completion_tokens',
  'total_tokens',
  'prompt_tokens_details',
];

/** A usage as an upstream reports it (OpenAI names or our own) and as the tap should read it. */
const reportedUsage = fc
  .record(
    {
      prompt: fc.nat({ max: 2_000_000 }),
      completion: fc.nat({ max: 2_000_000 }),
      extra: fc.dictionary(fc.stringMatching(/^[a-z][a-z0-9_]{0,10}$/), fc.nat(), { maxKeys: 4 }),
      openAiNames: fc.boolean(),
    },
    { requiredKeys: ['prompt', 'completion', 'extra', 'openAiNames'] },
  )
  .map(({ prompt, completion, extra, openAiNames }) => {
    const own = Object.fromEntries(Object.entries(extra).filter(([k]) => !reservedNames.includes(k)));
    const wire: Record<string, unknown> = openAiNames
      ? { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion }
      : { input_tokens: prompt, output_tokens: completion };
    Object.assign(wire, own, { prompt_tokens_details: { cached_tokens: 1 } });
    const expected: Usage = { input_tokens: BigInt(prompt), output_tokens: BigInt(completion) };
    for (const [k, v] of Object.entries(own)) expected[k] = BigInt(v);
    return { wire, expected };
  });

/** Any text, every code point (multi-byte UTF-8, `\r`, `\n`, quotes), escaped by JSON. */
const content = fc.string({ unit: 'binary', maxLength: 40 });

type SseItem =
  | { kind: 'usage'; wire: Record<string, unknown>; expected: Usage; multiLine: boolean }
  | { kind: 'delta'; text: string }
  | { kind: 'comment'; text: string }
  | { kind: 'done' }
  | { kind: 'garbage'; text: string };

const sseItem: fc.Arbitrary<SseItem> = fc.oneof(
  fc.tuple(reportedUsage, fc.boolean()).map(([u, multiLine]): SseItem => ({ kind: 'usage', ...u, multiLine })),
  content.map((text): SseItem => ({ kind: 'delta', text })),
  fc.stringMatching(/^[^\r\n]{0,20}$/).map((text): SseItem => ({ kind: 'comment', text })),
  fc.constant<SseItem>({ kind: 'done' }),
  fc.stringMatching(/^[^\r\n]{0,20}$/).map((text): SseItem => ({ kind: 'garbage', text: `{${text}` })),
);

/** The lines of one SSE block (an event, or a comment), without the empty line that ends it. */
function linesOf(item: SseItem): string[] {
  switch (item.kind) {
    case 'usage': {
      const payload = { id: 'c', choices: [], usage: item.wire };
      // JSON.stringify with indentation puts "\n" only between tokens: each line a data field, joined back with "\n".
      const text = item.multiLine ? JSON.stringify(payload, null, 1) : JSON.stringify(payload);
      return text.split('\n').map((line, i) => (i % 2 === 0 ? `data: ${line}` : `data:${line}`));
    }
    case 'delta':
      return [`data: ${JSON.stringify({ choices: [{ delta: { content: item.text } }], usage: null })}`];
    case 'comment':
      return [`:${item.text}`];
    case 'done':
      return ['data: [DONE]'];
    case 'garbage':
      return [`data: ${item.text}`];
  }
}

const sseStream: fc.Arbitrary<SseStream> = fc.record({
  items: fc.array(sseItem, { maxLength: 12 }),
  eol: fc.constantFrom('\n', '\r\n', '\r'),
  terminated: fc.boolean(),
  bom: fc.boolean(),
});

type SseStream = { items: SseItem[]; eol: string; terminated: boolean; bom: boolean };

function serializeSse({ items, eol, terminated, bom }: SseStream): Uint8Array {
  const blocks = items.map((item) => linesOf(item).join(eol));
  let text = blocks.join(eol + eol);
  if (terminated && blocks.length > 0) text += eol + eol;
  return encoder.encode((bom ? '\uFEFF' : '') + text);
}

function lastUsage(items: SseItem[]): Usage | null {
  let usage: Usage | null = null;
  for (const item of items) if (item.kind === 'usage') usage = item.expected;
  return usage;
}

describe('usageTap properties', () => {
  it('SSE: any chunking of any stream gives the usage of the last event that carries one', () => {
    fc.assert(
      fc.property(sseStream, cutFractions, (stream, fractions) => {
        const bytes = serializeSse(stream);
        expect(tapChunks('text/event-stream', bytes, cutsOf(fractions, bytes.length))).toEqual(lastUsage(stream.items));
      }),
      { numRuns },
    );
  });

  it('SSE: with any bytesMax, retainedBytes stays ≤ bytesMax and the result is the same for any chunking', () => {
    fc.assert(
      fc.property(sseStream, cutFractions, fc.integer({ min: 1, max: 400 }), (stream, fractions, bytesMax) => {
        const bytes = serializeSse(stream);
        const whole = tapChunks('text/event-stream', bytes, [], bytesMax);
        expect(tapChunks('text/event-stream', bytes, cutsOf(fractions, bytes.length), bytesMax)).toEqual(whole);
        // A big enough bytesMax reads every event.
        if (bytesMax >= bytes.length) expect(whole).toEqual(lastUsage(stream.items));
      }),
      { numRuns },
    );
  });

  it('JSON: any chunking of a body gives its usage; a body over bytesMax gives null; retainedBytes ≤ bytesMax', () => {
    const body = fc.record({
      usage: reportedUsage,
      text: content,
      usageFirst: fc.boolean(),
      indent: fc.constantFrom(undefined, 2),
    });
    fc.assert(
      fc.property(body, cutFractions, fc.integer({ min: 1, max: 2000 }), (b, fractions, bytesMax) => {
        const choices = [{ index: 0, message: { role: 'assistant', content: b.text } }];
        const payload = b.usageFirst ? { usage: b.usage.wire, choices } : { choices, usage: b.usage.wire };
        const bytes = encoder.encode(JSON.stringify(payload, null, b.indent));
        const cuts = cutsOf(fractions, bytes.length);
        expect(tapChunks('application/json', bytes, cuts)).toEqual(b.usage.expected);
        const bounded = tapChunks('application/json', bytes, cuts, bytesMax);
        expect(bounded).toEqual(bytes.length <= bytesMax ? b.usage.expected : null);
      }),
      { numRuns },
    );
  });
});
