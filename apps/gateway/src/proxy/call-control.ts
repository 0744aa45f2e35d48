// The deadlines and aborts of one proxied call: one AbortController for the upstream fetch, aborted by the first of
// the response-head deadline, the whole-call deadline, the client going away and the request body overflowing.

/** Why a call was aborted. */
export type CallAbortReason = 'first_byte_timeout' | 'timeout' | 'client_abort' | 'body_too_large';

/** Options of {@link createCallControl}. */
export interface CallControlOptions {
  /** The whole call must end within this. */
  deadlineMs: number;
  /** The response head must arrive within this (counted from the start too). */
  firstByteTimeoutMs: number;
  /** The client's request signal (`c.req.raw.signal`): its abort aborts the call. */
  clientSignal: AbortSignal;
}

/** The abort state of one call. */
export interface CallControl {
  /** The upstream fetch's signal. */
  readonly signal: AbortSignal;
  /** The first abort reason, or undefined while the call runs. */
  reason(): CallAbortReason | undefined;
  /** Aborts the call (the first reason wins) and tells the listeners. */
  abort(reason: CallAbortReason): void;
  /** Runs `listener` on the (first) abort from now on. */
  onAbort(listener: (reason: CallAbortReason) => void): void;
  /** The response head arrived: the first-byte deadline no longer applies. */
  headReceived(): void;
  /** Clears the timers and the client listener (the call is settled). */
  dispose(): void;
}

/**
 * Starts the deadlines of a call and listens to the client's signal.
 *
 * @example
 * ```ts
 * const control = createCallControl({ deadlineMs: 60_000, firstByteTimeoutMs: 30_000, clientSignal: c.req.raw.signal });
 * const response = await fetch(url, { signal: control.signal });
 * control.headReceived();
 * ```
 */
export function createCallControl(options: CallControlOptions): CallControl {
  const controller = new AbortController();
  const listeners: ((reason: CallAbortReason) => void)[] = [];
  let reason: CallAbortReason | undefined;
  function abort(next: CallAbortReason): void {
    if (reason !== undefined) return;
    reason = next;
    controller.abort(new Error(`proxy call aborted: ${next}`));
    for (const listener of listeners) listener(next);
  }
  const deadline = setTimeout(() => abort('timeout'), options.deadlineMs);
  const firstByte = setTimeout(
    () => abort('first_byte_timeout'),
    Math.min(options.firstByteTimeoutMs, options.deadlineMs),
  );
  const onClientAbort = () => abort('client_abort');
  const { clientSignal } = options;
  if (clientSignal.aborted) onClientAbort();
  else clientSignal.addEventListener('abort', onClientAbort, { once: true });
  return {
    signal: controller.signal,
    reason: () => reason,
    abort,
    onAbort: (listener) => {
      listeners.push(listener);
    },
    headReceived: () => clearTimeout(firstByte),
    dispose() {
      clearTimeout(deadline);
      clearTimeout(firstByte);
      clientSignal.removeEventListener('abort', onClientAbort);
    },
  };
}
