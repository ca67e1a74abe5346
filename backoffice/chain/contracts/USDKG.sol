// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title USDKG development token
/// @notice Local stand-in for the production USDKG token, written from /work/shared/TOKEN_INTERFACE.md
/// (revised). The back-office is built and tested against this contract, so its external interface and
/// observable behaviour match production exactly: the same getters (several under two names), the same
/// revert strings, a Panic rather than a reason on a short balance or allowance, Transfer and Approval
/// indexed but the token's own events not, and the same quirks (issue, redeem and destroyBlackFunds emit
/// no Transfer; Issue carries no recipient).
contract USDKG {
    string public constant name = "USDKG";
    string public constant symbol = "USDKG";
    // uint256, not the usual uint8: production's ABI says so, and an ABI decoder cares.
    uint256 public constant decimals = 6;

    // Fees are basis points of FEE_PRECISION; the cap of 20 (0.2 %) is part of the interface.
    uint256 public constant MAX_BASIS_POINTS = 20;
    uint256 public constant FEE_PRECISION = 10_000;

    // Both roles are multisigs in production and can never change, hence immutable.
    address public immutable owner;
    address public immutable compliance;

    // Production exposes its storage under these names as well as under the ERC-20 ones.
    uint256 public _totalSupply;
    mapping(address => uint256) public balances;
    mapping(address => mapping(address => uint256)) public allowed;
    mapping(address => bool) public isBlackListed;
    bool public paused;
    uint256 public basisPointsRate;

    // Only the two ERC-20 events are indexed (3 topics); the token's own events carry topic0 alone,
    // so consumers filter those by contract address and topic0 and decode everything from the data.
    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);
    event Issue(uint256 amount);
    event Redeem(uint256 amount);
    event Pause();
    event Unpause();
    event Params(uint256 feeBasisPoints);
    event AddedBlackList(address _user);
    event RemovedBlackList(address _user);
    event DestroyedBlackFunds(address _blackListedUser, uint256 _balance);

    modifier onlyOwner() {
        require(msg.sender == owner, "not owner");
        _;
    }

    modifier onlyCompliance() {
        require(msg.sender == compliance, "not compliance");
        _;
    }

    // Only transfers stop while paused: issue, approvals and the role actions stay possible so the
    // owner and compliance can still act during an incident.
    modifier whenNotPaused() {
        require(!paused, "paused");
        _;
    }

    constructor(address owner_, address compliance_) {
        // A zero role would lock its functions forever, since roles can never change.
        require(owner_ != address(0) && compliance_ != address(0), "Owner and Compliance must be non zero addresses");
        owner = owner_;
        compliance = compliance_;
    }

    // ---------------------------------------------------------------------------------------------
    // ERC-20

    function totalSupply() external view returns (uint256) {
        return _totalSupply;
    }

    function balanceOf(address account) external view returns (uint256) {
        return balances[account];
    }

    function allowance(address holder, address spender) external view returns (uint256) {
        return allowed[holder][spender];
    }

    /// @dev The zero address is a valid spender, as in production; only a zero caller is refused
    /// (reachable with an eth_call from the zero address only). Production's reason for that refusal
    /// is not documented, so none is invented here.
    function approve(address spender, uint256 value) external returns (bool) {
        require(msg.sender != address(0));
        allowed[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
        return true;
    }

    function transfer(address to, uint256 value) external whenNotPaused returns (bool) {
        // Only sending is blocked for a blacklisted address; receiving stays possible by design.
        require(!isBlackListed[msg.sender], "user blacklisted");
        _transfer(msg.sender, to, value);
        return true;
    }

    function transferFrom(address from, address to, uint256 value) external whenNotPaused returns (bool) {
        // A blacklisted spender must not move other people's funds, nor anyone move a blacklisted holder's.
        require(!isBlackListed[msg.sender], "user blacklisted");
        require(!isBlackListed[from], "user blacklisted");
        uint256 current = allowed[from][msg.sender];
        // An infinite allowance is never spent down; any other one is, and checked arithmetic makes a
        // short allowance revert with Panic 0x11 (production gives no reason string here).
        if (current != type(uint256).max) {
            allowed[from][msg.sender] = current - value;
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
    /// transaction's calldata, exactly as it must for production. Neither the zero address nor a pause
    /// stops it.
    function issue(address to, uint256 amount) external onlyOwner {
        // Checked arithmetic makes an overflowing issue revert instead of wrapping.
        _totalSupply += amount;
        balances[to] += amount;
        emit Issue(amount);
    }

    /// @dev Redemptions are first sent to the owner multisig, so only the owner's own balance is burned.
    function redeem(uint256 amount) external onlyOwner {
        require(_totalSupply >= amount, "not enough tokens to redeem");
        require(balances[owner] >= amount, "not enough tokens to redeem");
        _totalSupply -= amount;
        balances[owner] -= amount;
        emit Redeem(amount);
    }

    function pause() external onlyOwner {
        // Reverting on a repeated pause makes a stale or duplicated multisig proposal fail loudly.
        require(!paused, "paused");
        paused = true;
        emit Pause();
    }

    function unpause() external onlyOwner {
        require(paused, "not paused");
        paused = false;
        emit Unpause();
    }

    function setParams(uint256 basisPoints) external onlyOwner {
        // The message says "less" but 20 itself is accepted: only above the cap is refused.
        require(basisPoints <= MAX_BASIS_POINTS, "basis points should be less then MAX_BASIS_POINTS");
        basisPointsRate = basisPoints;
        emit Params(basisPoints);
    }

    // ---------------------------------------------------------------------------------------------
    // Compliance (compliance multisig)

    /// @dev No check that the address was not listed already: a repeated listing succeeds.
    function addBlackList(address user) external onlyCompliance {
        isBlackListed[user] = true;
        emit AddedBlackList(user);
    }

    /// @dev No check that the address was listed: lifting an unlisted address succeeds.
    function removeBlackList(address user) external onlyCompliance {
        isBlackListed[user] = false;
        emit RemovedBlackList(user);
    }

    /// @dev Only a blacklisted address can have its funds destroyed, so a holder is always blocked
    /// (and visibly so, through AddedBlackList) before losing anything. No Transfer is emitted.
    function destroyBlackFunds(address user) external onlyCompliance {
        require(isBlackListed[user], "user should be blacklisted");
        uint256 balance = balances[user];
        balances[user] = 0;
        _totalSupply -= balance;
        emit DestroyedBlackFunds(user, balance);
    }

    // ---------------------------------------------------------------------------------------------
    // Internals

    /// @dev Moves `value` from `from`: the fee (rounded down) goes to `owner` with its own Transfer,
    /// emitted first and only when there is a fee, then the receiver gets the rest. A short balance
    /// reverts with Panic 0x11 from checked arithmetic. The zero address is a valid receiver.
    function _transfer(address from, address to, uint256 value) private {
        uint256 fee = (value * basisPointsRate) / FEE_PRECISION;
        balances[from] -= value;
        if (fee > 0) {
            balances[owner] += fee;
            emit Transfer(from, owner, fee);
        }
        uint256 sent = value - fee;
        balances[to] += sent;
        emit Transfer(from, to, sent);
    }
}
