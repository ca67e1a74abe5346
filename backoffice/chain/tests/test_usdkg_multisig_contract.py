"""The compiled USDKG multisig on a real anvil node, against /work/shared/MULTISIG_INTERFACE.md ("Kind usdkg").

Owners are anvil's unlocked dev accounts 1-7 (the issuance owners of backoffice/chain/devkeys.py) and
the relayer (account 0) plays the outsider. Every test deploys its own multisig (and token), so none
depends on another's state or on the order they run in. No Django.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from eth_utils import keccak
from web3 import HTTPProvider, Web3
from web3.exceptions import ContractLogicError
from web3.utils.address import get_create_address

from backoffice.chain.devkeys import OWNER_INDEXES, RELAYER_INDEX
from backoffice.chain.safetx import ZERO_ADDRESS, SafeTx

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
SENTINEL = "0x0000000000000000000000000000000000000001"
DEPLOYER_INDEX, COMPLIANCE_INDEX, HOLDER_INDEX = 19, 18, 17
UNIT = 10**6  # 1 USDKG in base units
APPROVE_HASH_SIGNATURE = (
    "ApproveHash(bytes32,address,address,uint256,bytes,uint8,uint256,uint256,uint256,address,address,uint256)"
)
# A contract of 7 bytes of runtime that stores 0x2a at slot 0xdead of whatever storage it runs in
# (PUSH1 0x2a PUSH2 0xdead SSTORE STOP), behind the 12 bytes of init code that return it. Hand-assembled
# so that the delegatecall test needs no other compiled contract.
SLOT_WRITER_RUNTIME = "602a61dead5500"
SLOT_WRITER_INITCODE = "0x6007600c60003960076000f3" + SLOT_WRITER_RUNTIME
SLOT_WRITER_SLOT, SLOT_WRITER_VALUE = 0xDEAD, 0x2A


def _artifact(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ARTIFACTS / f"{name}.json").read_text())
    return data


def _signature(entry: dict[str, Any]) -> str:
    return f"{entry['name']}({','.join(i['type'] for i in entry['inputs'])})"


class Multisig:
    """A freshly deployed multisig, its owners (unlocked accounts) and the calls the back-office makes."""

    def __init__(self, w3: Web3, contract: Any, owners: list[str], chain_id: int) -> None:
        self.w3 = w3
        self.contract = contract
        self.address: str = contract.address
        self.owners = owners
        self.chain_id = chain_id

    @property
    def functions(self) -> Any:
        return self.contract.functions

    def nonce(self) -> int:
        return int(self.functions.nonce().call())

    def tx(self, *, to: str, data: bytes = b"", value: int = 0, operation: int = 0, nonce: int | None = None,
           **fields: Any) -> SafeTx:
        """A SafeTx at the current nonce unless another is given."""
        return SafeTx(to=to, value=value, data=data, operation=operation,
                      nonce=self.nonce() if nonce is None else nonce, **fields)

    def tx_hash(self, tx: SafeTx) -> bytes:
        """The back-office's hash of `tx` for this multisig (backoffice/chain/safetx.py)."""
        return tx.safe_tx_hash(chain_id=self.chain_id, safe_address=self.address)

    def approve_call(self, tx: SafeTx, hash_to_approve: bytes | None = None) -> Any:
        return self.functions.approveHash(*_call_fields(tx), self.tx_hash(tx) if hash_to_approve is None
                                          else hash_to_approve)

    def exec_call(self, tx: SafeTx) -> Any:
        return self.functions.execTransaction(*_call_fields(tx))

    def send(self, sender: str, fn: Any, **params: Any) -> Any:
        """Sends from an unlocked account and returns the mined, successful receipt."""
        receipt = self.w3.eth.wait_for_transaction_receipt(fn.transact({"from": sender, **params}))
        assert receipt["status"] == 1
        return receipt

    def approve(self, owners: list[str], tx: SafeTx) -> None:
        for owner in owners:
            self.send(owner, self.approve_call(tx))

    def approvals(self, tx: SafeTx) -> list[int]:
        """approvedHashes of every owner, in owner order, for `tx`."""
        digest = self.tx_hash(tx)
        return [int(self.functions.approvedHashes(owner, digest).call()) for owner in self.owners]

    def events(self, receipt: Any, name: str) -> list[dict[str, Any]]:
        """Decoded `name` logs the multisig emitted in `receipt`, in order."""
        topic, handle = _topic(self.contract.abi, name), getattr(self.contract.events, name)()
        return [dict(handle.process_log(log)["args"]) for log in receipt["logs"]
                if log["address"] == self.address and bytes(log["topics"][0]) == topic]


