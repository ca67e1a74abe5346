"""The compiled USDKG token on a real anvil node, against /work/shared/TOKEN_INTERFACE.md.

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
from web3.exceptions import ContractLogicError

ROOT = Path(__file__).resolve().parents[3]
ARTIFACT = ROOT / "backoffice" / "chain" / "artifacts" / "USDKG.json"
COMPILE_SCRIPT = ROOT / "backoffice" / "chain" / "contracts" / "compile.js"

# Anvil accounts 0-12 are the relayer and the dev multisig owners used by other tests; these stay clear.
OWNER_INDEX, COMPLIANCE_INDEX, FIRST_USER_INDEX = 13, 14, 15

UNIT = 10**6  # 1 USDKG in base units (6 decimals)
ZERO_ADDRESS = "0x" + "00" * 20


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
            # No parameter is indexed: topic0 only, everything else in data.
            assert len(log["topics"]) == 1
            name = by_topic[bytes(log["topics"][0])]
            event = getattr(self.contract.events, name)()
            decoded.append((name, dict(event.process_log(log)["args"])))
        return decoded


@contextmanager
def reverts(reason: str) -> Iterator[None]:
    """Expects a revert with exactly this reason string ("paused" must not pass for "not paused")."""
    with pytest.raises(ContractLogicError) as excinfo:
        yield
    assert excinfo.value.message == f"execution reverted: {reason}"


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


# --- construction and metadata ------------------------------------------------------------------


def test_metadata_and_roles(token):
    f = token.functions
    assert (f.name().call(), f.symbol().call(), f.decimals().call()) == ("USDKG", "USDKG", 6)
    assert f.owner().call() == token.owner
    assert f.compliance().call() == token.compliance
    assert token.supply() == 0


@pytest.mark.parametrize("zero_role", ["owner", "compliance"])
def test_constructor_refuses_a_zero_role(w3, artifact, zero_role):
    sender = w3.eth.accounts[OWNER_INDEX]
    owner = ZERO_ADDRESS if zero_role == "owner" else sender
    compliance = ZERO_ADDRESS if zero_role == "compliance" else sender
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    with reverts("zero address"):
        factory.constructor(owner, compliance).transact({"from": sender})


def test_the_external_functions_are_exactly_those_of_the_interface(artifact):
    functions = {
        f"{e['name']}({','.join(i['type'] for i in e['inputs'])})"
        for e in artifact["abi"]
        if e["type"] == "function"
    }
    assert functions == {
        "name()", "symbol()", "decimals()", "totalSupply()", "balanceOf(address)",
        "allowance(address,address)", "approve(address,uint256)", "transfer(address,uint256)",
        "transferFrom(address,address,uint256)", "owner()", "compliance()", "issue(address,uint256)",
        "redeem(uint256)", "pause()", "unpause()", "setParams(uint256)", "addBlackList(address)",
        "removeBlackList(address)", "destroyBlackFunds(address)", "isBlackListed(address)",
        "getBlackListStatus(address)",
    }
    constructor = next(e for e in artifact["abi"] if e["type"] == "constructor")
    assert [i["type"] for i in constructor["inputs"]] == ["address", "address"]


def test_no_event_parameter_is_indexed_in_the_abi(artifact):
    events = {e["name"]: e for e in artifact["abi"] if e["type"] == "event"}
    assert set(events) == {
        "Transfer", "Approval", "Issue", "Redeem", "Pause", "Unpause", "Params",
        "AddedBlackList", "RemovedBlackList", "DestroyedBlackFunds",
    }
    assert not [(name, i["name"]) for name, e in events.items() for i in e["inputs"] if i["indexed"]]
    assert [(i["name"], i["type"]) for i in events["DestroyedBlackFunds"]["inputs"]] == [
        ("user", "address"), ("balance", "uint256"),
    ]
    assert [(i["name"], i["type"]) for i in events["Params"]["inputs"]] == [("feeBasisPoints", "uint256")]


# --- issue and redeem -----------------------------------------------------------------------------


def test_issue_mints_to_the_recipient_and_emits_issue_without_transfer(token):
    alice = token.users[0]
    receipt = token.issue(alice, 1_000 * UNIT)
    assert token.balance(alice) == 1_000 * UNIT
    assert token.supply() == 1_000 * UNIT
    assert token.events(receipt) == [("Issue", {"amount": 1_000 * UNIT})]

    token.issue(alice, 5 * UNIT)
    assert (token.balance(alice), token.supply()) == (1_005 * UNIT, 1_005 * UNIT)


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
    with reverts("insufficient supply"):
        token.functions.redeem(1).transact({"from": token.owner})
    token.issue(token.users[0], 100 * UNIT)
    token.issue(token.owner, 10 * UNIT)
    with reverts("insufficient balance"):  # the supply would cover it, the owner's balance does not
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
    token.send(spender, token.functions.transferFrom(alice, bob, 10 * UNIT))
    assert token.functions.allowance(alice, spender).call() == 15 * UNIT
    assert (token.balance(alice), token.balance(bob)) == (50 * UNIT, 50 * UNIT)

    with reverts("insufficient allowance"):
        token.functions.transferFrom(alice, bob, 15 * UNIT + 1).transact({"from": spender})
    with reverts("insufficient balance"):
        token.functions.transfer(bob, 50 * UNIT + 1).transact({"from": alice})
    assert token.supply() == 100 * UNIT


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

    assert token.events(token.send(token.owner, token.functions.unpause())) == [("Unpause", {})]
    with reverts("not paused"):  # already unpaused
        token.functions.unpause().transact({"from": token.owner})
    token.send(alice, token.functions.transfer(bob, UNIT))
    assert token.balance(bob) == UNIT


def test_pause_and_unpause_are_owner_only(token):
    # Pausing is an owner action: compliance cannot do it either.
    for caller in (token.compliance, token.users[0]):
        with reverts("not owner"):
            token.functions.pause().transact({"from": caller})
    token.send(token.owner, token.functions.pause())
    with reverts("not owner"):
        token.functions.unpause().transact({"from": token.compliance})


# --- fee ------------------------------------------------------------------------------------------


def test_set_params_accepts_at_most_20_basis_points(token):
    receipt = token.send(token.owner, token.functions.setParams(20))
    assert token.events(receipt) == [("Params", {"feeBasisPoints": 20})]
    with reverts("fee too high"):
        token.functions.setParams(21).transact({"from": token.owner})
    with reverts("not owner"):
        token.functions.setParams(0).transact({"from": token.users[0]})


def test_the_fee_goes_to_the_owner_and_the_receiver_gets_the_rest(token):
    alice, bob, spender = token.users[:3]
    token.issue(alice, 100_000 * UNIT)
    token.send(token.owner, token.functions.setParams(20))

    receipt = token.send(alice, token.functions.transfer(bob, 10_000 * UNIT))
    fee = 10_000 * UNIT * 20 // 10_000  # 20 USDKG
    assert token.balance(bob) == 10_000 * UNIT - fee
    assert token.balance(token.owner) == fee
    assert token.balance(alice) == 90_000 * UNIT
    assert token.events(receipt) == [
        ("Transfer", {"from": alice, "to": bob, "value": 10_000 * UNIT - fee}),
        ("Transfer", {"from": alice, "to": token.owner, "value": fee}),
    ]

    token.send(alice, token.functions.approve(spender, 1_000 * UNIT))
    token.send(spender, token.functions.transferFrom(alice, bob, 1_000 * UNIT))
    assert token.balance(token.owner) == fee + 2 * UNIT
    assert token.supply() == 100_000 * UNIT  # a fee moves tokens, it never burns or mints

    token.send(token.owner, token.functions.setParams(0))
    receipt = token.send(alice, token.functions.transfer(bob, UNIT))
    assert token.events(receipt) == [("Transfer", {"from": alice, "to": bob, "value": UNIT})]


# --- blacklist ------------------------------------------------------------------------------------


def test_a_blacklisted_address_cannot_send_but_can_still_receive(token):
    alice, bob = token.users[:2]
    token.issue(alice, 10 * UNIT)
    token.issue(bob, 10 * UNIT)
    receipt = token.send(token.compliance, token.functions.addBlackList(alice))
    assert token.events(receipt) == [("AddedBlackList", {"user": alice})]
    assert token.functions.isBlackListed(alice).call() is True
    assert token.functions.getBlackListStatus(alice).call() is True
    assert token.functions.getBlackListStatus(bob).call() is False

    with reverts("blacklisted"):
        token.functions.transfer(bob, UNIT).transact({"from": alice})
    token.send(bob, token.functions.transfer(alice, 3 * UNIT))
    assert (token.balance(alice), token.balance(bob)) == (13 * UNIT, 7 * UNIT)


def test_transfer_from_reverts_for_a_blacklisted_holder_or_spender(token):
    alice, bob, spender = token.users[:3]
    token.issue(alice, 10 * UNIT)
    token.issue(spender, 10 * UNIT)
    token.send(alice, token.functions.approve(spender, 10 * UNIT))
    token.send(spender, token.functions.approve(bob, 10 * UNIT))

    token.send(token.compliance, token.functions.addBlackList(alice))
    with reverts("blacklisted"):  # `from` is blacklisted
        token.functions.transferFrom(alice, bob, UNIT).transact({"from": spender})
    token.send(token.compliance, token.functions.removeBlackList(alice))

    token.send(token.compliance, token.functions.addBlackList(spender))
    with reverts("blacklisted"):  # the spender is blacklisted
        token.functions.transferFrom(alice, bob, UNIT).transact({"from": spender})
    token.send(token.compliance, token.functions.removeBlackList(spender))

    token.send(spender, token.functions.transferFrom(alice, bob, UNIT))
    assert token.balance(bob) == UNIT


def test_remove_black_list_restores_sending(token):
    alice, bob = token.users[:2]
    token.issue(alice, 10 * UNIT)
    token.send(token.compliance, token.functions.addBlackList(alice))
    receipt = token.send(token.compliance, token.functions.removeBlackList(alice))
    assert token.events(receipt) == [("RemovedBlackList", {"user": alice})]
    assert token.functions.getBlackListStatus(alice).call() is False
    token.send(alice, token.functions.transfer(bob, UNIT))
    assert token.balance(bob) == UNIT


def test_blacklist_functions_are_compliance_only(token):
    alice = token.users[0]
    token.issue(alice, UNIT)
    for caller in (token.owner, alice):
        for fn in (token.functions.addBlackList, token.functions.removeBlackList,
                   token.functions.destroyBlackFunds):
            with reverts("not compliance"):
                fn(alice).transact({"from": caller})
    assert token.functions.isBlackListed(alice).call() is False


def test_destroy_black_funds_burns_the_whole_balance(token):
    alice, bob = token.users[:2]
    token.issue(alice, 70 * UNIT + 123)
    token.issue(bob, 30 * UNIT)
    token.send(token.compliance, token.functions.addBlackList(alice))
    supply = token.supply()

    receipt = token.send(token.compliance, token.functions.destroyBlackFunds(alice))
    assert token.events(receipt) == [("DestroyedBlackFunds", {"user": alice, "balance": 70 * UNIT + 123})]
    assert token.balance(alice) == 0
    assert token.supply() == supply - (70 * UNIT + 123)
    assert token.balance(bob) == 30 * UNIT
    assert token.functions.isBlackListed(alice).call() is True  # still blacklisted afterwards


def test_destroy_black_funds_reverts_for_an_address_not_blacklisted(token):
    alice = token.users[0]
    token.issue(alice, 5 * UNIT)
    with reverts("not blacklisted"):
        token.functions.destroyBlackFunds(alice).transact({"from": token.compliance})
    token.send(token.compliance, token.functions.addBlackList(alice))
    token.send(token.compliance, token.functions.removeBlackList(alice))
    with reverts("not blacklisted"):
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
