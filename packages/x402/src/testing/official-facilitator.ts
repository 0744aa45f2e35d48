/**
 * Test harness: the OFFICIAL x402 facilitator (`x402Facilitator` from `@x402/core/facilitator` with the exact-scheme
 * EVM facilitator of `@x402/evm/exact/facilitator`) served over real HTTP on 127.0.0.1 with the standard endpoints
 * (`POST /verify`, `POST /settle`, `GET /supported`), settling on a local chain with a viem wallet. It lets tests
 * prove that `httpFacilitator` (and so the gateway) interoperates with the reference implementation. Not exported
 * from the package.
 */
import { installMulticall3 } from '@arrakis/dev-chain';
import { x402Facilitator } from '@x402/core/facilitator';
import { parsePaymentPayload, parsePaymentRequirements } from '@x402/core/schemas';
import type { PaymentPayload, PaymentRequirements } from '@x402/core/types';
import { toFacilitatorEvmSigner } from '@x402/evm';
import { registerExactEvmScheme } from '@x402/evm/exact/facilitator';
import { type Context, Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { type Address, createPublicClient, createWalletClient, defineChain, type Hex, http, publicActions } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { InvalidX402OptionError } from '../errors.js';
import { type Served, serveOnLoopback } from './serve.js';

/** Largest `/verify` or `/settle` request body the official facilitator service reads. */
export const officialFacilitatorRequestBytesMax = 65_536;
/** Receipt polling of the settler's client: a dev chain mines at once, viem's 4 s default is too slow. */
export const officialReceiptPollingIntervalMs = 50;
/** Default bound of one settlement's receipt wait (the official signer answers `settlement_pending` after it). */
export const officialConfirmationTimeoutMsDefault = 30_000;

/** Options of {@link startOfficialFacilitator}. */
export interface StartOfficialFacilitatorOptions {
  /** JSON-RPC of the chain (a Hardhat node). */
  rpcUrl: string;
  /** Private key of the account that submits settlements and pays gas. */
  settlerKey: Hex;
  /** CAIP-2 id of the chain, `eip155:<chainId>`; must be the chain id the node reports. */
  network: `eip155:${number}`;
  /** Bound of one receipt wait. Default 30 000 ms. */
  confirmationTimeoutMs?: number;
}

/** A running official facilitator service. */
export interface OfficialFacilitatorService extends Served {
  /** The settler's address (also listed by `GET /supported` under `signers`). */
  settler: Address;
}

/**
 * Builds the official facilitator for one EVM network: a viem wallet client extended with public actions,
 * wrapped by the official `toFacilitatorEvmSigner`, registered with the official `registerExactEvmScheme`.
 */
function buildOfficialFacilitator(options: StartOfficialFacilitatorOptions, chainId: number): x402Facilitator {
  const account = privateKeyToAccount(options.settlerKey);
  const chain = defineChain({
    id: chainId,
    name: `local ${chainId}`,
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [options.rpcUrl] } },
  });
  // No transport retries: Hardhat reports a reverted simulation as an internal error, which viem would retry.
  const client = createWalletClient({
    account,
    chain,
    transport: http(options.rpcUrl, { retryCount: 0 }),
    pollingInterval: officialReceiptPollingIntervalMs,
  }).extend(publicActions);
  const signer = toFacilitatorEvmSigner(
    {
      address: account.address,
      readContract: (args) => client.readContract(args),
      verifyTypedData: (args) => client.verifyTypedData(args as Parameters<typeof client.verifyTypedData>[0]),
      writeContract: (args) => client.writeContract(args),
      sendTransaction: (args) => client.sendTransaction(args),
      waitForTransactionReceipt: (args) => client.waitForTransactionReceipt(args),
      getCode: (args) => client.getCode(args),
    },
    { confirmationTimeoutMs: options.confirmationTimeoutMs ?? officialConfirmationTimeoutMsDefault },
  );
  const facilitator = new x402Facilitator();
  registerExactEvmScheme(facilitator, { signer, networks: options.network });
  return facilitator;
}

/**
 * Reads `{ paymentPayload, paymentRequirements }` with the official zod schemas (version 1 or 2; the facilitator
 * routes on `x402Version`, its signature names the version 2 types).
 */
