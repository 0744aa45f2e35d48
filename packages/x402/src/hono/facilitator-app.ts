import { Hono } from 'hono';
import { InvalidX402OptionError, X402Error, type X402ErrorCode } from '../errors.js';
import { type Facilitator, isFacilitator } from '../ports/facilitator.js';
import { parseRequirements } from '../requirements.js';
import { type Eip155Network, resolveV1NetworkNames } from '../wire/networks.js';
import {
  facilitatorRequestSchema,
  type PaymentPayload,
  type PaymentRequirements,
  wireRequirementsV1Schema,
} from '../wire/schemas.js';

/** Largest request body the facilitator app reads. */
export const facilitatorRequestBytesMax = 65_536;

/** Options of {@link facilitatorApp}. */
export interface FacilitatorAppOptions {
  /** Extra version 1 network names, to read version 1 requirements. */
  v1NetworkNames?: Record<string, string>;
}

/** Converts wire requirements (version 2, or version 1 with `maxAmountRequired` and a network name) to ours. */
function requirementsOf(
  raw: Record<string, unknown>,
  names: Readonly<Record<string, Eip155Network>>,
): PaymentRequirements {
  const v1 = wireRequirementsV1Schema.safeParse(raw);
  if (v1.success && !('amount' in raw)) {
    return parseRequirements(
      {
        scheme: v1.data.scheme,
        network: names[v1.data.network] ?? v1.data.network,
        amount: v1.data.maxAmountRequired,
        asset: v1.data.asset,
        payTo: v1.data.payTo,
        maxTimeoutSeconds: v1.data.maxTimeoutSeconds,
        extra: v1.data.extra ?? {},
      },
      'paymentRequirements',
    );
  }
  return parseRequirements(raw, 'paymentRequirements');
}

/**
 * Serves a facilitator over HTTP with the standard x402 endpoints, so resource servers elsewhere (this package's
 * `httpFacilitator`, or the official `HTTPFacilitatorClient`) can use it:
 * `GET /supported`, `POST /verify` and `POST /settle` with `{ x402Version, paymentPayload, paymentRequirements }`.
 * Verify and settle answer 200 with the (possibly negative) response; a body that is not such a request is a 400
 * `{ error: 'malformed_payment', message }`; a facilitator that cannot answer is a 503 `facilitator_unavailable`.
 * Put authentication in front of it (`app.use('/facilitator/*', bearerAuth(...))`): `settle` spends gas.
 *
 * @throws {InvalidX402OptionError} when `facilitator` is not a facilitator.
 * @example
 * const app = new Hono();
 * app.route('/facilitator', facilitatorApp(localFacilitator({ rpcUrl, signerKey })));
 * // elsewhere: httpFacilitator({ url: 'https://payments.internal/facilitator' })
 */
export function facilitatorApp(facilitator: Facilitator, options: FacilitatorAppOptions = {}): Hono {
  if (!isFacilitator(facilitator))
    throw new InvalidX402OptionError('facilitatorApp(): facilitator must have verify, settle and supported');
  const names = resolveV1NetworkNames(options.v1NetworkNames);
  const app = new Hono();

  app.onError((error, c) => {
    if (error instanceof X402Error) {
      const status = error.code === 'facilitator_unavailable' ? 503 : 400;
      return c.json({ error: error.code, message: error.message }, status);
    }
    throw error;
  });

  async function readRequest(request: Request) {
    const length = Number(request.headers.get('content-length') ?? '0');
    if (length > facilitatorRequestBytesMax) {
      throw new X402Error('malformed_payment', `request body of ${length} bytes exceeds ${facilitatorRequestBytesMax}`);
    }
    const text = await request.text();
    if (text.length > facilitatorRequestBytesMax) {
      throw new X402Error('malformed_payment', `request body exceeds ${facilitatorRequestBytesMax} bytes`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (cause) {
      throw new X402Error('malformed_payment', 'request body is not JSON', { cause });
    }
    const parsed = facilitatorRequestSchema.safeParse(json);
    if (!parsed.success) {
      throw new X402Error('malformed_payment', 'expected { x402Version, paymentPayload, paymentRequirements }');
    }
    return parsed.data;
  }

  function refusal(error: unknown): { code: X402ErrorCode; message: string } {
    if (error instanceof X402Error) return { code: 'malformed_payment', message: error.message };
    throw error;
  }

  app.get('/supported', async (c) => c.json(await facilitator.supported()));

  app.post('/verify', async (c) => {
    const request = await readRequest(c.req.raw);
    const payload = request.paymentPayload as unknown as PaymentPayload;
    let requirements: PaymentRequirements;
    try {
      requirements = requirementsOf(request.paymentRequirements, names);
    } catch (error) {
      const { code, message } = refusal(error);
      return c.json({ isValid: false, invalidReason: code, invalidMessage: message });
    }
    return c.json(await facilitator.verify(payload, requirements));
  });

  app.post('/settle', async (c) => {
    const request = await readRequest(c.req.raw);
    const payload = request.paymentPayload as unknown as PaymentPayload;
    let requirements: PaymentRequirements;
    try {
      requirements = requirementsOf(request.paymentRequirements, names);
    } catch (error) {
      const { code, message } = refusal(error);
      return c.json({ success: false, errorReason: code, errorMessage: message, transaction: '', network: '' });
    }
    return c.json(await facilitator.settle(payload, requirements));
  });

  return app;
}
