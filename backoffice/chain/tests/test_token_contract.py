"""The compiled USDKG token on a real anvil node, against /work/shared/TOKEN_INTERFACE.md (revised).

Owner and compliance are plain unlocked EOAs here (the multisigs are tested elsewhere). Every test
gets a fresh deployment, so none depends on another's state or on the order they run in. No Django.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from web3 import HTTPProvider, Web3
from web3.exceptions import ContractLogicError, ContractPanicError

ROOT = Path(__file__).resolve().parents[3]
ARTIFACT = ROOT / "backoffice" / "chain" / "artifacts" / "USDKG.json"
COMPILE_SCRIPT = ROOT / "backoffice" / "chain" / "contracts" / "compile.js"

# Anvil accounts 0-12 are the relayer and the dev multisig owners used by other tests; these stay clear.
OWNER_INDEX, COMPLIANCE_INDEX, FIRST_USER_INDEX = 13, 14, 15

UNIT = 10**6  # 1 USDKG in base units (6 decimals)
ZERO_ADDRESS = "0x" + "00" * 20
MAX_UINT256 = 2**256 - 1
# Panic(uint256) with code 0x11: checked arithmetic under- or overflowed. No reason string.
PANIC_ARITHMETIC = "0x4e487b71" + f"{0x11:064x}"
# The ERC-20 events are indexed (topic0 + from/owner + to/spender); the token's own events are not.
TOPICS_PER_EVENT = {"Transfer": 3, "Approval": 3}


class Token:
    """A freshly deployed token with its role and user accounts."""

    def __init__(self, w3: Web3, contract: Any, owner: str, compliance: str, users: list[str]) -> None:
        self.w3 = w3
        self.contract = contract
        self.owner = owner
        self.compliance = compliance
        self.users = users

    @property
    def functions(self) -> Any:
        return self.contract.functions

    def send(self, sender: str, fn: Any) -> Any:
        """Sends a contract call from an unlocked account and returns its mined, successful receipt."""
        receipt = self.w3.eth.wait_for_transaction_receipt(fn.transact({"from": sender}))
        assert receipt["status"] == 1
        return receipt

    def balance(self, account: str) -> int:
        return int(self.functions.balanceOf(account).call())

    def supply(self) -> int:
        return int(self.functions.totalSupply().call())

    def allowance(self, holder: str, spender: str) -> int:
        return int(self.functions.allowance(holder, spender).call())

    def issue(self, to: str, amount: int) -> Any:
        return self.send(self.owner, self.functions.issue(to, amount))

    def events(self, receipt: Any) -> list[tuple[str, dict[str, Any]]]:
        """(event name, arguments) of every log in the receipt, in order; all must come from the token."""
        by_topic: dict[bytes, str] = {
            bytes(Web3.keccak(text=f"{e['name']}({','.join(i['type'] for i in e['inputs'])})")): e["name"]
            for e in self.contract.abi
            if e["type"] == "event"
        }
        decoded = []
        for log in receipt["logs"]:
            assert log["address"] == self.contract.address
            name = by_topic[bytes(log["topics"][0])]
            assert len(log["topics"]) == TOPICS_PER_EVENT.get(name, 1), name
            event = getattr(self.contract.events, name)()
            decoded.append((name, dict(event.process_log(log)["args"])))
        return decoded


@contextmanager
def reverts(reason: str) -> Iterator[None]:
    """Expects a revert with exactly this reason string ("paused" must not pass for "not paused")."""
    with pytest.raises(ContractLogicError) as excinfo:
        yield
    assert excinfo.value.message == f"execution reverted: {reason}"


@contextmanager
def panics_on_underflow() -> Iterator[None]:
    """Expects Panic 0x11 from checked arithmetic: production's answer to a short balance or allowance."""
    with pytest.raises(ContractPanicError) as excinfo:
        yield
    assert excinfo.value.data == PANIC_ARITHMETIC


@pytest.fixture(scope="module")
def artifact() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(ARTIFACT.read_text())
    return data


@pytest.fixture(scope="module")
def w3(anvil: Any) -> Web3:
    web3 = Web3(HTTPProvider(anvil.url))
    assert web3.eth.chain_id == anvil.chain_id
    return web3


