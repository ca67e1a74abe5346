"""The chain watcher on a real anvil node of its own.

Reorganising a chain (evm_snapshot / evm_revert) would pull the rug from under every other test on
the session's node, so these tests start a separate anvil (another chain id) and deploy a token and
two multisigs there with plain web3 from unlocked accounts: an issuance multisig of the USDKG kind
(on-chain approvals, full-call ApproveHash) and a compliance Safe (its one-argument ApproveHash).
Settings point the one chain client at that node for each test (chain_client() is built per call).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from web3 import HTTPProvider, Web3
from web3.logs import DISCARD

from backoffice.chain.client import artifact, chain_client
from backoffice.chain.events import log_decode
from backoffice.chain.models import ChainEvent, Deployment, IndexCursor, IndexedBlock
from backoffice.chain.services import deployment_attach
from backoffice.chain.tasks import chain_index_task
from backoffice.chain.watcher import IndexProgress, chain_index_step, watched_contracts
from backoffice.core.leases import lease_held
from backoffice.journal.models import JournalEntry
from conftest import anvil_process

pytestmark = pytest.mark.integration

CHAIN_ID = 31338  # not the session node's 31337: the rows of the two never mix
ZERO = "0x" + "00" * 20
UNIT = 10**6
# Anvil accounts 13.. (clear of the relayer and the dev owners): multisig owners and token users.
ISSUER, OFFICER, ALICE, BOB = 13, 14, 15, 16


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private anvil for this module, so snapshots and reverts touch no other test's chain."""
    with anvil_process(tmp_path_factory.mktemp("anvil-watcher"), chain_id=CHAIN_ID) as private:
        yield private.url


@dataclass
class Contracts:
    w3: Web3
    token: Any
    issuance: Any  # USDKG multisig, ISSUER alone (threshold 1)
    compliance: Any  # Safe v1.4.1, OFFICER alone (threshold 1)
    deployment: Deployment

    def account(self, index: int) -> str:
        return str(self.w3.eth.accounts[index])

    def send(self, sender: int, fn: Any) -> Any:
        receipt = self.w3.eth.wait_for_transaction_receipt(fn.transact({"from": self.account(sender)}))
        assert receipt["status"] == 1
        return receipt

    def issue(self, to: int, amount: int) -> bytes:
        """Through the USDKG multisig: the issuer approves on chain, then executes. Returns the safeTxHash."""
        call = [self.token.address, 0, self.token.encode_abi("issue", args=[self.account(to), amount]), 0, 0, 0, 0,
                ZERO, ZERO]
        safe_tx_hash = bytes(self.issuance.functions.getTransactionHash(*call,
                                                                        self.issuance.functions.nonce().call()).call())
        self.send(ISSUER, self.issuance.functions.approveHash(*call, safe_tx_hash))
        self.send(ISSUER, self.issuance.functions.execTransaction(*call))
        return safe_tx_hash

    def blacklist(self, user: int) -> bytes:
        """Through the Safe: the officer approves the hash on chain, then executes with an approved-hash
        signature (r = owner, s = 0, v = 1)."""
        call = [self.token.address, 0, self.token.encode_abi("addBlackList", args=[self.account(user)]), 0, 0, 0, 0,
                ZERO, ZERO]
        nonce = self.compliance.functions.nonce().call()
        safe_tx_hash = bytes(self.compliance.functions.getTransactionHash(*call, nonce).call())
        self.send(OFFICER, self.compliance.functions.approveHash(safe_tx_hash))
        signature = bytes(12) + bytes.fromhex(self.account(OFFICER)[2:]) + bytes(32) + b"\x01"
        self.send(OFFICER, self.compliance.functions.execTransaction(*call, signature))
        return safe_tx_hash

    def transfer(self, sender: int, to: int, amount: int) -> Any:
        return self.send(sender, self.token.functions.transfer(self.account(to), amount))

    def mine(self, blocks: int = 1) -> None:
        self.w3.provider.make_request("anvil_mine", [hex(blocks)])  # type: ignore[arg-type]

    def expected_logs(self) -> set[tuple[str, int, str]]:
        """(tx hash, log index, event) of every watched log now on chain, decoded independently of the
        watcher's batching: what the index must hold once it reached the head."""
        roles = watched_contracts(self.deployment)
        found = set()
        addresses = [Web3.to_checksum_address(a) for a in roles]
        logs = self.w3.eth.get_logs({"address": addresses, "fromBlock": self.deployment.block_number,
                                     "toBlock": "latest"})
        for log in logs:
            decoded = log_decode(role=roles[log["address"]], log=dict(log))
            if decoded is not None:
                found.add(("0x" + bytes(log["transactionHash"]).hex(), int(log["logIndex"]), decoded.name))
        return found


