// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title USDKG development token
/// @notice Local stand-in for the production USDKG token, written from /work/shared/TOKEN_INTERFACE.md.
/// The back-office is built and tested against this contract, so its external interface and behaviour
/// must match production exactly: no extra public functions, the same events (none of them indexed)
/// and the same quirks (issue/redeem/destroyBlackFunds emit no Transfer).
contract USDKG {
    string public constant name = "USDKG";
    string public constant symbol = "USDKG";
    uint8 public constant decimals = 6;

    // Fees are expressed in basis points of 10,000; the cap of 20 (0.2 %) is part of the interface.
    uint256 private constant FEE_DENOMINATOR = 10_000;
    uint256 private constant MAX_FEE_BASIS_POINTS = 20;

    // Both roles are multisigs in production and can never change, hence immutable.
    address public immutable owner;
    address public immutable compliance;

    uint256 public totalSupply;
    mapping(address => bool) public isBlackListed;

    mapping(address => uint256) private _balances;
    mapping(address => mapping(address => uint256)) private _allowances;
    // Production exposes no getter for these two; the back-office follows Pause/Unpause/Params events.
    bool private _paused;
    uint256 private _feeBasisPoints;

    // No parameter is indexed anywhere (the production token's layout): consumers filter logs by
    // contract address and topic0 only, so every log carries exactly one topic.
    event Transfer(address from, address to, uint256 value);
    event Approval(address owner, address spender, uint256 value);
    event Issue(uint256 amount);
    event Redeem(uint256 amount);
    event Pause();
    event Unpause();
    event Params(uint256 feeBasisPoints);
    event AddedBlackList(address user);
    event RemovedBlackList(address user);
    event DestroyedBlackFunds(address user, uint256 balance);

    modifier onlyOwner() {
        require(msg.sender == owner, "not owner");
        _;
    }

    modifier onlyCompliance() {
        require(msg.sender == compliance, "not compliance");
        _;
    }

    // Transfers stop entirely while paused; approvals and role actions stay possible so the owner
    // and compliance can still act during an incident.
    modifier whenNotPaused() {
        require(!_paused, "paused");
        _;
    }

    constructor(address owner_, address compliance_) {
        // A zero role would lock its functions forever, since roles can never change.
        require(owner_ != address(0) && compliance_ != address(0), "zero address");
        owner = owner_;
        compliance = compliance_;
    }

    // ---------------------------------------------------------------------------------------------
    // ERC-20

    function balanceOf(address account) external view returns (uint256) {
        return _balances[account];
    }

    function allowance(address holder, address spender) external view returns (uint256) {
        return _allowances[holder][spender];
    }

    function approve(address spender, uint256 value) external returns (bool) {
        require(spender != address(0), "zero address");
        _allowances[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
        return true;
    }

    function transfer(address to, uint256 value) external whenNotPaused returns (bool) {
        // Only sending is blocked for a blacklisted address; receiving stays possible by design.
        require(!isBlackListed[msg.sender], "blacklisted");
        _transfer(msg.sender, to, value);
        return true;
    }

    function transferFrom(address from, address to, uint256 value) external whenNotPaused returns (bool) {
        // A blacklisted spender must not move other people's funds, nor anyone move a blacklisted holder's.
        require(!isBlackListed[from], "blacklisted");
        require(!isBlackListed[msg.sender], "blacklisted");
        uint256 allowed = _allowances[from][msg.sender];
        require(allowed >= value, "insufficient allowance");
        unchecked {
            // Cannot underflow: checked just above.
            _allowances[from][msg.sender] = allowed - value;
        }
        _transfer(from, to, value);
        return true;
    }

    function getBlackListStatus(address user) external view returns (bool) {
        return isBlackListed[user];
    }

    // ---------------------------------------------------------------------------------------------
    // Owner (issuance multisig)

    /// @dev Emits Issue only, without the recipient: the back-office recovers it from the multisig
    /// transaction's calldata, exactly as it must for production.
    function issue(address to, uint256 amount) external onlyOwner {
        require(to != address(0), "zero address");
        // Checked arithmetic makes an overflowing issue revert instead of wrapping.
        totalSupply += amount;
        _balances[to] += amount;
        emit Issue(amount);
    }

    /// @dev Redemptions are first sent to the owner multisig, so only the owner's own balance is burned.
    function redeem(uint256 amount) external onlyOwner {
        require(totalSupply >= amount, "insufficient supply");
        require(_balances[owner] >= amount, "insufficient balance");
        unchecked {
            // Cannot underflow: both checked just above.
            totalSupply -= amount;
            _balances[owner] -= amount;
        }
        emit Redeem(amount);
    }

    function pause() external onlyOwner {
        // Reverting on a repeated pause makes a stale or duplicated multisig proposal fail loudly.
        require(!_paused, "paused");
        _paused = true;
        emit Pause();
    }

    function unpause() external onlyOwner {
        require(_paused, "not paused");
        _paused = false;
        emit Unpause();
    }

    function setParams(uint256 basisPoints) external onlyOwner {
        require(basisPoints <= MAX_FEE_BASIS_POINTS, "fee too high");
        _feeBasisPoints = basisPoints;
        emit Params(basisPoints);
    }

    // ---------------------------------------------------------------------------------------------
    // Compliance (compliance multisig)

    function addBlackList(address user) external onlyCompliance {
        isBlackListed[user] = true;
        emit AddedBlackList(user);
    }

    function removeBlackList(address user) external onlyCompliance {
        isBlackListed[user] = false;
        emit RemovedBlackList(user);
    }

    /// @dev Only a blacklisted address can have its funds destroyed, so a holder is always blocked
    /// (and visibly so, through AddedBlackList) before losing anything. No Transfer is emitted.
    function destroyBlackFunds(address user) external onlyCompliance {
        require(isBlackListed[user], "not blacklisted");
        uint256 balance = _balances[user];
        _balances[user] = 0;
        // Cannot underflow: a balance is always part of the total supply.
        unchecked {
            totalSupply -= balance;
        }
        emit DestroyedBlackFunds(user, balance);
    }

    // ---------------------------------------------------------------------------------------------
    // Internals

    /// @dev Moves `value` from `from`: the receiver gets value minus the fee, the fee goes to `owner`
    /// with its own Transfer so that balances can be followed from Transfer logs between issues.
    function _transfer(address from, address to, uint256 value) private {
        require(to != address(0), "zero address");
        uint256 fromBalance = _balances[from];
        require(fromBalance >= value, "insufficient balance");
        // Rounded down, so small transfers pay no fee rather than more than the stated rate.
        uint256 fee = (value * _feeBasisPoints) / FEE_DENOMINATOR;
        uint256 sent = value - fee;
        unchecked {
            // Cannot underflow: checked just above.
            _balances[from] = fromBalance - value;
        }
        _balances[to] += sent;
        emit Transfer(from, to, sent);
        if (fee > 0) {
            _balances[owner] += fee;
            emit Transfer(from, owner, fee);
        }
    }
}
