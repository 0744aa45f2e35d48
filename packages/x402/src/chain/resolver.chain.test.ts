import { freeLoopbackPort, testUsdcAbi } from '@arrakis/dev-chain';
import { createWalletClient, type Hash, type Hex, http, parseSignature } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalFacilitator, localFacilitator } from '../facilitator/local.js';
import type { AuthorizationRef } from '../ports/payment-state-store.js';
import { startTestChain, type TestChain } from '../testing/chain.js';
import { TestClock } from '../testing/clock.js';
import { jsonRpc } from '../testing/rpc-proxy.js';
import { type SignOptions, signPayloadV2 } from '../testing/sign.js';
import { tokenDomain } from '../verify/typed-data.js';
import { type VerifiedPayment, verifyExactPayment } from '../verify/verify-exact.js';
import type { PaymentPayloadV2, PaymentRequirements } from '../wire/schemas.js';
import { assertTokenDecimals, expiryGraceSecondsDefault, rpcAuthorizationResolver } from './resolver.js';

let chain: TestChain;
let facilitator: LocalFacilitator;
const clock = new TestClock(Date.now());

beforeAll(async () => {
  chain = await startTestChain({ payerCount: 2 });
  facilitator = localFacilitator({ rpcUrl: chain.node.rpcUrl, signerKey: chain.settlerKey, clock });
}, 120_000);
afterAll(async () => chain?.stop());

/** The timestamp of the chain's latest block, in seconds (Hardhat's time moves with evm_increaseTime). */
async function chainNowSeconds(): Promise<number> {
  const block = await jsonRpc<{ timestamp: Hex }>(chain.node.rpcUrl, 'eth_getBlockByNumber', ['latest', false]);
  return Number(BigInt(block.timestamp));
}

/** A signed payment valid from the chain's now; the shared clock is set to the chain's time. */
async function newPayment(
  options: { payer?: 0 | 1; requirements?: PaymentRequirements; message?: SignOptions['message'] } = {},
): Promise<{ payload: PaymentPayloadV2; requirements: PaymentRequirements; payment: VerifiedPayment }> {
  const now = await chainNowSeconds();
  clock.set(now * 1000);
  const requirements = options.requirements ?? chain.requirementsFor(200_000n);
  const payload = await signPayloadV2(chain.payers[options.payer ?? 0]!, requirements, {
    nowSeconds: now,
    ...(options.message === undefined ? {} : { message: options.message }),
  });
  const payment = await verifyExactPayment({ payload, requirements, clock, checkWindow: false });
  return { payload, requirements, payment };
}

function refOf(payment: VerifiedPayment, transaction?: string): AuthorizationRef {
  return {
    network: payment.network,
    asset: payment.asset,
    payer: payment.payer,
    payTo: payment.payTo,
    nonce: payment.nonce,
    amountAtomic: payment.amountAtomic,
    validBefore: payment.validBefore,
    ...(transaction === undefined ? {} : { transaction }),
  };
}

/** Submits the payment's authorization directly from another wallet (not through the facilitator). */
async function submitDirectly(payload: PaymentPayloadV2): Promise<Hash> {
  const { authorization, signature } = payload.payload as {
    authorization: { from: Hex; to: Hex; value: string; validAfter: string; validBefore: string; nonce: Hex };
    signature: Hex;
  };
  const { r, s, v } = parseSignature(signature);
  const wallet = createWalletClient({ account: chain.payers[1]!, transport: http(chain.node.rpcUrl) });
  return wallet.writeContract({
    address: chain.usdc.address,
    abi: testUsdcAbi,
    functionName: 'transferWithAuthorization',
    args: [
      authorization.from,
      authorization.to,
      BigInt(authorization.value),
      BigInt(authorization.validAfter),
      BigInt(authorization.validBefore),
      authorization.nonce,
      Number(v),
      r,
      s,
    ],
    chain: null,
  });
}