@pytest.fixture(scope="module")
def deploy(w3: Web3, artifact: dict[str, Any]) -> Callable[[], Token]:
    """Deploys a new token (owner and compliance are plain EOAs) each time it is called."""
    accounts = w3.eth.accounts
    owner, compliance = accounts[OWNER_INDEX], accounts[COMPLIANCE_INDEX]
    users: list[str] = list(accounts[FIRST_USER_INDEX:])
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])

    def _deploy() -> Token:
        tx_hash = factory.constructor(owner, compliance).transact({"from": owner})
        receipt = w3.eth.wait_for_transaction_receipt(tx_hash)
        assert receipt["status"] == 1
        contract = w3.eth.contract(address=receipt["contractAddress"], abi=artifact["abi"])
        return Token(w3, contract, owner, compliance, users)

    return _deploy


@pytest.fixture
def token(deploy: Callable[[], Token]) -> Iterator[Token]:
    yield deploy()


def _signature(entry: dict[str, Any]) -> str:
    return f"{entry['name']}({','.join(i['type'] for i in entry['inputs'])})"


# --- construction, metadata and getters -----------------------------------------------------------


def test_metadata_and_roles(token):
    f = token.functions
    assert (f.name().call(), f.symbol().call(), f.decimals().call()) == ("USDKG", "USDKG", 6)
    assert f.owner().call() == token.owner
    assert f.compliance().call() == token.compliance
    assert token.supply() == 0


def test_decimals_is_a_uint256_in_the_abi(artifact):
    decimals = next(e for e in artifact["abi"] if e["type"] == "function" and e["name"] == "decimals")
    assert [o["type"] for o in decimals["outputs"]] == ["uint256"]


def test_the_fee_constants_and_the_initial_state_have_getters(token):
    f = token.functions
    assert (f.MAX_BASIS_POINTS().call(), f.FEE_PRECISION().call()) == (20, 10_000)
    assert f.paused().call() is False
    assert f.basisPointsRate().call() == 0


def test_paused_and_basis_points_rate_follow_the_owner_actions(token):
    f = token.functions
    token.send(token.owner, f.pause())
    assert f.paused().call() is True
    token.send(token.owner, f.unpause())
    assert f.paused().call() is False
    token.send(token.owner, f.setParams(15))
    assert f.basisPointsRate().call() == 15


def test_storage_getters_answer_like_the_erc20_ones(token):
    alice, bob, spender = token.users[:3]
    token.issue(alice, 70 * UNIT)
    token.issue(bob, 5 * UNIT)
    token.send(alice, token.functions.approve(spender, 9 * UNIT))
    token.send(token.compliance, token.functions.addBlackList(bob))
    f = token.functions
    assert f._totalSupply().call() == token.supply() == 75 * UNIT
    assert (f.balances(alice).call(), f.balances(bob).call()) == (token.balance(alice), token.balance(bob))
    assert f.balances(alice).call() == 70 * UNIT
    assert f.allowed(alice, spender).call() == token.allowance(alice, spender) == 9 * UNIT
    assert f.allowed(spender, alice).call() == 0
    assert (f.getBlackListStatus(bob).call(), f.isBlackListed(bob).call()) == (True, True)
    assert (f.getBlackListStatus(alice).call(), f.isBlackListed(alice).call()) == (False, False)


@pytest.mark.parametrize("zero_role", ["owner", "compliance"])
def test_constructor_refuses_a_zero_role(w3, artifact, zero_role):
    sender = w3.eth.accounts[OWNER_INDEX]
    owner = ZERO_ADDRESS if zero_role == "owner" else sender
    compliance = ZERO_ADDRESS if zero_role == "compliance" else sender
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    nonce = w3.eth.get_transaction_count(sender)
    with reverts("Owner and Compliance must be non zero addresses"):
        factory.constructor(owner, compliance).transact({"from": sender})
    assert w3.eth.get_transaction_count(sender) == nonce  # nothing was deployed


