// One proxied call once its credit is held: forward it (body streamed, cut at `bodyBytesMax`), pass the answer on
// (status, headers, body streamed through the usage tap), and settle the hold exactly once — by the usage the
// upstream reported, by `onMissingUsage`, or by a release when the call failed.
import type { ReadableStream } from 'node:stream/web';
import type { Ledger } from '@arrakis/billing-ledger';
import type { UpstreamMetrics } from '../metrics.js';
import { type CallAbortReason, type CallControl, createCallControl } from './call-control.js';
import { ProxyError } from './errors.js';
import { clientResponseHeaders } from './headers.js';
import { relayBody } from './relay.js';
import { limitRequestBody } from './request-body.js';
import { type HeldCall, type Settlement, settleCall } from './settle.js';
import { type Usage, usageFromResponse, usageTap } from './usage.js';

/** What {@link runHeldCall} forwards. */
export interface ForwardRequest {
  target: URL;
  method: string;
  /** The headers for the upstream (`upstreamRequestHeaders`). */
  headers: Headers;
  /** The caller's body, or null (GET, HEAD, or none sent). */
  body: ReadableStream<Uint8Array> | null;
  /** The caller's request signal (`c.req.raw.signal`). */
  clientSignal: AbortSignal;
  /** The whole call's deadline: `min(timeoutMs, hold lifetime left − margin)`. */
  deadlineMs: number;
  requestId: string;
}

/** What a held call needs. */
export interface HeldCallDeps {
  ledger: Ledger;
  metrics: UpstreamMetrics;
}

/** Header in which an upstream may report the usage of a call (`input_tokens=1200, output_tokens=340`). */
export const usageResponseHeader = 'x-usage';

/** The error answered for a call that failed before its response head, by the reason it was aborted (if it was). */
function failureBeforeHead(call: HeldCall, reason: CallAbortReason | undefined, cause: unknown): ProxyError {
  const { id, firstByteTimeoutMs, bodyBytesMax } = call.upstream;
  const details = { upstream: id };
  switch (reason) {
    case 'first_byte_timeout':
      return new ProxyError(
        'upstream_timeout',
        `upstream "${id}" sent no response head within ${firstByteTimeoutMs} ms`,
        details,
      );
    case 'timeout':
      return new ProxyError('upstream_timeout', `upstream "${id}" did not answer within the call's deadline`, details);
    case 'body_too_large':
      return new ProxyError('payload_too_large', `the request body exceeds ${bodyBytesMax} bytes`, {
        ...details,
        bodyBytesMax,
      });
    case 'client_abort':
      return new ProxyError('client_closed_request', 'the client closed the request before the answer', details);
    case undefined: {
      const code = (cause as { cause?: { code?: unknown } } | null)?.cause?.code;
      return new ProxyError(
        'upstream_unavailable',
        `upstream "${id}" could not be reached${typeof code === 'string' ? ` (${code})` : ''}`,
        details,
        { cause },
      );
    }
  }
}

/** What the proxy keeps of the usage tap: it never throws (a failing tap counts as one that found nothing). */
interface CallTap {
  write(chunk: Uint8Array): void;
  end(): Usage | null;
}

function safeTap(call: HeldCall, contentType: string | null): CallTap {
  const warn = (error: unknown) =>
    call.logger.warn(
      { err: error, upstream: call.upstream.id, reservationId: call.reservation.id },
      'usage tap failed',
    );
  let tap: ReturnType<typeof usageTap> | null = null;
  try {
    tap = usageTap(contentType);
  } catch (error) {
    warn(error);
  }
  return {
    write(chunk) {
      try {
        tap?.write(chunk);
      } catch (error) {
        warn(error);
        tap = null;
      }
    },
    end() {
      try {
        return tap?.end() ?? null;
      } catch (error) {
        warn(error);
        return null;
      }
    },
  };
}

/** The usage of a finished answer: its `X-Usage` header first, else what the tap found (a malformed header is none). */
function usageOf(call: HeldCall, header: string | null, tapResult: Usage | null): Usage | null {
  return usageFromResponse({
    header,
    tapResult,
    onHeaderError: (error) =>
      call.logger.warn(
        { err: error, upstream: call.upstream.id, reservationId: call.reservation.id },
        'malformed X-Usage response header ignored',
      ),
  });
}

