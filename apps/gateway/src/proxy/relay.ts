// The upstream's response body on its way to the client: pulled one chunk at a time as the client reads (no
// buffering, so the first byte reaches the client before the upstream finishes, and a slow client slows the upstream
// down), each chunk shown to the usage tap; the call is settled once, before the client sees the end.
import { ReadableStream, type ReadableStreamDefaultController, type ReadableStreamReadResult } from 'node:stream/web';

/** Why a relayed body ended. */
export type RelayEnd =
  | 'complete'
  | 'upstream_error'
  | 'timeout'
  | 'first_byte_timeout'
  | 'client_abort'
  | 'body_too_large';

/** What {@link relayBody} calls. */
export interface RelayHooks {
  /** Every chunk, before the client gets it. */
  onChunk(chunk: Uint8Array): void;
  /** Once, when the body ends for any reason; awaited before the client's stream closes or errors. */
  onEnd(reason: RelayEnd): Promise<void>;
  /** Why a read of the upstream body failed (a timeout or abort the caller started, else `upstream_error`). */
  readFailure(): RelayEnd;
}

/** The client's stream, and a way to end it from outside (a timer, the client's abort signal). */
export interface Relay {
  stream: ReadableStream<Uint8Array>;
  /** Ends the relay now: cancels the upstream body and settles; the client's next read errors. */
  stop(reason: RelayEnd): Promise<void>;
}

function endClient(controller: ReadableStreamDefaultController<Uint8Array>, reason: RelayEnd, cause?: unknown): void {
  try {
    if (reason === 'complete') controller.close();
    else controller.error(cause ?? new Error(`the upstream call ended early: ${reason}`));
  } catch {
    // The client cancelled the stream already: nothing to tell it.
  }
}

/**
 * Relays `source` to the client through a pull-based stream (`highWaterMark: 0`: a chunk is read from the upstream
 * only when the client asks for one). The end — the upstream finishing, a read failing, the client cancelling,
 * {@link Relay.stop} — runs `onEnd` exactly once, and the client's stream closes (complete) or errors only after it.
 *
 * @example
 * ```ts
 * const relay = relayBody(upstream.body, { onChunk: tap.write, onEnd: settle, readFailure: () => 'upstream_error' });
 * return new Response(relay.stream, { status: upstream.status, headers });
 * ```
 */
export function relayBody(source: ReadableStream<Uint8Array>, hooks: RelayHooks): Relay {
  const reader = source.getReader();
  let ended: { reason: RelayEnd; done: Promise<void> } | undefined;
  // Read through a function: `ended` changes while a pull awaits, which control-flow narrowing cannot see.
  const state = () => ended;

  function finish(reason: RelayEnd, cancelSource: boolean): { reason: RelayEnd; done: Promise<void> } {
    if (ended !== undefined) return ended;
    const done = (async () => {
      if (cancelSource) await reader.cancel(reason).catch(() => {});
      await hooks.onEnd(reason);
    })();
    ended = { reason, done };
    return ended;
  }

  async function pull(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    if (state() === undefined) {
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        result = await reader.read();
      } catch (error) {
        const end = finish(hooks.readFailure(), false);
        await end.done;
        endClient(controller, end.reason, error);
        return;
      }
      if (state() === undefined && !result.done) {
        hooks.onChunk(result.value);
        controller.enqueue(result.value);
        return;
      }
    }
    // The upstream finished (or the relay was stopped meanwhile): the client sees the end once the call is settled.
    const end = finish('complete', false);
    await end.done;
    endClient(controller, end.reason);
  }

  const stream = new ReadableStream<Uint8Array>(
    {
      pull,
      async cancel() {
        await finish('client_abort', true).done;
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, stop: (reason) => finish(reason, true).done };
}
