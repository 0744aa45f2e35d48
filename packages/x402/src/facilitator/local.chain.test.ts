import { testUsdcAbi } from '@arrakis/dev-chain';
import { createWalletClient, type Hex, http, parseSignature } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestChain, type TestChain } from '../testing/chain.js';
import { TestClock } from '../testing/clock.js';
import { jsonRpc, startRpcProxy } from '../testing/rpc-proxy.js';
import { signPayloadV2 } from '../testing/sign.js';
import { verifyExactPayment } from '../verify/verify-exact.js';
import type { PaymentPayloadV2 } from '../wire/schemas.js';
import { type LocalFacilitator, localFacilitator } from './local.js';

let chain: TestChain;
let facilitator: LocalFacilitator;
const clock = new TestClock(Date.now());

beforeAll(async () => {
  chain = await startTestChain({ payerCount: 2 });
  facilitator = localFacilitator({ rpcUrl: chain.node.rpcUrl, signerKey: chain.settlerKey, clock });
}, 120_000);
afterAll(async () => chain?.stop());

function authorizationOf(payload: PaymentPayloadV2) {
  return (
    payload.payload as {
      authorization: { from: Hex; to: Hex; value: string; validAfter: string; validBefore: string; nonce: Hex };
    }
  ).authorization;
}

async function balances() {
  const [payer, other, payTo] = await Promise.all([
    chain.balanceOf(chain.payers[0]!.address),
    chain.balanceOf(chain.payers[1]!.address),
    chain.balanceOf(chain.payTo),
  ]);
  return { payer, other, payTo };
}