def _topic(abi: list[dict[str, Any]], name: str) -> bytes:
    entry = next(e for e in abi if e["type"] == "event" and e["name"] == name)
    return bytes(keccak(text=_signature(entry)))


def _call_fields(tx: SafeTx) -> list[Any]:
    """The nine fields of approveHash (before the hash) and execTransaction, in ABI order."""
    return [tx.to, tx.value, tx.data, tx.operation, tx.safe_tx_gas, tx.base_gas, tx.gas_price, tx.gas_token,
            tx.refund_receiver]


@contextmanager
def reverts(reason: str) -> Iterator[None]:
    """Expects a revert with exactly this reason string."""
    with pytest.raises(ContractLogicError) as excinfo:
        yield
    assert excinfo.value.message == f"execution reverted: {reason}"


@pytest.fixture(scope="module")
def w3(anvil: Any) -> Web3:
    web3 = Web3(HTTPProvider(anvil.url))
    assert web3.eth.chain_id == anvil.chain_id
    return web3


@pytest.fixture(scope="module")
def accounts(w3: Web3) -> list[str]:
    return list(w3.eth.accounts)


@pytest.fixture(scope="module")
def owners(accounts: list[str]) -> list[str]:
    return [accounts[i] for i in OWNER_INDEXES]


@pytest.fixture(scope="module")
def relayer(accounts: list[str]) -> str:
    return accounts[RELAYER_INDEX]


@pytest.fixture(scope="module")
def factory(w3: Web3) -> Any:
    artifact = _artifact("USDKGMultisig")
    return w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])


@pytest.fixture(scope="module")
def deploy(w3: Web3, factory: Any, accounts: list[str], anvil: Any) -> Callable[..., Multisig]:
    """Deploys a new multisig (7 owners, threshold 3 unless told otherwise) each time it is called."""

    def _deploy(owners: list[str] | None = None, threshold: int = 3) -> Multisig:
        chosen = owners if owners is not None else [accounts[i] for i in OWNER_INDEXES]
        tx_hash = factory.constructor(chosen, threshold).transact({"from": accounts[DEPLOYER_INDEX]})
        receipt = w3.eth.wait_for_transaction_receipt(tx_hash)
        assert receipt["status"] == 1
        contract = w3.eth.contract(address=receipt["contractAddress"], abi=factory.abi)
        return Multisig(w3, contract, chosen, anvil.chain_id)

    return _deploy


@pytest.fixture
def multisig(deploy: Callable[..., Multisig]) -> Multisig:
    return deploy()


@pytest.fixture
def token_of(w3: Web3, accounts: list[str]) -> Callable[[str], Any]:
    """Deploys a USDKG token whose owner is the given address (compliance is a plain account)."""
    artifact = _artifact("USDKG")
    token_factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])

    def _deploy(owner: str) -> Any:
        tx_hash = token_factory.constructor(owner, accounts[COMPLIANCE_INDEX]).transact(
            {"from": accounts[DEPLOYER_INDEX]})
        receipt = w3.eth.wait_for_transaction_receipt(tx_hash)
        assert receipt["status"] == 1
        return w3.eth.contract(address=receipt["contractAddress"], abi=artifact["abi"])

    return _deploy


