// The upstream of bench:proxy, run as its own process (so the load generator and the upstream do not share an event
// loop): a plain node:http server on 127.0.0.1 answering every POST with an OpenAI-style chat completion — a JSON
// body with `usage` and the same usage in an `X-Usage` header (the one the gateway reads first).
// `GET /stats` answers how many calls it has served (the bench checks that the proxied calls reached it).
// It verifies no token: the gateway's service token is not what this bench measures.
// Env: PORT (default 0: the OS picks one). Prints `{"msg":"listening","url":...}` on stdout once listening.
import { createServer } from 'node:http';

/** Largest request body read: 64 KiB (the bench sends ~100 bytes). */
const requestBytesMax = 64 * 1024;
/** Usage reported per call: the bench prices it with the meter it configures. */
const promptTokens = 1200;
const completionTokens = 340;
/** Keep-alive of idle client connections (the gateway's and the bench's pools reuse them). */
const keepAliveTimeoutMs = 30_000;

let served = 0;

const answer = JSON.stringify({
  id: 'chatcmpl-bench',
  object: 'chat.completion',
  model: 'bench',
  choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
  usage: {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
  },
});
const usageHeader = `input_tokens=${promptTokens}, output_tokens=${completionTokens}`;

const server = createServer((request, response) => {
  if (request.method === 'GET' && request.url === '/stats') {
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ served }));
    return;
  }
  if (request.method !== 'POST') {
    response.writeHead(405, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ error: 'method_not_allowed', message: `expected POST, got ${request.method}` }));
    return;
  }
  let bytes = 0;
  request.on('data', (chunk) => {
    bytes += chunk.length;
    if (bytes > requestBytesMax) request.destroy();
  });
  request.on('end', () => {
    served += 1;
    response.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(answer),
      'x-usage': usageHeader,
    });
    response.end(answer);
  });
});
server.keepAliveTimeout = keepAliveTimeoutMs;
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const { port } = server.address();
  process.stdout.write(`${JSON.stringify({ msg: 'listening', url: `http://127.0.0.1:${port}` })}\n`);
});
const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
