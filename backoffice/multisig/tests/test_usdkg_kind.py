"""The USDKG multisig kind on anvil: owners approve ON CHAIN, the watcher counts the approvals, an
owner executes. Every refusal is proven to change nothing, on chain and in the database."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import override_settings
from eth_account import Account
from eth_typing import HexStr

from backoffice.chain.client import ChainError, chain_client
from backoffice.chain.devkeys import OFFICER_INDEXES, OWNER_INDEXES, dev_account
from backoffice.chain.selectors import deployment_get
from backoffice.core.errors import InvalidInput
from backoffice.journal.models import JournalEntry
from backoffice.multisig.kinds import executor_accounts, safe_tx_of
from backoffice.multisig.models import Confirmation, MultisigTransaction, RawState, Signer, TxState
from backoffice.multisig.onchain import (
    CallRefused,
    approval_call_prepare,
    execution_call_prepare,
    raw_submission_create,
    raw_submission_process,
)
from backoffice.multisig.services import SignatureRefused, confirmation_add, signer_bind
from backoffice.multisig.tests.helpers import chain_index_until_head as index
from backoffice.multisig.tests.helpers import issue_propose, owner_signature, wallet_send

pytestmark = [pytest.mark.integration, pytest.mark.parametrize("chain", ["usdkg"], indirect=True)]

User = get_user_model()


def owner(n: int) -> Any:
    return User.objects.get(username=f"owner{n}")


def approve(tx: MultisigTransaction, *owners: int) -> None:
    for n in owners:
        wallet_send(approval_call_prepare(client=chain_client(), transaction_id=tx.pk, actor=owner(n)))


def recipient() -> str:
    return Account.create().address


def test_approvals_are_counted_from_the_chain_and_the_last_approver_executes(chain: Any, gold_backing: Any) -> None:
    client = chain_client()
    to = recipient()
    tx = issue_propose(1_000_000, to)
    approve(tx, 1, 2)
    tx.refresh_from_db()
    assert tx.confirmations.count() == 0  # sent, but not counted before the watcher saw it
    index()
    tx.refresh_from_db()
    assert tx.state == TxState.AWAITING_SIGNATURES and tx.confirmations.count() == 2
    with pytest.raises(CallRefused, match="only an approved transaction"):
        execution_call_prepare(client=client, transaction_id=tx.pk, actor=owner(2))
    # Before the threshold the chain refuses the execution too, and nothing moves.
    exec_data = client.usdkg_exec_data(multisig=tx.safe_address, tx=safe_tx_of(tx))
    with pytest.raises(Exception, match="Not enough approvals"):
        client.w3.eth.send_transaction({"from": dev_account(OWNER_INDEXES[1]).address, "to": tx.safe_address,
                                        "data": HexStr("0x" + exec_data.hex())})
    assert client.safe_nonce(tx.safe_address) == tx.nonce and client.token_balance(deployment_get().token, to) == 0
    approve(tx, 3)
    index()
    tx.refresh_from_db()
    assert tx.state == TxState.APPROVED
    approvals = list(tx.confirmations.select_related("event", "signer__user").order_by("pk"))
    assert [c.signer.user.username for c in approvals if c.signer] == ["owner1", "owner2", "owner3"]
    assert all(c.event and c.event.tx_hash.startswith("0x") for c in approvals)
    index()  # indexing again counts nothing twice
    assert tx.confirmations.count() == 3
    exec_hash = wallet_send(execution_call_prepare(client=client, transaction_id=tx.pk, actor=owner(3)))
    index()
    tx.refresh_from_db()
    assert tx.state == TxState.EXECUTED and tx.relayer_tx_hash == exec_hash
    assert tx.relayer_address == dev_account(OWNER_INDEXES[2]).address
    assert client.token_balance(deployment_get().token, to) == 1_000_000  # the chain itself says so


def test_only_the_head_gathers_approvals_and_non_owners_are_refused(chain: Any, gold_backing: Any) -> None:
    client = chain_client()
    head, later = issue_propose(1_000_000, recipient()), issue_propose(2_000_000, recipient())
    assert later.nonce == head.nonce + 1
    index()  # whatever the shared chain already holds is indexed (and reconciled) before counting
    entries = JournalEntry.objects.count()
    with pytest.raises(CallRefused, match=f"waits for nonce {later.nonce}"):
        approval_call_prepare(client=client, transaction_id=later.pk, actor=owner(1))
    with pytest.raises(CallRefused, match="not a signer of the issuance multisig"):
        approval_call_prepare(client=client, transaction_id=head.pk, actor=User.objects.get(username="officer1"))
    with pytest.raises(CallRefused, match="four eyes"):
        approval_call_prepare(client=client, transaction_id=head.pk, actor=User.objects.get(username="operator"))
    # The chain refuses the same things whoever sends them: the contract is the last line.
    w3 = client.w3
    approve_later = client.usdkg_approve_data(multisig=later.safe_address, tx=safe_tx_of(later),
                                              safe_tx_hash=later.safe_tx_hash)
    approve_head = client.usdkg_approve_data(multisig=head.safe_address, tx=safe_tx_of(head),
                                             safe_tx_hash=head.safe_tx_hash)
    for sender, data, reason in ((dev_account(OWNER_INDEXES[0]).address, approve_later, "Incorrect data to approve"),
                                 (dev_account(OFFICER_INDEXES[0]).address, approve_head, "Not owner")):
        with pytest.raises(Exception, match=reason):
            w3.eth.send_transaction({"from": sender, "to": head.safe_address, "data": HexStr("0x" + data.hex())})
    index()
    assert Confirmation.objects.count() == 0 and JournalEntry.objects.count() == entries
    assert not client.usdkg_approved(head.safe_address, dev_account(OFFICER_INDEXES[0]).address, head.safe_tx_hash)
    # Off-chain signatures are refused on this kind, and store nothing.
    with pytest.raises(SignatureRefused, match="approve on chain"):
        confirmation_add(client=client, transaction_id=head.pk, signature=owner_signature(head, 1), actor=owner(1))
    assert Confirmation.objects.count() == 0


def test_an_approval_by_an_owner_bound_to_no_user_is_recorded_as_such(chain: Any, gold_backing: Any) -> None:
    tx = issue_propose(1_000_000, recipient())
    seventh = dev_account(OWNER_INDEXES[6]).address
    Signer.objects.filter(address=seventh).delete()
    call = approval_call_prepare(client=chain_client(), transaction_id=tx.pk, actor=owner(1))
    wallet_send({**call, "from": seventh})  # the owner approves from outside the product
    index()
    approval = Confirmation.objects.get(transaction=tx)
    assert approval.owner_address == seventh and approval.signer is None
    assert JournalEntry.objects.filter(action="multisig.approval_seen", data__owner=seventh,
                                       data__bound_to=None).exists()


def test_handed_in_raw_transactions_are_validated_before_anything_is_sent(chain: Any, gold_backing: Any) -> None:
    client = chain_client()
    tx = issue_propose(1_000_000, recipient())
    first = dev_account(OWNER_INDEXES[0])
    good = approval_call_prepare(client=client, transaction_id=tx.pk, actor=owner(1))
    w3 = client.w3

    def signed(account: Any = first, **changes: Any) -> str:
        fields = {"to": good["to"], "data": good["data"], "value": 0, "gas": 200_000, "maxFeePerGas": 10**10,
                  "maxPriorityFeePerGas": 10**9, "nonce": w3.eth.get_transaction_count(account.address),
                  "chainId": client.chain_id, **changes}
        return "0x" + bytes(account.sign_transaction(fields).raw_transaction).hex()

    other_call = client.token_calldata("issue", recipient(), 5)
    cases = [
        (signed(account=dev_account(OWNER_INDEXES[1])), "not by your bound address"),
        (signed(chainId=1), "signed for chain id 1"),
        (signed(to=deployment_get().compliance_multisig), "not to this multisig"),
        (signed(data="0x" + client.usdkg_approve_data(multisig=tx.safe_address, tx=safe_tx_of(tx).__class__(
            to=deployment_get().token, value=0, data=other_call, operation=0, nonce=tx.nonce),
            safe_tx_hash=tx.safe_tx_hash).hex()), "neither approveHash nor execTransaction"),
    ]
    nonce_before = w3.eth.get_transaction_count(first.address)
    for raw, reason in cases:
        submission = raw_submission_create(transaction_id=tx.pk, raw_hex=raw, actor=owner(1))
        processed = raw_submission_process(client=client, submission_id=submission.pk)
        assert processed.state == RawState.REFUSED and reason in processed.refusal, processed.refusal
    assert w3.eth.get_transaction_count(first.address) == nonce_before  # nothing was sent
    with pytest.raises(InvalidInput, match="hexadecimal"):
        raw_submission_create(transaction_id=tx.pk, raw_hex="0xnot-hex", actor=owner(1))
    with pytest.raises(InvalidInput, match="not a signed Ethereum transaction"):
        raw_submission_create(transaction_id=tx.pk, raw_hex="0x" + "ab" * 40, actor=owner(1))

    submission = raw_submission_create(transaction_id=tx.pk, raw_hex=signed(), actor=owner(1))
    assert bytes(submission.raw)  # stored before anything was checked or sent
    sent = raw_submission_process(client=client, submission_id=submission.pk)
    assert sent.state == RawState.SENT and sent.function == "approveHash"
    w3.eth.wait_for_transaction_receipt(HexStr(sent.tx_hash))
    index()
    assert [c.owner_address for c in tx.confirmations.all()] == [first.address]


def test_the_executor_key_is_refused_when_bound_to_a_signer(chain: Any, tmp_path: Any) -> None:
    key_file = tmp_path / "executor.key"
    key_file.write_text("# PUBLIC TEST KEY (anvil)\n" + dev_account(OWNER_INDEXES[6]).key.hex() + "\n")
    with override_settings(MULTISIG_EXECUTOR_KEY_FILE=str(key_file)):
        with pytest.raises(ChainError, match="is bound to the signer owner7"):
            executor_accounts()
        Signer.objects.filter(user__username="owner7").delete()
        assert [a.address for a in executor_accounts()] == [dev_account(OWNER_INDEXES[6]).address]
        # ... and nobody can be bound to it afterwards.
        entries = JournalEntry.objects.count()
        with pytest.raises(ValueError, match="executor's address"):
            signer_bind(user=owner(7), address=dev_account(OWNER_INDEXES[6]).address, multisig="issuance", actor=None)
        assert not Signer.objects.filter(user__username="owner7").exists() and JournalEntry.objects.count() == entries



def test_a_reorg_under_approvals_rewinds_and_counts_each_approval_once(chain: Any, gold_backing: Any) -> None:
    client = chain_client()
    provider: Any = client.w3.provider
    tx = issue_propose(1_000_000, recipient())
    snapshot = provider.make_request("evm_snapshot", [])["result"]
    approve(tx, 1, 2)
    index()
    assert sorted(c.owner_address for c in tx.confirmations.all()) == sorted(
        dev_account(OWNER_INDEXES[i]).address for i in (0, 1))
    # The chain forgets both approvals; on the new fork owners 2 and 3 approve, and it grows longer.
    provider.make_request("evm_revert", [snapshot])
    approve(tx, 2, 3)
    for _ in range(3):
        provider.make_request("evm_mine", [])
    index()
    approvals = sorted(c.owner_address for c in tx.confirmations.all())
    assert approvals == sorted(dev_account(OWNER_INDEXES[i]).address for i in (1, 2))  # owner 1's is gone
    assert JournalEntry.objects.filter(action="chain.reorg").exists()
    tx.refresh_from_db()
    assert tx.state == TxState.AWAITING_SIGNATURES  # 2 of 3, as the chain now says
    index()
    assert tx.confirmations.count() == 2


def test_the_signing_page_says_which_transaction_waits_for_which_nonce_and_shows_owners_balances(
    chain: Any, gold_backing: Any
) -> None:
    from django.test import Client

    head, later = issue_propose(1_000_000, recipient()), issue_propose(2_000_000, recipient())
    browser = Client()
    browser.force_login(owner(1))
    page = browser.get(f"/multisig/{later.pk}/").content.decode()
    assert f"waits for nonce {later.nonce}" in page and 'id="approve-button"' not in page
    assert f"waits for nonce {later.nonce} (the head is {head.nonce})" in page and "head of the queue" in page
    assert page.count('class="low-balance"') == 0 and dev_account(OWNER_INDEXES[6]).address in page
    head_page = browser.get(f"/multisig/{head.pk}/").content.decode()
    assert 'id="approve-button"' in head_page and 'id="raw-form"' in head_page


def test_an_owner_short_of_gas_is_warned_on_the_signing_page(chain: Any, gold_backing: Any) -> None:
    from django.test import Client

    tx = issue_propose(1_000_000, recipient())
    w3 = chain_client().w3
    sixth = dev_account(OWNER_INDEXES[5]).address
    balance = w3.eth.get_balance(sixth)
    provider: Any = w3.provider
    provider.make_request("anvil_setBalance", [sixth, hex(10**9)])  # one gwei: far below an approval's gas
    try:
        browser = Client()
        browser.force_login(owner(1))
        page = browser.get(f"/multisig/{tx.pk}/").content.decode()
    finally:
        provider.make_request("anvil_setBalance", [sixth, hex(balance)])
    assert page.count('class="low-balance"') == 1
    row = page.split('class="low-balance"', 1)[1].split("</tr>", 1)[0]
    assert sixth in row and "owner6" in row and "below the" in row


def test_a_signed_transaction_handed_in_by_api_is_stored_or_refused_with_nothing_stored(
    chain: Any, gold_backing: Any
) -> None:
    from rest_framework.test import APIClient

    from backoffice.multisig.models import RawSubmission

    tx = issue_propose(1_000_000, recipient())
    api = APIClient()
    api.force_authenticate(owner(1))
    for text, message in (("", "paste or upload"), ("0xzz", "hexadecimal"), ("0x" + "00" * 10, "not a signed")):
        response = api.post(f"/api/multisig/transactions/{tx.pk}/raw/", {"raw": text}, format="json")
        assert response.status_code == 400 and message in response.json()["detail"], response.content
    assert not RawSubmission.objects.exists()
    call = approval_call_prepare(client=chain_client(), transaction_id=tx.pk, actor=owner(1))
    account = dev_account(OWNER_INDEXES[0])
    w3 = chain_client().w3
    signed = account.sign_transaction({"to": call["to"], "data": call["data"], "value": 0, "gas": 200_000,
                                    "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 10**9, "chainId": tx.chain_id,
                                       "nonce": w3.eth.get_transaction_count(account.address)})
    signed_raw = bytes(signed.raw_transaction)
    response = api.post(f"/api/multisig/transactions/{tx.pk}/raw/", {"raw": "0x" + signed_raw.hex()}, format="json")
    assert response.status_code == 202, response.content
    stored = RawSubmission.objects.get()
    assert bytes(stored.raw) == signed_raw and stored.state == RawState.RECEIVED and stored.tx_hash == response.json()[
        "tx_hash"]
    again = api.post(f"/api/multisig/transactions/{tx.pk}/raw/", {"raw": "0x" + signed_raw.hex()}, format="json")
    assert again.status_code == 400 and "already" in again.json()["detail"]
    assert RawSubmission.objects.count() == 1


def test_the_page_does_not_offer_execution_while_the_collateral_guard_refuses(chain: Any, gold_backing: Any) -> None:
    """Approved on chain, but the gold price fell: the issue no longer fits the headroom, so no owner is
    offered the execution (and nothing is sent); once the price is back, it is."""
    from django.test import Client

    from issuance.tests.factories import price_record

    client, operator = chain_client(), User.objects.get(username="operator")
    tx = issue_propose(5_000_000_000_000, recipient())  # 5 million tokens: fits at 2,650 USD/oz
    approve(tx, 1, 2, 3)
    index()
    tx.refresh_from_db()
    assert tx.state == TxState.APPROVED
    # A fall (and a rise back) far beyond the feed's move bound (proven in issuance/tests/test_gold_price_governed.py).
    with override_settings(GOLD_PRICE_MAX_MOVE_PERCENT=Decimal(10_000)):
        price_record(operator=operator, usd_per_oz="100.0000")
        with pytest.raises(CallRefused, match="refused before sending"):
            execution_call_prepare(client=client, transaction_id=tx.pk, actor=owner(3))
        browser = Client()
        browser.force_login(owner(3))
        page = browser.get(f"/multisig/{tx.pk}/").content.decode()
        assert 'id="execute-button"' not in page and "refused before sending" in page
        assert client.safe_nonce(tx.safe_address) == tx.nonce
        price_record(operator=operator, usd_per_oz="2650.0000", minutes_ago=0)
    assert execution_call_prepare(client=client, transaction_id=tx.pk, actor=owner(3))["function"] == "execTransaction"


@pytest.mark.parametrize("executor", [False, True])
def test_an_owner_execution_the_watcher_has_not_seen_yet_is_not_taken_for_a_failure(
    chain: Any, gold_backing: Any, executor: bool, tmp_path: Any
) -> None:
    """The sweep may look at an approved transaction between an owner's execution and the watcher's run
    (with real confirmation depths, for minutes). Without an executor it has nothing to send and must
    conclude nothing; with one, it finds the nonce used and calls it failed until the watcher's
    ExecutionSuccess for exactly this hash says executed."""
    from backoffice.multisig.services import multisig_transaction_broadcast

    client, to = chain_client(), recipient()
    key_file = tmp_path / "executor.key"
    key_file.write_text(dev_account(OWNER_INDEXES[6]).key.hex() if executor else "")
    Signer.objects.filter(user__username="owner7").delete()
    with override_settings(MULTISIG_EXECUTOR_KEY_FILE=str(key_file)):
        tx = issue_propose(1_000_000, to)
        approve(tx, 1, 2, 3)
        index()
        tx.refresh_from_db()
        assert tx.state == TxState.APPROVED
        call = execution_call_prepare(client=client, transaction_id=tx.pk, actor=owner(3)) if not executor else {
            "from": dev_account(OWNER_INDEXES[2]).address, "to": tx.safe_address,
            "data": "0x" + client.usdkg_exec_data(multisig=tx.safe_address, tx=safe_tx_of(tx)).hex()}
        exec_hash = wallet_send(call)  # an owner executes; the watcher has not run yet
        swept = multisig_transaction_broadcast(client=client, transaction_id=tx.pk)
        assert swept.state == (TxState.FAILED if executor else TxState.APPROVED)
        index()
    tx.refresh_from_db()
    assert (tx.state, tx.relayer_tx_hash) == (TxState.EXECUTED, exec_hash)
    assert client.token_balance(deployment_get().token, to) == 1_000_000