def _deploy(w3: Web3, name: str, sender: str, *args: Any) -> Any:
    data = artifact(name)
    factory = w3.eth.contract(abi=data["abi"], bytecode=data["bytecode"])
    receipt = w3.eth.wait_for_transaction_receipt(factory.constructor(*args).transact({"from": sender}))
    return w3.eth.contract(address=receipt["contractAddress"], abi=data["abi"]), receipt


@pytest.fixture
def contracts(node: str, db: None, settings: Any) -> Contracts:
    """A fresh token and multisigs on the private node, recorded as the deployment of CHAIN_ID."""
    settings.CHAIN_RPC_URL = node
    settings.CHAIN_ID = CHAIN_ID
    settings.CHAIN_CONFIRMATIONS = 1
    w3 = Web3(HTTPProvider(node))
    deployer, issuer, officer = w3.eth.accounts[0], w3.eth.accounts[ISSUER], w3.eth.accounts[OFFICER]
    issuance, _ = _deploy(w3, "USDKGMultisig", deployer, [issuer], 1)
    singleton, _ = _deploy(w3, "SafeL2", deployer)
    factory, _ = _deploy(w3, "SafeProxyFactory", deployer)
    setup = singleton.encode_abi("setup", args=[[officer], 1, ZERO, b"", ZERO, ZERO, 0, ZERO])
    receipt = w3.eth.wait_for_transaction_receipt(
        factory.functions.createProxyWithNonce(singleton.address, setup, time.time_ns()).transact({"from": deployer}))
    proxy = factory.events.ProxyCreation().process_receipt(receipt, errors=DISCARD)[0]["args"]["proxy"]
    compliance = w3.eth.contract(address=proxy, abi=artifact("SafeL2")["abi"])
    token, receipt = _deploy(w3, "USDKG", deployer, issuance.address, compliance.address)
    # Contracts deployed outside the product, recorded as production ones are: by chain_attach.
    deployment = deployment_attach(client=chain_client(), token=token.address)
    assert deployment.block_number == receipt["blockNumber"]
    assert [(m.role, m.kind) for m in deployment.multisigs.order_by("role")] == [
        ("compliance", "safe"), ("issuance", "usdkg")]
    return Contracts(w3=w3, token=token, issuance=issuance, compliance=compliance, deployment=deployment)


def index_until_head(max_blocks: int = 2000) -> list[IndexProgress]:
    steps = []
    while True:
        progress = chain_index_step(client=chain_client(), max_blocks=max_blocks)
        steps.append(progress)
        if progress.to_block < progress.from_block:
            return steps


def stored() -> list[tuple[str, int, str]]:
    return list(ChainEvent.objects.order_by("block_number", "log_index").values_list("tx_hash", "log_index", "name"))


def test_watched_events_are_stored_once_with_their_arguments_decoded(contracts: Contracts) -> None:
    c = contracts
    issue_hash = c.issue(ALICE, 5 * UNIT)
    c.send(ALICE, c.token.functions.approve(c.account(BOB), 2**256 - 1))  # Approval is not watched
    c.transfer(ALICE, BOB, 2 * UNIT)
    blacklist_hash = c.blacklist(ALICE)

    index_until_head()
    index_until_head()  # a second run over an indexed chain adds nothing

    events = list(ChainEvent.objects.order_by("block_number", "log_index"))
    assert [(e.role, e.name) for e in events] == [
        ("issuance", "ApproveHash"), ("token", "Issue"), ("issuance", "ExecutionSuccess"),
        ("token", "Transfer"),
        ("compliance", "ApproveHash"), ("token", "AddedBlackList"), ("compliance", "ExecutionSuccess"),
    ]
    assert len(set(stored())) == len(events) and set(stored()) == c.expected_logs()
    by_name = {(e.role, e.name): e.args for e in events}
    issue_call = c.token.encode_abi("issue", args=[c.account(ALICE), 5 * UNIT])
    assert by_name[("issuance", "ApproveHash")] == {
        "approvedHash": "0x" + issue_hash.hex(), "owner": c.account(ISSUER), "to": c.token.address, "value": "0",
        "data": issue_call, "operation": "0", "safeTxGas": "0", "baseGas": "0", "gasPrice": "0", "gasToken": ZERO,
        "refundReceiver": ZERO, "nonce": "0",
    }
    # Issue(amount) names no recipient: the watcher took it from the executed call's calldata.
    assert by_name[("token", "Issue")] == {"amount": "5000000", "to": c.account(ALICE)}
    assert by_name[("issuance", "ExecutionSuccess")] == {"txHash": "0x" + issue_hash.hex(), "payment": "0"}
    assert by_name[("token", "Transfer")] == {"from": c.account(ALICE), "to": c.account(BOB), "value": "2000000"}
    assert by_name[("compliance", "ApproveHash")] == {"approvedHash": "0x" + blacklist_hash.hex(),
                                                      "owner": c.account(OFFICER)}
    assert by_name[("token", "AddedBlackList")] == {"_user": c.account(ALICE)}
    assert by_name[("compliance", "ExecutionSuccess")] == {"txHash": "0x" + blacklist_hash.hex(), "payment": "0"}
    assert {e.address for e in events} == {c.token.address, c.issuance.address, c.compliance.address}