def test_the_external_functions_are_exactly_those_of_the_interface(artifact):
    functions = {_signature(e) for e in artifact["abi"] if e["type"] == "function"}
    assert functions == {
        "name()", "symbol()", "decimals()", "totalSupply()", "_totalSupply()", "balanceOf(address)",
        "balances(address)", "allowance(address,address)", "allowed(address,address)",
        "approve(address,uint256)", "transfer(address,uint256)", "transferFrom(address,address,uint256)",
        "owner()", "compliance()", "issue(address,uint256)", "redeem(uint256)", "pause()", "unpause()",
        "paused()", "setParams(uint256)", "basisPointsRate()", "MAX_BASIS_POINTS()", "FEE_PRECISION()",
        "addBlackList(address)", "removeBlackList(address)", "destroyBlackFunds(address)",
        "isBlackListed(address)", "getBlackListStatus(address)",
    }
    constructor = next(e for e in artifact["abi"] if e["type"] == "constructor")
    assert [i["type"] for i in constructor["inputs"]] == ["address", "address"]


def test_only_transfer_and_approval_have_indexed_parameters_in_the_abi(artifact):
    events = {e["name"]: e for e in artifact["abi"] if e["type"] == "event"}
    shapes = {name: [(i["name"], i["type"], i["indexed"]) for i in e["inputs"]] for name, e in events.items()}
    assert shapes == {
        "Transfer": [("from", "address", True), ("to", "address", True), ("value", "uint256", False)],
        "Approval": [("owner", "address", True), ("spender", "address", True), ("value", "uint256", False)],
        "Issue": [("amount", "uint256", False)],
        "Redeem": [("amount", "uint256", False)],
        "Pause": [],
        "Unpause": [],
        "Params": [("feeBasisPoints", "uint256", False)],
        "AddedBlackList": [("_user", "address", False)],
        "RemovedBlackList": [("_user", "address", False)],
        "DestroyedBlackFunds": [("_blackListedUser", "address", False), ("_balance", "uint256", False)],
    }
    assert not any(e.get("anonymous") for e in events.values())


def test_transfer_and_approval_logs_carry_from_and_to_as_topics(token):
    alice, bob = token.users[:2]
    token.issue(alice, 10 * UNIT)
    (log,) = token.send(alice, token.functions.transfer(bob, 4 * UNIT))["logs"]
    assert [bytes(t) for t in log["topics"]] == [
        bytes(Web3.keccak(text="Transfer(address,address,uint256)")),
        bytes(12) + bytes.fromhex(alice[2:]),
        bytes(12) + bytes.fromhex(bob[2:]),
    ]
    assert int.from_bytes(bytes(log["data"]), "big") == 4 * UNIT
    (log,) = token.send(alice, token.functions.approve(bob, 3 * UNIT))["logs"]
    assert [bytes(t) for t in log["topics"]][1:] == [bytes(12) + bytes.fromhex(alice[2:]),
                                                      bytes(12) + bytes.fromhex(bob[2:])]


# --- issue and redeem -----------------------------------------------------------------------------


def test_issue_mints_to_the_recipient_and_emits_issue_without_transfer(token):
    alice = token.users[0]
    receipt = token.issue(alice, 1_000 * UNIT)
    assert token.balance(alice) == 1_000 * UNIT
    assert token.supply() == 1_000 * UNIT
    assert token.events(receipt) == [("Issue", {"amount": 1_000 * UNIT})]

    token.issue(alice, 5 * UNIT)
    assert (token.balance(alice), token.supply()) == (1_005 * UNIT, 1_005 * UNIT)


def test_issue_to_the_zero_address_is_allowed(token):
    receipt = token.issue(ZERO_ADDRESS, 3 * UNIT)
    assert token.events(receipt) == [("Issue", {"amount": 3 * UNIT})]
    assert (token.balance(ZERO_ADDRESS), token.supply()) == (3 * UNIT, 3 * UNIT)


def test_issue_is_allowed_while_paused(token):
    alice = token.users[0]
    token.send(token.owner, token.functions.pause())
    receipt = token.issue(alice, 8 * UNIT)
    assert token.events(receipt) == [("Issue", {"amount": 8 * UNIT})]
    assert (token.balance(alice), token.supply()) == (8 * UNIT, 8 * UNIT)
    assert token.functions.paused().call() is True


def test_issue_by_anyone_but_the_owner_reverts(token):
    alice = token.users[0]
    for caller in (alice, token.compliance):
        with reverts("not owner"):
            token.functions.issue(alice, UNIT).transact({"from": caller})
    assert token.supply() == 0


