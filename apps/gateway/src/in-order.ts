// Two independent reads run at once, answered as if they ran one after the other.

/**
 * Awaits both promises (started together) and answers both values; when one failed, rejects with the first one's
 * error if it failed, else the second's — the order of the checks, whatever order the replies came in, so a request
 * failing both always gets the same answer.
 *
 * @example
 * ```ts
 * const [account, holdMicro] = await inOrder(accountFor(ledger, principal, id), holdMicroOf(ledger, input));
 * ```
 */
export async function inOrder<A, B>(first: Promise<A>, second: Promise<B>): Promise<[A, B]> {
  const [a, b] = await Promise.allSettled([first, second]);
  if (a.status === 'rejected') throw a.reason;
  if (b.status === 'rejected') throw b.reason;
  return [a.value, b.value];
}
