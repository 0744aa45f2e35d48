// A test upstream service for tests/proxy.e2e.test.ts, run as its own process behind the gateway's metered proxy
// (`ANY /v1/upstreams/{id}/{path...}`). Every /v1 route sits behind `upstreamAuth` from @arrakis/identity-trust/hono:
// the gateway's `upstream+jwt` token is verified offline through the gateway's JWKS, nothing else is trusted.
//
// Environment: PORT (0 = any), JWKS_URL, AUDIENCE (the upstream ids it serves, comma separated: the gateway signs one
// token per upstream id, so one process can stand behind several ids), ISSUER (default arrakis-gateway), GATEWAY_URL
// and SERVICE_TOKEN (for /v1/self-finalize). Prints one JSON line {"msg":"listening","url":...}.
//
// Calls are named by the test with `?call=<id>` (the proxy forwards the query string). Per call the service records
// the verified claims, the headers that matter, each chunk it sends (sequence and time) and whether the gateway
// aborted the request; `GET /control/seen?call=<id>` answers that record (without `call`: the last one).
// Streams and the slow head wait on gates: `POST /control/release?call=<id>&n=<k>` lets k more steps go (or a
// `?gapMs=` pacing instead). /control/* is test plumbing on loopback: no token.
//
// /v1/chat/completions  POST: OpenAI JSON with `usage` (`?in=&out=`; `?usage=0` for none); echoes method/query/body
// /v1/stream            POST: SSE, `?chunks=N` gated chunks, then a gated final chunk with `usage` and [DONE];
//                       `?usageEach=1`: every chunk carries the cumulative usage so far
// /v1/header-usage      GET: usage in an `X-Usage` header (the body carries a decoy `usage` the header must beat)
// /v1/self-finalize     POST: finalizes the hold itself through the gateway with SERVICE_TOKEN; no usage in the answer
// /v1/slow              GET: the head after a release (or `?delayMs=`)
// /v1/fail              GET: 500 · /v1/bad: 400 · /v1/forever: a chunk every gapMs until the caller goes away
import { upstreamAuth } from '@arrakis/identity-trust/hono';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { streamSSE, stream as textStream } from 'hono/streaming';

/** Calls remembered by /control/seen (oldest forgotten first). */
const callsMax = 1000;
/** Longest wait of one gate (a stream chunk, the slow head) for its release. */
const gateWaitMsMax = 60_000;
/** Most chunks one /v1/stream call sends. */
const chunksMax = 100;
/** Longest `delayMs` / `gapMs`. */
const delayMsMax = 30_000;
/** Longest life of /v1/forever, and most chunks it sends. */
const foreverMsMax = 120_000;
const foreverChunksMax = 20_000;
/** Largest request body read. */
const bodyBytesMax = 1024 * 1024;
/** Longest self-finalize call to the gateway. */
const finalizeTimeoutMs = 10_000;
/** Largest usage units a query may ask for. */
const unitsMax = 1_000_000_000;

const { JWKS_URL, AUDIENCE, GATEWAY_URL, SERVICE_TOKEN } = process.env;
const ISSUER = process.env.ISSUER || 'arrakis-gateway';
if (!JWKS_URL || !AUDIENCE) {
  process.stderr.write('upstream-service: JWKS_URL and AUDIENCE are required\n');
  process.exit(1);
}
const audiences = AUDIENCE.split(',')
  .map((a) => a.trim())
  .filter((a) => a !== '');

// One verifier per upstream id. Which one to run is picked by the token's (unverified) `aud`; the verifier then
// checks aud, iss, typ, signature and lifetime itself, so a token for an id not served fails on the first verifier.
const verifiers = new Map(
  audiences.map((audience) => [audience, upstreamAuth({ jwksUrl: JWKS_URL, issuer: ISSUER, audience })]),
);
const firstVerifier = verifiers.get(audiences[0]);

