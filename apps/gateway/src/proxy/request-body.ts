// The caller's request body on its way to the upstream: streamed chunk by chunk as the upstream reads it (pull, so a
// slow upstream slows the caller down), cut at the upstream's `bodyBytesMax`.
import { ReadableStream } from 'node:stream/web';

/** The caller's body as forwarded, and whether it was cut. */
export interface LimitedRequestBody {
  /** What fetch sends: the caller's bytes, errored once more than `bytesMax` arrived. */
  stream: ReadableStream<Uint8Array>;
  /** True once the caller sent more than `bytesMax` bytes. */
  overflowed(): boolean;
}

/** The error a body over its limit ends with (fetch rejects with it as the cause). */
export class RequestBodyTooLargeError extends Error {
  override readonly name = 'RequestBodyTooLargeError';
  constructor(readonly bytesMax: number) {
    super(`the request body exceeds ${bytesMax} bytes`);
  }
}

/**
 * Wraps the caller's body: each chunk is read when the upstream pulls the next one (no buffering beyond one chunk);
 * past `bytesMax` bytes the stream errors with {@link RequestBodyTooLargeError}, the caller's body is cancelled and
 * `onOverflow` runs (the proxy aborts the call and answers 413).
 *
 * @example
 * ```ts
 * const body = limitRequestBody(c.req.raw.body, upstream.bodyBytesMax, () => call.abort('body_too_large'));
 * await fetch(url, { method: 'POST', body: body.stream, duplex: 'half' });
 * ```
 */
export function limitRequestBody(
  source: ReadableStream<Uint8Array>,
  bytesMax: number,
  onOverflow: () => void,
): LimitedRequestBody {
  const reader = source.getReader();
  let bytes = 0;
  let overflowed = false;
  const stream = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const { done, value } = await reader.read();
        if (done) {
          controller.close();
          return;
        }
        bytes += value.byteLength;
        if (bytes > bytesMax) {
          overflowed = true;
          reader.cancel().catch(() => {});
          controller.error(new RequestBodyTooLargeError(bytesMax));
          onOverflow();
          return;
        }
        controller.enqueue(value);
      },
      cancel(reason) {
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, overflowed: () => overflowed };
}