def _issue_data(token: Any, to: str, amount: int) -> bytes:
    return bytes.fromhex(token.encode_abi("issue", args=[to, amount])[2:])


# --- construction and interface -------------------------------------------------------------------


def test_construction_keeps_the_owners_in_order_with_the_threshold_and_a_zero_nonce(multisig, owners, relayer, anvil):
    f = multisig.functions
    assert f.getOwners().call() == owners
    assert f.getThreshold().call() == 3
    assert multisig.nonce() == 0
    assert all(f.isOwner(o).call() for o in owners)
    assert not any(f.isOwner(a).call() for a in (relayer, ZERO_ADDRESS, SENTINEL, multisig.address))
    assert f.getChainId().call() == anvil.chain_id


@pytest.mark.parametrize(
    ("case", "threshold", "reason"),
    [
        ("threshold-above-owner-count", 3, "Too big threshold"),
        ("zero-threshold", 0, "Threshold can't be equal to zero"),
        ("no-owner-at-all", 0, "Threshold can't be equal to zero"),
        ("zero-address", 1, "Incorrect owner address"),
        ("sentinel", 1, "Incorrect owner address"),
        ("the-multisig-itself", 1, "Incorrect owner address"),
        ("repeated-neighbour", 1, "Incorrect owner address"),
        ("repeated-owner", 2, "Owners' addresses must not be repeated"),
    ],
)
def test_the_constructor_refuses_a_bad_owner_list_or_threshold(w3, factory, accounts, owners, case, threshold, reason):
    deployer = accounts[DEPLOYER_INDEX]
    nonce = w3.eth.get_transaction_count(deployer)
    a, b = owners[:2]
    owner_list = {
        "threshold-above-owner-count": [a, b],
        "zero-threshold": [a, b],
        "no-owner-at-all": [],
        "zero-address": [a, ZERO_ADDRESS],
        "sentinel": [a, SENTINEL],
        # The address the deployment would get: the deployer's next CREATE address.
        "the-multisig-itself": [a, get_create_address(deployer, nonce)],
        "repeated-neighbour": [a, b, b],
        "repeated-owner": [a, b, a],
    }[case]
    with reverts(reason):
        factory.constructor(owner_list, threshold).transact({"from": deployer})
    assert w3.eth.get_transaction_count(deployer) == nonce  # nothing was deployed


def test_the_external_interface_is_exactly_that_of_the_page(factory):
    abi = factory.abi
    assert {_signature(e) for e in abi if e["type"] == "function"} == {
        "nonce()", "getThreshold()", "getOwners()", "isOwner(address)", "getChainId()", "domainSeparator()",
        "encodeTransactionData(address,uint256,bytes,uint8,uint256,uint256,uint256,address,address,uint256)",
        "getTransactionHash(address,uint256,bytes,uint8,uint256,uint256,uint256,address,address,uint256)",
        "approvedHashes(address,bytes32)", "checkApprovals(bytes32)", "checkNApprovals(bytes32,uint256)",
        "approveHash(address,uint256,bytes,uint8,uint256,uint256,uint256,address,address,bytes32)",
        "execTransaction(address,uint256,bytes,uint8,uint256,uint256,uint256,address,address)",
        "simulateAndRevert(address,bytes)",
    }
    events = {e["name"]: e for e in abi if e["type"] == "event"}
    assert {name: [(i["type"], i["indexed"]) for i in e["inputs"]] for name, e in events.items()} == {
        "ApproveHash": [("bytes32", True), ("address", True), ("address", False), ("uint256", False),
                        ("bytes", False), ("uint8", False), ("uint256", False), ("uint256", False),
                        ("uint256", False), ("address", False), ("address", False), ("uint256", False)],
        "ExecutionSuccess": [("bytes32", True), ("uint256", False)],
        "ExecutionFailure": [("bytes32", True), ("uint256", False)],
        "SafeReceived": [("address", True), ("uint256", False)],
    }
    execute = next(e for e in abi if e["type"] == "function" and e["name"] == "execTransaction")
    assert (execute["stateMutability"], [o["type"] for o in execute["outputs"]]) == ("payable", ["bool"])
    assert [e["stateMutability"] for e in abi if e["type"] == "receive"] == ["payable"]
    assert not [e for e in abi if e["type"] == "fallback"]
    constructor = next(e for e in abi if e["type"] == "constructor")
    assert [i["type"] for i in constructor["inputs"]] == ["address[]", "uint256"]


