// Which headers cross the proxy, each way.

/** Hop-by-hop headers (RFC 9110 §7.6.1): they describe one connection and are never forwarded. */
export const hopByHopHeaders: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** Headers of the caller that are the gateway's business, never the upstream's. */
export const callerOnlyHeaders: ReadonlySet<string> = new Set([
  'authorization',
  'cookie',
  'x-account-id',
  'x-usage-estimate',
  'x-request-id',
  'host',
  'expect',
  'accept-encoding',
]);

/** Content codings Node's fetch (undici 6) decodes by itself: a response in these arrives decoded. */
const codingsDecodedByFetch: ReadonlySet<string> = new Set(['gzip', 'x-gzip', 'deflate', 'br']);

/** The header names a `Connection` header lists (they are hop-by-hop for this message too). */
function connectionListed(headers: Headers): Set<string> {
  const listed = new Set<string>();
  for (const name of (headers.get('connection') ?? '').split(',')) {
    const trimmed = name.trim().toLowerCase();
    if (trimmed !== '') listed.add(trimmed);
  }
  return listed;
}

/**
 * The headers sent to the upstream: the caller's, minus hop-by-hop ones and those that are the gateway's (its
 * `Authorization`, `Cookie`, `X-Account-Id`, `X-Usage-Estimate`, …), plus the gateway's service token, the request
 * id and `Accept-Encoding: identity` (the usage tap reads the body as sent).
 *
 * @example
 * ```ts
 * const headers = upstreamRequestHeaders(c.req.raw.headers, { token, requestId: c.var.requestId });
 * headers.get('authorization'); // `Bearer ${token}`
 * ```
 */
export function upstreamRequestHeaders(incoming: Headers, added: { token: string; requestId: string }): Headers {
  const listed = connectionListed(incoming);
  const headers = new Headers();
  for (const [name, value] of incoming) {
    if (hopByHopHeaders.has(name) || callerOnlyHeaders.has(name) || listed.has(name)) continue;
    headers.append(name, value);
  }
  headers.set('authorization', `Bearer ${added.token}`);
  headers.set('x-request-id', added.requestId);
  headers.set('accept-encoding', 'identity');
  return headers;
}

/** True when fetch decoded the body of a response with this `Content-Encoding` (every coding listed is one it decodes). */
function decodedByFetch(contentEncoding: string | null): boolean {
  if (contentEncoding === null || contentEncoding.trim() === '') return false;
  return contentEncoding
    .split(',')
    .map((coding) => coding.trim().toLowerCase())
    .every((coding) => coding === '' || codingsDecodedByFetch.has(coding));
}

/**
 * The upstream's response headers as passed to the client: minus hop-by-hop ones; minus `Content-Encoding` and
 * `Content-Length` when fetch already decoded the body (they would describe bytes the client does not get); the
 * gateway's `X-Request-Id` in place of the upstream's.
 *
 * @example
 * ```ts
 * return new Response(body, { status: upstream.status, headers: clientResponseHeaders(upstream.headers, requestId) });
 * ```
 */
export function clientResponseHeaders(upstream: Headers, requestId: string): Headers {
  const listed = connectionListed(upstream);
  const decoded = decodedByFetch(upstream.get('content-encoding'));
  const headers = new Headers();
  for (const [name, value] of upstream) {
    if (hopByHopHeaders.has(name) || listed.has(name)) continue;
    if (decoded && (name === 'content-encoding' || name === 'content-length')) continue;
    headers.append(name, value); // `Set-Cookie` comes once per cookie
  }
  headers.set('x-request-id', requestId);
  return headers;
}
