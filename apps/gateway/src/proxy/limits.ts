// Every limit of the metered proxy (`/v1/upstreams/{id}/{path...}`) and of its configuration (`UPSTREAMS`), with the
// unit in the name. `upstreams-config.ts` validates against these; the route enforces them per call.

/** Most upstreams one configuration may list. */
export const upstreamsConfigMax = 100;
/** Longest `UPSTREAMS` value (or `UPSTREAMS_FILE` content) accepted, in characters. */
export const upstreamsJsonLengthMax = 100_000;
/** Longest upstream `url` accepted, in characters. */
export const upstreamUrlLengthMax = 2048;

/** Default `timeoutMs` of an upstream: the whole call (head and body) within one minute. */
export const upstreamTimeoutMsDefault = 60_000;
/** Longest `timeoutMs` accepted: ten minutes. */
export const upstreamTimeoutMsMax = 600_000;
/** Default `firstByteTimeoutMs`: the response head within 30 s (or `timeoutMs` when that is shorter). */
export const upstreamFirstByteTimeoutMsDefault = 30_000;
/** Shortest `timeoutMs` / `firstByteTimeoutMs` accepted. */
export const upstreamTimeoutMsMin = 1;

/** Default `bodyBytesMax` of an upstream: request bodies up to 1 MiB. */
export const upstreamBodyBytesMaxDefault = 1024 * 1024;
/** Largest `bodyBytesMax` accepted: 64 MiB. */
export const upstreamBodyBytesMaxLimit = 64 * 1024 * 1024;

/**
 * Time kept between the end of a call and the expiry of its hold, so the settlement (finalize or release) lands on a
 * pending hold: a call's deadline is `min(timeoutMs, hold lifetime left − this)`, and a hold with less left than this
 * is released without forwarding.
 */
export const holdSettleMarginMs = 1000;

/** Longest forwarded path and query (after `/v1/upstreams/{id}`), in characters. */
export const forwardedPathLengthMax = 8192;
