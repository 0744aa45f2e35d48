import fc from 'fast-check';
import {
  type Address,
  createPublicClient,
  createWalletClient,
  domainSeparator,
  type Hex,
  http,
  keccak256,
  parseEventLogs,
  parseSignature,
  toHex,
} from 'viem';
import { privateKeyToAccount, signTypedData } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testUsdcAbi } from './abis.js';
import type { DevChainAccount } from './accounts.js';
import { hardhatChain } from './chain.js';
import { type HardhatNode, startHardhatNode } from './hardhat-node.js';
import {
  type DeployedTestUsdc,
  deployTestUsdc,
  mintUsdc,
  signTransferWithAuthorization,
  usdcBalanceOf,
} from './test-usdc.js';

// Written out from EIP-3009 on purpose (not imported), so the test checks the contract against the EIP.
const eip3009Types = {
  TransferWithAuthorization: [
    { name: 'from', type: 'address' },
    { name: 'to', type: 'address' },
    { name: 'value', type: 'uint256' },
    { name: 'validAfter', type: 'uint256' },
    { name: 'validBefore', type: 'uint256' },
    { name: 'nonce', type: 'bytes32' },
  ],
  ReceiveWithAuthorization: [
    { name: 'from', type: 'address' },
    { name: 'to', type: 'address' },
    { name: 'value', type: 'uint256' },
    { name: 'validAfter', type: 'uint256' },
    { name: 'validBefore', type: 'uint256' },
    { name: 'nonce', type: 'bytes32' },
  ],
  CancelAuthorization: [
    { name: 'authorizer', type: 'address' },
    { name: 'nonce', type: 'bytes32' },
  ],
} as const;