def test_a_uint256_beyond_json_numbers_is_stored_as_its_exact_decimal_string(contracts: Contracts) -> None:
    amount = 2**200 + 1  # a float (or a JSON number read as one) would lose the last digits
    c = contracts
    c.issue(ALICE, amount)
    index_until_head()
    issue = ChainEvent.objects.get(name="Issue")
    issue.refresh_from_db()
    assert issue.args == {"amount": str(amount), "to": c.account(ALICE)}


def test_logs_are_indexed_only_past_the_confirmation_depth(contracts: Contracts, settings: Any) -> None:
    settings.CHAIN_CONFIRMATIONS = 3
    c = contracts
    c.issue(ALICE, UNIT)
    head = c.w3.eth.block_number  # the execution (Issue, ExecutionSuccess) is the head block

    progress = chain_index_step(client=chain_client(), max_blocks=100)
    assert progress.to_block == head - 2
    assert IndexCursor.objects.get(chain_id=CHAIN_ID).block_number == head - 2
    assert stored() == []  # the approval (head - 1) has 2 confirmations of 3, the execution 1

    c.mine(1)
    chain_index_step(client=chain_client(), max_blocks=100)
    assert [n for _, _, n in stored()] == ["ApproveHash"]
    c.mine(1)
    chain_index_step(client=chain_client(), max_blocks=100)
    assert [n for _, _, n in stored()] == ["ApproveHash", "Issue", "ExecutionSuccess"]


def test_batches_resume_where_the_previous_one_stopped(contracts: Contracts) -> None:
    c = contracts
    for amount in (1, 2, 3):
        c.issue(ALICE, amount * UNIT)
        c.transfer(ALICE, BOB, amount)
    head = c.w3.eth.block_number

    steps = index_until_head(max_blocks=2)

    batches = [(s.from_block, s.to_block) for s in steps if s.indexed]
    assert batches[0][0] == c.deployment.block_number
    assert all(b - a + 1 <= 2 for a, b in batches)
    assert all(nxt[0] == prev[1] + 1 for prev, nxt in zip(batches, batches[1:], strict=False))
    assert batches[-1][1] == head
    assert len(stored()) == len(set(stored())) == len(c.expected_logs()) == 12
    assert set(stored()) == c.expected_logs()
    # Only recent block hashes are kept: the cursor's block and those within the reorg window.
    assert IndexedBlock.objects.filter(chain_id=CHAIN_ID, number=head).exists()


def test_a_step_over_blocks_already_indexed_stores_no_duplicate(contracts: Contracts) -> None:
    c = contracts
    c.issue(ALICE, UNIT)
    c.transfer(ALICE, BOB, 1)
    index_until_head()
    before = stored()

    # As a racing step that read the old cursor would: the same blocks written again.
    IndexCursor.objects.filter(chain_id=CHAIN_ID).update(block_number=c.deployment.block_number - 1, block_hash="")
    index_until_head()
    assert stored() == before

    # And the database itself refuses a second row for the same log.
    first = ChainEvent.objects.order_by("pk").first()
    assert first is not None
    first.pk = None
    with pytest.raises(IntegrityError), transaction.atomic():
        first.save()
    assert stored() == before


@pytest.mark.django_db(transaction=True)
def test_two_steps_racing_store_each_log_once(contracts: Contracts) -> None:
    c = contracts
    for amount in (1, 2):
        c.issue(ALICE, amount * UNIT)
        c.transfer(ALICE, BOB, amount)
    start = threading.Barrier(2)
    results: list[IndexProgress] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            start.wait()
            results.append(chain_index_step(client=chain_client(), max_blocks=2000))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert errors == []
    assert len(stored()) == len(set(stored())) == len(c.expected_logs()) == 8
    assert IndexCursor.objects.get(chain_id=CHAIN_ID).block_number == c.w3.eth.block_number
    # Whatever the interleaving, the blocks were applied by one step only (compare-and-set on the cursor).
    assert sum(r.events for r in results) == 8


