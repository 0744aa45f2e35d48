// Quick start for @arrakis/dev-chain: a real local chain, an ERC-721 and a USDC-like EIP-3009 token.
// CI runs it through examples/quick-start.test.ts.
import { webcrypto } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import {
  deployTestNft,
  deployTestUsdc,
  mintNft,
  mintUsdc,
  nftOwnerOf,
  signTransferWithAuthorization,
  startHardhatNode,
  testUsdcAbi,
  usdcBalanceOf,
} from '@arrakis/dev-chain';
import { createWalletClient, http, publicActions, toHex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';

export async function quickStart() {
  // A Hardhat node on a free 127.0.0.1 port; accounts come from Hardhat's public test mnemonic.
  const node = await startHardhatNode();
  try {
    const { rpcUrl } = node;
    const [deployer, payer, payee, facilitator] = node.accounts;
    if (!deployer || !payer || !payee || !facilitator) throw new Error('expected 4 accounts');

    // ERC-721: the deployer mints token 1 to the payer.
    const nft = await deployTestNft({ rpcUrl, deployerKey: deployer.privateKey });
    await mintNft({ rpcUrl, ownerKey: deployer.privateKey, address: nft.address, to: payer.address, tokenId: 1n });
    const nftHolder = await nftOwnerOf({ rpcUrl, address: nft.address, tokenId: 1n });

    // USDC-like token: 6 decimals, EIP-712 domain ("USD Coin", "2", chainId, address).
    const usdc = await deployTestUsdc({ rpcUrl, deployerKey: deployer.privateKey });
    await mintUsdc({
      rpcUrl,
      ownerKey: deployer.privateKey,
      address: usdc.address,
      to: payer.address,
      amountMicro: 5_000_000n,
    });

    // The payer signs an EIP-3009 authorization off-chain; the facilitator submits it and pays the gas.
    const validBefore = BigInt(Math.floor(Date.now() / 1000) + 600);
    const nonce = toHex(webcrypto.getRandomValues(new Uint8Array(32)));
    const signature = await signTransferWithAuthorization({
      privateKey: payer.privateKey,
      usdc,
      message: { to: payee.address, value: 1_250_000n, validAfter: 0n, validBefore, nonce },
    });
    const wallet = createWalletClient({
      account: privateKeyToAccount(facilitator.privateKey),
      transport: http(rpcUrl, { retryCount: 0 }),
      pollingInterval: 50,
    }).extend(publicActions);
    const hash = await wallet.writeContract({
      chain: null,
      address: usdc.address,
      abi: testUsdcAbi,
      functionName: 'transferWithAuthorization',
      args: [payer.address, payee.address, 1_250_000n, 0n, validBefore, nonce, signature],
    });
    const { status } = await wallet.waitForTransactionReceipt({ hash });

    return {
      chainId: node.chainId,
      nftHolderIsPayer: nftHolder === payer.address,
      status,
      payerMicro: await usdcBalanceOf({ rpcUrl, address: usdc.address, owner: payer.address }),
      payeeMicro: await usdcBalanceOf({ rpcUrl, address: usdc.address, owner: payee.address }),
    };
  } finally {
    await node.stop();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(await quickStart());
  // { chainId: 31337, nftHolderIsPayer: true, status: 'success', payerMicro: 3750000n, payeeMicro: 1250000n }
}