/** The unverified header and payload of a compact JWT (to pick a verifier and to record `typ`), or null. */
function peekJwt(authorization) {
  const match = /^Bearer ([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]*)$/.exec(authorization ?? '');
  if (match === null || match[0].length > 8192) return null;
  try {
    const header = JSON.parse(Buffer.from(match[1], 'base64url').toString('utf8'));
    const payload = JSON.parse(Buffer.from(match[2], 'base64url').toString('utf8'));
    return { header, payload };
  } catch {
    return null;
  }
}

/** @type {Map<string, {call: string, method: string, path: string, query: Record<string,string>, claims: unknown, token: unknown, headers: Record<string, unknown>, sends: {seq: number|string, atMs: number}[], state: string, error: string|null, startedAtMs: number, endedAtMs: number|null}>} */
const calls = new Map();
/** @type {Map<string, {released: number, waiters: Set<() => void>}>} */
const gates = new Map();
let lastCall = null;

function gateOf(call) {
  let gate = gates.get(call);
  if (gate === undefined) {
    gate = { released: 0, waiters: new Set() };
    gates.set(call, gate);
    if (gates.size > callsMax) gates.delete(gates.keys().next().value);
  }
  return gate;
}

class AbortedError extends Error {}

/** Waits until `count` steps of `call` are released, the signal aborts (AbortedError) or gateWaitMsMax passes. */
async function waitForRelease(call, count, signal) {
  const gate = gateOf(call);
  const deadline = Date.now() + gateWaitMsMax;
  // Bounded: each turn waits for a release, the abort or the deadline.
  while (gate.released < count) {
    if (signal.aborted) throw new AbortedError('aborted');
    const remainingMs = deadline - Date.now();
    if (remainingMs <= 0) throw new Error(`call ${call}: step ${count} was not released within ${gateWaitMsMax} ms`);
    await new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        gate.waiters.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, remainingMs);
      gate.waiters.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }
}