def test_get_transaction_hash_equals_the_back_office_safe_tx_hash(multisig, owners):
    tx = SafeTx(to=owners[4], value=12345, data=bytes.fromhex("deadbeef" * 9), operation=1, nonce=77,
                safe_tx_gas=50_000, base_gas=21_000, gas_price=3, gas_token=owners[5], refund_receiver=owners[6])
    fields = [*_call_fields(tx), tx.nonce]
    expected = tx.safe_tx_hash(chain_id=multisig.chain_id, safe_address=multisig.address)
    assert bytes(multisig.functions.getTransactionHash(*fields).call()) == expected
    domain = keccak(
        keccak(text="EIP712Domain(uint256 chainId,address verifyingContract)")
        + multisig.chain_id.to_bytes(32, "big") + bytes(12) + bytes.fromhex(multisig.address[2:])
    )
    assert bytes(multisig.functions.domainSeparator().call()) == domain
    assert bytes(multisig.functions.encodeTransactionData(*fields).call()) == b"\x19\x01" + domain + tx.struct_hash()
    # The default back-office transaction (zero gas fields) too, and the nonce is part of the hash.
    simple = multisig.tx(to=owners[0], data=b"")
    assert bytes(multisig.functions.getTransactionHash(*_call_fields(simple), 0).call()) == multisig.tx_hash(simple)
    assert bytes(multisig.functions.getTransactionHash(*_call_fields(simple), 1).call()) != multisig.tx_hash(simple)


# --- approving ------------------------------------------------------------------------------------


def test_approve_hash_by_a_non_owner_is_refused(multisig, relayer, owners):
    tx = multisig.tx(to=owners[0])
    with reverts("Not owner"):
        multisig.approve_call(tx).transact({"from": relayer})
    assert multisig.functions.approvedHashes(relayer, multisig.tx_hash(tx)).call() == 0
    assert multisig.approvals(tx) == [0] * 7
    assert multisig.nonce() == 0


def test_only_the_transaction_at_the_current_nonce_can_be_approved(multisig, owners):
    queued = multisig.tx(to=owners[0], nonce=1)  # the next one, behind the head
    with reverts("Incorrect data to approve"):
        multisig.approve_call(queued).transact({"from": owners[0]})
    head = multisig.tx(to=owners[0], data=b"\x01")
    other = multisig.tx(to=owners[0], data=b"\x02")
    with reverts("Incorrect data to approve"):  # a hash that is not the hash of the call given
        multisig.approve_call(head, hash_to_approve=multisig.tx_hash(other)).transact({"from": owners[0]})
    assert multisig.approvals(queued) == multisig.approvals(head) == multisig.approvals(other) == [0] * 7
    assert multisig.nonce() == 0