def test_redeem_burns_from_the_owner_balance_and_emits_redeem_only(token):
    alice = token.users[0]
    token.issue(alice, 50 * UNIT)
    token.issue(token.owner, 30 * UNIT)
    receipt = token.send(token.owner, token.functions.redeem(20 * UNIT))
    assert token.events(receipt) == [("Redeem", {"amount": 20 * UNIT})]
    assert token.balance(token.owner) == 10 * UNIT
    assert token.balance(alice) == 50 * UNIT  # never touched: only the owner's own balance burns
    assert token.supply() == 60 * UNIT


def test_redeem_reverts_when_the_owner_balance_or_the_supply_is_short(token):
    with reverts("not enough tokens to redeem"):  # the supply is short
        token.functions.redeem(1).transact({"from": token.owner})
    token.issue(token.users[0], 100 * UNIT)
    token.issue(token.owner, 10 * UNIT)
    with reverts("not enough tokens to redeem"):  # the supply would cover it, the owner's balance does not
        token.functions.redeem(10 * UNIT + 1).transact({"from": token.owner})
    with reverts("not owner"):
        token.functions.redeem(1).transact({"from": token.users[0]})
    assert (token.balance(token.owner), token.supply()) == (10 * UNIT, 110 * UNIT)


# --- ERC-20 transfers -----------------------------------------------------------------------------


def test_transfer_and_transfer_from_move_balances_and_emit_erc20_events(token):
    alice, bob, spender = token.users[:3]
    token.issue(alice, 100 * UNIT)
    receipt = token.send(alice, token.functions.transfer(bob, 40 * UNIT))
    assert token.events(receipt) == [("Transfer", {"from": alice, "to": bob, "value": 40 * UNIT})]

    receipt = token.send(alice, token.functions.approve(spender, 25 * UNIT))
    assert token.events(receipt) == [("Approval", {"owner": alice, "spender": spender, "value": 25 * UNIT})]
    receipt = token.send(spender, token.functions.transferFrom(alice, bob, 10 * UNIT))
    assert token.events(receipt) == [("Transfer", {"from": alice, "to": bob, "value": 10 * UNIT})]
    assert token.allowance(alice, spender) == 15 * UNIT
    assert (token.balance(alice), token.balance(bob)) == (50 * UNIT, 50 * UNIT)
    assert token.supply() == 100 * UNIT


def test_transfer_transfer_from_and_approve_return_true(token):
    alice, bob = token.users[:2]
    token.issue(alice, UNIT)
    f = token.functions
    assert f.transfer(bob, 1).call({"from": alice}) is True
    assert f.approve(bob, 1).call({"from": alice}) is True
    token.send(alice, f.approve(bob, 1))
    assert f.transferFrom(alice, bob, 1).call({"from": bob}) is True


def test_a_short_balance_reverts_with_panic_0x11_and_no_reason(token):
    alice, bob, spender = token.users[:3]
    token.issue(alice, 50 * UNIT)
    token.send(alice, token.functions.approve(spender, MAX_UINT256))
    with panics_on_underflow():
        token.functions.transfer(bob, 50 * UNIT + 1).transact({"from": alice})
    with panics_on_underflow():  # the allowance covers it, the balance does not
        token.functions.transferFrom(alice, bob, 50 * UNIT + 1).transact({"from": spender})
    with panics_on_underflow():  # an empty balance too
        token.functions.transfer(alice, 1).transact({"from": bob})
    assert (token.balance(alice), token.balance(bob), token.supply()) == (50 * UNIT, 0, 50 * UNIT)


def test_a_short_allowance_reverts_with_panic_0x11_and_no_reason(token):
    alice, bob, spender = token.users[:3]
    token.issue(alice, 100 * UNIT)
    token.send(alice, token.functions.approve(spender, 15 * UNIT))
    with panics_on_underflow():
        token.functions.transferFrom(alice, bob, 15 * UNIT + 1).transact({"from": spender})
    with panics_on_underflow():  # no allowance at all
        token.functions.transferFrom(alice, bob, 1).transact({"from": bob})
    assert token.allowance(alice, spender) == 15 * UNIT
    assert (token.balance(alice), token.balance(bob)) == (100 * UNIT, 0)