describe('TestUsdc (EIP-3009) on a Hardhat node', () => {
  let node: HardhatNode;
  let usdc: DeployedTestUsdc;
  let deployer: DevChainAccount;
  let payer: DevChainAccount;
  let payee: DevChainAccount;
  let relayer: DevChainAccount;
  let nonceCounter = 0;

  beforeAll(async () => {
    node = await startHardhatNode({ chainId: 84_532 });
    const [a, b, c, d] = node.accounts;
    if (a === undefined || b === undefined || c === undefined || d === undefined)
      throw new Error('expected 4 accounts');
    [deployer, payer, payee, relayer] = [a, b, c, d];
    usdc = await deployTestUsdc({ rpcUrl: node.rpcUrl, deployerKey: deployer.privateKey });
    await mintUsdc({
      rpcUrl: node.rpcUrl,
      ownerKey: deployer.privateKey,
      address: usdc.address,
      to: payer.address,
      amountMicro: 1_000_000_000n,
    });
  });
  afterAll(async () => {
    await node?.stop();
  });

  const client = () =>
    createPublicClient({
      chain: hardhatChain(node.chainId, node.rpcUrl),
      transport: http(node.rpcUrl, { retryCount: 0 }),
    });
  const walletOf = (account: DevChainAccount) =>
    createWalletClient({
      account: privateKeyToAccount(account.privateKey),
      chain: hardhatChain(node.chainId, node.rpcUrl),
      transport: http(node.rpcUrl, { retryCount: 0 }),
    });
  const balanceOf = (owner: Address) => usdcBalanceOf({ rpcUrl: node.rpcUrl, address: usdc.address, owner });
  const freshNonce = (): Hex => keccak256(toHex(`test-usdc nonce ${++nonceCounter}`));
  const latestTimestamp = async () => (await client().getBlock()).timestamp;
  const domainOf = (token: DeployedTestUsdc) => ({
    name: token.name,
    version: token.version,
    chainId: node.chainId,
    verifyingContract: token.address,
  });

  async function authorization(options: {
    signer?: DevChainAccount;
    from?: Address;
    to?: Address;
    value?: bigint;
    validAfter?: bigint;
    validBefore?: bigint;
    token?: DeployedTestUsdc;
    primaryType?: 'TransferWithAuthorization' | 'ReceiveWithAuthorization';
  }) {
    const signer = options.signer ?? payer;
    const token = options.token ?? usdc;
    const message = {
      from: options.from ?? signer.address,
      to: options.to ?? payee.address,
      value: options.value ?? 1_500_000n,
      validAfter: options.validAfter ?? 0n,
      validBefore: options.validBefore ?? (await latestTimestamp()) + 3_600n,
      nonce: freshNonce(),
    };
    const signature = await signTypedData({
      privateKey: signer.privateKey,
      domain: domainOf(token),
      types: eip3009Types,
      primaryType: options.primaryType ?? 'TransferWithAuthorization',
      message,
    });
    const args = [
      message.from,
      message.to,
      message.value,
      message.validAfter,
      message.validBefore,
      message.nonce,
      signature,
    ] as const;
    return { message, signature, args };
  }

  async function submit(args: readonly [Address, Address, bigint, bigint, bigint, Hex, Hex], by = relayer) {
    const hash = await walletOf(by).writeContract({
      address: usdc.address,
      abi: testUsdcAbi,
      functionName: 'transferWithAuthorization',
      args,
    });
    return client().waitForTransactionReceipt({ hash });
  }

  it('looks like USDC: name, symbol, 6 decimals, EIP-712 domain and EIP-3009 type hashes', async () => {
    const read = <T>(functionName: 'name' | 'symbol' | 'decimals' | 'DOMAIN_SEPARATOR' | 'owner') =>
      client().readContract({ address: usdc.address, abi: testUsdcAbi, functionName }) as Promise<T>;
    expect(await read('name')).toBe('USD Coin');
    expect(await read('symbol')).toBe('USDC');
    expect(await read('decimals')).toBe(6);
    expect(await read('owner')).toBe(deployer.address);
    expect(usdc).toMatchObject({ name: 'USD Coin', version: '2', chainId: 84_532 });
    expect(await read('DOMAIN_SEPARATOR')).toBe(domainSeparator({ domain: domainOf(usdc) }));
    const [, name, version, chainId, verifyingContract] = await client().readContract({
      address: usdc.address,
      abi: testUsdcAbi,
      functionName: 'eip712Domain',
    });
    expect({ name, version, chainId, verifyingContract }).toEqual({
      name: 'USD Coin',
      version: '2',
      chainId: 84_532n,
      verifyingContract: usdc.address,
    });

    const typeHash = (text: string) => keccak256(toHex(text));
    const readHash = (
      functionName:
        | 'TRANSFER_WITH_AUTHORIZATION_TYPEHASH'
        | 'RECEIVE_WITH_AUTHORIZATION_TYPEHASH'
        | 'CANCEL_AUTHORIZATION_TYPEHASH',
    ) => client().readContract({ address: usdc.address, abi: testUsdcAbi, functionName });
    expect(await readHash('TRANSFER_WITH_AUTHORIZATION_TYPEHASH')).toBe(
      typeHash(
        'TransferWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)',
      ),
    );
    expect(await readHash('RECEIVE_WITH_AUTHORIZATION_TYPEHASH')).toBe(
      typeHash(
        'ReceiveWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)',
      ),
    );
    expect(await readHash('CANCEL_AUTHORIZATION_TYPEHASH')).toBe(
      typeHash('CancelAuthorization(address authorizer,bytes32 nonce)'),
    );
  });

  it('moves funds on a signed TransferWithAuthorization submitted by another account, once', async () => {
    const { message, args } = await authorization({ value: 2_500_000n });
    const before = { payer: await balanceOf(payer.address), payee: await balanceOf(payee.address) };
    expect(
      await client().readContract({
        address: usdc.address,
        abi: testUsdcAbi,
        functionName: 'authorizationState',
        args: [payer.address, message.nonce],
      }),
    ).toBe(false);

    const receipt = await submit(args);
    expect(receipt.status).toBe('success');
    expect(receipt.from).toBe(relayer.address.toLowerCase());
    expect(await balanceOf(payer.address)).toBe(before.payer - 2_500_000n);
    expect(await balanceOf(payee.address)).toBe(before.payee + 2_500_000n);
    expect(
      await client().readContract({
        address: usdc.address,
        abi: testUsdcAbi,
        functionName: 'authorizationState',
        args: [payer.address, message.nonce],
      }),
    ).toBe(true);
    const events = parseEventLogs({ abi: testUsdcAbi, logs: receipt.logs });
    expect(events.map((event) => event.eventName)).toEqual(['AuthorizationUsed', 'Transfer']);
    expect(events[0]?.args).toEqual({ authorizer: payer.address, nonce: message.nonce });

    await expect(submit(args)).rejects.toThrow(/AuthorizationAlreadyUsed/);
    await expect(submit(args, payee)).rejects.toThrow(/AuthorizationAlreadyUsed/);
    expect(await balanceOf(payer.address)).toBe(before.payer - 2_500_000n);
    expect(await balanceOf(payee.address)).toBe(before.payee + 2_500_000n);
  });

  it('accepts the (v, r, s) overload', async () => {
    const { args, signature } = await authorization({ value: 1n });
    const { v, r, s } = parseSignature(signature);
    if (v === undefined) throw new Error('expected a legacy v');
    const before = await balanceOf(payee.address);
    const hash = await walletOf(relayer).writeContract({
      address: usdc.address,
      abi: testUsdcAbi,
      functionName: 'transferWithAuthorization',
      args: [args[0], args[1], args[2], args[3], args[4], args[5], Number(v), r, s],
    });
    expect((await client().waitForTransactionReceipt({ hash })).status).toBe('success');
    expect(await balanceOf(payee.address)).toBe(before + 1n);
  });

  it('refuses expired, not yet valid, tampered, wrongly signed and over-balance authorizations', async () => {
    const now = await latestTimestamp();
    const before = { payer: await balanceOf(payer.address), payee: await balanceOf(payee.address) };

    // The next block's timestamp is at least the latest one, so validBefore = latest is already expired.
    const expired = await authorization({ validBefore: now });
    await expect(submit(expired.args)).rejects.toThrow(/AuthorizationExpired/);

    const early = await authorization({ validAfter: now + 3_600n, validBefore: now + 7_200n });
    await expect(submit(early.args)).rejects.toThrow(/AuthorizationNotYetValid/);

    const tampered = await authorization({ value: 1_000n });
    await expect(
      submit([
        tampered.args[0],
        tampered.args[1],
        1_000_000n,
        tampered.args[3],
        tampered.args[4],
        tampered.args[5],
        tampered.args[6],
      ]),
    ).rejects.toThrow(/AuthorizationInvalidSignature/);

    // Signed by the payee on behalf of the payer.
    const forged = await authorization({ signer: payee, from: payer.address });
    await expect(submit(forged.args)).rejects.toThrow(/AuthorizationInvalidSignature/);

    // Signed with another chain id in the domain.
    const otherChain = await signTypedData({
      privateKey: payer.privateKey,
      domain: { ...domainOf(usdc), chainId: 1 },
      types: eip3009Types,
      primaryType: 'TransferWithAuthorization',
      message: { ...tampered.message, nonce: freshNonce() },
    });
    await expect(
      submit([
        tampered.args[0],
        tampered.args[1],
        tampered.args[2],
        tampered.args[3],
        tampered.args[4],
        freshNonce(),
        otherChain,
      ]),
    ).rejects.toThrow(/AuthorizationInvalidSignature/);

    const tooMuch = await authorization({ value: before.payer + 1n });
    await expect(submit(tooMuch.args)).rejects.toThrow(/ERC20InsufficientBalance/);
    // A failed transfer does not burn the nonce.
    expect(
      await client().readContract({
        address: usdc.address,
        abi: testUsdcAbi,
        functionName: 'authorizationState',
        args: [payer.address, tooMuch.message.nonce],
      }),
    ).toBe(false);

    expect(await balanceOf(payer.address)).toBe(before.payer);
    expect(await balanceOf(payee.address)).toBe(before.payee);
  });

  it('lets only the payee submit receiveWithAuthorization', async () => {
    const { args } = await authorization({ value: 10n, primaryType: 'ReceiveWithAuthorization' });
    await expect(
      walletOf(relayer).writeContract({
        address: usdc.address,
        abi: testUsdcAbi,
        functionName: 'receiveWithAuthorization',
        args,
      }),
    ).rejects.toThrow(/AuthorizationCallerMustBePayee/);

    // A ReceiveWithAuthorization signature is not a TransferWithAuthorization signature.
    await expect(submit(args)).rejects.toThrow(/AuthorizationInvalidSignature/);

    const before = await balanceOf(payee.address);
    const hash = await walletOf(payee).writeContract({
      address: usdc.address,
      abi: testUsdcAbi,
      functionName: 'receiveWithAuthorization',
      args,
    });
    expect((await client().waitForTransactionReceipt({ hash })).status).toBe('success');
    expect(await balanceOf(payee.address)).toBe(before + 10n);
  });

  it('cancelAuthorization burns an unused nonce', async () => {
    const { message, args } = await authorization({ value: 5n });
    const cancel = await signTypedData({
      privateKey: payer.privateKey,
      domain: domainOf(usdc),
      types: eip3009Types,
      primaryType: 'CancelAuthorization',
      message: { authorizer: payer.address, nonce: message.nonce },
    });
    const hash = await walletOf(relayer).writeContract({
      address: usdc.address,
      abi: testUsdcAbi,
      functionName: 'cancelAuthorization',
      args: [payer.address, message.nonce, cancel],
    });
    const receipt = await client().waitForTransactionReceipt({ hash });
    expect(parseEventLogs({ abi: testUsdcAbi, logs: receipt.logs }).map((event) => event.eventName)).toEqual([
      'AuthorizationCanceled',
    ]);
    await expect(submit(args)).rejects.toThrow(/AuthorizationAlreadyUsed/);
  });

  it('uses the name and version given at deployment in its EIP-712 domain', async () => {
    const custom = await deployTestUsdc({
      rpcUrl: node.rpcUrl,
      deployerKey: deployer.privateKey,
      name: 'Spice Dollar',
      version: '1',
    });
    await mintUsdc({
      rpcUrl: node.rpcUrl,
      ownerKey: deployer.privateKey,
      address: custom.address,
      to: payer.address,
      amountMicro: 50n,
    });
    const submitTo = async (args: readonly [Address, Address, bigint, bigint, bigint, Hex, Hex]) => {
      const hash = await walletOf(relayer).writeContract({
        address: custom.address,
        abi: testUsdcAbi,
        functionName: 'transferWithAuthorization',
        args,
      });
      return client().waitForTransactionReceipt({ hash });
    };
    // Signed for the default USDC domain, but the token's domain is ("Spice Dollar", "1").
    const wrongDomain = await authorization({ value: 20n, token: { ...custom, name: 'USD Coin', version: '2' } });
    await expect(submitTo(wrongDomain.args)).rejects.toThrow(/AuthorizationInvalidSignature/);

    const validBefore = (await latestTimestamp()) + 600n;
    const nonce = freshNonce();
    const signature = await signTransferWithAuthorization({
      privateKey: payer.privateKey,
      usdc: custom,
      message: { to: payee.address, value: 20n, validAfter: 0n, validBefore, nonce },
    });
    const receipt = await submitTo([payer.address, payee.address, 20n, 0n, validBefore, nonce, signature]);
    expect(receipt.status).toBe('success');
    expect(await usdcBalanceOf({ rpcUrl: node.rpcUrl, address: custom.address, owner: payee.address })).toBe(20n);
  });

  it('only the owner mints', async () => {
    await expect(
      mintUsdc({
        rpcUrl: node.rpcUrl,
        ownerKey: payer.privateKey,
        address: usdc.address,
        to: payer.address,
        amountMicro: 1n,
      }),
    ).rejects.toThrow(/OwnableUnauthorizedAccount/);
  });

  it('keeps the total supply: any authorized transfer moves exactly its value', async () => {
    const totalSupply = () =>
      client().readContract({ address: usdc.address, abi: testUsdcAbi, functionName: 'totalSupply' });
    const supply = await totalSupply();
    await fc.assert(
      fc.asyncProperty(fc.bigInt({ min: 0n, max: 5_000_000n }), fc.boolean(), async (value, toRelayer) => {
        const to = toRelayer ? relayer.address : payee.address;
        const before = { payer: await balanceOf(payer.address), to: await balanceOf(to) };
        const { args } = await authorization({ value, to });
        expect((await submit(args)).status).toBe('success');
        expect(await balanceOf(payer.address)).toBe(before.payer - value);
        expect(await balanceOf(to)).toBe(before.to + value);
      }),
      { numRuns: 8, seed: 3009 },
    );
    expect(await totalSupply()).toBe(supply);
  });
});