def test_the_approve_hash_event_carries_the_whole_call(multisig, owners):
    tx = multisig.tx(to=owners[3], value=5, data=bytes.fromhex("40c10f19" + "ab" * 64), safe_tx_gas=1,
                     base_gas=2, gas_price=3, gas_token=owners[4], refund_receiver=owners[5])
    receipt = multisig.send(owners[1], multisig.approve_call(tx))
    (log,) = receipt["logs"]
    digest = multisig.tx_hash(tx)
    assert [bytes(t) for t in log["topics"]] == [
        bytes(keccak(text=APPROVE_HASH_SIGNATURE)), digest, bytes(12) + bytes.fromhex(owners[1][2:]),
    ]
    assert keccak(text=APPROVE_HASH_SIGNATURE) != keccak(text="ApproveHash(bytes32,address)")  # not Safe's
    assert multisig.events(receipt, "ApproveHash") == [{
        "approvedHash": digest, "owner": owners[1], "to": tx.to, "value": 5, "data": tx.data, "operation": 0,
        "safeTxGas": 1, "baseGas": 2, "gasPrice": 3, "gasToken": owners[4], "refundReceiver": owners[5],
        "nonce": 0,
    }]
    assert multisig.approvals(tx) == [0, 1, 0, 0, 0, 0, 0]


def test_approvals_are_never_revoked_and_count_once_per_owner(multisig, owners):
    tx = multisig.tx(to=multisig.address)
    multisig.approve(owners[:1] * 3 + owners[1:2], tx)  # owner 1 approves three times, owner 2 once
    assert multisig.approvals(tx) == [1, 1, 0, 0, 0, 0, 0]
    with reverts("Not enough approvals"):
        multisig.functions.checkApprovals(multisig.tx_hash(tx)).call()
    multisig.functions.checkNApprovals(multisig.tx_hash(tx), 2).call()  # does not revert
    with reverts("Not enough approvals"):
        multisig.functions.checkNApprovals(multisig.tx_hash(tx), 3).call()
    multisig.approve(owners[2:3], tx)
    multisig.functions.checkApprovals(multisig.tx_hash(tx)).call()
    multisig.send(owners[0], multisig.exec_call(tx))
    # Executed and past: the approvals stay on chain for ever (no function can withdraw them).
    assert multisig.approvals(tx) == [1, 1, 1, 0, 0, 0, 0]
    multisig.functions.checkApprovals(multisig.tx_hash(tx)).call()


# --- executing ------------------------------------------------------------------------------------


def test_an_executor_that_is_not_an_owner_is_refused(multisig, owners, relayer):
    tx = multisig.tx(to=multisig.address)
    multisig.approve(owners[:3], tx)
    with reverts("Executor must be an owner"):  # the back-office's relayer cannot execute a usdkg multisig
        multisig.exec_call(tx).transact({"from": relayer})
    assert multisig.nonce() == 0
    multisig.send(owners[6], multisig.exec_call(tx))  # the same call from an owner goes through
    assert multisig.nonce() == 1


def test_threshold_minus_one_approvals_are_refused_and_executing_is_not_approving(multisig, owners):
    tx = multisig.tx(to=multisig.address)
    multisig.approve(owners[:2], tx)
    for executor in (owners[2], owners[0]):  # neither a third owner's call nor an approver's counts
        with reverts("Not enough approvals"):
            multisig.exec_call(tx).transact({"from": executor})
    assert multisig.nonce() == 0
    assert multisig.approvals(tx) == [1, 1, 0, 0, 0, 0, 0]
    multisig.approve(owners[2:3], tx)
    multisig.send(owners[2], multisig.exec_call(tx))
    assert multisig.nonce() == 1


def test_a_three_of_seven_issue_executes_with_execution_success_and_spends_the_nonce(
    multisig, owners, accounts, token_of,
):
    token = token_of(multisig.address)
    holder = accounts[HOLDER_INDEX]
    tx = multisig.tx(to=token.address, data=_issue_data(token, holder, 1_250 * UNIT))
    # The production flow: one owner proposes by approving, two more approve, the last one executes.
    multisig.approve([owners[4], owners[0], owners[6]], tx)
    assert multisig.exec_call(tx).call({"from": owners[6]}) is True
    receipt = multisig.send(owners[6], multisig.exec_call(tx))

    assert multisig.events(receipt, "ExecutionSuccess") == [{"txHash": multisig.tx_hash(tx), "payment": 0}]
    assert multisig.events(receipt, "ExecutionFailure") == []
    issued = [dict(token.events.Issue().process_log(log)["args"]) for log in receipt["logs"]
              if log["address"] == token.address]
    assert issued == [{"amount": 1_250 * UNIT}]
    assert token.functions.balanceOf(holder).call() == 1_250 * UNIT
    assert multisig.nonce() == 1
    with reverts("Not enough approvals"):  # the same call again would be the transaction at nonce 1
        multisig.exec_call(tx).transact({"from": owners[6]})
    assert token.functions.totalSupply().call() == 1_250 * UNIT


