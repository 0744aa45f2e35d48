// The background loop the ledger sweepers and the payment reconciler share: one tick at a time, on an unref'd timer.

/** A running {@link startTicker}. */
export interface Ticker<T> {
  /** `stopped` is true once `stop()` was called (a tick checks it between batches). */
  readonly stopped: boolean;
  /** Runs one tick now, after the one already running, and answers its result. */
  runOnce(): Promise<T>;
  /** Stops the timer and waits for a running tick. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Runs `tick` every `intervalMs` (0: no timer; `runOnce` still works). A tick never overlaps the previous one; the
 * timer does not keep the process alive. `tick` must not throw (log its failures).
 *
 * @throws {TypeError} when `intervalMs` is not a non-negative integer.
 * @example
 * const ticker = startTicker(30_000, async () => sweepOnce());
 * await ticker.stop();
 */
export function startTicker<T>(intervalMs: number, tick: () => Promise<T>): Ticker<T> {
  if (!Number.isInteger(intervalMs) || intervalMs < 0) {
    throw new TypeError(`intervalMs must be a non-negative integer, got ${intervalMs}`);
  }
  let stopped = false;
  let running: Promise<T> | undefined;
  const start = (): Promise<T> => {
    running ??= tick().finally(() => {
      running = undefined;
    });
    return running;
  };
  const timer =
    intervalMs === 0
      ? undefined
      : setInterval(() => {
          if (!stopped && running === undefined) void start();
        }, intervalMs);
  timer?.unref();
  return {
    get stopped() {
      return stopped;
    },
    async runOnce() {
      if (running !== undefined) await running.catch(() => undefined);
      return start();
    },
    async stop() {
      stopped = true;
      if (timer !== undefined) clearInterval(timer);
      if (running !== undefined) await running.catch(() => undefined);
    },
  };
}