def test_an_infinite_allowance_is_never_decreased(token):
    alice, bob, spender = token.users[:3]
    token.issue(alice, 100 * UNIT)
    token.send(alice, token.functions.approve(spender, MAX_UINT256))
    token.send(spender, token.functions.transferFrom(alice, bob, 30 * UNIT))
    token.send(spender, token.functions.transferFrom(alice, bob, 70 * UNIT))
    assert token.allowance(alice, spender) == MAX_UINT256
    assert (token.balance(alice), token.balance(bob)) == (0, 100 * UNIT)

    # One below infinite is an ordinary allowance and is spent down.
    token.issue(alice, 10 * UNIT)
    token.send(alice, token.functions.approve(spender, MAX_UINT256 - 1))
    token.send(spender, token.functions.transferFrom(alice, bob, 10 * UNIT))
    assert token.allowance(alice, spender) == MAX_UINT256 - 1 - 10 * UNIT


def test_transfers_and_approvals_to_the_zero_address_are_allowed(token):
    alice, spender = token.users[:2]
    token.issue(alice, 10 * UNIT)
    receipt = token.send(alice, token.functions.transfer(ZERO_ADDRESS, 2 * UNIT))
    assert token.events(receipt) == [("Transfer", {"from": alice, "to": ZERO_ADDRESS, "value": 2 * UNIT})]
    receipt = token.send(alice, token.functions.approve(ZERO_ADDRESS, 5 * UNIT))
    assert token.events(receipt) == [("Approval", {"owner": alice, "spender": ZERO_ADDRESS, "value": 5 * UNIT})]
    assert token.allowance(alice, ZERO_ADDRESS) == 5 * UNIT

    token.send(alice, token.functions.approve(spender, 3 * UNIT))
    token.send(spender, token.functions.transferFrom(alice, ZERO_ADDRESS, 3 * UNIT))
    # Tokens sent to the zero address are not burned: they stay in the supply, on its balance.
    assert (token.balance(alice), token.balance(ZERO_ADDRESS), token.supply()) == (5 * UNIT, 5 * UNIT, 10 * UNIT)


def test_approve_refuses_only_a_zero_caller(token):
    alice = token.users[0]
    with pytest.raises(ContractLogicError):
        token.functions.approve(alice, UNIT).call({"from": ZERO_ADDRESS})
    assert token.functions.approve(alice, UNIT).call({"from": token.users[1]}) is True
    assert token.allowance(ZERO_ADDRESS, alice) == 0


# --- pause ----------------------------------------------------------------------------------------


def test_pause_stops_transfers_until_unpause(token):
    alice, bob, spender = token.users[:3]
    token.issue(alice, 10 * UNIT)
    token.send(alice, token.functions.approve(spender, 10 * UNIT))

    assert token.events(token.send(token.owner, token.functions.pause())) == [("Pause", {})]
    with reverts("paused"):
        token.functions.transfer(bob, UNIT).transact({"from": alice})
    with reverts("paused"):
        token.functions.transferFrom(alice, bob, UNIT).transact({"from": spender})
    with reverts("paused"):  # already paused
        token.functions.pause().transact({"from": token.owner})
    assert (token.balance(alice), token.allowance(alice, spender)) == (10 * UNIT, 10 * UNIT)

    assert token.events(token.send(token.owner, token.functions.unpause())) == [("Unpause", {})]
    with reverts("not paused"):  # already unpaused
        token.functions.unpause().transact({"from": token.owner})
    assert token.functions.paused().call() is False
    token.send(alice, token.functions.transfer(bob, UNIT))
    assert token.balance(bob) == UNIT


def test_pause_and_unpause_are_owner_only(token):
    # Pausing is an owner action: compliance cannot do it either.
    for caller in (token.compliance, token.users[0]):
        with reverts("not owner"):
            token.functions.pause().transact({"from": caller})
    assert token.functions.paused().call() is False
    token.send(token.owner, token.functions.pause())
    with reverts("not owner"):
        token.functions.unpause().transact({"from": token.compliance})
    assert token.functions.paused().call() is True


# --- fee ------------------------------------------------------------------------------------------