describe('localFacilitator on a real chain (Hardhat + our EIP-3009 TestUsdc)', () => {
  it('supported() lists exact on the RPC chain (v2) and the settler as signer', async () => {
    expect(await facilitator.supported()).toEqual({
      kinds: [{ x402Version: 2, scheme: 'exact', network: chain.network }],
      extensions: [],
      signers: { 'eip155:*': [privateKeyToAccount(chain.settlerKey).address] },
    });
  });

  it('verify checks the chain: valid, then insufficient_funds for an empty wallet, network_mismatch for another chain', async () => {
    clock.set(Date.now());
    const requirements = chain.requirementsFor(1_000_000n);
    const payload = await signPayloadV2(chain.payers[0]!, requirements);
    expect(await facilitator.verify(payload, requirements)).toEqual({ isValid: true, payer: chain.payers[0]!.address });
    const broke = await signPayloadV2(chain.broke, requirements);
    expect(await facilitator.verify(broke, requirements)).toMatchObject({
      isValid: false,
      invalidReason: 'insufficient_funds',
    });
    const elsewhere = { ...requirements, network: 'eip155:1' as const };
    const onMainnet = await signPayloadV2(chain.payers[0]!, elsewhere);
    expect(await facilitator.verify(onMainnet, elsewhere)).toMatchObject({
      isValid: false,
      invalidReason: 'network_mismatch',
    });
    expect(await facilitator.verify({ ...payload, x402Version: 9 } as never, requirements)).toMatchObject({
      isValid: false,
      invalidReason: 'unsupported_version',
    });
  });

  it('settle moves real token balances once; settling the same authorization again answers the same transaction', async () => {
    clock.set(Date.now());
    const requirements = chain.requirementsFor(2_500_000n);
    const payload = await signPayloadV2(chain.payers[0]!, requirements);
    const before = await balances();
    const settled = await facilitator.settle(payload, requirements);
    expect(settled).toMatchObject({
      success: true,
      network: chain.network,
      payer: chain.payers[0]!.address,
      amount: '2500000',
    });
    expect(settled.transaction).toMatch(/^0x[0-9a-f]{64}$/);
    const after = await balances();
    expect(after.payer).toBe(before.payer - 2_500_000n);
    expect(after.payTo).toBe(before.payTo + 2_500_000n);

    // verify now sees the nonce used on chain; settle again is idempotent (no second transfer).
    expect(await facilitator.verify(payload, requirements)).toMatchObject({
      isValid: false,
      invalidReason: 'nonce_already_used',
    });
    const again = await facilitator.settle(payload, requirements);
    expect(again).toEqual(settled);
    expect(await balances()).toEqual(after);

    // Even after its window closed, an executed authorization is reported with its transaction.
    clock.advanceSeconds(3_600);
    expect(await facilitator.settle(payload, requirements)).toEqual(settled);
  });

  it('concurrent settles of one authorization send one transaction', async () => {
    clock.set(Date.now());
    const requirements = chain.requirementsFor(1_000_000n);
    const payload = await signPayloadV2(chain.payers[1]!, requirements);
    const before = await balances();
    const answers = await Promise.all(Array.from({ length: 5 }, () => facilitator.settle(payload, requirements)));
    expect(new Set(answers.map((a) => a.success && a.transaction)).size).toBe(1);
    const after = await balances();
    expect(after.other).toBe(before.other - 1_000_000n);
    expect(after.payTo).toBe(before.payTo + 1_000_000n);
  });

  it('concurrent settles of different authorizations from one signer all land (ordered nonces)', async () => {
    clock.set(Date.now());
    const requirements = chain.requirementsFor(100_000n);
    const payloads = await Promise.all(Array.from({ length: 6 }, () => signPayloadV2(chain.payers[0]!, requirements)));
    const before = await balances();
    const answers = await Promise.all(payloads.map((payload) => facilitator.settle(payload, requirements)));
    expect(answers.every((a) => a.success)).toBe(true);
    expect(new Set(answers.map((a) => a.transaction)).size).toBe(6);
    expect((await balances()).payTo).toBe(before.payTo + 600_000n);
  });

  it('recovers a settlement made elsewhere (e.g. before a crash): the original transaction is reported, nothing moves twice', async () => {
    clock.set(Date.now());
    const requirements = chain.requirementsFor(300_000n);
    const payload = await signPayloadV2(chain.payers[0]!, requirements);
    const auth = authorizationOf(payload);
    const { r, s, v } = parseSignature((payload.payload as { signature: Hex }).signature);
    // The payer submits its own authorization directly (another process, another wallet).
    const wallet = createWalletClient({ account: chain.payers[1]!, transport: http(chain.node.rpcUrl) });
    const hash = await wallet.writeContract({
      address: chain.usdc.address,
      abi: testUsdcAbi,
      functionName: 'transferWithAuthorization',
      args: [
        auth.from,
        auth.to,
        BigInt(auth.value),
        BigInt(auth.validAfter),
        BigInt(auth.validBefore),
        auth.nonce,
        Number(v),
        r,
        s,
      ],
      chain: null,
    });
    const before = await balances();
    const settled = await facilitator.settle(payload, requirements);
    expect(settled).toMatchObject({ success: true, transaction: hash });
    expect(await balances()).toEqual(before);
    const payment = await verifyExactPayment({ payload, requirements, clock });
    expect(await facilitator.findSettlement(payment)).toMatchObject({ transaction: hash });
  });

  it('a nonce consumed by another authorization of the same payer is nonce_already_used, and nothing moves', async () => {
    clock.set(Date.now());
    const requirements = chain.requirementsFor(400_000n);
    const mine = await signPayloadV2(chain.payers[0]!, requirements);
    const nonce = authorizationOf(mine).nonce;
    // The payer signs the same nonce to someone else and that one is settled first.
    const elsewhere = chain.requirementsFor(400_000n, { payTo: chain.payers[1]!.address });
    const theirs = await signPayloadV2(chain.payers[0]!, elsewhere, { message: { nonce } });
    expect((await facilitator.settle(theirs, elsewhere)).success).toBe(true);
    const before = await balances();
    const answer = await facilitator.settle(mine, requirements);
    expect(answer).toMatchObject({ success: false, errorReason: 'nonce_already_used', transaction: '' });
    expect(answer.errorMessage).toMatch(/already used on chain/);
    expect(await balances()).toEqual(before);
  });

  it('refuses without moving tokens: expired, not yet valid, insufficient funds, forged signature, tampered amount', async () => {
    const requirements = chain.requirementsFor(500_000n);
    clock.set(Date.now());
    const before = await balances();
    const expired = await signPayloadV2(chain.payers[0]!, requirements);
    clock.advanceSeconds(600);
    expect(await facilitator.settle(expired, requirements)).toMatchObject({
      success: false,
      errorReason: 'authorization_expired',
    });
    clock.set(Date.now());
    const early = await signPayloadV2(chain.payers[0]!, requirements, {
      message: { validAfter: BigInt(Math.floor(Date.now() / 1000) + 3_600) },
    });
    expect(await facilitator.settle(early, requirements)).toMatchObject({
      success: false,
      errorReason: 'authorization_not_yet_valid',
    });
    const broke = await signPayloadV2(chain.broke, requirements);
    expect(await facilitator.settle(broke, requirements)).toMatchObject({
      success: false,
      errorReason: 'insufficient_funds',
    });
    const forged = await signPayloadV2(chain.payers[1]!, requirements);
    const stolen = {
      ...forged,
      payload: { ...forged.payload, authorization: { ...authorizationOf(forged), from: chain.payers[0]!.address } },
    };
    expect(await facilitator.settle(stolen, requirements)).toMatchObject({
      success: false,
      errorReason: 'invalid_signature',
    });
    const cheap = await signPayloadV2(chain.payers[0]!, requirements);
    const tampered = {
      ...cheap,
      payload: { ...cheap.payload, authorization: { ...authorizationOf(cheap), value: '5000000' } },
    };
    expect(await facilitator.settle(tampered, requirements)).toMatchObject({
      success: false,
      errorReason: 'amount_mismatch',
    });
    expect(await balances()).toEqual(before);
  });

  it('sending fails and the authorization state cannot be read (RPC down): facilitator_unavailable, not settlement_failed — the transfer went out', async () => {
    const proxy = await startRpcProxy(chain.node.rpcUrl);
    try {
      const flaky = localFacilitator({ rpcUrl: proxy.url, signerKey: chain.settlerKey, clock });
      clock.set(Date.now());
      const requirements = chain.requirementsFor(700_000n);
      const payload = await signPayloadV2(chain.payers[0]!, requirements);
      const before = await balances();
      // The node receives the transaction (and mines it); the answer is lost and the RPC stays down.
      proxy.failMethod('eth_sendRawTransaction', { forward: true, thenDown: true });
      await expect(flaky.settle(payload, requirements)).rejects.toMatchObject({
        name: 'X402Error',
        code: 'facilitator_unavailable',
        message: expect.stringMatching(/may or may not have been sent/),
      });
      expect((await balances()).payTo).toBe(before.payTo + 700_000n);
      // Back up: the same authorization is answered with the transaction that executed it, nothing moves again.
      proxy.failMethod(null);
      proxy.setDown(false);
      const settled = await flaky.settle(payload, requirements);
      expect(settled).toMatchObject({ success: true, amount: '700000' });
      expect((await balances()).payTo).toBe(before.payTo + 700_000n);
    } finally {
      await proxy.close();
    }
  });

  it('sending fails while the RPC still answers and the authorization is unused: settlement_failed', async () => {
    const proxy = await startRpcProxy(chain.node.rpcUrl);
    try {
      const flaky = localFacilitator({ rpcUrl: proxy.url, signerKey: chain.settlerKey, clock });
      clock.set(Date.now());
      const requirements = chain.requirementsFor(100_000n);
      const payload = await signPayloadV2(chain.payers[0]!, requirements);
      const before = await balances();
      proxy.failMethod('eth_sendRawTransaction');
      expect(await flaky.settle(payload, requirements)).toMatchObject({
        success: false,
        errorReason: 'settlement_failed',
        transaction: '',
      });
      expect(await balances()).toEqual(before);
    } finally {
      await proxy.close();
    }
  });

  it('the transaction is sent and its receipt cannot be read (RPC unreachable): facilitator_unavailable with the transaction', async () => {
    const proxy = await startRpcProxy(chain.node.rpcUrl);
    try {
      const flaky = localFacilitator({ rpcUrl: proxy.url, signerKey: chain.settlerKey, clock });
      clock.set(Date.now());
      const requirements = chain.requirementsFor(800_000n);
      const payload = await signPayloadV2(chain.payers[1]!, requirements);
      const before = await balances();
      proxy.failMethod('eth_getTransactionReceipt');
      const error = await flaky.settle(payload, requirements).then(
        () => null,
        (thrown: unknown) => thrown,
      );
      expect(error).toMatchObject({ code: 'facilitator_unavailable', message: expect.stringMatching(/was sent/) });
      const transaction = (error as { details: { transaction: string } }).details.transaction;
      expect(transaction).toMatch(/^0x[0-9a-f]{64}$/);
      expect((await balances()).other).toBe(before.other - 800_000n);
      proxy.failMethod(null);
      expect(await flaky.settle(payload, requirements)).toMatchObject({ success: true, transaction });
      expect((await balances()).other).toBe(before.other - 800_000n);
    } finally {
      await proxy.close();
    }
  });

  it('a receipt that does not come within receiptTimeoutMs (the RPC answering) is settlement_failed with the transaction hash', async () => {
    const slow = localFacilitator({
      rpcUrl: chain.node.rpcUrl,
      signerKey: chain.settlerKey,
      clock,
      receiptTimeoutMs: 1_500,
    });
    clock.set(Date.now());
    const requirements = chain.requirementsFor(900_000n);
    const payload = await signPayloadV2(chain.payers[0]!, requirements);
    await jsonRpc(chain.node.rpcUrl, 'evm_setAutomine', [false]);
    let answer: Awaited<ReturnType<typeof slow.settle>>;
    try {
      answer = await slow.settle(payload, requirements);
    } finally {
      await jsonRpc(chain.node.rpcUrl, 'evm_setAutomine', [true]);
    }
    expect(answer).toMatchObject({ success: false, errorReason: 'settlement_failed' });
    expect(answer.errorMessage).toMatch(/no receipt .* within 1500 ms/);
    expect(answer.transaction).toMatch(/^0x[0-9a-f]{64}$/);
    await jsonRpc(chain.node.rpcUrl, 'evm_mine');
    // Mined later: the same authorization is answered with that transaction.
    expect(await slow.settle(payload, requirements)).toMatchObject({ success: true, transaction: answer.transaction });
  });

  it('verify-only mode (no chain client) verifies and refuses to settle', async () => {
    const verifyOnly = localFacilitator({ networks: [chain.network], clock });
    clock.set(Date.now());
    const requirements = chain.requirementsFor(100_000n);
    const payload = await signPayloadV2(chain.payers[0]!, requirements);
    expect(await verifyOnly.verify(payload, requirements)).toEqual({ isValid: true, payer: chain.payers[0]!.address });
    expect(await verifyOnly.settle(payload, requirements)).toMatchObject({
      success: false,
      errorReason: 'settlement_failed',
    });
    expect(verifyOnly.signerAddress).toBeNull();
  });

  it('validates its options when built', () => {
    expect(() => localFacilitator({ rpcUrl: chain.node.rpcUrl })).toThrow(/signerKey/);
    expect(() => localFacilitator({ rpcUrl: 'ftp://x', signerKey: chain.settlerKey })).toThrow(/rpcUrl/);
    expect(() => localFacilitator({})).toThrow(/networks/);
    expect(() => localFacilitator({ networks: ['base'] })).toThrow(/eip155/);
    expect(() => localFacilitator({ networks: [chain.network], receiptTimeoutMs: 0 })).toThrow(/receiptTimeoutMs/);
  });
});
