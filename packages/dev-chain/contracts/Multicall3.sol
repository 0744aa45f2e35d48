// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Multicall3 (dev-chain subset)
/// @notice The batch calls of the canonical Multicall3, which every public EVM chain has at
///         0xcA11bde05977b3631167028862bE2a173976CA11: `tryAggregate` (used by the official x402 EVM
///         facilitator to diagnose a failed simulation: nonce used, balance, token name and version) and
///         `aggregate3` (used by viem's `multicall`). Written for this package; installed at the canonical
///         address with `hardhat_setCode` by `installMulticall3`, so a dev chain answers these calls like a
///         public chain does. It has no storage and no constructor, so its runtime code alone is enough.
contract Multicall3 {
    struct Call {
        address target;
        bytes callData;
    }

    struct Call3 {
        address target;
        bool allowFailure;
        bytes callData;
    }

    struct Result {
        bool success;
        bytes returnData;
    }

    /// @notice Calls each target in order; reverts on a failed call only when `requireSuccess`.
    function tryAggregate(bool requireSuccess, Call[] calldata calls) external payable returns (Result[] memory returnData) {
        returnData = new Result[](calls.length);
        for (uint256 i = 0; i < calls.length; i++) {
            (bool success, bytes memory result) = calls[i].target.call(calls[i].callData);
            require(success || !requireSuccess, "Multicall3: call failed");
            returnData[i] = Result(success, result);
        }
    }

    /// @notice Calls each target in order; reverts on a failed call unless that call allows failure.
    function aggregate3(Call3[] calldata calls) external payable returns (Result[] memory returnData) {
        returnData = new Result[](calls.length);
        for (uint256 i = 0; i < calls.length; i++) {
            (bool success, bytes memory result) = calls[i].target.call(calls[i].callData);
            require(success || calls[i].allowFailure, "Multicall3: call failed");
            returnData[i] = Result(success, result);
        }
    }
}