def test_set_params_accepts_at_most_20_basis_points(token):
    receipt = token.send(token.owner, token.functions.setParams(20))
    assert token.events(receipt) == [("Params", {"feeBasisPoints": 20})]
    with reverts("basis points should be less then MAX_BASIS_POINTS"):
        token.functions.setParams(21).transact({"from": token.owner})
    with reverts("not owner"):
        token.functions.setParams(0).transact({"from": token.users[0]})
    assert token.functions.basisPointsRate().call() == 20


def test_the_fee_goes_to_the_owner_with_its_transfer_emitted_first(token):
    alice, bob, spender = token.users[:3]
    token.issue(alice, 100_000 * UNIT)
    token.send(token.owner, token.functions.setParams(20))

    receipt = token.send(alice, token.functions.transfer(bob, 10_000 * UNIT))
    fee = 10_000 * UNIT * 20 // 10_000  # 20 USDKG
    assert token.balance(bob) == 10_000 * UNIT - fee
    assert token.balance(token.owner) == fee
    assert token.balance(alice) == 90_000 * UNIT
    assert token.events(receipt) == [
        ("Transfer", {"from": alice, "to": token.owner, "value": fee}),
        ("Transfer", {"from": alice, "to": bob, "value": 10_000 * UNIT - fee}),
    ]

    token.send(alice, token.functions.approve(spender, 1_000 * UNIT))
    receipt = token.send(spender, token.functions.transferFrom(alice, bob, 1_000 * UNIT))
    assert token.events(receipt) == [
        ("Transfer", {"from": alice, "to": token.owner, "value": 2 * UNIT}),
        ("Transfer", {"from": alice, "to": bob, "value": 998 * UNIT}),
    ]
    assert token.allowance(alice, spender) == 0  # the whole value is spent, fee included
    assert token.balance(token.owner) == fee + 2 * UNIT
    assert token.supply() == 100_000 * UNIT  # a fee moves tokens, it never burns or mints


def test_no_fee_transfer_is_emitted_when_the_fee_rounds_down_to_zero(token):
    alice, bob = token.users[:2]
    token.issue(alice, 10 * UNIT)
    token.send(token.owner, token.functions.setParams(20))
    # 499 x 20 / 10000 = 0.998, rounded down to nothing: the receiver gets it all.
    receipt = token.send(alice, token.functions.transfer(bob, 499))
    assert token.events(receipt) == [("Transfer", {"from": alice, "to": bob, "value": 499})]
    receipt = token.send(alice, token.functions.transfer(bob, 500))
    assert token.events(receipt) == [
        ("Transfer", {"from": alice, "to": token.owner, "value": 1}),
        ("Transfer", {"from": alice, "to": bob, "value": 499}),
    ]

    token.send(token.owner, token.functions.setParams(0))
    receipt = token.send(alice, token.functions.transfer(bob, UNIT))
    assert token.events(receipt) == [("Transfer", {"from": alice, "to": bob, "value": UNIT})]


# --- blacklist ------------------------------------------------------------------------------------


def test_a_blacklisted_address_cannot_send_but_can_still_receive(token):
    alice, bob = token.users[:2]
    token.issue(alice, 10 * UNIT)
    token.issue(bob, 10 * UNIT)
    receipt = token.send(token.compliance, token.functions.addBlackList(alice))
    assert token.events(receipt) == [("AddedBlackList", {"_user": alice})]
    assert token.functions.isBlackListed(alice).call() is True
    assert token.functions.getBlackListStatus(alice).call() is True
    assert token.functions.getBlackListStatus(bob).call() is False

    with reverts("user blacklisted"):
        token.functions.transfer(bob, UNIT).transact({"from": alice})
    assert (token.balance(alice), token.balance(bob)) == (10 * UNIT, 10 * UNIT)
    token.send(bob, token.functions.transfer(alice, 3 * UNIT))
    assert (token.balance(alice), token.balance(bob)) == (13 * UNIT, 7 * UNIT)


