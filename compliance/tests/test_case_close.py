"""Closing a case withdraws its open proposals on a real anvil: nothing of a closed case can still execute,
the compliance queue moves on, and a proposal already being sent keeps the case open."""

from typing import Any

import pytest
from eth_account import Account
from rest_framework.test import APIClient

from backoffice.chain.client import ChainError, chain_client, relayer_account
from backoffice.chain.devkeys import OFFICER_INDEXES, dev_account
from backoffice.chain.safetx import signatures_pack
from backoffice.chain.selectors import deployment_get
from backoffice.journal.models import JournalEntry
from backoffice.journal.services import TransitionRefused
from backoffice.multisig.models import LIVE_STATES, Confirmation, MultisigTransaction, TxState
from backoffice.multisig.services import (
    multisig_transaction_broadcast,
    safe_tx_of,
)
from backoffice.multisig.tests.helpers import follow_settled
from compliance import services
from compliance.models import Case, ComplianceProposal

from .factories import case_for, execute_here, officer, officer_sign

pytestmark = [pytest.mark.django_db, pytest.mark.integration]


def _blacklist_proposed() -> ComplianceProposal:
    case = case_for(Account.create().address)
    return services.compliance_proposal_create(client=chain_client(), case_id=case.pk, action="blacklist",
                                               actor=officer(1))


def _close(case: Case, reason: str = "the court lifted the order") -> Case:
    return services.case_close(client=chain_client(), case_id=case.pk, reason=reason, actor=officer(2))


def _snapshot() -> tuple[Any, ...]:
    return (sorted(Case.objects.values_list("pk", "state", "closed_reason")),
            sorted(MultisigTransaction.objects.values_list("pk", "state", "nonce", "cancel_reason")),
            Confirmation.objects.count(), ComplianceProposal.objects.count(), JournalEntry.objects.count())


def _live_at(tx: MultisigTransaction) -> list[str]:
    return list(MultisigTransaction.objects.filter(safe_address=tx.safe_address, nonce=tx.nonce,
                                                   state__in=LIVE_STATES).values_list("decoded__function", flat=True))


def _five_signature_call(tx: MultisigTransaction) -> None:
    """Simulate execTransaction of `tx` with all five officers' signatures, as anyone holding them could."""
    client = chain_client()
    typed = safe_tx_of(tx).typed_data(chain_id=tx.chain_id, safe_address=tx.safe_address)
    signatures = signatures_pack({dev_account(i).address: bytes(Account.sign_typed_data(
        dev_account(i).key, full_message=typed).signature) for i in OFFICER_INDEXES})
    data = client.exec_transaction_data(safe=tx.safe_address, tx=safe_tx_of(tx), signatures=signatures)
    client.w3.eth.call({"from": relayer_account().address, "to": tx.safe_address, "data": data})


def test_closing_a_case_cancels_its_unsigned_blacklist_and_frees_its_nonce(chain):
    proposal = _blacklist_proposed()
    tx = proposal.transaction

    case = _close(proposal.case)

    tx.refresh_from_db()
    assert (case.state, tx.state) == ("closed", TxState.CANCELLED)
    assert tx.cancel_reason == f"case {case.pk} closed: the court lifted the order"
    assert _live_at(tx) == []  # nothing signed, nothing after it: no rejection needed, nothing can run there
    assert multisig_transaction_broadcast(client=chain_client(), transaction_id=tx.pk).state == TxState.CANCELLED
    withdrawn = JournalEntry.objects.get(action="compliance.proposal.withdrawn")
    assert (withdrawn.reason, withdrawn.data["rejection"]) == ("the court lifted the order", None)

    other = _blacklist_proposed()
    assert other.transaction.nonce == tx.nonce  # the freed nonce is used, nothing queues behind a dead one


@pytest.mark.parametrize("signed", [1, 4, 5])
def test_closing_after_officers_signed_burns_the_nonce_and_the_blacklist_can_never_execute(chain, signed):
    client, token = chain_client(), deployment_get().token
    proposal = _blacklist_proposed()
    tx = proposal.transaction
    for n in range(1, signed + 1):
        officer_sign(tx, n)
    _five_signature_call(tx)  # before the close, the completed signatures would blacklist the address

    _close(proposal.case)

    tx.refresh_from_db()
    rejection = MultisigTransaction.objects.get(replaces=tx)
    assert tx.state == TxState.CANCELLED and _live_at(tx) == ["rejection"]
    assert (rejection.nonce, rejection.state) == (tx.nonce, TxState.AWAITING_SIGNATURES)
    assert JournalEntry.objects.get(action="compliance.proposal.withdrawn").data["rejection"] == rejection.safe_tx_hash
    assert multisig_transaction_broadcast(client=client, transaction_id=tx.pk).state == TxState.CANCELLED

    other = _blacklist_proposed()  # another case's proposal queues after the rejection, not behind a dead one
    assert other.transaction.nonce == tx.nonce + 1

    for n in (1, 2, 3, 4, 5):
        officer_sign(rejection, n)
    execute_here(rejection)
    assert client.safe_nonce(tx.safe_address) == tx.nonce + 1  # the nonce is consumed
    with pytest.raises(Exception):  # noqa: B017 - web3's ContractLogicError: the signatures are dead
        _five_signature_call(tx)
    assert not client.token_is_blacklisted(token, proposal.address)

    other.transaction.refresh_from_db()
    for n in (1, 2, 3, 4, 5):
        officer_sign(other.transaction, n)
    execute_here(other.transaction)
    assert client.token_is_blacklisted(token, other.address)