def test_an_empty_call_to_itself_rejects_the_transaction_at_its_nonce(multisig, owners, accounts, token_of):
    token = token_of(multisig.address)
    issue = multisig.tx(to=token.address, data=_issue_data(token, accounts[HOLDER_INDEX], UNIT))
    multisig.approve(owners[:2], issue)  # approved by two, then withdrawn by the operators

    rejection = multisig.tx(to=multisig.address)
    multisig.approve(owners[2:5], rejection)
    receipt = multisig.send(owners[4], multisig.exec_call(rejection))
    assert multisig.events(receipt, "SafeReceived") == [{"sender": multisig.address, "value": 0}]
    assert multisig.events(receipt, "ExecutionSuccess") == [{"txHash": multisig.tx_hash(rejection), "payment": 0}]
    assert multisig.nonce() == 1

    # The withdrawn issue is dead: its nonce is spent, so it can no longer be approved, and the same call
    # executed now is the transaction at nonce 1, which nobody approved.
    with reverts("Incorrect data to approve"):
        multisig.approve_call(issue).transact({"from": owners[2]})
    with reverts("Not enough approvals"):
        multisig.exec_call(issue).transact({"from": owners[0]})
    assert multisig.approvals(issue) == [1, 1, 0, 0, 0, 0, 0]
    assert (token.functions.totalSupply().call(), multisig.nonce()) == (0, 1)


def test_a_failing_inner_call_without_gas_budget_reverts_with_error_during_call(
    multisig, owners, accounts, token_of,
):
    token = token_of(accounts[DEPLOYER_INDEX])  # the multisig is NOT the owner: issue reverts "not owner"
    tx = multisig.tx(to=token.address, data=_issue_data(token, accounts[HOLDER_INDEX], UNIT))
    multisig.approve(owners[:3], tx)
    with reverts("Error during call"):
        multisig.exec_call(tx).transact({"from": owners[0]})
    assert multisig.nonce() == 0  # reverted whole: the transaction can still be executed later
    assert token.functions.totalSupply().call() == 0


def test_a_failing_inner_call_with_a_safe_tx_gas_emits_execution_failure_and_spends_the_nonce(
    multisig, owners, accounts, token_of,
):
    token = token_of(accounts[DEPLOYER_INDEX])
    tx = multisig.tx(to=token.address, data=_issue_data(token, accounts[HOLDER_INDEX], UNIT), safe_tx_gas=100_000)
    multisig.approve(owners[:3], tx)
    receipt = multisig.send(owners[0], multisig.exec_call(tx))
    assert multisig.events(receipt, "ExecutionFailure") == [{"txHash": multisig.tx_hash(tx), "payment": 0}]
    assert multisig.events(receipt, "ExecutionSuccess") == []
    assert multisig.nonce() == 1
    assert token.functions.totalSupply().call() == 0


def test_insufficient_gas_when_the_gas_left_cannot_cover_safe_tx_gas(multisig, owners):
    block_gas_limit = multisig.w3.eth.get_block("latest")["gasLimit"]
    tx = multisig.tx(to=multisig.address, safe_tx_gas=block_gas_limit)  # no transaction can carry that much
    multisig.approve(owners[:3], tx)
    with reverts("Insufficient gas"):
        multisig.exec_call(tx).transact({"from": owners[0]})
    assert multisig.nonce() == 0