def test_transfer_from_reverts_for_a_blacklisted_holder_or_spender(token):
    alice, bob, spender = token.users[:3]
    token.issue(alice, 10 * UNIT)
    token.issue(spender, 10 * UNIT)
    token.send(alice, token.functions.approve(spender, 10 * UNIT))
    token.send(spender, token.functions.approve(bob, 10 * UNIT))

    token.send(token.compliance, token.functions.addBlackList(alice))
    with reverts("user blacklisted"):  # `from` is blacklisted
        token.functions.transferFrom(alice, bob, UNIT).transact({"from": spender})
    token.send(token.compliance, token.functions.removeBlackList(alice))

    token.send(token.compliance, token.functions.addBlackList(spender))
    with reverts("user blacklisted"):  # the spender is blacklisted
        token.functions.transferFrom(alice, bob, UNIT).transact({"from": spender})
    token.send(token.compliance, token.functions.removeBlackList(spender))
    assert (token.balance(alice), token.balance(bob), token.allowance(alice, spender)) == (10 * UNIT, 0, 10 * UNIT)

    token.send(spender, token.functions.transferFrom(alice, bob, UNIT))
    assert token.balance(bob) == UNIT


def test_remove_black_list_restores_sending(token):
    alice, bob = token.users[:2]
    token.issue(alice, 10 * UNIT)
    token.send(token.compliance, token.functions.addBlackList(alice))
    receipt = token.send(token.compliance, token.functions.removeBlackList(alice))
    assert token.events(receipt) == [("RemovedBlackList", {"_user": alice})]
    assert token.functions.getBlackListStatus(alice).call() is False
    token.send(alice, token.functions.transfer(bob, UNIT))
    assert token.balance(bob) == UNIT


def test_listing_twice_and_lifting_an_unlisted_address_both_succeed(token):
    alice = token.users[0]
    token.send(token.compliance, token.functions.addBlackList(alice))
    receipt = token.send(token.compliance, token.functions.addBlackList(alice))
    assert token.events(receipt) == [("AddedBlackList", {"_user": alice})]
    assert token.functions.isBlackListed(alice).call() is True
    bob = token.users[1]
    receipt = token.send(token.compliance, token.functions.removeBlackList(bob))
    assert token.events(receipt) == [("RemovedBlackList", {"_user": bob})]
    assert token.functions.isBlackListed(bob).call() is False


def test_blacklist_functions_are_compliance_only(token):
    alice = token.users[0]
    token.issue(alice, UNIT)
    for caller in (token.owner, alice):
        for fn in (token.functions.addBlackList, token.functions.removeBlackList,
                   token.functions.destroyBlackFunds):
            with reverts("not compliance"):
                fn(alice).transact({"from": caller})
    assert token.functions.isBlackListed(alice).call() is False
    assert token.balance(alice) == UNIT


def test_destroy_black_funds_burns_the_whole_balance(token):
    alice, bob = token.users[:2]
    token.issue(alice, 70 * UNIT + 123)
    token.issue(bob, 30 * UNIT)
    token.send(token.compliance, token.functions.addBlackList(alice))
    supply = token.supply()

    receipt = token.send(token.compliance, token.functions.destroyBlackFunds(alice))
    assert token.events(receipt) == [
        ("DestroyedBlackFunds", {"_blackListedUser": alice, "_balance": 70 * UNIT + 123}),
    ]
    assert token.balance(alice) == 0
    assert token.supply() == supply - (70 * UNIT + 123)
    assert token.balance(bob) == 30 * UNIT
    assert token.functions.isBlackListed(alice).call() is True  # still blacklisted afterwards


def test_destroy_black_funds_reverts_for_an_address_not_blacklisted(token):
    alice = token.users[0]
    token.issue(alice, 5 * UNIT)
    with reverts("user should be blacklisted"):
        token.functions.destroyBlackFunds(alice).transact({"from": token.compliance})
    token.send(token.compliance, token.functions.addBlackList(alice))
    token.send(token.compliance, token.functions.removeBlackList(alice))
    with reverts("user should be blacklisted"):
        token.functions.destroyBlackFunds(alice).transact({"from": token.compliance})
    assert (token.balance(alice), token.supply()) == (5 * UNIT, 5 * UNIT)


# --- artifacts ------------------------------------------------------------------------------------


def test_committed_artifacts_match_the_sources():
    node = shutil.which("node")
    assert node, "node is needed to check the artifacts"
    result = subprocess.run(  # noqa: S603 - fixed script, fixed arguments
        [node, str(COMPILE_SCRIPT), "--check"], cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
