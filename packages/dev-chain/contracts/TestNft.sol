// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @title TestNft
/// @notice Test-only ERC-721 for the arrakis dev chain. The deployer owns the contract and is the only
///         account that can mint; holders move tokens with the standard ERC-721 transfer functions.
contract TestNft is ERC721, Ownable {
    constructor(string memory name_, string memory symbol_) ERC721(name_, symbol_) Ownable(msg.sender) {}

    /// @notice Mints `tokenId` to `to`. Reverts with `ERC721InvalidSender` if the token already exists.
    /// @dev Uses `_mint`, not `_safeMint`, so tests can mint to any address, contracts included.
    function mint(address to, uint256 tokenId) external onlyOwner {
        _mint(to, tokenId);
    }
}