def test_a_delegate_call_runs_foreign_code_in_the_multisigs_storage(multisig, owners, w3, accounts):
    receipt = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_transaction({"from": accounts[DEPLOYER_INDEX], "data": SLOT_WRITER_INITCODE}))
    writer = receipt["contractAddress"]
    assert w3.eth.get_code(writer).hex().removeprefix("0x") == SLOT_WRITER_RUNTIME

    delegate = multisig.tx(to=writer, operation=1)
    multisig.approve(owners[:3], delegate)
    receipt = multisig.send(owners[0], multisig.exec_call(delegate))
    assert multisig.events(receipt, "ExecutionSuccess") == [{"txHash": multisig.tx_hash(delegate), "payment": 0}]
    # Written into the MULTISIG's storage, the writer's own untouched: why the back-office builds operation 0 only.
    assert int.from_bytes(w3.eth.get_storage_at(multisig.address, SLOT_WRITER_SLOT), "big") == SLOT_WRITER_VALUE
    assert int.from_bytes(w3.eth.get_storage_at(writer, SLOT_WRITER_SLOT), "big") == 0

    call = multisig.tx(to=writer, operation=0)
    multisig.approve(owners[:3], call)
    multisig.send(owners[0], multisig.exec_call(call))
    assert int.from_bytes(w3.eth.get_storage_at(writer, SLOT_WRITER_SLOT), "big") == SLOT_WRITER_VALUE
    assert multisig.nonce() == 2


def test_receiving_ether_emits_safe_received(multisig, w3, accounts):
    sender = accounts[DEPLOYER_INDEX]
    receipt = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_transaction({"from": sender, "to": multisig.address, "value": 10**15}))
    assert receipt["status"] == 1
    assert multisig.events(receipt, "SafeReceived") == [{"sender": sender, "value": 10**15}]
    assert w3.eth.get_balance(multisig.address) == 10**15


def test_simulate_and_revert_reverts_with_the_result_and_changes_nothing(multisig, w3, accounts):
    # The multisig's own code run by delegatecall in its own storage: getThreshold() answers 3.
    payload = bytes.fromhex(multisig.contract.encode_abi("getThreshold", args=[])[2:])
    call = multisig.functions.simulateAndRevert(multisig.address, payload)
    with pytest.raises(ContractLogicError) as excinfo:
        call.call({"from": accounts[DEPLOYER_INDEX]})
    data = bytes.fromhex(str(excinfo.value.data).removeprefix("0x"))
    assert data == (1).to_bytes(32, "big") + (32).to_bytes(32, "big") + (3).to_bytes(32, "big")
    assert multisig.nonce() == 0


def test_a_gas_price_refunds_the_refund_receiver_in_ether(multisig, owners, w3, accounts):
    w3.eth.wait_for_transaction_receipt(
        w3.eth.send_transaction({"from": accounts[DEPLOYER_INDEX], "to": multisig.address, "value": 10**18}))
    receiver = "0x000000000000000000000000000000000000bEEF"
    before = w3.eth.get_balance(receiver)
    # With a gas price the inner call gets safeTxGas exactly, so it needs one.
    tx = multisig.tx(to=multisig.address, safe_tx_gas=50_000, base_gas=10_000, gas_price=10**9,
                     refund_receiver=receiver)
    multisig.approve(owners[:3], tx)
    receipt = multisig.send(owners[0], multisig.exec_call(tx))
    (success,) = multisig.events(receipt, "ExecutionSuccess")
    payment = success["payment"]
    # At least baseGas is paid, at no more than the price the executor paid per gas.
    assert 10_000 * min(10**9, receipt["effectiveGasPrice"]) <= payment
    assert w3.eth.get_balance(receiver) - before == payment
    assert w3.eth.get_balance(multisig.address) == 10**18 - payment