/**
 * Forwards a call whose hold is pending and answers the client. Every path settles the hold once: a call that failed
 * before its head (unreachable, 5xx, timeout, body over the limit, client gone) is released and answered with the
 * proxy's JSON error; a 4xx is passed through and released; any other answer is passed through and, when its body
 * ends (completely or not), finalized with the usage reported so far or by `onMissingUsage`.
 *
 * @example
 * ```ts
 * return runHeldCall({ ledger, metrics: metrics.upstreams }, call, { target, method, headers, body, clientSignal, deadlineMs, requestId });
 * ```
 */
export async function runHeldCall(deps: HeldCallDeps, call: HeldCall, request: ForwardRequest): Promise<Response> {
  const control = createCallControl({
    deadlineMs: request.deadlineMs,
    firstByteTimeoutMs: call.upstream.firstByteTimeoutMs,
    clientSignal: request.clientSignal,
  });
  let settling: Promise<void> | undefined;
  const settle = (settlement: Settlement, status: number): Promise<void> => {
    settling ??= (async () => {
      control.dispose();
      await settleCall(deps, call, settlement, status);
    })();
    return settling;
  };
  try {
    return await forward(deps, call, request, control, settle);
  } catch (error) {
    // A bug on the way (not an upstream failure, those are answered): the hold is given back, the error goes on.
    await settle({ kind: 'release', reason: 'gateway_error' }, 500);
    throw error;
  }
}

async function forward(
  deps: HeldCallDeps,
  call: HeldCall,
  request: ForwardRequest,
  control: CallControl,
  settle: (settlement: Settlement, status: number) => Promise<void>,
): Promise<Response> {
  const body =
    request.body === null
      ? null
      : limitRequestBody(request.body, call.upstream.bodyBytesMax, () => control.abort('body_too_large'));
  const forwardedMs = performance.now();
  let response: Response;
  try {
    response = await fetch(request.target, {
      method: request.method,
      headers: request.headers,
      signal: control.signal,
      redirect: 'manual',
      ...(body === null ? {} : { body: body.stream, duplex: 'half' }),
    } as RequestInit);
  } catch (error) {
    const reason = control.reason() ?? (body?.overflowed() === true ? 'body_too_large' : undefined);
    const failure = failureBeforeHead(call, reason, error);
    await settle({ kind: 'release', reason: failure.code }, failure.status);
    return failure.toResponse(request.requestId);
  }
  control.headReceived();
  call.firstByteMs = performance.now() - forwardedMs;
  deps.metrics.firstByte.observe({ upstream: call.upstream.id }, call.firstByteMs / 1000);
  return answer(call, control, response, settle, request.requestId);
}

/** Passes the upstream's answer on (or refuses it: 5xx, or aborted just as it arrived), wiring the settlement. */
async function answer(
  call: HeldCall,
  control: CallControl,
  response: Response,
  settle: (settlement: Settlement, status: number) => Promise<void>,
  requestId: string,
): Promise<Response> {
  const aborted = control.reason();
  if (aborted !== undefined || response.status >= 500) {
    await response.body?.cancel().catch(() => {});
    const failure =
      aborted !== undefined
        ? failureBeforeHead(call, aborted, undefined)
        : new ProxyError('upstream_unavailable', `upstream "${call.upstream.id}" failed with ${response.status}`, {
            upstream: call.upstream.id,
            status: response.status,
          });
    await settle({ kind: 'release', reason: failure.code }, failure.status);
    return failure.toResponse(requestId);
  }
  const status = response.status;
  const headers = clientResponseHeaders(response.headers, requestId);
  const refused = status >= 400;
  const usageHeader = response.headers.get(usageResponseHeader);
  const tap = refused ? null : safeTap(call, response.headers.get('content-type'));
  const settlementOf = (reason: string): Settlement =>
    refused
      ? { kind: 'release', reason }
      : { kind: 'usage', usage: usageOf(call, usageHeader, tap?.end() ?? null), reason };
  if (response.body === null) {
    await settle(settlementOf('complete'), status);
    return new Response(null, { status, headers });
  }
  const relay = relayBody(response.body, {
    onChunk: (chunk) => tap?.write(chunk),
    onEnd: (reason) => settle(settlementOf(reason), status),
    readFailure: () => control.reason() ?? 'upstream_error',
  });
  control.onAbort((reason) => {
    void relay.stop(reason);
  });
  return new Response(relay.stream, { status, headers });
}
