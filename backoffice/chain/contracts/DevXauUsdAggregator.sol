// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// A development stand-in for Chainlink's XAU/USD price feed: the same AggregatorV3Interface read
/// surface (8 decimals, like the real feed), but the owner sets the answer and its time. Deployed by
/// `deploy_chain` on development chains only; production reads the real feed's address instead.
contract DevXauUsdAggregator {
    address public owner;
    uint8 public constant decimals = 8;
    string public constant description = "XAU / USD (development)";
    uint256 public constant version = 4;

    uint80 private _roundId;
    int256 private _answer;
    uint256 private _updatedAt;

    event AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt);

    constructor() {
        owner = msg.sender;
    }

    /// Set the price (USD per troy ounce, 8 decimals) and the time it was observed.
    function setAnswer(int256 answer, uint256 updatedAt) external {
        require(msg.sender == owner, "only the owner sets the answer");
        _roundId += 1;
        _answer = answer;
        _updatedAt = updatedAt;
        emit AnswerUpdated(answer, _roundId, updatedAt);
    }

    function latestRoundData()
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        return (_roundId, _answer, _updatedAt, _updatedAt, _roundId);
    }
}