def test_closing_is_refused_while_a_proposal_of_the_case_is_being_sent_and_nothing_changes(chain):
    client = chain_client()
    proposal = _blacklist_proposed()
    for n in (1, 2, 3, 4, 5):
        officer_sign(proposal.transaction, n)
    sent = multisig_transaction_broadcast(client=client, transaction_id=proposal.transaction.pk)
    assert sent.state == TxState.SUBMITTED
    before = _snapshot()

    with pytest.raises(TransitionRefused,
                       match="being sent.*blacklist.*Sent, waiting for confirmation.*may already be on chain"):
        _close(proposal.case)

    assert _snapshot() == before
    # Once the follower settled it, the case closes and there is nothing left to withdraw.
    assert follow_settled(sent.pk).state == "executed"
    assert _close(proposal.case).state == "closed"
    assert not MultisigTransaction.objects.filter(replaces=sent).exists()


def test_the_api_close_refuses_while_a_proposal_is_being_sent_and_withdraws_a_signed_one(chain):
    client, api = chain_client(), APIClient()
    api.force_authenticate(user=officer(3))
    sending = _blacklist_proposed()
    for n in (1, 2, 3, 4, 5):
        officer_sign(sending.transaction, n)
    assert multisig_transaction_broadcast(client=client, transaction_id=sending.transaction.pk).state == "submitted"
    before = _snapshot()

    response = api.post(f"/api/compliance/cases/{sending.case.pk}/close/", {"reason": "settled"}, format="json")

    assert response.status_code == 409 and "being sent" in response.json()["detail"], response.content
    assert _snapshot() == before
    assert follow_settled(sending.transaction.pk).state == "executed"

    signed = _blacklist_proposed()
    officer_sign(signed.transaction, 1)
    response = api.post(f"/api/compliance/cases/{signed.case.pk}/close/", {"reason": "settled"}, format="json")

    assert response.status_code == 200, response.content
    assert (response.json()["state"], response.json()["closed_reason"]) == ("closed", "settled")
    assert MultisigTransaction.objects.get(pk=signed.transaction.pk).state == TxState.CANCELLED
    assert MultisigTransaction.objects.get(replaces=signed.transaction).nonce == signed.transaction.nonce


def test_closing_makes_no_chain_call_so_it_works_with_the_node_down(chain, settings):
    """Closing makes no chain call: it works with the node unreachable (and so holds no lock while waiting)."""
    proposal = _blacklist_proposed()
    officer_sign(proposal.transaction, 1)
    settings.CHAIN_RPC_URL = "http://127.0.0.1:9"  # nothing listens there

    with pytest.raises(ChainError):
        chain_client().block_number()
    assert _close(proposal.case).state == "closed"
    assert MultisigTransaction.objects.get(replaces=proposal.transaction).state == TxState.AWAITING_SIGNATURES


@pytest.mark.parametrize("chain", ["usdkg"], indirect=True)
@pytest.mark.parametrize("approved", [1, 5])
def test_on_the_usdkg_multisig_closing_after_on_chain_approvals_leaves_nothing_that_can_execute(chain, approved):
    """Approvals on the USDKG multisig never expire: the withdrawn blacklist is only dead once its
    rejection executes at its nonce, and after that no officer can execute it."""
    from backoffice.multisig.onchain import CallRefused, approval_call_prepare, execution_call_prepare
    from backoffice.multisig.tests.helpers import chain_index_until_head, consent_and_execute, wallet_send

    client, token = chain_client(), deployment_get().token
    proposal = _blacklist_proposed()
    tx = proposal.transaction
    for n in range(1, approved + 1):
        wallet_send(approval_call_prepare(client=client, transaction_id=tx.pk, actor=officer(n)))
    chain_index_until_head()
    tx.refresh_from_db()
    assert tx.confirmations.count() == approved
    assert tx.state == (TxState.APPROVED if approved == 5 else TxState.AWAITING_SIGNATURES)

    _close(proposal.case)

    tx.refresh_from_db()
    rejection = MultisigTransaction.objects.get(replaces=tx)
    assert tx.state == TxState.CANCELLED and _live_at(tx) == ["rejection"]
    with pytest.raises(CallRefused, match="cancelled"):
        execution_call_prepare(client=client, transaction_id=tx.pk, actor=officer(5))
    assert consent_and_execute(rejection, [f"officer{n}" for n in (1, 2, 3, 4, 5)]).state == TxState.EXECUTED
    assert client.safe_nonce(tx.safe_address) == tx.nonce + 1  # the blacklist's nonce is consumed
    exec_data = client.usdkg_exec_data(multisig=tx.safe_address, tx=safe_tx_of(tx))
    with pytest.raises(Exception, match="Not enough approvals"):  # whoever holds what was approved
        client.w3.eth.call({"from": dev_account(OFFICER_INDEXES[4]).address, "to": tx.safe_address,
                            "data": "0x" + exec_data.hex()})
    assert not client.token_is_blacklisted(token, proposal.address)
