// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title USDKG development multisig
/// @notice Local stand-in for the production USDKG issuance and compliance multisigs, written from
/// /work/shared/MULTISIG_INTERFACE.md, section "Kind usdkg". A cut-down Safe: the same SafeTx and its
/// EIP-712 hash, but owners approve ON CHAIN with approveHash (no signatures argument), only the
/// transaction at the current nonce can be approved, and only an owner may execute. No modules, no
/// owner management: owners and threshold are fixed at construction.
///
/// Payment: with gasPrice 0 (all the back-office ever sends) nothing is paid. With gasPrice above 0
/// the multisig refunds, Safe-style, (gas used by the inner call + baseGas) x price to refundReceiver
/// (tx.origin when zero): in ether at min(gasPrice, tx.gasprice) when gasToken is zero, otherwise in
/// gasToken at gasPrice; a refund that cannot be paid reverts the whole transaction.
contract USDKGMultisig {
    enum Operation {
        Call,
        DelegateCall
    }

    // Owners are a singly linked list closed by this sentinel, so adding, checking and listing need no
    // array: owners[SENTINEL] is the first owner, the last one points back to SENTINEL, and any address
    // outside the list maps to zero.
    address private constant SENTINEL = address(0x1);

    bytes32 private constant DOMAIN_TYPEHASH = keccak256("EIP712Domain(uint256 chainId,address verifyingContract)");
    bytes32 private constant SAFE_TX_TYPEHASH = keccak256(
        "SafeTx(address to,uint256 value,bytes data,uint8 operation,uint256 safeTxGas,uint256 baseGas,"
        "uint256 gasPrice,address gasToken,address refundReceiver,uint256 nonce)"
    );

    mapping(address => address) private owners;
    uint256 private ownerCount;
    uint256 private threshold;

    /// @notice The nonce of the next transaction to execute: the head of the queue.
    uint256 public nonce;

    /// @notice 1 once `owner` approved `hash`; approvals are never revoked.
    mapping(address => mapping(bytes32 => uint256)) public approvedHashes;

    // The whole call is in the log, so an indexer recovers what was approved (an issue's recipient,
    // for instance) from this event alone.
    event ApproveHash(
        bytes32 indexed approvedHash,
        address indexed owner,
        address to,
        uint256 value,
        bytes data,
        Operation operation,
        uint256 safeTxGas,
        uint256 baseGas,
        uint256 gasPrice,
        address gasToken,
        address refundReceiver,
        uint256 nonce
    );
    event ExecutionSuccess(bytes32 indexed txHash, uint256 payment);
    event ExecutionFailure(bytes32 indexed txHash, uint256 payment);
    event SafeReceived(address indexed sender, uint256 value);

    constructor(address[] memory _owners, uint256 _threshold) {
        require(_threshold <= _owners.length, "Too big threshold");
        require(_threshold != 0, "Threshold can't be equal to zero");
        address previous = SENTINEL;
        for (uint256 i = 0; i < _owners.length; i++) {
            address owner = _owners[i];
            // The zero address and the sentinel would corrupt the list, the contract itself could
            // approve nothing, and a repeat of the previous entry would make it point to itself.
            require(
                owner != address(0) && owner != SENTINEL && owner != address(this) && owner != previous,
                "Incorrect owner address"
            );
            require(owners[owner] == address(0), "Owners' addresses must not be repeated");
            owners[previous] = owner;
            previous = owner;
        }
        owners[previous] = SENTINEL;
        ownerCount = _owners.length;
        threshold = _threshold;
    }

    /// @notice Ether sent without data is accepted and logged; an empty call from the multisig to
    /// itself (a rejection) lands here too.
    receive() external payable {
        emit SafeReceived(msg.sender, msg.value);
    }

    // ---------------------------------------------------------------------------------------------
    // Views

    function getThreshold() external view returns (uint256) {
        return threshold;
    }

    function getOwners() external view returns (address[] memory list) {
        list = new address[](ownerCount);
        address current = owners[SENTINEL];
        for (uint256 i = 0; current != SENTINEL; i++) {
            list[i] = current;
            current = owners[current];
        }
    }

    function isOwner(address owner) public view returns (bool) {
        return owner != SENTINEL && owners[owner] != address(0);
    }

    function getChainId() public view returns (uint256) {
        return block.chainid;
    }

    function domainSeparator() public view returns (bytes32) {
        return keccak256(abi.encode(DOMAIN_TYPEHASH, getChainId(), address(this)));
    }

    /// @notice The EIP-712 pre-image of a SafeTx: 0x19 0x01, the domain separator, the struct hash.
    function encodeTransactionData(
        address to,
        uint256 value,
        bytes memory data,
        Operation operation,
        uint256 safeTxGas,
        uint256 baseGas,
        uint256 gasPrice,
        address gasToken,
        address refundReceiver,
        uint256 _nonce
    ) public view returns (bytes memory) {
        bytes32 structHash = keccak256(
            abi.encode(
                SAFE_TX_TYPEHASH,
                to,
                value,
                keccak256(data),
                operation,
                safeTxGas,
                baseGas,
                gasPrice,
                gasToken,
                refundReceiver,
                _nonce
            )
        );
        return abi.encodePacked(bytes1(0x19), bytes1(0x01), domainSeparator(), structHash);
    }

    /// @notice The safeTxHash the owners approve; the same hash a Safe computes for the same fields.
    function getTransactionHash(
        address to,
        uint256 value,
        bytes memory data,
        Operation operation,
        uint256 safeTxGas,
        uint256 baseGas,
        uint256 gasPrice,
        address gasToken,
        address refundReceiver,
        uint256 _nonce
    ) public view returns (bytes32) {
        return keccak256(
            encodeTransactionData(
                to, value, data, operation, safeTxGas, baseGas, gasPrice, gasToken, refundReceiver, _nonce
            )
        );
    }

    /// @notice Reverts "Not enough approvals" unless `threshold` owners approved `dataHash`.
    function checkApprovals(bytes32 dataHash) public view {
        checkNApprovals(dataHash, threshold);
    }

    /// @notice Reverts "Not enough approvals" unless at least `requiredApprovals` owners approved
    /// `dataHash`. Only approvedHashes count: calling is never an approval.
    function checkNApprovals(bytes32 dataHash, uint256 requiredApprovals) public view {
        uint256 count = 0;
        // Stops at the threshold: every owner read is a cold storage read paid by the executor.
        for (address current = owners[SENTINEL]; current != SENTINEL && count < requiredApprovals; ) {
            if (approvedHashes[current][dataHash] != 0) count++;
            current = owners[current];
        }
        require(count >= requiredApprovals, "Not enough approvals");
    }

    // ---------------------------------------------------------------------------------------------
    // Approving and executing

    /// @notice Approves, for ever, the transaction at the CURRENT nonce. The caller passes the whole
    /// call and the hash it expects: the hash is recomputed here, so an owner cannot approve a hash
    /// without the call it stands for, nor a transaction queued behind the head.
    function approveHash(
        address to,
        uint256 value,
        bytes calldata data,
        Operation operation,
        uint256 safeTxGas,
        uint256 baseGas,
        uint256 gasPrice,
        address gasToken,
        address refundReceiver,
        bytes32 hashToApprove
    ) external {
        require(isOwner(msg.sender), "Not owner");
        bytes32 txHash = getTransactionHash(
            to, value, data, operation, safeTxGas, baseGas, gasPrice, gasToken, refundReceiver, nonce
        );
        require(txHash == hashToApprove, "Incorrect data to approve");
        approvedHashes[msg.sender][txHash] = 1;
        _emitApproveHash(txHash, to, value, data, operation, safeTxGas, baseGas, gasPrice, gasToken, refundReceiver);
    }

    /// @notice Executes the transaction at the current nonce once `threshold` owners approved it.
    /// Only an owner may execute, and executing is not approving. With safeTxGas and gasPrice both 0
    /// a failing inner call reverts everything ("Error during call", nonce unchanged); otherwise the
    /// nonce is spent and ExecutionFailure is emitted.
    function execTransaction(
        address to,
        uint256 value,
        bytes calldata data,
        Operation operation,
        uint256 safeTxGas,
        uint256 baseGas,
        uint256 gasPrice,
        address gasToken,
        address payable refundReceiver
    ) external payable returns (bool success) {
        require(isOwner(msg.sender), "Executor must be an owner");
        bytes32 txHash = getTransactionHash(
            to, value, data, operation, safeTxGas, baseGas, gasPrice, gasToken, refundReceiver, nonce
        );
        // Spent before the call, so the call cannot execute the same transaction again.
        nonce++;
        checkApprovals(txHash);
        // The inner call gets at most 63/64 of what is left: refuse outright rather than run it
        // with less than safeTxGas and record a failure the owners did not ask for.
        require(gasleft() >= _max((safeTxGas * 64) / 63, safeTxGas + 2500) + 500, "Insufficient gas");
        uint256 payment = 0;
        {
            uint256 gasBefore = gasleft();
            // Without a gas budget or refund the call gets everything but what emitting needs.
            success = _execute(to, value, data, operation, gasPrice == 0 ? gasleft() - 2500 : safeTxGas);
            uint256 gasUsed = gasBefore - gasleft();
            require(success || safeTxGas != 0 || gasPrice != 0, "Error during call");
            if (gasPrice > 0) {
                payment = _pay(gasUsed, baseGas, gasPrice, gasToken, refundReceiver);
            }
        }
        if (success) {
            emit ExecutionSuccess(txHash, payment);
        } else {
            emit ExecutionFailure(txHash, payment);
        }
    }

    /// @notice Runs `calldataPayload` on `targetContract`'s code in this contract's context, then
    /// reverts with (success word, returndata length word, returndata) so a caller can simulate
    /// without changing anything.
    function simulateAndRevert(address targetContract, bytes memory calldataPayload) external {
        assembly ("memory-safe") {
            let ok := delegatecall(gas(), targetContract, add(calldataPayload, 0x20), mload(calldataPayload), 0, 0)
            let size := returndatasize()
            let out := mload(0x40)
            mstore(out, ok)
            mstore(add(out, 0x20), size)
            returndatacopy(add(out, 0x40), 0, size)
            revert(out, add(size, 0x40))
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Internals

    // A function of its own keeps the twelve event arguments off approveHash's stack.
    function _emitApproveHash(
        bytes32 txHash,
        address to,
        uint256 value,
        bytes calldata data,
        Operation operation,
        uint256 safeTxGas,
        uint256 baseGas,
        uint256 gasPrice,
        address gasToken,
        address refundReceiver
    ) private {
        emit ApproveHash(
            txHash,
            msg.sender,
            to,
            value,
            data,
            operation,
            safeTxGas,
            baseGas,
            gasPrice,
            gasToken,
            refundReceiver,
            nonce
        );
    }

    /// @dev The return data is not copied: nothing reads it, and a huge one must not cost gas here.
    function _execute(address to, uint256 value, bytes calldata data, Operation operation, uint256 txGas)
        private
        returns (bool success)
    {
        bytes memory payload = data;
        if (operation == Operation.DelegateCall) {
            assembly ("memory-safe") {
                success := delegatecall(txGas, to, add(payload, 0x20), mload(payload), 0, 0)
            }
        } else {
            assembly ("memory-safe") {
                success := call(txGas, to, value, add(payload, 0x20), mload(payload), 0, 0)
            }
        }
    }

    function _pay(uint256 gasUsed, uint256 baseGas, uint256 gasPrice, address gasToken, address payable refundReceiver)
        private
        returns (uint256 payment)
    {
        address payable receiver = refundReceiver == address(0) ? payable(tx.origin) : refundReceiver;
        if (gasToken == address(0)) {
            // Never refund more per gas than the executor actually paid.
            payment = (gasUsed + baseGas) * (gasPrice < tx.gasprice ? gasPrice : tx.gasprice);
            (bool paid,) = receiver.call{value: payment}("");
            require(paid, "Could not pay gas costs with ether");
        } else {
            payment = (gasUsed + baseGas) * gasPrice;
            require(_transferToken(gasToken, receiver, payment), "Could not pay gas costs with token");
        }
    }

    /// @dev Accepts tokens that return true and tokens that return nothing; refuses a false or a revert.
    function _transferToken(address token, address receiver, uint256 amount) private returns (bool) {
        (bool ok, bytes memory result) = token.call(abi.encodeWithSignature("transfer(address,uint256)", receiver, amount));
        return ok && (result.length == 0 || abi.decode(result, (bool))) && token.code.length > 0;
    }

    function _max(uint256 a, uint256 b) private pure returns (uint256) {
        return a >= b ? a : b;
    }
}