def test_a_reorg_rewinds_deletes_orphaned_events_and_indexes_the_new_chain_once(contracts: Contracts) -> None:
    c = contracts
    c.issue(ALICE, 7 * UNIT)
    fork_block = c.w3.eth.block_number
    snapshot = c.w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    c.issue(ALICE, 1 * UNIT)
    c.transfer(ALICE, BOB, 3)
    index_until_head()
    old_head = c.w3.eth.block_number
    old_hash = IndexCursor.objects.get(chain_id=CHAIN_ID).block_hash
    orphaned = set(ChainEvent.objects.filter(block_number__gt=fork_block).values_list("tx_hash", flat=True))
    assert len(orphaned) == 3  # approval, execution, transfer
    assert [e.args for e in ChainEvent.objects.filter(name="Issue").order_by("block_number")] == [
        {"amount": "7000000", "to": c.account(ALICE)}, {"amount": "1000000", "to": c.account(ALICE)}]

    # The other fork: different transactions at the same heights, and one block more.
    assert c.w3.provider.make_request("evm_revert", [snapshot])["result"] is True  # type: ignore[arg-type]
    assert c.w3.eth.block_number == fork_block
    c.issue(BOB, 2 * UNIT)
    c.blacklist(ALICE)
    assert c.w3.eth.block_number > old_head
    assert "0x" + bytes(c.w3.eth.get_block(old_head)["hash"]).hex() != old_hash

    steps = index_until_head()

    assert steps[0].rewound_from == old_head
    assert steps[0].rewound_to == fork_block  # the newest stored block hash that is still canonical
    assert set(stored()) == c.expected_logs()
    assert len(stored()) == len(set(stored())) == 3 + 3 + 3
    assert not ChainEvent.objects.filter(tx_hash__in=orphaned).exists()
    assert [e.args for e in ChainEvent.objects.filter(name="Issue").order_by("block_number")] == [
        {"amount": "7000000", "to": c.account(ALICE)}, {"amount": "2000000", "to": c.account(BOB)}]
    assert ChainEvent.objects.filter(name="AddedBlackList", args={"_user": c.account(ALICE)}).count() == 1
    cursor = IndexCursor.objects.get(chain_id=CHAIN_ID)
    assert cursor.block_hash == "0x" + bytes(c.w3.eth.get_block(cursor.block_number)["hash"]).hex()
    entry = JournalEntry.objects.get(action="chain.reorg")
    assert entry.data["from_block"] == old_head and entry.data["to_block"] == steps[0].rewound_to
    assert entry.data["events_deleted"] == 4  # ApproveHash, Issue, ExecutionSuccess, Transfer of the lost fork


def test_chain_index_command_prints_progress_until_the_head(contracts: Contracts) -> None:
    c = contracts
    c.issue(ALICE, UNIT)
    c.transfer(ALICE, BOB, 1)
    head = c.w3.eth.block_number
    out = StringIO()

    call_command("chain_index", "--until-head", "--batch-blocks", "2", stdout=out)

    lines = [line for line in out.getvalue().splitlines() if line.startswith("[")]
    assert len(lines) >= 2 and lines[-1].startswith("[" + "#" * 30 + "] 100 % ")
    assert f"block {head} of {head}, " in lines[-1] and "% block" in lines[0] and " 100 % " not in lines[0]
    assert IndexCursor.objects.get(chain_id=CHAIN_ID).block_number == head
    assert set(stored()) == c.expected_logs()


def test_the_beat_task_indexes_only_while_nobody_holds_the_lease(contracts: Contracts, settings: Any) -> None:
    from django.conf import settings as live

    c = contracts
    c.issue(ALICE, UNIT)
    assert live.CELERY_BEAT_SCHEDULE["chain-index"]["task"] == "backoffice.chain.tasks.chain_index_task"

    with lease_held(name="chain-index", seconds=60) as held:
        assert held
        assert chain_index_task() == 0
    assert stored() == [] and not IndexCursor.objects.filter(chain_id=CHAIN_ID).exists()

    assert chain_index_task() == c.w3.eth.block_number - c.deployment.block_number + 1
    assert set(stored()) == c.expected_logs() != set()