/** Waits `ms` or until the signal aborts (AbortedError). */
function pause(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new AbortedError('aborted'));
    const onAbort = () => {
      clearTimeout(timer);
      reject(new AbortedError('aborted'));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** One step of a call: its gate (`release`) unless the call is paced by `gapMs`. */
function step(record, gapMs, count, signal) {
  return gapMs === null ? waitForRelease(record.call, count, signal) : pause(gapMs, signal);
}

function intParam(c, name, fallback, max) {
  const raw = c.req.query(name);
  if (raw === undefined || raw === '') return fallback;
  if (!/^[0-9]{1,10}$/.test(raw) || Number(raw) > max) throw new RangeError(`${name} must be an integer 0-${max}`);
  return Number(raw);
}

function usageOf(c) {
  return { prompt_tokens: intParam(c, 'in', 1200, unitsMax), completion_tokens: intParam(c, 'out', 340, unitsMax) };
}

function recordOf(c) {
  const call = c.req.query('call') || `anon-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
  const claims = c.get('upstream');
  const peek = peekJwt(c.req.header('authorization'));
  const record = {
    call,
    method: c.req.method,
    path: c.req.path,
    query: c.req.query(),
    claims: { ...claims, holdMicro: String(claims.holdMicro) },
    token:
      peek === null
        ? null
        : { typ: peek.header.typ ?? null, alg: peek.header.alg ?? null, kid: peek.header.kid ?? null },
    headers: {
      authorizationScheme: (c.req.header('authorization') ?? '').split(' ')[0] || null,
      cookie: c.req.header('cookie') ?? null,
      xAccountId: c.req.header('x-account-id') ?? null,
      xUsageEstimate: c.req.header('x-usage-estimate') ?? null,
      xRequestId: c.req.header('x-request-id') ?? null,
      xTestHeader: c.req.header('x-test-header') ?? null,
      contentType: c.req.header('content-type') ?? null,
    },
    sends: [],
    state: 'open',
    error: null,
    startedAtMs: Date.now(),
    endedAtMs: null,
  };
  calls.set(call, record);
  if (calls.size > callsMax) calls.delete(calls.keys().next().value);
  lastCall = call;
  return record;
}

function end(record, state, error = null) {
  if (record.state !== 'open') return;
  record.state = state;
  record.error = error;
  record.endedAtMs = Date.now();
}

async function readBody(c) {
  const text = await c.req.text();
  if (Buffer.byteLength(text) > bodyBytesMax) throw new RangeError(`body over ${bodyBytesMax} bytes`);
  return text;
}

const app = new Hono();
app.onError((error, c) => {
  if (error instanceof RangeError) return c.json({ error: 'bad_test_request', message: error.message }, 422);
  return c.json({ error: 'upstream_internal', message: String(error?.message ?? error) }, 500);
});

app.use('/v1/*', async function verifyGatewayToken(c, next) {
  const audience = peekJwt(c.req.header('authorization'))?.payload?.aud;
  const verifier = (typeof audience === 'string' && verifiers.get(audience)) || firstVerifier;
  return verifier(c, next);
});

app.post('/v1/chat/completions', async (c) => {
  const record = recordOf(c);
  const body = await readBody(c);
  end(record, 'done');
  const usage = usageOf(c);
  return c.json({
    id: `chatcmpl-${record.call}`,
    object: 'chat.completion',
    choices: [{ index: 0, message: { role: 'assistant', content: 'hello' }, finish_reason: 'stop' }],
    ...(c.req.query('usage') === '0'
      ? {}
      : { usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens } }),
    echo: { method: c.req.method, query: c.req.query(), bodyBytes: Buffer.byteLength(body), body },
  });
});

app.post('/v1/stream', (c) => {
  const record = recordOf(c);
  const chunks = intParam(c, 'chunks', 3, chunksMax);
  const gapMs = c.req.query('gapMs') === undefined ? null : intParam(c, 'gapMs', 0, delayMsMax);
  const usageEach = c.req.query('usageEach') === '1';
  const usage = usageOf(c);
  const signal = c.req.raw.signal;
  return streamSSE(c, async (sse) => {
    const aborted = new AbortController();
    sse.onAbort(() => aborted.abort());
    signal.addEventListener('abort', () => aborted.abort(), { once: true });
    try {
      for (let seq = 0; seq < chunks; seq += 1) {
        await step(record, gapMs, seq + 1, aborted.signal);
        // Cumulative usage so far: the share of the final usage for seq + 1 of `chunks` chunks.
        const soFar = {
          prompt_tokens: usage.prompt_tokens,
          completion_tokens: Math.floor((usage.completion_tokens * (seq + 1)) / (chunks + 1)),
        };
        const data = {
          id: `chunk-${seq}`,
          choices: [{ index: 0, delta: { content: `tok${seq} ` } }],
          ...(usageEach ? { usage: soFar } : {}),
        };
        // Logged before the write: whoever has read chunk `seq` finds it in the log.
        record.sends.push({ seq, atMs: Date.now(), ...(usageEach ? { usage: soFar } : {}) });
        await sse.writeSSE({ data: JSON.stringify(data) });
      }
      await step(record, gapMs, chunks + 1, aborted.signal);
      record.sends.push({ seq: 'final', atMs: Date.now(), usage });
      await sse.writeSSE({ data: JSON.stringify({ id: 'final', choices: [], usage }) });
      await sse.writeSSE({ data: '[DONE]' });
      end(record, 'done');
    } catch (error) {
      end(record, aborted.signal.aborted ? 'aborted' : 'failed', String(error?.message ?? error));
    }
  });
});

app.get('/v1/header-usage', (c) => {
  const record = recordOf(c);
  const usage = usageOf(c);
  end(record, 'done');
  c.header('X-Usage', `input_tokens=${usage.prompt_tokens}, output_tokens=${usage.completion_tokens}`);
  // A decoy: the header comes first, this body usage must not be charged.
  return c.json({ ok: true, usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } });
});

app.post('/v1/self-finalize', async (c) => {
  const record = recordOf(c);
  if (!GATEWAY_URL || !SERVICE_TOKEN) throw new Error('GATEWAY_URL and SERVICE_TOKEN are required for self-finalize');
  const usage = usageOf(c);
  const response = await fetch(
    `${GATEWAY_URL}/v1/reservations/${encodeURIComponent(record.claims.reservationId)}/finalize`,
    {
      method: 'POST',
      headers: { authorization: `Bearer ${SERVICE_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ usage: { input_tokens: usage.prompt_tokens, output_tokens: usage.completion_tokens } }),
      signal: AbortSignal.timeout(finalizeTimeoutMs),
    },
  );
  const answer = await response.json();
  record.finalize = {
    status: response.status,
    reservationStatus: answer?.status ?? null,
    chargedMicro: answer?.chargedMicro ?? null,
    error: answer?.error ?? null,
  };
  end(record, 'done');
  return c.json({ selfFinalized: record.finalize });
});