async function readRequest(
  c: Context,
): Promise<{ error: string } | { payload: PaymentPayload; requirements: PaymentRequirements }> {
  const body: unknown = await c.req.json().catch(() => null);
  if (body === null || typeof body !== 'object') return { error: 'the body is not a JSON object' };
  const { paymentPayload, paymentRequirements } = body as Record<string, unknown>;
  const payload = parsePaymentPayload(paymentPayload);
  if (!payload.success) return { error: `paymentPayload: ${payload.error.message}` };
  const requirements = parsePaymentRequirements(paymentRequirements);
  if (!requirements.success) return { error: `paymentRequirements: ${requirements.error.message}` };
  return { payload: payload.data as PaymentPayload, requirements: requirements.data as PaymentRequirements };
}

/** The Hono app of the service: the standard endpoints over the official facilitator. */
function officialFacilitatorApp(facilitator: x402Facilitator): Hono {
  const app = new Hono();
  const limit = bodyLimit({
    maxSize: officialFacilitatorRequestBytesMax,
    onError: (c) => c.json({ error: `request body over ${officialFacilitatorRequestBytesMax} bytes` }, 413),
  });
  app.get('/supported', (c) => c.json(facilitator.getSupported()));
  app.post('/verify', limit, async (c) => {
    const request = await readRequest(c);
    if ('error' in request)
      return c.json({ isValid: false, invalidReason: 'invalid_payload', invalidMessage: request.error }, 400);
    return c.json(await facilitator.verify(request.payload, request.requirements));
  });
  app.post('/settle', limit, async (c) => {
    const request = await readRequest(c);
    if ('error' in request) {
      const failure = { success: false, errorReason: 'invalid_payload', errorMessage: request.error };
      return c.json({ ...failure, transaction: '', network: '' }, 400);
    }
    return c.json(await facilitator.settle(request.payload, request.requirements));
  });
  // A facilitator that throws (no scheme for the network, an RPC failure) answers 500 with the message.
  app.onError((error, c) => c.json({ error: error.message }, 500));
  return app;
}

/**
 * Starts the official x402 facilitator as an HTTP service on 127.0.0.1 (a free port), for the Hardhat chain at
 * `rpcUrl`. It checks that the node's chain id is the one `network` names, so a payment signed for another chain is
 * refused by the facilitator, not by a misconfigured test. It installs Multicall3 on the node when it is missing
 * (`installMulticall3`; every public chain has it): the official facilitator diagnoses a failed simulation through
 * it, and without it every such failure (nonce already used, balance too low) reads `…_simulation_failed`.
 *
 * @throws {InvalidX402OptionError} when `network` is not `eip155:<chainId>` or the node reports another chain id.
 * @throws {DevChainError} `deploy_failed` when Multicall3 is missing and the node is not a Hardhat node.
 * @example
 * const official = await startOfficialFacilitator({ rpcUrl: node.rpcUrl, settlerKey, network: 'eip155:31337' });
 * const facilitator = httpFacilitator({ url: official.url });
 * // ...
 * await official.close();
 */
export async function startOfficialFacilitator(
  options: StartOfficialFacilitatorOptions,
): Promise<OfficialFacilitatorService> {
  const match = /^eip155:([1-9][0-9]{0,15})$/.exec(options.network);
  if (match === null) {
    throw new InvalidX402OptionError(
      `startOfficialFacilitator(): network ${JSON.stringify(options.network)} is not eip155:<chainId>`,
    );
  }
  const chainId = Number(match[1]);
  const nodeChainId = await createPublicClient({ transport: http(options.rpcUrl, { retryCount: 0 }) }).getChainId();
  if (nodeChainId !== chainId) {
    throw new InvalidX402OptionError(
      `startOfficialFacilitator(): network ${options.network} but the node at ${options.rpcUrl} reports chain id ${nodeChainId}`,
    );
  }
  await installMulticall3({ rpcUrl: options.rpcUrl });
  const facilitator = buildOfficialFacilitator(options, chainId);
  const served = await serveOnLoopback(officialFacilitatorApp(facilitator));
  return { ...served, settler: privateKeyToAccount(options.settlerKey).address };
}
