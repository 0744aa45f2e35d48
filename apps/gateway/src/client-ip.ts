import { isIP } from 'node:net';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context } from 'hono';

/** The client address used when the request did not come through a socket (e.g. `app.request()` in tests). */
export const unknownClientAddress = 'unknown';

/** Most `X-Forwarded-For` entries read. */
export const forwardedForEntriesMax = 32;

function socketAddress(c: Context): string | undefined {
  try {
    return getConnInfo(c).remote.address;
  } catch {
    // No Node.js socket bindings: the app is being called in-process.
    return undefined;
  }
}

/** Expands an IPv6 address to its 8 hextets, or returns undefined when it is not one. */
function ipv6Hextets(address: string): string[] | undefined {
  if (isIP(address) !== 6) return undefined;
  const [head = '', tail] = address.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const missing = 8 - left.length - right.length;
  if (tail === undefined && missing !== 0) return undefined;
  return [...left, ...Array.from({ length: missing }, () => '0'), ...right].map((h) =>
    h.toLowerCase().replace(/^0+(?=.)/, ''),
  );
}

/**
 * The rate-limit identity of an address: an IPv4 address as is (IPv4-mapped IPv6 unwrapped), an IPv6 address
 * reduced to its /64 prefix (one subscriber usually holds a whole /64).
 *
 * @example
 * ```ts
 * addressKey('2001:db8::1'); // '2001:db8:0:0::/64'
 * addressKey('::ffff:10.0.0.1'); // '10.0.0.1'
 * ```
 */
export function addressKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1] !== undefined) return mapped[1];
  if (isIP(address) !== 6 || address.includes('.')) return address;
  const hextets = ipv6Hextets(address);
  if (hextets === undefined) return address;
  if (hextets.slice(0, 7).every((h) => h === '0') && hextets[7] === '1') return '::1';
  return `${hextets.slice(0, 4).join(':')}::/64`;
}

/**
 * The client address of a request: the socket's remote address, or with `trustProxyHops` > 0 the entry of
 * `X-Forwarded-For` that the outermost trusted proxy saw. Falls back to {@link unknownClientAddress} without a socket.
 *
 * @example
 * ```ts
 * // Behind one reverse proxy: X-Forwarded-For: "198.51.100.7"
 * clientAddress(c, 1); // '198.51.100.7'
 * ```
 */
export function clientAddress(c: Context, trustProxyHops: number): string {
  const socket = socketAddress(c) ?? unknownClientAddress;
  if (trustProxyHops === 0) return socket;
  const forwarded = (c.req.header('x-forwarded-for') ?? '')
    .split(',')
    .slice(-forwardedForEntriesMax)
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const chain = [socket, ...forwarded.reverse()];
  const candidate = chain[Math.min(trustProxyHops, chain.length - 1)] ?? socket;
  return isIP(candidate) === 0 ? socket : candidate;
}