describe('rpcAuthorizationResolver on a real chain (Hardhat + TestUsdc)', () => {
  it('open before the settlement; executed after it, with the settling transaction (known or found by its log)', async () => {
    const resolver = rpcAuthorizationResolver({ rpcUrl: chain.node.rpcUrl }, { clock });
    const { payload, requirements, payment } = await newPayment();
    expect(await resolver.resolve(refOf(payment))).toEqual({ state: 'open' });
    const settled = await facilitator.settle(payload, requirements);
    if (!settled.success) throw new Error(`settlement failed: ${settled.errorMessage}`);
    const found = await resolver.resolve(refOf(payment));
    expect(found).toMatchObject({ state: 'executed', transaction: settled.transaction });
    expect(found.state === 'executed' && found.blockNumber > 0n).toBe(true);
    expect(await resolver.resolve(refOf(payment, settled.transaction))).toEqual(found);
  });

  it('pending while the known transaction waits unmined (automine off); executed once it is mined', async () => {
    const resolver = rpcAuthorizationResolver({ rpcUrl: chain.node.rpcUrl }, { clock });
    const { payload, payment } = await newPayment({ payer: 1 });
    await jsonRpc(chain.node.rpcUrl, 'evm_setAutomine', [false]);
    let hash: Hash;
    try {
      hash = await submitDirectly(payload);
      expect(await resolver.resolve(refOf(payment, hash))).toEqual({ state: 'pending', transaction: hash });
      // Without the transaction the chain only says "not executed yet".
      expect(await resolver.resolve(refOf(payment))).toEqual({ state: 'open' });
    } finally {
      await jsonRpc(chain.node.rpcUrl, 'evm_setAutomine', [true]);
    }
    await jsonRpc(chain.node.rpcUrl, 'evm_mine');
    expect(await resolver.resolve(refOf(payment, hash))).toMatchObject({ state: 'executed', transaction: hash });
  });

  it('dead nonce_already_used when the payer cancelled the authorization', async () => {
    const resolver = rpcAuthorizationResolver({ rpcUrl: chain.node.rpcUrl }, { clock });
    const { requirements, payment } = await newPayment();
    const payer = chain.payers[0]!;
    const cancel = await payer.signTypedData({
      domain: tokenDomain(requirements),
      types: {
        CancelAuthorization: [
          { name: 'authorizer', type: 'address' },
          { name: 'nonce', type: 'bytes32' },
        ],
      },
      primaryType: 'CancelAuthorization',
      message: { authorizer: payer.address, nonce: payment.nonce },
    });
    const { r, s, v } = parseSignature(cancel);
    const wallet = createWalletClient({ account: payer, transport: http(chain.node.rpcUrl) });
    const hash = await wallet.writeContract({
      address: chain.usdc.address,
      abi: testUsdcAbi,
      functionName: 'cancelAuthorization',
      args: [payer.address, payment.nonce, Number(v), r, s],
      chain: null,
    });
    expect(await resolver.resolve(refOf(payment))).toMatchObject({
      state: 'dead',
      reason: 'nonce_already_used',
      message: expect.stringMatching(/used on chain/),
    });
    // The cancelling transaction is not a settlement of it either.
    expect(await resolver.resolve(refOf(payment, hash))).toMatchObject({ state: 'dead', reason: 'nonce_already_used' });
  });

  it('dead nonce_already_used when the nonce paid another transfer (another recipient)', async () => {
    const resolver = rpcAuthorizationResolver({ rpcUrl: chain.node.rpcUrl }, { clock });
    const mine = await newPayment();
    const elsewhere = chain.requirementsFor(200_000n, { payTo: chain.payers[1]!.address });
    const theirs = await newPayment({ requirements: elsewhere, message: { nonce: mine.payment.nonce } });
    const settled = await facilitator.settle(theirs.payload, theirs.requirements);
    if (!settled.success) throw new Error(`settlement failed: ${settled.errorMessage}`);
    expect(await resolver.resolve(refOf(theirs.payment))).toMatchObject({
      state: 'executed',
      transaction: settled.transaction,
    });
    expect(await resolver.resolve(refOf(mine.payment))).toMatchObject({ state: 'dead', reason: 'nonce_already_used' });
    expect(await resolver.resolve(refOf(mine.payment, settled.transaction))).toMatchObject({
      state: 'dead',
      reason: 'nonce_already_used',
    });
  });

  it('dead authorization_expired: by the clock only after validBefore + grace (a lagging node), then by the latest block', async () => {
    const start = await chainNowSeconds();
    const { payment } = await newPayment({ message: { validBefore: BigInt(start + 30) } });
    const validBefore = Number(payment.validBefore);
    const early = new TestClock((validBefore + expiryGraceSecondsDefault - 1) * 1000);
    const late = new TestClock((validBefore + expiryGraceSecondsDefault) * 1000);
    const lagging = rpcAuthorizationResolver({ rpcUrl: chain.node.rpcUrl }, { clock: early });
    // The local clock is past validBefore, but within the grace and the chain has not reached it: still open.
    expect(await lagging.resolve(refOf(payment))).toEqual({ state: 'open' });
    const afterGrace = rpcAuthorizationResolver({ rpcUrl: chain.node.rpcUrl }, { clock: late });
    expect(await afterGrace.resolve(refOf(payment))).toMatchObject({
      state: 'dead',
      reason: 'authorization_expired',
      message: expect.stringMatching(/120 s grace/),
    });
    // The chain passes validBefore: dead whatever the local clock says.
    await jsonRpc(chain.node.rpcUrl, 'evm_increaseTime', [60]);
    await jsonRpc(chain.node.rpcUrl, 'evm_mine');
    const behind = rpcAuthorizationResolver({ rpcUrl: chain.node.rpcUrl }, { clock: new TestClock(start * 1000) });
    expect(await behind.resolve(refOf(payment))).toMatchObject({
      state: 'dead',
      reason: 'authorization_expired',
      message: expect.stringMatching(/timestamp \d+ ≥ validBefore/),
    });
  });

  it('decimals() reads the token: 6 passes assertTokenDecimals; an 18-decimal token and an address without code are refused', async () => {
    const resolver = rpcAuthorizationResolver({ rpcUrl: chain.node.rpcUrl });
    expect(await resolver.decimals(chain.usdc.address)).toBe(6);
    expect(await assertTokenDecimals(resolver, chain.usdc.address)).toBe(6);
    // A contract whose every call returns 18 (PUSH1 18, MSTORE at 0, RETURN 32 bytes).
    const eighteen = '0x00000000000000000000000000000000000e1800';
    await jsonRpc(chain.node.rpcUrl, 'hardhat_setCode', [eighteen, '0x601260005260206000f3']);
    expect(await resolver.decimals(eighteen)).toBe(18);
    await expect(assertTokenDecimals(resolver, eighteen)).rejects.toMatchObject({
      code: 'invalid_option',
      message: expect.stringMatching(new RegExp(`asset ${eighteen} has 18 decimals, expected 6: .*micro-USD`)),
      details: { asset: eighteen, decimals: 18, expected: 6 },
    });
    await expect(resolver.decimals(chain.payTo)).rejects.toMatchObject({
      code: 'invalid_option',
      message: expect.stringMatching(/no ERC-20 decimals\(\)/),
    });
  });

  it('an RPC that does not answer (a closed loopback port) is facilitator_unavailable', async () => {
    const port = await freeLoopbackPort();
    const resolver = rpcAuthorizationResolver({ rpcUrl: `http://127.0.0.1:${port}` });
    const { payment } = await newPayment();
    await expect(resolver.resolve(refOf(payment))).rejects.toMatchObject({
      name: 'X402Error',
      code: 'facilitator_unavailable',
      cause: expect.anything(),
    });
    await expect(resolver.decimals(chain.usdc.address)).rejects.toMatchObject({ code: 'facilitator_unavailable' });
  });

  it('validates its options when built and its arguments when called', async () => {
    expect(() => rpcAuthorizationResolver({ rpcUrl: 'ftp://x' })).toThrow(/rpcUrl/);
    expect(() => rpcAuthorizationResolver({ publicClient: {} as never })).toThrow(/publicClient/);
    expect(() => rpcAuthorizationResolver({ rpcUrl: chain.node.rpcUrl }, { lookbackBlocks: -1n })).toThrow(
      /lookbackBlocks/,
    );
    expect(() => rpcAuthorizationResolver({ rpcUrl: chain.node.rpcUrl }, { expiryGraceSeconds: -1 })).toThrow(
      /expiryGraceSeconds/,
    );
    const resolver = rpcAuthorizationResolver({ rpcUrl: chain.node.rpcUrl });
    const { payment } = await newPayment();
    await expect(resolver.resolve({ ...refOf(payment), nonce: '0x12' })).rejects.toMatchObject({
      code: 'invalid_option',
    });
    await expect(resolver.resolve({ ...refOf(payment), payer: 'nobody' })).rejects.toMatchObject({
      code: 'invalid_option',
    });
  });
});
