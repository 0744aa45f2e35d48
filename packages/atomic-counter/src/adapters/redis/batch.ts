// Coalescing of the Redis backend's single-key operations: the calls made in one turn of the event loop go to Redis
// as one script call (one command, one reply) instead of one each. Each call keeps its own reply or error.

/** One queued call: its key, its script arguments, and how to answer it. */
interface Queued {
  key: string;
  args: string[];
  resolve(reply: string): void;
  reject(error: unknown): void;
}

/** How a batcher reaches Redis. */
export interface BatchRunners {
  /** One call alone: the single-key script. */
  one(key: string, args: string[]): Promise<string>;
  /** Several calls: the batch script, one reply per key in order; 'E <message>' for a call whose Redis call failed. */
  many(keys: string[], args: string[]): Promise<string[]>;
  /** The error a call answered 'E <message>' rejects with. */
  failed(message: string): unknown;
}

/**
 * A function that queues a call and answers its reply. The queue is sent when the current turn ends
 * (`process.nextTick`, after the promise jobs that made the calls), in chunks of at most `opsMax` calls; with
 * `opsMax` 1 every call is sent alone. Calls run in the order they were made.
 *
 * @example
 * ```ts
 * const advance = createBatcher(runners, 256);
 * const reply = await advance('rl:alice', ['1', '100', '60000', 'PX', '0']);
 * ```
 */
export function createBatcher(runners: BatchRunners, opsMax: number): (key: string, args: string[]) => Promise<string> {
  if (opsMax <= 1) return (key, args) => runners.one(key, args);
  let queue: Queued[] = [];
  const flush = () => {
    const items = queue;
    queue = [];
    for (let from = 0; from < items.length; from += opsMax) send(items.slice(from, from + opsMax));
  };
  const send = (items: Queued[]) => {
    if (items.length === 1) {
      const [item] = items as [Queued];
      runners.one(item.key, item.args).then(item.resolve, item.reject);
      return;
    }
    runners
      .many(
        items.map((item) => item.key),
        items.flatMap((item) => item.args),
      )
      .then(
        (replies) => answer(items, replies, runners),
        (error: unknown) => {
          for (const item of items) item.reject(error);
        },
      );
  };
  return (key, args) =>
    new Promise<string>((resolve, reject) => {
      if (queue.length === 0) process.nextTick(flush);
      queue.push({ key, args, resolve, reject });
    });
}

function answer(items: Queued[], replies: string[], runners: BatchRunners): void {
  items.forEach((item, index) => {
    const reply = replies[index];
    if (typeof reply !== 'string') item.reject(runners.failed(`batch reply ${index} missing`));
    else if (reply.startsWith('E ')) item.reject(runners.failed(reply.slice(2)));
    else item.resolve(reply);
  });
}