app.get('/v1/slow', async (c) => {
  const record = recordOf(c);
  const delayMs = c.req.query('delayMs') === undefined ? null : intParam(c, 'delayMs', 0, delayMsMax);
  try {
    await step(record, delayMs, 1, c.req.raw.signal);
  } catch (error) {
    end(record, c.req.raw.signal.aborted ? 'aborted' : 'failed', String(error?.message ?? error));
    throw error;
  }
  end(record, 'done');
  return c.json({ ok: true, usage: usageOf(c) });
});

app.get('/v1/fail', (c) => {
  end(recordOf(c), 'done');
  return c.json({ error: 'upstream_exploded', message: 'secret upstream detail' }, 500);
});

app.get('/v1/bad', (c) => {
  end(recordOf(c), 'done');
  return c.json({ error: 'bad_prompt', message: 'the upstream refuses this prompt' }, 400);
});

app.get('/v1/forever', (c) => {
  const record = recordOf(c);
  const gapMs = intParam(c, 'gapMs', 100, delayMsMax);
  const signal = c.req.raw.signal;
  c.header('content-type', 'text/plain; charset=utf-8');
  return textStream(c, async (out) => {
    const aborted = new AbortController();
    out.onAbort(() => aborted.abort());
    signal.addEventListener('abort', () => aborted.abort(), { once: true });
    const deadline = Date.now() + foreverMsMax;
    try {
      for (let seq = 0; seq < foreverChunksMax && Date.now() < deadline; seq += 1) {
        record.sends.push({ seq, atMs: Date.now() });
        await out.write(`tick ${seq}\n`);
        await pause(gapMs, aborted.signal);
      }
      end(record, 'done');
    } catch (error) {
      end(record, aborted.signal.aborted ? 'aborted' : 'failed', String(error?.message ?? error));
    }
  });
});

app.get('/control/seen', (c) => {
  const call = c.req.query('call') ?? lastCall;
  const record = call === null ? undefined : calls.get(call);
  if (record === undefined) return c.json({ error: 'not_seen', message: `no call ${JSON.stringify(call)} seen` }, 404);
  return c.json(record);
});

app.post('/control/release', (c) => {
  const call = c.req.query('call');
  if (!call) return c.json({ error: 'bad_test_request', message: 'call is required' }, 422);
  const gate = gateOf(call);
  gate.released += intParam(c, 'n', 1, chunksMax + 1);
  for (const waiter of [...gate.waiters]) waiter();
  return c.json({ call, released: gate.released });
});

const server = serve({ fetch: app.fetch, port: Number(process.env.PORT ?? '0'), hostname: '127.0.0.1' }, (info) => {
  process.stdout.write(`${JSON.stringify({ msg: 'listening', url: `http://127.0.0.1:${info.port}` })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
